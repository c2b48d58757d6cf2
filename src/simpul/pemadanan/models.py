"""Tables for matching jobs, their per-row results and the per-line issues of the upload."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from simpul.db import Base

JsonType = JSON().with_variant(JSONB(), "postgresql")


class MatchJob(Base):
    __tablename__ = "pemadanan_job"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    username: Mapped[str] = mapped_column(String(80))
    institution: Mapped[str] = mapped_column(String(40), index=True)
    dataset: Mapped[str] = mapped_column(String(40))
    workflow: Mapped[str] = mapped_column(String(20))  # umum | bpum | kpm | regsosek
    service: Mapped[str] = mapped_column(String(20))
    mechanism: Mapped[str] = mapped_column(String(20))
    agreement_id: Mapped[str | None] = mapped_column(String(80))
    agreement_version: Mapped[int | None] = mapped_column(Integer)
    grant_id: Mapped[str | None] = mapped_column(String(120))
    output_elements: Mapped[list[str]] = mapped_column(JsonType, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    # antri → berjalan → selesai | gagal | dibatalkan
    status: Mapped[str] = mapped_column(String(12), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    input_name: Mapped[str] = mapped_column(String(300))
    input_path: Mapped[str] = mapped_column(Text)
    input_sha256: Mapped[str] = mapped_column(String(64))
    encoding: Mapped[str | None] = mapped_column(String(40))
    delimiter: Mapped[str | None] = mapped_column(String(4))
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_invalid: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, int]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    worker: Mapped[str | None] = mapped_column(String(80))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(60))
    error_detail: Mapped[str | None] = mapped_column(Text)
    audit_seq: Mapped[int | None] = mapped_column(Integer)


class MatchResultRow(Base):
    __tablename__ = "pemadanan_hasil"

    job_id: Mapped[str] = mapped_column(
        ForeignKey("pemadanan_job.id", ondelete="CASCADE"), primary_key=True
    )
    line: Mapped[int] = mapped_column(Integer, primary_key=True)  # line in the uploaded file
    status: Mapped[str] = mapped_column(String(30))
    # The registry NIK linked to (internal: review, subject history); shown only if granted.
    nik_cocok: Mapped[str | None] = mapped_column(String(16))
    probability: Mapped[float | None] = mapped_column(Float)
    differing: Mapped[str | None] = mapped_column(String(200))
    method: Mapped[str | None] = mapped_column(String(20))
    input: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # the row as given
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # granted output
    review: Mapped[str | None] = mapped_column(String(10))  # diterima | ditolak
    reviewed_by: Mapped[str | None] = mapped_column(String(80))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_pemadanan_hasil_job_status", "job_id", "status"),)


class MatchIssue(Base):
    __tablename__ = "pemadanan_galat"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("pemadanan_job.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(10))  # galat | peringatan
    code: Mapped[str] = mapped_column(String(60))
    detail: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_pemadanan_galat_job_line", "job_id", "line"),)
