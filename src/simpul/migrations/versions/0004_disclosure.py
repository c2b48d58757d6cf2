"""Disclosure control: per-agreement settings and processing-facility outputs.

Revision ID: 0004_disclosure
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004_disclosure"
down_revision = "0003"
branch_labels = None
depends_on = None

JsonType = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "disclosure_setting",
        sa.Column("agreement_id", sa.String(80), primary_key=True),
        sa.Column("rules", JsonType, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=False),
    )
    op.create_table(
        "disclosure_output",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("institution", sa.String(40), nullable=False, index=True),
        sa.Column("provider", sa.String(40), nullable=False, index=True),
        sa.Column("agreement_id", sa.String(80), nullable=False),
        sa.Column("agreement_version", sa.Integer, nullable=False),
        sa.Column("grant_id", sa.String(120), nullable=False),
        sa.Column("sql", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("columns", JsonType, nullable=False),
        sa.Column("rows", JsonType, nullable=False),
        sa.Column("checks", JsonType, nullable=False),
        sa.Column("attribution", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("reviewed_at", TS),
        sa.Column("reviewer", sa.String(80)),
        sa.Column("review_reason", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("disclosure_output")
    op.drop_table("disclosure_setting")
