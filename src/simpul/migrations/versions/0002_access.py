"""Access: institutions and their name history, accounts, agreement bindings, client
tokens, card-reader devices.

Revision ID: 0002_access
Revises: 0001
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002_access"
down_revision = "0001"
branch_labels = None
depends_on = None

JsonType = sa.JSON().with_variant(JSONB(), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "institution",
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("contact_name", sa.String(200), nullable=False),
        sa.Column("contact_position", sa.String(200), nullable=False),
        sa.Column("contact_email", sa.String(254), nullable=False),
        sa.Column("contact_phone", sa.String(40)),
        sa.Column("access_cidrs", JsonType, nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("code", name="pk_institution"),
    )
    op.create_table(
        "institution_name_history",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("institution_code", sa.String(40), nullable=False),
        sa.Column("old_name", sa.String(300), nullable=False),
        sa.Column("new_name", sa.String(300), nullable=False),
        _ts("changed_at"),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_institution_name_history"),
        sa.ForeignKeyConstraint(
            ["institution_code"],
            ["institution.code"],
            name="fk_institution_name_history_institution_code_institution",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_institution_name_history_code",
        "institution_name_history",
        ["institution_code", "changed_at"],
    )
    op.create_table(
        "account",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("role", sa.String(30), nullable=False),
        sa.Column("institution_code", sa.String(40), nullable=False),
        sa.Column("full_name", sa.String(200)),
        sa.Column("operator_of", sa.String(40)),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("secret_hash", sa.String(200), nullable=False),
        _ts("secret_changed_at"),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        _ts("locked_until", nullable=True),
        _ts("last_login_at", nullable=True),
        _ts("created_at"),
        sa.Column("created_by", sa.String(120), nullable=False),
        _ts("revoked_at", nullable=True),
        sa.Column("revoked_by", sa.String(120)),
        sa.Column("revoke_reason", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_account"),
        sa.UniqueConstraint("username", name="uq_account_username"),
        sa.ForeignKeyConstraint(
            ["institution_code"],
            ["institution.code"],
            name="fk_account_institution_code_institution",
        ),
        sa.ForeignKeyConstraint(
            ["operator_of"], ["account.id"], name="fk_account_operator_of_account"
        ),
    )
    op.create_index("ix_account_institution_code", "account", ["institution_code"])
    op.create_index("ix_account_operator_of", "account", ["operator_of"])
    op.create_table(
        "account_agreement",
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("agreement_id", sa.String(80), nullable=False),
        _ts("bound_at"),
        sa.Column("bound_by", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "agreement_id", name="pk_account_agreement"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name="fk_account_agreement_account_id_account",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_account_agreement_agreement_id", "account_agreement", ["agreement_id"])
    op.create_table(
        "client_token",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        _ts("issued_at"),
        _ts("expires_at"),
        _ts("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_client_token"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name="fk_client_token_account_id_account",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_client_token_account_id", "client_token", ["account_id"])
    op.create_index("ix_client_token_expires_at", "client_token", ["expires_at"])
    op.create_table(
        "device",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("serial", sa.String(80), nullable=False),
        sa.Column("sam_id", sa.String(80), nullable=False),
        sa.Column("institution_code", sa.String(40), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        _ts("registered_at"),
        sa.Column("registered_by", sa.String(120), nullable=False),
        _ts("activated_at", nullable=True),
        sa.Column("activated_by", sa.String(120)),
        _ts("deactivated_at", nullable=True),
        sa.Column("deactivated_by", sa.String(120)),
        sa.Column("deactivation_reason", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_device"),
        sa.UniqueConstraint("serial", name="uq_device_serial"),
        sa.UniqueConstraint("sam_id", name="uq_device_sam_id"),
        sa.ForeignKeyConstraint(
            ["institution_code"],
            ["institution.code"],
            name="fk_device_institution_code_institution",
        ),
    )
    op.create_index("ix_device_institution_code", "device", ["institution_code"])


def downgrade() -> None:
    op.drop_table("device")
    op.drop_table("client_token")
    op.drop_table("account_agreement")
    op.drop_table("account")
    op.drop_table("institution_name_history")
    op.drop_table("institution")
