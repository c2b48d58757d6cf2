"""The PKS web services as service functions. Each decides against the agreement, answers
only what the grant allows, and appends its audit record in the caller's transaction, so
the answer leaves only after the record is durable (the caller commits first)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from simpul.access.policy import AccessRequest, Decision, audit_event, decide
from simpul.access.quota import QuotaLimiter
from simpul.access.schemas import Principal
from simpul.agreements.schemas import Mechanism, Service
from simpul.audit.schemas import AuditEvent
from simpul.audit.service import AuditWriter, record_in_session
from simpul.config import Settings
from simpul.errors import InvalidInput, SimpulError
from simpul.kit.clock import Clock
from simpul.registry.datasets import Dataset, get_dataset
from simpul.registry.identifiers import parse_nik
from simpul.registry.repository import RegistryRepository
from simpul.services.compare import compare_elements
from simpul.services.schemas import CekStatusOut, ProfilOut, VerifikasiOut

NOT_FOUND = "data_tidak_ditemukan"


@dataclass(frozen=True)
class CallContext:
    """Everything about the call that is not its body.

    With a group-commit `writer`, audit records wait in `pending` until the caller's read
    transaction has ended and are then appended by `flush` (which returns only once they
    are durable); without one they are appended inside the caller's transaction."""

    principal: Principal
    mechanism: Mechanism
    source_ip: str | None
    request_id: str
    settings: Settings
    clock: Clock
    quota: QuotaLimiter | None = None
    writer: AuditWriter | None = None
    pending: list[AuditEvent] = field(default_factory=list)
    # A command run on the hub itself (CLI): no network access point to check.
    internal: bool = False
    # (dataset, NIK) → record (None: not in the registry), already read by the hot path
    # in the statement that read the governance epoch (see `simpul.services.hot`).
    prefetched: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)

    def stored(self, session: Session, dataset: str, nik: str) -> dict[str, Any] | None:
        """The registry record of `nik`, as prefetched or read now."""
        try:
            return self.prefetched[(dataset, nik)]
        except KeyError:
            return RegistryRepository(session).get(dataset, nik)

    def record(self, session: Session, event: AuditEvent) -> None:
        if self.writer is None:
            record_in_session(session, self.settings, event, self.clock)
        else:
            self.pending.append(event)

    def flush(self) -> None:
        """Make every pending record durable; call after the transaction, before answering."""
        while self.pending:
            assert self.writer is not None
            self.writer.append(self.pending.pop(0))

    async def flush_async(self) -> None:
        """`flush` for the event loop: awaits durability without holding a thread."""
        while self.pending:
            assert self.writer is not None
            await self.writer.append_async(self.pending.pop(0))


def _canonical_nik(raw: str, reference: date | None = None) -> str:
    info = parse_nik(raw, reference=reference)
    if not info.valid:
        first = info.errors[0]
        raise InvalidInput(first.code, first.detail)
    return info.nik


def _element_names(dataset: Dataset, given: dict[str, Any]) -> dict[str, Any]:
    """Map SIAK aliases to element names; an unknown element is the caller's error."""
    out: dict[str, Any] = {}
    for key, value in given.items():
        name = dataset.alias_lookup(key)
        if name is None:
            raise InvalidInput("elemen_tidak_dikenal", f"Elemen {key!r} tidak dikenal.")
        out[name] = value
    return out


def _guard(
    session: Session, ctx: CallContext, req: AccessRequest, at: datetime, subjects: tuple[str, ...]
) -> Decision:
    decision = decide(session, ctx.principal, req, at=at, quota=ctx.quota)
    if not decision.allowed:
        ctx.record(
            session,
            audit_event(ctx.principal, req, decision, subjects=subjects, request_id=ctx.request_id),
        )
    return decision


def _refuse(decision: Decision) -> SimpulError:
    return SimpulError(decision.reason, decision.detail, status=decision.status, **decision.extra)


def verify_elements(
    session: Session, ctx: CallContext, dataset_code: str, nik_raw: str, given: dict[str, Any]
) -> tuple[VerifikasiOut, Decision | None]:
    """PKS 003 Pasal 2(1)a: sesuai / tidak sesuai / data tidak ditemukan; never a value.

    Returns the answer and, for a refusal, the decision (already audited) to raise after
    the caller has committed the audit record."""
    started = time.perf_counter()
    dataset = get_dataset(dataset_code)
    nik = _canonical_nik(nik_raw)
    elements = _element_names(dataset, given)
    req = AccessRequest(
        dataset=dataset.code,
        service=Service.VERIFIKASI,
        mechanism=ctx.mechanism,
        input_elements=frozenset({"nik", *elements}),
        source_ip=ctx.source_ip,
    )
    at = ctx.clock.now()
    decision = _guard(session, ctx, req, at, (nik,))
    if not decision.allowed:
        return VerifikasiOut(hasil=NOT_FOUND), decision
    assert decision.grant is not None
    stored = ctx.stored(session, dataset.code, nik)
    if stored is None:
        out = VerifikasiOut(hasil=NOT_FOUND)
        summary: dict[str, Any] = {"hasil": NOT_FOUND}
    else:
        results = compare_elements(dataset, stored, elements, decision.grant.thresholds)
        out = VerifikasiOut(
            hasil="ditemukan",
            elemen={k: r.outcome for k, r in results.items()},
            skor={k: r.score for k, r in results.items()} if decision.grant.return_score else None,
        )
        summary = {
            "hasil": "ditemukan",
            "sesuai": sum(r.outcome == "sesuai" for r in results.values()),
            "tidak_sesuai": sum(r.outcome == "tidak_sesuai" for r in results.values()),
        }
    ctx.record(
        session,
        audit_event(
            ctx.principal,
            req,
            decision,
            subjects=(nik,),
            result=summary,
            request_id=ctx.request_id,
            latency_ms=(time.perf_counter() - started) * 1000,
        ),
    )
    return out, None


