"""Tables for obligations: recorded events, fulfilments, the notification outbox, feedback
uploads (each received row kept, accepted or not), semester reports, evaluations and the
per-agreement enforcement rules."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from simpul.access.models import JsonType, UtcDateTime
from simpul.db import Base


class ObligationEvent(Base):
    """Something that starts a notice window: a force-majeure event (PKS 000 Pasal 11) or an
    address change (Pasal 13). `notified_on` is when the other party was told."""

    __tablename__ = "obligation_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agreement_id: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # keadaan_kahar | perubahan_alamat
    party: Mapped[str] = mapped_column(String(40))
    occurred_on: Mapped[date] = mapped_column(Date)  # event start / change takes effect
    notified_on: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_by: Mapped[str] = mapped_column(String(120))


class ObligationFulfilment(Base):
    """A dated duty done (implementation, renewal notice, berita acara …) for one period."""

    __tablename__ = "obligation_fulfilment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agreement_id: Mapped[str] = mapped_column(String(80))
    duty_id: Mapped[str] = mapped_column(String(80))
    period: Mapped[str] = mapped_column(String(20))  # "" | "2026-S1" | "2026" | ISO date
    fulfilled_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_by: Mapped[str] = mapped_column(String(120))

    __table_args__ = (UniqueConstraint("agreement_id", "duty_id", "period"),)


class OutboxMessage(Base):
    """A notification to send; `key` makes writing it idempotent per deadline and stage."""

    __tablename__ = "obligation_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    agreement_id: Mapped[str] = mapped_column(String(80), index=True)
    institution: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class FeedbackUpload(Base):
    """One received feedback file, kept whole (nothing received is lost)."""

    __tablename__ = "feedback_upload"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    agreement_id: Mapped[str] = mapped_column(String(80), index=True)
    duty_id: Mapped[str] = mapped_column(String(80))
    institution: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    uploaded_by: Mapped[str] = mapped_column(String(120))
    rows_total: Mapped[int] = mapped_column(Integer)
    rows_accepted: Mapped[int] = mapped_column(Integer)
    rows_rejected: Mapped[int] = mapped_column(Integer)


class FeedbackRow(Base):
    """Every row of every upload, with its verdict; accepted rows are the feedback data."""

    __tablename__ = "feedback_row"

    upload_id: Mapped[str] = mapped_column(
        ForeignKey("feedback_upload.id", ondelete="CASCADE"), primary_key=True
    )
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(String(80))
    duty_id: Mapped[str] = mapped_column(String(80))
    subject_hash: Mapped[str | None] = mapped_column(String(64))
    accepted: Mapped[bool] = mapped_column(Boolean)
    code: Mapped[str] = mapped_column(String(60))  # diterima | a rejection code
    detail: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JsonType)

    __table_args__ = (
        Index("ix_feedback_row_owed", "agreement_id", "duty_id", "accepted", "subject_hash"),
    )


class SemesterReport(Base):
    """The recipient's semester report (PKS 000 Pasal 10, PKS 003 Pasal 4)."""

    __tablename__ = "semester_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agreement_id: Mapped[str] = mapped_column(String(80))
    duty_id: Mapped[str] = mapped_column(String(80))
    institution: Mapped[str] = mapped_column(String(40))
    year: Mapped[int] = mapped_column(Integer)
    semester: Mapped[int] = mapped_column(Integer)
    figures: Mapped[dict[str, Any]] = mapped_column(JsonType)
    narrative: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    submitted_by: Mapped[str] = mapped_column(String(120))

    __table_args__ = (UniqueConstraint("agreement_id", "duty_id", "year", "semester"),)


class Evaluation(Base):
    """An evaluation record: findings and a recommendation (lanjut/perbaiki/tangguhkan/akhiri)."""

    __tablename__ = "evaluation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agreement_id: Mapped[str] = mapped_column(String(80), index=True)
    duty_id: Mapped[str] = mapped_column(String(80))
    period: Mapped[str] = mapped_column(String(20))  # "2026-S1" | "2026" | "sewaktu-<date>"
    evaluated_on: Mapped[date] = mapped_column(Date)
    evaluator: Mapped[str] = mapped_column(String(120))
    findings: Mapped[list[str]] = mapped_column(JsonType)
    recommendation: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class EnforcementRule(Base):
    """Optional rules per agreement: suspend when feedback is overdue past a grace period."""

    __tablename__ = "enforcement_rule"

    agreement_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    suspend_after_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(120))


# ---------------------------------------------------------------- rollups of the audit log
# Incrementally maintained aggregates (obligations.rollups): a report reads these instead of
# scanning a semester of records; each refresh only reads records appended since the last.


class RollupState(Base):
    __tablename__ = "obligation_rollup_state"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class UsageRollup(Base):
    """Records per UTC hour and (service, mechanism, decision, reason, result). `actor_key`
    is kept only for refusals without an agreement (they count for the caller's)."""

    __tablename__ = "usage_rollup"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agreement_key: Mapped[str] = mapped_column(String(80))  # "" when none was chosen
    actor_key: Mapped[str] = mapped_column(Text)
    institution: Mapped[str] = mapped_column(Text)
    hour: Mapped[str] = mapped_column(String(13))  # "YYYY-MM-DD HH", UTC
    service: Mapped[str | None] = mapped_column(Text)
    mechanism: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text)
    records: Mapped[int] = mapped_column(BigInteger)
    subjects: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_usage_rollup_key_hour", "agreement_key", "hour"),)


class ActorRollup(Base):
    __tablename__ = "usage_actor_rollup"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agreement_key: Mapped[str] = mapped_column(String(80))
    actor: Mapped[str] = mapped_column(Text)
    institution: Mapped[str] = mapped_column(Text)
    hour: Mapped[str] = mapped_column(String(13))
    decision: Mapped[str] = mapped_column(Text)
    records: Mapped[int] = mapped_column(BigInteger)
    subjects: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_usage_actor_rollup_key_hour", "agreement_key", "hour"),)


class ActionCopy(Base):
    """Governance actions on agreements, copied from the log (few; read by reports)."""

    __tablename__ = "usage_action"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    agreement_id: Mapped[str | None] = mapped_column(Text, index=True)
    action: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)


class FirstAccess(Base):
    """First allowed access of each subject (hash prefix) under a feedback duty's grants."""

    __tablename__ = "feedback_first_access"

    agreement_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    duty_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(16), primary_key=True)
    first_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
