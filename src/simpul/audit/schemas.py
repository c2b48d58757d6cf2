"""What callers hand to the audit log. Subjects arrive as clear NIKs and leave this module
only as keyed hashes (HMAC): the log never holds a NIK in clear."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["izin", "tolak", "tindakan"]


@dataclass(frozen=True)
class AuditEvent:
    action: str  # "verifikasi", "cek_status", "perjanjian.tangguhkan", "akun.cabut", …
    decision: Decision  # izin (allowed), tolak (denied), tindakan (governance action)
    reason: str  # stable reason code, e.g. "ok", "perjanjian_berakhir", "elemen_di_luar_hibah"
    actor: str | None = None  # account username or client id
    institution: str | None = None
    agreement_id: str | None = None
    agreement_version: int | None = None
    grant_id: str | None = None
    service: str | None = None
    mechanism: str | None = None
    dataset: str | None = None
    subjects: tuple[str, ...] = ()  # clear NIKs; hashed before storage
    elements: tuple[str, ...] = ()
    result: dict[str, Any] = field(default_factory=dict)  # summary only, never stored values
    request_id: str | None = None
    latency_ms: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # e.g. {"alasan": "..."} for actions
