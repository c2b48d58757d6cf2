"""Registries: keyed records and load history.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JsonType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "registry_load",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("dataset", sa.String(40), nullable=False, index=True),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("rows_total", sa.Integer, nullable=False),
        sa.Column("rows_loaded", sa.Integer, nullable=False),
        sa.Column("rows_rejected", sa.Integer, nullable=False),
        sa.Column("rows_warned", sa.Integer, nullable=False),
        sa.Column("encoding", sa.String(40)),
        sa.Column("delimiter", sa.String(4)),
    )
    op.create_table(
        "registry_load_issue",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "load_id",
            sa.String(40),
            sa.ForeignKey("registry_load.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("element", sa.String(60)),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_registry_load_issue_load_line", "registry_load_issue", ["load_id", "line"])
    op.create_table(
        "registry_record",
        sa.Column("dataset", sa.String(40), primary_key=True),
        sa.Column("nik", sa.String(16), primary_key=True),
        sa.Column("no_kk", sa.String(16)),
        sa.Column("load_id", sa.String(40), nullable=False),
        sa.Column("data", JsonType, nullable=False),
    )
    op.create_index("ix_registry_record_dataset_kk", "registry_record", ["dataset", "no_kk"])


def downgrade() -> None:
    op.drop_table("registry_record")
    op.drop_table("registry_load_issue")
    op.drop_table("registry_load")
