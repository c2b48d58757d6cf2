"""Batch forms of verification and status check, as kernel operations: up to 1,000 items
per call, one policy decision and one audit record (with every subject's keyed hash) per
call, a result or an error per item. A bad item never spoils the good ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from simpul.access.policy import AccessRequest, Decision
from simpul.agreements.schemas import Grant, Service
from simpul.errors import InvalidInput, SimpulError
from simpul.kernel.call import Call, Remote
from simpul.kit.numbers import angka
from simpul.registry import service as registry
from simpul.registry.datasets import Dataset, get_dataset
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
from simpul.services.service import NOT_FOUND, _canonical_nik, _element_names

MAX_ITEMS = 1_000
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def _check_size(count: int) -> None:
    if count > MAX_ITEMS:
        raise SimpulError(
            "batch_terlalu_besar",
            f"Satu panggilan paling banyak {angka(MAX_ITEMS)} butir; diterima {angka(count)}.",
            status=413,
        )


@dataclass
class _Parsed:
    """Items that parsed (index → NIK and given elements) and those that did not."""

    good: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    errors: dict[int, ItemGalat] = field(default_factory=dict)


def _run(
    session: Session,
    call: Call,
    dataset: Dataset,
    service: Service,
    total: int,
    parsed: _Parsed,
    answer: Callable[[int, dict[str, Any] | None, dict[str, Any], Grant], T],
    failed: Callable[[int, ItemGalat], T],
    wire: Callable[[str, dict[str, Any]], dict[str, Any]],
    from_wire: Callable[[int, dict[str, Any]], T],
) -> list[T]:
    """One decision and one audit record for the whole call; an answer per item."""
    names = {"nik"}
    for _, given in parsed.good.values():
        names.update(given)
    inputs = frozenset(names)
    req = AccessRequest(
        dataset=dataset.code, service=service, mechanism=call.mechanism,
        input_elements=inputs, source_ip=call.source_ip, internal=call.internal,
        units=max(1, len(parsed.good)),
    )  # fmt: skip
    subjects = tuple(n for n, _ in parsed.good.values())
    decision = call.authorize(session, req, subjects)
    assert decision.grant is not None
    if (remote := call.remote(dataset.code)) is not None:
        return _forward(call, remote, req, decision, dataset, service, total, parsed, failed,
                        wire, from_wire)  # fmt: skip
    stored_by_nik = registry.get_many(session, dataset.code, subjects)
    out: list[T] = []
    for i in range(total):
        if i in parsed.errors:
            out.append(failed(i, parsed.errors[i]))
            continue
        nik, given = parsed.good[i]
        out.append(answer(i, stored_by_nik.get(nik), given, decision.grant))
    found = sum(1 for n in subjects if n in stored_by_nik)
    summary = {"butir": total, "ditemukan": found, "galat": len(parsed.errors)}
    call.disclose(req, decision, subjects=subjects, result=summary)
    return out


def _forward(
    call: Call,
    remote: Remote,
    req: AccessRequest,
    decision: Decision,
    dataset: Dataset,
    service: Service,
    total: int,
    parsed: _Parsed,
    failed: Callable[[int, ItemGalat], T],
    wire: Callable[[str, dict[str, Any]], dict[str, Any]],
    from_wire: Callable[[int, dict[str, Any]], T],
) -> list[T]:
    """The good items, in one call, to the provider's node; its answers back in place."""
    order = sorted(parsed.good)
    name = "verifikasi" if service is Service.VERIFIKASI else "cek-status"
    body = {"item": [wire(*parsed.good[i]) for i in order]}
    got = remote.ask(call, f"datasets/{dataset.code}/{name}/batch", body)
    items = got.answer.get("item") if isinstance(got.answer, dict) else None
    if not isinstance(items, list) or len(items) != len(order):
        raise SimpulError("jawaban_penyedia_tidak_sah", "Jawaban node penyedia tidak lengkap.", 502)
    answers = {i: item for i, item in zip(order, items, strict=True)}
    out = [failed(i, parsed.errors[i]) if i in parsed.errors else from_wire(i, answers[i])
           for i in range(total)]  # fmt: skip
    found = sum(1 for item in items if item.get("hasil") not in (NOT_FOUND, "galat"))
    summary = {"butir": total, "ditemukan": found, "galat": total - len(order)}
    subjects = tuple(parsed.good[i][0] for i in order)
    call.disclose(req, decision, subjects=subjects, result=summary, detail=got.detail)
    return out


