"""Batch forms of verification and status check: up to 1,000 items per call, one policy
decision and one audit record (with every subject's keyed hash) per call, a result or an
error per item. A bad item never spoils the good ones."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from simpul.access.policy import AccessRequest, Decision, audit_event
from simpul.agreements.schemas import Service
from simpul.audit.service import record_in_session
from simpul.errors import SimpulError
from simpul.registry.datasets import get_dataset
from simpul.registry.repository import RegistryRepository
from simpul.services.compare import compare_elements
from simpul.services.schemas import (
    CekStatusBatchItemOut,
    CekStatusBatchOut,
    CekStatusIn,
    ItemGalat,
    VerifikasiBatchItemOut,
    VerifikasiBatchOut,
    VerifikasiIn,
)
from simpul.services.service import (
    NOT_FOUND,
    CallContext,
    _canonical_nik,
    _element_names,
    _guard,
)

MAX_ITEMS = 1_000


def _check_size(count: int) -> None:
    if count > MAX_ITEMS:
        raise SimpulError(
            "batch_terlalu_besar",
            f"Satu panggilan paling banyak {MAX_ITEMS:,} butir; diterima {count:,}.",
            status=413,
        )


def verify_batch(
    session: Session, ctx: CallContext, dataset_code: str, items: list[VerifikasiIn]
) -> tuple[VerifikasiBatchOut, Decision | None]:
    started = time.perf_counter()
    _check_size(len(items))
    dataset = get_dataset(dataset_code)
    parsed: dict[int, tuple[str, dict[str, Any]]] = {}
    errors: dict[int, ItemGalat] = {}
    for i, item in enumerate(items):
        try:
            parsed[i] = (_canonical_nik(item.nik), _element_names(dataset, item.elemen))
        except SimpulError as exc:
            errors[i] = ItemGalat(code=exc.code, detail=exc.detail)
    inputs = frozenset({"nik"}.union(*(e.keys() for _, e in parsed.values())))
    req = AccessRequest(
        dataset=dataset.code, service=Service.VERIFIKASI, mechanism=ctx.mechanism,
        input_elements=inputs, source_ip=ctx.source_ip, units=max(1, len(parsed)),
    )  # fmt: skip
    subjects = tuple(n for n, _ in parsed.values())
    decision = _guard(session, ctx, req, ctx.clock.now(), subjects)
    if not decision.allowed:
        return VerifikasiBatchOut(jumlah=len(items), item=[]), decision
    assert decision.grant is not None
    stored_by_nik = RegistryRepository(session).get_many(dataset.code, subjects)
    out: list[VerifikasiBatchItemOut] = []
    found = 0
    for i in range(len(items)):
        if i in errors:
            out.append(VerifikasiBatchItemOut(indeks=i, hasil="galat", galat=errors[i]))
            continue
        nik, elements = parsed[i]
        stored = stored_by_nik.get(nik)
        if stored is None:
            out.append(VerifikasiBatchItemOut(indeks=i, hasil=NOT_FOUND))
            continue
        found += 1
        results = compare_elements(dataset, stored, elements, decision.grant.thresholds)
        out.append(
            VerifikasiBatchItemOut(
                indeks=i,
                hasil="ditemukan",
                elemen={k: r.outcome for k, r in results.items()},
                skor={k: r.score for k, r in results.items()}
                if decision.grant.return_score
                else None,
            )
        )
    record_in_session(
        session, ctx.settings,
        audit_event(
            ctx.principal, req, decision, subjects=subjects,
            result={"butir": len(items), "ditemukan": found, "galat": len(errors)},
            request_id=ctx.request_id, latency_ms=(time.perf_counter() - started) * 1000,
        ),
        ctx.clock,
    )  # fmt: skip
    return VerifikasiBatchOut(jumlah=len(items), item=out), None


def check_status_batch(
    session: Session, ctx: CallContext, dataset_code: str, items: list[CekStatusIn]
) -> tuple[CekStatusBatchOut, Decision | None]:
    started = time.perf_counter()
    _check_size(len(items))
    dataset = get_dataset(dataset_code)
    if dataset.status_check is None:
        raise SimpulError(
            "cek_status_tidak_tersedia", f"Dataset {dataset.code} tidak melayani cek status."
        )
    parsed: dict[int, tuple[str, dict[str, Any]]] = {}
    errors: dict[int, ItemGalat] = {}
    for i, item in enumerate(items):
        try:
            given = {
                k: v
                for k, v in {"nama_lengkap": item.nama_lengkap,
                             "tanggal_lahir": item.tanggal_lahir}.items()
                if v not in (None, "")
            }  # fmt: skip
            parsed[i] = (_canonical_nik(item.nik), given)
        except SimpulError as exc:
            errors[i] = ItemGalat(code=exc.code, detail=exc.detail)
    inputs = frozenset({"nik"}.union(*(g.keys() for _, g in parsed.values())))
    req = AccessRequest(
        dataset=dataset.code, service=Service.CEK_STATUS, mechanism=ctx.mechanism,
        input_elements=inputs, source_ip=ctx.source_ip, units=max(1, len(parsed)),
    )  # fmt: skip
    subjects = tuple(n for n, _ in parsed.values())
    decision = _guard(session, ctx, req, ctx.clock.now(), subjects)
    if not decision.allowed:
        return CekStatusBatchOut(jumlah=len(items), item=[]), decision
    assert decision.grant is not None
    stored_by_nik = RegistryRepository(session).get_many(dataset.code, subjects)
    out: list[CekStatusBatchItemOut] = []
    found = 0
    for i in range(len(items)):
        if i in errors:
            out.append(CekStatusBatchItemOut(indeks=i, hasil="galat", galat=errors[i]))
            continue
        nik, given = parsed[i]
        stored = stored_by_nik.get(nik)
        if stored is None:
            out.append(CekStatusBatchItemOut(indeks=i, hasil=NOT_FOUND))
            continue
        found += 1
        results = compare_elements(dataset, stored, given, decision.grant.thresholds)
        differing = sorted(k for k, r in results.items() if r.outcome == "tidak_sesuai")
        out.append(
            CekStatusBatchItemOut(
                indeks=i,
                hasil=dataset.status_check.found_label,
                keterangan="nik_ditemukan_biodata_berbeda" if differing else None,
                elemen_berbeda=differing or None,
                data={k: stored.get(k) for k in sorted(decision.output_elements)} or None,
            )
        )
    record_in_session(
        session, ctx.settings,
        audit_event(
            ctx.principal, req, decision, subjects=subjects,
            result={"butir": len(items), "ditemukan": found, "galat": len(errors)},
            request_id=ctx.request_id, latency_ms=(time.perf_counter() - started) * 1000,
        ),
        ctx.clock,
    )  # fmt: skip
    return CekStatusBatchOut(jumlah=len(items), item=out), None
