"""Obligations: recorded events, fulfilments, notification outbox, feedback uploads and
rows, semester reports, evaluations, enforcement rules.

Revision ID: 0004_obligations
Revises: 0003
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004_obligations"
down_revision = "0003"
branch_labels = None
depends_on = None

JsonType = sa.JSON().with_variant(JSONB(), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "obligation_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agreement_id", sa.String(80), nullable=False, index=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("party", sa.String(40), nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("notified_on", sa.Date),
        sa.Column("description", sa.Text, nullable=False),
        _ts("recorded_at"),
        sa.Column("recorded_by", sa.String(120), nullable=False),
    )
    op.create_table(
        "obligation_fulfilment",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agreement_id", sa.String(80), nullable=False),
        sa.Column("duty_id", sa.String(80), nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("fulfilled_on", sa.Date, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        _ts("recorded_at"),
        sa.Column("recorded_by", sa.String(120), nullable=False),
        sa.UniqueConstraint("agreement_id", "duty_id", "period"),
    )
    op.create_table(
        "obligation_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("agreement_id", sa.String(80), nullable=False, index=True),
        sa.Column("institution", sa.String(40), nullable=False),
        sa.Column("to_address", sa.String(254), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        _ts("created_at"),
        _ts("sent_at", nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
    )
    op.create_table(
        "feedback_upload",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("agreement_id", sa.String(80), nullable=False, index=True),
        sa.Column("duty_id", sa.String(80), nullable=False),
        sa.Column("institution", sa.String(40), nullable=False),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        _ts("uploaded_at"),
        sa.Column("uploaded_by", sa.String(120), nullable=False),
        sa.Column("rows_total", sa.Integer, nullable=False),
        sa.Column("rows_accepted", sa.Integer, nullable=False),
        sa.Column("rows_rejected", sa.Integer, nullable=False),
    )
    op.create_table(
        "feedback_row",
        sa.Column(
            "upload_id",
            sa.String(40),
            sa.ForeignKey("feedback_upload.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("agreement_id", sa.String(80), nullable=False),
        sa.Column("duty_id", sa.String(80), nullable=False),
        sa.Column("subject_hash", sa.String(64)),
        sa.Column("accepted", sa.Boolean, nullable=False),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("data", JsonType, nullable=False),
    )
    op.create_index(
        "ix_feedback_row_owed",
        "feedback_row",
        ["agreement_id", "duty_id", "accepted", "subject_hash"],
    )
    op.create_table(
        "semester_report",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agreement_id", sa.String(80), nullable=False),
        sa.Column("duty_id", sa.String(80), nullable=False),
        sa.Column("institution", sa.String(40), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("semester", sa.Integer, nullable=False),
        sa.Column("figures", JsonType, nullable=False),
        sa.Column("narrative", sa.Text, nullable=False),
        _ts("submitted_at"),
        sa.Column("submitted_by", sa.String(120), nullable=False),
        sa.UniqueConstraint("agreement_id", "duty_id", "year", "semester"),
    )
    op.create_table(
        "evaluation",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agreement_id", sa.String(80), nullable=False, index=True),
        sa.Column("duty_id", sa.String(80), nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("evaluated_on", sa.Date, nullable=False),
        sa.Column("evaluator", sa.String(120), nullable=False),
        sa.Column("findings", JsonType, nullable=False),
        sa.Column("recommendation", sa.String(20), nullable=False),
        _ts("recorded_at"),
    )
    op.create_table(
        "enforcement_rule",
        sa.Column("agreement_id", sa.String(80), primary_key=True),
        sa.Column("suspend_after_days", sa.Integer),
        _ts("updated_at"),
        sa.Column("updated_by", sa.String(120), nullable=False),
    )

    op.create_table(
        "obligation_rollup_state",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "usage_rollup",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agreement_key", sa.String(80), nullable=False),
        sa.Column("actor_key", sa.Text, nullable=False),
        sa.Column("institution", sa.Text, nullable=False),
        sa.Column("hour", sa.String(13), nullable=False),
        sa.Column("service", sa.Text),
        sa.Column("mechanism", sa.Text),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("records", sa.BigInteger, nullable=False),
        sa.Column("subjects", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_usage_rollup_key_hour", "usage_rollup", ["agreement_key", "hour"])
    op.create_table(
        "usage_actor_rollup",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agreement_key", sa.String(80), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("institution", sa.Text, nullable=False),
        sa.Column("hour", sa.String(13), nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("records", sa.BigInteger, nullable=False),
        sa.Column("subjects", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_usage_actor_rollup_key_hour", "usage_actor_rollup", ["agreement_key", "hour"]
    )
    op.create_table(
        "usage_action",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        _ts("ts"),
        sa.Column("agreement_id", sa.Text, index=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("actor", sa.Text),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_table(
        "feedback_first_access",
        sa.Column("agreement_id", sa.String(80), primary_key=True),
        sa.Column("duty_id", sa.String(80), primary_key=True),
        sa.Column("key", sa.String(16), primary_key=True),
        _ts("first_ts"),
    )


def downgrade() -> None:
    for table in (
        "feedback_first_access",
        "usage_action",
        "usage_actor_rollup",
        "usage_rollup",
        "obligation_rollup_state",
        "enforcement_rule",
        "evaluation",
        "semester_report",
        "feedback_row",
        "feedback_upload",
        "obligation_outbox",
        "obligation_fulfilment",
        "obligation_event",
    ):
        op.drop_table(table)
