"""The PKS web services as kernel operations (`simpul.kernel`). Each asks the kernel's
decision (`Call.authorize`), answers only what the grant allows, and records what it
discloses (`Call.disclose`); the kernel makes the record durable before the answer."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from simpul.access.policy import AccessRequest, Decision
from simpul.agreements.schemas import Service
from simpul.errors import InvalidInput, SimpulError
from simpul.kernel.call import Call, Refused
from simpul.registry import service as registry
from simpul.registry.datasets import Dataset, get_dataset
from simpul.registry.identifiers import parse_nik
from simpul.services.compare import compare_elements
from simpul.services.schemas import CekStatusOut, ProfilOut, VerifikasiOut

NOT_FOUND = "data_tidak_ditemukan"


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


def verify_elements(
    session: Session, call: Call, dataset_code: str, nik_raw: str, given: dict[str, Any]
) -> VerifikasiOut:
    """PKS 003 Pasal 2(1)a: sesuai / tidak sesuai / data tidak ditemukan; never a value."""
    dataset = get_dataset(dataset_code)
    nik = _canonical_nik(nik_raw)
    elements = _element_names(dataset, given)
    req = AccessRequest(
        dataset=dataset.code,
        service=Service.VERIFIKASI,
        mechanism=call.mechanism,
        input_elements=frozenset({"nik", *elements}),
        source_ip=call.source_ip,
        internal=call.internal,
    )
    decision = call.authorize(session, req, (nik,))
    assert decision.grant is not None
    if (remote := call.remote(dataset.code)) is not None:
        got = remote.ask(
            call, f"datasets/{dataset.code}/verifikasi", {"nik": nik, "elemen": elements}
        )
        out = VerifikasiOut.model_validate(got.answer)
        call.disclose(req, decision, subjects=(nik,), result=verify_summary(out), detail=got.detail)
        return out
    stored = call.stored(session, dataset.code, nik)
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
        summary = verify_summary(out)
    call.disclose(req, decision, subjects=(nik,), result=summary)
    return out


def verify_summary(out: VerifikasiOut) -> dict[str, Any]:
    """What a verification's record says of its answer: found or not, and how many match."""
    if out.hasil != "ditemukan":
        return {"hasil": out.hasil}
    outcomes = list((out.elemen or {}).values())
    return {"hasil": "ditemukan", "sesuai": outcomes.count("sesuai"),
            "tidak_sesuai": outcomes.count("tidak_sesuai")}  # fmt: skip


def check_status(
    session: Session,
    call: Call,
    dataset_code: str,
    nik_raw: str,
    nama_lengkap: str | None,
    tanggal_lahir: str | None,
) -> CekStatusOut:
    """PKS 001/004: "ASN" (+ instansi where granted) or "data tidak ditemukan".

    When the NIK is found but the name or birth date sent disagree, the answer is still the
    status (the NIK is the key) with `keterangan = nik_ditemukan_biodata_berbeda` and the
    names of the differing elements, so the recipient can tell a clean hit from a doubtful
    one. Stored values are never returned beyond the grant's output."""
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
        mechanism=call.mechanism,
        input_elements=frozenset({"nik", *given}),
        source_ip=call.source_ip,
        internal=call.internal,
    )
    decision = call.authorize(session, req, (nik,))
    assert decision.grant is not None
    if (remote := call.remote(dataset.code)) is not None:
        got = remote.ask(call, f"datasets/{dataset.code}/cek-status", {"nik": nik, **given})
        out = CekStatusOut.model_validate(got.answer)
        summary = {"hasil": out.hasil, "biodata_berbeda": bool(out.elemen_berbeda)}
        call.disclose(req, decision, subjects=(nik,), result=summary, detail=got.detail)
        return out
    stored = call.stored(session, dataset.code, nik)
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
    summary = {"hasil": out.hasil, "biodata_berbeda": bool(out.elemen_berbeda)}
    call.disclose(req, decision, subjects=(nik,), result=summary)
    return out


def lookup(session: Session, call: Call, dataset_code: str, nik_raw: str) -> ProfilOut:
    """PKS 003 Pasal 2(1)c (portal, 13 elements with the family on the KK) and 2(1)d (IKD,
    9 elements by web service): the elements of the caller's grant, nothing more.

    The record names the looked-up person with the elements shown for them and, when the
    family on the KK is shown, each member with only the elements shown for the members
    (`detail.elemen_anggota`, from position `detail.subjek_utama` on): a member's history
    must not claim their photo was disclosed when only the main subject's was."""
    dataset = get_dataset(dataset_code)
    nik = _canonical_nik(nik_raw)
    req = AccessRequest(
        dataset=dataset.code,
        service=Service.AKSES_NIK,
        mechanism=call.mechanism,
        input_elements=frozenset({"nik"}),
        source_ip=call.source_ip,
        internal=call.internal,
    )
    decision = call.authorize(session, req, (nik,))
    if (remote := call.remote(dataset.code)) is not None:
        got = remote.ask(call, f"datasets/{dataset.code}/akses-nik", {"nik": nik})
        out = ProfilOut.model_validate(got.answer)
        # The family's NIKs as the provider showed them; its own record names each member.
        kin = [m["nik"] for m in out.anggota_keluarga or () if isinstance(m.get("nik"), str)]
        call.disclose(req, decision, subjects=(nik, *kin), result={"hasil": out.hasil},
                      detail=got.detail)  # fmt: skip
        return out
    stored = call.stored(session, dataset.code, nik)
    subjects: tuple[str, ...] = (nik,)
    detail: dict[str, Any] | None = None
    if stored is None:
        out = ProfilOut(hasil=NOT_FOUND)
    else:
        names = [n for n in sorted(decision.output_elements) if n in dataset.element_names]
        # The photo is served by the face capability's store, never inlined here.
        data = {n: stored.get(n) for n in names if n != "foto_wajah"}
        family: list[dict[str, Any]] | None = None
        if "anggota_keluarga" in decision.output_elements and stored.get("no_kk"):
            kk = registry.family(session, dataset.code, stored["no_kk"])
            members = [m for m in kk if m["nik"] != nik]
            member_names = [n for n in names if n != "foto_wajah"]
            family = [{n: m.get(n) for n in member_names if n in m} for m in members]
            if members:
                subjects += tuple(m["nik"] for m in members)
                shown = sorted({n for row in family for n in row})
                detail = {"subjek_utama": 1, "elemen_anggota": shown}
        out = ProfilOut(hasil="ditemukan", data=data, anggota_keluarga=family)
    call.disclose(req, decision, subjects=subjects, result={"hasil": out.hasil}, detail=detail)
    return out


def refusal(decision: Decision) -> SimpulError:
    return Refused(decision)