def check_status(
    session: Session,
    ctx: CallContext,
    dataset_code: str,
    nik_raw: str,
    nama_lengkap: str | None,
    tanggal_lahir: str | None,
) -> tuple[CekStatusOut, Decision | None]:
    """PKS 001/004: "ASN" (+ instansi where granted) or "data tidak ditemukan".

    When the NIK is found but the name or birth date sent disagree, the answer is still the
    status (the NIK is the key) with `keterangan = nik_ditemukan_biodata_berbeda` and the
    names of the differing elements, so the recipient can tell a clean hit from a doubtful
    one. Stored values are never returned beyond the grant's output."""
    started = time.perf_counter()
    dataset = get_dataset(dataset_code)
    if dataset.status_check is None:
        raise InvalidInput(
            "cek_status_tidak_tersedia", f"Dataset {dataset.code} tidak melayani cek status."
        )
    nik = _canonical_nik(nik_raw)
    given = {
        k: v for k, v in {"nama_lengkap": nama_lengkap, "tanggal_lahir": tanggal_lahir}.items()
        if v not in (None, "")
    }  # fmt: skip
    req = AccessRequest(
        dataset=dataset.code,
        service=Service.CEK_STATUS,
        mechanism=ctx.mechanism,
        input_elements=frozenset({"nik", *given}),
        source_ip=ctx.source_ip,
    )
    decision = _guard(session, ctx, req, ctx.clock.now(), (nik,))
    if not decision.allowed:
        return CekStatusOut(hasil=NOT_FOUND), decision
    assert decision.grant is not None
    stored = ctx.stored(session, dataset.code, nik)
    if stored is None:
        out = CekStatusOut(hasil=NOT_FOUND)
    else:
        results = compare_elements(dataset, stored, given, decision.grant.thresholds)
        differing = sorted(k for k, r in results.items() if r.outcome == "tidak_sesuai")
        data = {k: stored.get(k) for k in sorted(decision.output_elements)} or None
        out = CekStatusOut(
            hasil=dataset.status_check.found_label,
            keterangan="nik_ditemukan_biodata_berbeda" if differing else None,
            elemen_berbeda=differing or None,
            data=data,
        )
    ctx.record(
        session,
        audit_event(
            ctx.principal,
            req,
            decision,
            subjects=(nik,),
            result={"hasil": out.hasil, "biodata_berbeda": bool(out.elemen_berbeda)},
            request_id=ctx.request_id,
            latency_ms=(time.perf_counter() - started) * 1000,
        ),
    )
    return out, None


def lookup(
    session: Session, ctx: CallContext, dataset_code: str, nik_raw: str
) -> tuple[ProfilOut, Decision | None]:
    """PKS 003 Pasal 2(1)c (portal, 13 elements with the family on the KK) and 2(1)d (IKD,
    9 elements by web service): the elements of the caller's grant, nothing more."""
    started = time.perf_counter()
    dataset = get_dataset(dataset_code)
    nik = _canonical_nik(nik_raw)
    req = AccessRequest(
        dataset=dataset.code,
        service=Service.AKSES_NIK,
        mechanism=ctx.mechanism,
        input_elements=frozenset({"nik"}),
        source_ip=ctx.source_ip,
    )
    decision = _guard(session, ctx, req, ctx.clock.now(), (nik,))
    if not decision.allowed:
        return ProfilOut(hasil=NOT_FOUND), decision
    repo = RegistryRepository(session)
    stored = ctx.stored(session, dataset.code, nik)
    subjects: tuple[str, ...] = (nik,)
    if stored is None:
        out = ProfilOut(hasil=NOT_FOUND)
    else:
        names = [n for n in sorted(decision.output_elements) if n in dataset.element_names]
        # The photo is served by the face capability's store, never inlined here.
        data = {n: stored.get(n) for n in names if n != "foto_wajah"}
        family: list[dict[str, Any]] | None = None
        if "anggota_keluarga" in decision.output_elements and stored.get("no_kk"):
            members = [m for m in repo.family(dataset.code, stored["no_kk"]) if m["nik"] != nik]
            family = [{n: m.get(n) for n in names if n in m and n != "foto_wajah"} for m in members]
            subjects += tuple(m["nik"] for m in members)
        out = ProfilOut(hasil="ditemukan", data=data, anggota_keluarga=family)
    ctx.record(
        session,
        audit_event(
            ctx.principal,
            req,
            decision,
            subjects=subjects,
            result={"hasil": out.hasil},
            request_id=ctx.request_id,
            latency_ms=(time.perf_counter() - started) * 1000,
        ),
    )
    return out, None


def refusal(decision: Decision) -> SimpulError:
    return _refuse(decision)
