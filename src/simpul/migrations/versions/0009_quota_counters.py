"""Quota counters in the database, for nodes without Redis: one row per window of an
account's grant (simpul.access.quota.DatabaseCounter, docs/adr/0011).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quota_counter",
        sa.Column("window_key", sa.String(255), primary_key=True),
        sa.Column("used", sa.Integer, nullable=False),
        sa.Column("window_end", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_quota_counter_window_end", "quota_counter", ["window_end"])


def downgrade() -> None:
    op.drop_index("ix_quota_counter_window_end", "quota_counter")
    op.drop_table("quota_counter")
