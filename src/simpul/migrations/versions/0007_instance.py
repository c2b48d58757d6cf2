"""The instance's identity: one row holding the id that the data folder also records
(`DATA_DIR/instance.json`), so that a command or server pointed at another database refuses.
`simpul init` and `simpul demo` write the row; a migration never does.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "simpul_instance",
        sa.Column("singleton", sa.Integer, primary_key=True),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("singleton = 1", name="one_row"),
    )


def downgrade() -> None:
    op.drop_table("simpul_instance")
