"""Helpers shared by the audit tests: synthetic events and direct (tampering) database access."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from simpul.audit.schemas import AuditEvent

# Synthetic NIKs (valid shape: region code, birth date, serial); no real person.
NIKS = [
    f"3171{(i % 90) + 10:02d}{(i % 28) + 1:02d}0{(i % 9) + 1}9{i % 10}{i:04d}" for i in range(50)
]


def event(i: int, subjects: int = 1, decision: str = "izin") -> AuditEvent:
    """A varied event: some fields empty, several subjects, non-ASCII text, a payload."""
    return AuditEvent(
        action="verifikasi" if i % 3 else "cek_status",
        decision=decision,  # type: ignore[arg-type]
        reason="ok" if decision == "izin" else "elemen_di_luar_hibah",
        actor=f"klien-{i % 4}",
        institution="Dinas Sosial Kab. Bogor" if i % 2 else "BKN — Kantor Regional",
        agreement_id="pks-003" if i % 5 else None,
        agreement_version=(i % 3) + 1 if i % 5 else None,
        grant_id=f"hibah-{i % 2}",
        service="verifikasi",
        mechanism="api" if i % 2 else "portal",
        dataset="kependudukan",
        subjects=tuple(NIKS[(i + k) % len(NIKS)] for k in range(subjects)),
        elements=("nama_lengkap", "tanggal_lahir")[: (i % 3)],
        result={"nama_lengkap": "sesuai", "skor": 0.75} if i % 2 else {},
        request_id=f"req-{i:06d}",
        latency_ms=1.25 * i if i % 4 else None,
        detail={"alasan": "uji"} if i % 7 == 0 else {},
    )


@contextmanager
def tampering(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction with the append-only triggers off, always rolled back: each tampering
    case starts from the same untouched log."""
    session = sessions()
    try:
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            session.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for table in ("audit_record", "audit_subject", "audit_checkpoint"):
                for verb in ("update", "delete"):
                    session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))
        yield session
    finally:
        session.rollback()
        session.close()


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]
