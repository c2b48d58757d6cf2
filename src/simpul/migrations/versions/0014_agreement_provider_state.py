"""Agreements: what each provider's node last said of the agreements this node receives
under (simpul.federation.agreements).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agreement_provider_state",
        sa.Column("agreement_id", sa.String(80), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("ends_on", sa.String(10), nullable=False),
        sa.Column("learned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("agreement_id", "provider", name="pk_agreement_provider_state"),
    )


def downgrade() -> None:
    op.drop_table("agreement_provider_state")
