"""Join the governance branches (access, agreements, audit) into one head.

Revision ID: 0003
Revises: 0002_access, 0002_agreements, 0002_audit
"""

revision = "0003"
down_revision = ("0002_access", "0002_agreements", "0002_audit")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
