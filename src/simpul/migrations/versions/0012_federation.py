"""Federation (docs/federation.md): the node-to-node request ids a provider node has seen,
to refuse replays within the time window.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_request",
        sa.Column("member", sa.String(40), nullable=False),
        sa.Column("request_id", sa.String(100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member", "request_id", name="pk_federation_request"),
    )
    op.create_index("ix_federation_request_received_at", "federation_request", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_federation_request_received_at", table_name="federation_request")
    op.drop_table("federation_request")
