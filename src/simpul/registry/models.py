"""Tables for registries: keyed records by NIK and the history of loads with their issues."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from simpul.db import Base

JsonType = JSON().with_variant(JSONB(), "postgresql")


class RegistryLoad(Base):
    __tablename__ = "registry_load"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(40), index=True)
    source: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_loaded: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    rows_warned: Mapped[int] = mapped_column(Integer, default=0)
    encoding: Mapped[str | None] = mapped_column(String(40))
    delimiter: Mapped[str | None] = mapped_column(String(4))


class RegistryLoadIssue(Base):
    __tablename__ = "registry_load_issue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    load_id: Mapped[str] = mapped_column(ForeignKey("registry_load.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(10))  # galat | peringatan
    element: Mapped[str | None] = mapped_column(String(60))
    code: Mapped[str] = mapped_column(String(60))
    detail: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_registry_load_issue_load_line", "load_id", "line"),)


class RegistryRecord(Base):
    __tablename__ = "registry_record"

    dataset: Mapped[str] = mapped_column(String(40), primary_key=True)
    nik: Mapped[str] = mapped_column(String(16), primary_key=True)
    no_kk: Mapped[str | None] = mapped_column(String(16))
    load_id: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JsonType)

    __table_args__ = (Index("ix_registry_record_dataset_kk", "dataset", "no_kk"),)
