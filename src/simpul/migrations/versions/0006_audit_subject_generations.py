"""Audit subjects indexed by generation: the look-up index leads with `gen` (the row's
ordinal // 32,768) so appends stay within the newest generation's pages (ADR 0008).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows form generation 0; the ordinal carries on from their count.
    op.add_column(
        "audit_subject", sa.Column("gen", sa.BigInteger, nullable=False, server_default="0")
    )
    op.add_column(
        "audit_head", sa.Column("subjects", sa.BigInteger, nullable=False, server_default="0")
    )
    op.execute("UPDATE audit_head SET subjects = (SELECT count(*) FROM audit_subject)")
    op.create_index(
        "ix_audit_subject_gen_prefix",
        "audit_subject",
        ["gen", sa.text("substr(subject_hash, 1, 12)")],
    )
    op.drop_index("ix_audit_subject_prefix", table_name="audit_subject")


def downgrade() -> None:
    op.create_index(
        "ix_audit_subject_prefix", "audit_subject", [sa.text("substr(subject_hash, 1, 12)")]
    )
    op.drop_index("ix_audit_subject_gen_prefix", table_name="audit_subject")
    # The columns stay: dropping one on SQLite rebuilds the table without its append-only
    # triggers, and their server defaults keep the older code's inserts valid.
