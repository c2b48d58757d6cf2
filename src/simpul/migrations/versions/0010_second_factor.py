"""A TOTP second factor for portal accounts, its recovery codes, and portal sessions that
wait for the second factor before they open anything (simpul.access.totp, docs/adr/0012).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "second_factor",
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("secret_enc", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_second_factor"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name="fk_second_factor_account_id_account",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "recovery_code",
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("account_id", "code_hash", name="pk_recovery_code"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name="fk_recovery_code_account_id_account",
            ondelete="CASCADE",
        ),
    )
    # "kode" (a code is due) or "daftar" (enrolment is due); null: the session is open.
    with op.batch_alter_table("portal_session") as batch:
        batch.add_column(sa.Column("pending", sa.String(10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("portal_session") as batch:
        batch.drop_column("pending")
    op.drop_table("recovery_code")
    op.drop_table("second_factor")
