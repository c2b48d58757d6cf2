"""Face photo store (PKS 003 Pasal 2(1)b-c): photo, embedding, engine.

Revision ID: 0004_face
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_face"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_photo",
        sa.Column("dataset", sa.String(40), primary_key=True),
        sa.Column("nik", sa.String(16), primary_key=True),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("photo", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("engine", sa.String(80), nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enrolled_by", sa.String(80), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("face_photo")
