"""A witnessed audit log (docs/audit.md, docs/adr/0014): checkpoints as C2SP signed notes
(their origin line), the witnesses' cosignatures beside them, and the witnesses a node
accepts cosignatures from.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null: a checkpoint signed before C2SP notes (the v1 message; still verifiable).
    with op.batch_alter_table("audit_checkpoint") as batch:
        batch.add_column(sa.Column("origin", sa.Text, nullable=True))
    op.create_table(
        "audit_witness",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("verifier_key", sa.Text, nullable=False),
        sa.Column("account", sa.String(100), nullable=True),
        sa.Column("institution", sa.String(50), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_audit_witness"),
    )
    op.create_table(
        "audit_cosignature",
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("witness", sa.String(200), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),  # the witness's, Unix seconds
        sa.Column("line", sa.Text, nullable=False),  # the signature line, as the note has it
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", "witness", name="pk_audit_cosignature"),
    )


def downgrade() -> None:
    op.drop_table("audit_cosignature")
    op.drop_table("audit_witness")
    with op.batch_alter_table("audit_checkpoint") as batch:
        batch.drop_column("origin")
