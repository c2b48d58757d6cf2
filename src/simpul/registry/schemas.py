"""What the registry service returns to its adapters."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class LoadIssue(BaseModel):
    line: int
    severity: str  # galat (row rejected) | peringatan (row loaded)
    element: str | None
    code: str
    detail: str


class LoadReport(BaseModel):
    load_id: str
    dataset: str
    source: str
    mode: str
    encoding: str | None
    delimiter: str | None
    rows_total: int
    rows_loaded: int
    rows_rejected: int
    rows_warned: int
    ignored_columns: list[str]
    notes: list[str]
    issues: list[LoadIssue]


class DatasetStats(BaseModel):
    dataset: str
    name: str
    provider: str
    records: int
    families: int | None
    last_load_at: datetime | None
    last_load_source: str | None
    snapshot_rows: int | None
    snapshot_path: str | None
