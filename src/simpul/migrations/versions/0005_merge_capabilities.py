"""Merge the capability branches built side by side (face, pemadanan, obligations,
disclosure, portal, governance epoch) into one head.

Revision ID: 0005
Revises: 0004_disclosure, 0004_face, 0004_governance_epoch, 0004_obligations,
    0004_pemadanan, 0004_portal
"""

revision = "0005"
down_revision = (
    "0004_disclosure",
    "0004_face",
    "0004_governance_epoch",
    "0004_obligations",
    "0004_pemadanan",
    "0004_portal",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
