"""Pemadanan: matching jobs, per-row results, per-line upload issues.

Revision ID: 0004_pemadanan
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004_pemadanan"
down_revision = "0003"
branch_labels = None
depends_on = None

JsonType = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pemadanan_job",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("institution", sa.String(40), nullable=False, index=True),
        sa.Column("dataset", sa.String(40), nullable=False),
        sa.Column("workflow", sa.String(20), nullable=False),
        sa.Column("service", sa.String(20), nullable=False),
        sa.Column("mechanism", sa.String(20), nullable=False),
        sa.Column("agreement_id", sa.String(80)),
        sa.Column("agreement_version", sa.Integer),
        sa.Column("grant_id", sa.String(120)),
        sa.Column("output_elements", JsonType, nullable=False),
        sa.Column("options", JsonType, nullable=False),
        sa.Column("status", sa.String(12), nullable=False, index=True),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("input_name", sa.String(300), nullable=False),
        sa.Column("input_path", sa.Text, nullable=False),
        sa.Column("input_sha256", sa.String(64), nullable=False),
        sa.Column("encoding", sa.String(40)),
        sa.Column("delimiter", sa.String(4)),
        sa.Column("rows_total", sa.Integer, nullable=False),
        sa.Column("rows_invalid", sa.Integer, nullable=False),
        sa.Column("counts", JsonType, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("heartbeat_at", TS),
        sa.Column("worker", sa.String(80)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error_code", sa.String(60)),
        sa.Column("error_detail", sa.Text),
        sa.Column("audit_seq", sa.Integer),
    )
    op.create_table(
        "pemadanan_hasil",
        sa.Column(
            "job_id",
            sa.String(40),
            sa.ForeignKey("pemadanan_job.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("nik_cocok", sa.String(16)),
        sa.Column("probability", sa.Float),
        sa.Column("differing", sa.String(200)),
        sa.Column("method", sa.String(20)),
        sa.Column("input", JsonType, nullable=False),
        sa.Column("data", JsonType, nullable=False),
        sa.Column("review", sa.String(10)),
        sa.Column("reviewed_by", sa.String(80)),
        sa.Column("reviewed_at", TS),
    )
    op.create_index("ix_pemadanan_hasil_job_status", "pemadanan_hasil", ["job_id", "status"])
    op.create_table(
        "pemadanan_galat",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "job_id",
            sa.String(40),
            sa.ForeignKey("pemadanan_job.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_pemadanan_galat_job_line", "pemadanan_galat", ["job_id", "line"])


def downgrade() -> None:
    op.drop_table("pemadanan_galat")
    op.drop_table("pemadanan_hasil")
    op.drop_table("pemadanan_job")
