"""Portal sessions: server-side so that logout, idle and absolute expiry, and revocation
end a browser session at once (a signed cookie alone cannot be withdrawn).

Revision ID: 0004_portal
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_portal"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_session",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_ip", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id_hash", name="pk_portal_session"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name="fk_portal_session_account_id_account",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_portal_session_account_id", "portal_session", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_portal_session_account_id", table_name="portal_session")
    op.drop_table("portal_session")