def _from_wire(model: type[M]) -> Callable[[int, dict[str, Any]], M]:
    def read(i: int, item: dict[str, Any]) -> M:
        return model.model_validate({**item, "indeks": i})

    return read


def verify_batch(
    session: Session, call: Call, dataset_code: str, items: list[VerifikasiIn]
) -> VerifikasiBatchOut:
    _check_size(len(items))
    dataset = get_dataset(dataset_code)
    parsed = _Parsed()
    today = date.today()  # the reference for a NIK's century, read once per call
    for i, item in enumerate(items):
        try:
            parsed.good[i] = (
                _canonical_nik(item.nik, today),
                _element_names(dataset, item.elemen),
            )
        except SimpulError as exc:
            parsed.errors[i] = ItemGalat(code=exc.code, detail=exc.detail)

    def answer(
        i: int, stored: dict[str, Any] | None, given: dict[str, Any], grant: Grant
    ) -> VerifikasiBatchItemOut:
        if stored is None:
            return VerifikasiBatchItemOut(indeks=i, hasil=NOT_FOUND)
        results = compare_elements(dataset, stored, given, grant.thresholds)
        return VerifikasiBatchItemOut(
            indeks=i,
            hasil="ditemukan",
            elemen={k: r.outcome for k, r in results.items()},
            skor={k: r.score for k, r in results.items()} if grant.return_score else None,
        )

    out = _run(
        session, call, dataset, Service.VERIFIKASI, len(items), parsed, answer,
        lambda i, e: VerifikasiBatchItemOut(indeks=i, hasil="galat", galat=e),
        lambda nik, given: {"nik": nik, "elemen": given}, _from_wire(VerifikasiBatchItemOut),
    )  # fmt: skip
    return VerifikasiBatchOut(jumlah=len(items), item=out)


def check_status_batch(
    session: Session, call: Call, dataset_code: str, items: list[CekStatusIn]
) -> CekStatusBatchOut:
    _check_size(len(items))
    dataset = get_dataset(dataset_code)
    check = dataset.status_check
    if check is None:
        raise InvalidInput(  # 422, as the single-item check answers it
            "cek_status_tidak_tersedia", f"Dataset {dataset.code} tidak melayani cek status."
        )
    parsed = _Parsed()
    today = date.today()
    for i, item in enumerate(items):
        try:
            given = {
                k: v
                for k, v in {"nama_lengkap": item.nama_lengkap,
                             "tanggal_lahir": item.tanggal_lahir}.items()
                if v not in (None, "")
            }  # fmt: skip
            parsed.good[i] = (_canonical_nik(item.nik, today), given)
        except SimpulError as exc:
            parsed.errors[i] = ItemGalat(code=exc.code, detail=exc.detail)

    def answer(
        i: int, stored: dict[str, Any] | None, given: dict[str, Any], grant: Grant
    ) -> CekStatusBatchItemOut:
        if stored is None:
            return CekStatusBatchItemOut(indeks=i, hasil=NOT_FOUND)
        results = compare_elements(dataset, stored, given, grant.thresholds)
        differing = sorted(k for k, r in results.items() if r.outcome == "tidak_sesuai")
        return CekStatusBatchItemOut(
            indeks=i,
            hasil=check.found_label,
            keterangan="nik_ditemukan_biodata_berbeda" if differing else None,
            elemen_berbeda=differing or None,
            data={k: stored.get(k) for k in sorted(grant.output_elements)} or None,
        )

    out = _run(
        session, call, dataset, Service.CEK_STATUS, len(items), parsed, answer,
        lambda i, e: CekStatusBatchItemOut(indeks=i, hasil="galat", galat=e),
        lambda nik, given: {"nik": nik, **given}, _from_wire(CekStatusBatchItemOut),
    )  # fmt: skip
    return CekStatusBatchOut(jumlah=len(items), item=out)
