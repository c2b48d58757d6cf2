"""Tables of the disclosure capability: per-agreement control settings and the outputs of
the processing facility with their review state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from simpul.db import Base

JsonType = JSON().with_variant(JSONB(), "postgresql")


class DisclosureSetting(Base):
    """Overrides of the ACRO defaults for one agreement (absent: the defaults)."""

    __tablename__ = "disclosure_setting"

    agreement_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JsonType)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(80))


class ProcessingOutput(Base):
    """One query run in the processing facility and its output table.

    status: `dirilis` (passed the checks, released), `menunggu_tinjauan` (failed a check,
    waiting for the provider), `disetujui` / `ditolak` (the provider's decision)."""

    __tablename__ = "disclosure_output"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    username: Mapped[str] = mapped_column(String(80))
    institution: Mapped[str] = mapped_column(String(40), index=True)
    provider: Mapped[str] = mapped_column(String(40), index=True)
    agreement_id: Mapped[str] = mapped_column(String(80))
    agreement_version: Mapped[int] = mapped_column(Integer)
    grant_id: Mapped[str] = mapped_column(String(120))
    sql: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    columns: Mapped[list[str]] = mapped_column(JsonType)
    rows: Mapped[list[list[Any]]] = mapped_column(JsonType)
    checks: Mapped[dict[str, Any]] = mapped_column(JsonType)
    attribution: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewer: Mapped[str | None] = mapped_column(String(80))
    review_reason: Mapped[str | None] = mapped_column(Text)
