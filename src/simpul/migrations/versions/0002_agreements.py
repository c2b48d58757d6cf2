"""Agreements: agreements, versions (original + addenda), lifecycle events, grant index.

Revision ID: 0002_agreements
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002_agreements"
down_revision = "0001"
branch_labels = None
depends_on = None

JsonType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "agreement",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "agreement_version",
        sa.Column(
            "agreement_id",
            sa.String(80),
            sa.ForeignKey("agreement.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("document", JsonType, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("addendum_id", sa.String(80)),
        sa.Column("reason", sa.Text),
        sa.Column("demo", sa.Boolean, nullable=False),
    )
    op.create_table(
        "agreement_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "agreement_id",
            sa.String(80),
            sa.ForeignKey("agreement.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("from_state", sa.String(20)),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_agreement_event_agreement_id_id", "agreement_event", ["agreement_id", "id"])
    op.create_table(
        "agreement_grant",
        sa.Column("agreement_id", sa.String(80), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("grant_id", sa.String(80), primary_key=True),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("recipient", sa.String(40), nullable=False),
        sa.Column("dataset", sa.String(40), nullable=False),
        sa.Column("service", sa.String(30), nullable=False),
        sa.Column("mechanism", sa.String(30), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id", "version"],
            ["agreement_version.agreement_id", "agreement_version.version"],
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_agreement_grant_lookup",
        "agreement_grant",
        ["recipient", "dataset", "service", "mechanism"],
    )


def downgrade() -> None:
    op.drop_table("agreement_grant")
    op.drop_table("agreement_event")
    op.drop_table("agreement_version")
    op.drop_table("agreement")
