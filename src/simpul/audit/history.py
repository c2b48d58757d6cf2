"""One person's access history (UU PDP Pasal 32): every record naming them, oldest first,
each with the elements disclosed about that person."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from simpul.audit import repository as repo
from simpul.audit.models import AuditRecord
from simpul.config import Settings


def subject_hash(key: str, nik: str) -> str:
    """HMAC-SHA256 (hex) of a subject NIK: the only form in which a NIK enters the log."""
    return hmac.new(key.encode(), nik.strip().encode(), "sha256").hexdigest()


@dataclass(frozen=True)
class SubjectAccess:
    seq: int
    ts: datetime
    action: str
    decision: str
    reason: str
    actor: str | None
    institution: str | None
    agreement_id: str | None
    agreement_version: int | None
    grant_id: str | None
    service: str | None
    mechanism: str | None
    dataset: str | None
    elements: list[str]
    request_id: str | None


def subject_history(session: Session, settings: Settings, nik: str) -> list[SubjectAccess]:
    """Every record about one person, oldest first (UU PDP Pasal 32), each with the
    elements disclosed about that person: a record that names further subjects after its
    main ones (the family on a KK) says in `detail` which elements those were shown."""
    key = settings.require_secret("audit_hmac_key")
    found = repo.AuditRepository(session).records_for_subject_at(subject_hash(key, nik))
    return [
        SubjectAccess(
            seq=r.seq,
            ts=r.ts.replace(tzinfo=UTC) if r.ts.tzinfo is None else r.ts.astimezone(UTC),
            action=r.action,
            decision=r.decision,
            reason=r.reason,
            actor=r.actor,
            institution=r.institution,
            agreement_id=r.agreement_id,
            agreement_version=r.agreement_version,
            grant_id=r.grant_id,
            service=r.service,
            mechanism=r.mechanism,
            dataset=r.dataset,
            elements=_elements_at(r, pos),
            request_id=r.request_id,
        )
        for r, pos in found
    ]


def _elements_at(record: AuditRecord, pos: int) -> list[str]:
    detail = json.loads(record.detail) if record.detail else {}
    main = detail.get("subjek_utama")
    if isinstance(main, int) and pos >= main and isinstance(detail.get("elemen_anggota"), list):
        return [str(e) for e in detail["elemen_anggota"]]
    return list(json.loads(record.elements))
