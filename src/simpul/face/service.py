"""Face verification (PKS 003 Pasal 2(1)b) and the photo store behind it.

`verify_face` is the web service: NIK + photo → "data tidak ditemukan" or a similarity
value, decided against the agreement and audited like every other service (the photo is
never logged; the audit record keeps the outcome only). `portal_photo` is what the portal
calls to show the face photo of PKS 003 Pasal 2(1)c. Enrolment, removal and re-indexing
are provider actions, audited with their actor and reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from simpul.access.policy import AccessRequest, Decision
from simpul.agreements.schemas import Service
from simpul.audit.schemas import AuditEvent
from simpul.audit.service import record_in_session
from simpul.config import Settings
from simpul.errors import InvalidInput, NotFound, SimpulError
from simpul.face import engine as face_engine
from simpul.face.engine import FaceEngine, FaceError, Photo, decode_photo, single_face
from simpul.face.models import FacePhoto
from simpul.face.repository import FaceRepository
from simpul.face.schemas import EnrolOut, StoredPhoto, StoreStats, VerifikasiWajahOut
from simpul.kernel.call import Call
from simpul.kit.clock import Clock
from simpul.kit.masking import mask_nik
from simpul.registry import service as registry
from simpul.registry.datasets import get_dataset
from simpul.registry.identifiers import parse_nik
from simpul.services.service import NOT_FOUND

PHOTO_ELEMENT = "foto_wajah"
ACTION_REASON = "tindakan_tata_kelola"


def canonical_nik(raw: str) -> str:
    info = parse_nik(raw)
    if not info.valid:
        raise InvalidInput(info.errors[0].code, info.errors[0].detail)
    return info.nik


def _photo_dataset(code: str) -> str:
    dataset = get_dataset(code)
    if PHOTO_ELEMENT not in dataset.element_names:
        raise NotFound("foto_tidak_tersedia", f"Dataset {dataset.code} tidak memuat foto wajah.")
    return dataset.code


@dataclass(frozen=True)
class FaceCheck:
    """An allowed face verification between its decision and its comparison."""

    req: AccessRequest
    decision: Decision
    nik: str
    probe: Photo
    engine: FaceEngine
    reference: face_engine.Embedding | None  # the stored embedding of this engine
    stored_photo: bytes | None  # when the stored embedding is another engine's


def start_check(
    session: Session,
    call: Call,
    dataset_code: str,
    nik_raw: str,
    photo: bytes,
    engine: FaceEngine | None = None,
) -> FaceCheck:
    """Check the input, decide (a refusal is recorded and raised), read what is stored.

    The photo is checked (format, size) before the decision; faces are looked for only in
    `finish_check`, after an allowed decision."""
    dataset = _photo_dataset(dataset_code)
    nik = canonical_nik(nik_raw)
    probe = decode_photo(photo)
    req = AccessRequest(
        dataset=dataset,
        service=Service.VERIFIKASI_WAJAH,
        mechanism=call.mechanism,
        input_elements=frozenset({"nik", PHOTO_ELEMENT}),
        source_ip=call.source_ip,
        internal=call.internal,
    )
    decision = call.authorize(session, req, (nik,))
    eng = engine or face_engine.get_engine()
    repo = FaceRepository(session)
    stored = repo.embedding(dataset, nik)
    reference = stored_photo = None
    if stored is not None and stored.engine == eng.name:
        reference = face_engine.from_bytes(stored.embedding)
    elif stored is not None:
        # Enrolled under another engine: the stored photo is embedded in `finish_check`
        # (not persisted; `simpul face reindex` brings the store up to date).
        row = repo.get(dataset, nik)
        stored_photo = bytes(row.photo) if row is not None else None
    return FaceCheck(req, decision, nik, probe, eng, reference, stored_photo)


def _reference(check: FaceCheck) -> face_engine.Embedding | None:
    if check.reference is not None or check.stored_photo is None:
        return check.reference
    try:
        return single_face(check.engine, decode_photo(check.stored_photo)).embedding
    except SimpulError:
        return None  # the stored photo is unusable for this engine: nothing to compare


def finish_check(check: FaceCheck, call: Call) -> VerifikasiWajahOut:
    """Faces, embedding and similarity (no database), and the record of what the answer
    discloses. A photo the engine cannot use is a refusal, recorded under the grant decided
    with the person asked about."""
    grant = check.decision.grant
    assert grant is not None
    eng = check.engine
    summary: dict[str, Any]
    reference = _reference(check)
    if reference is None:
        out = VerifikasiWajahOut(hasil=NOT_FOUND)
        summary = {"hasil": NOT_FOUND}
    else:
        try:
            score = round(eng.similarity(single_face(eng, check.probe).embedding, reference), 1)
        except FaceError as exc:
            raise call.refuse_after(check.req, check.decision, exc, (check.nik,)) from None
        threshold = grant.thresholds.get(PHOTO_ELEMENT)
        verdict = None if threshold is None else (
            "sesuai" if score >= threshold else "tidak_sesuai"
        )  # fmt: skip
        show = grant.return_score or threshold is None
        out = VerifikasiWajahOut(
            hasil="ditemukan",
            kemiripan=score if show else None,
            ambang=threshold,
            keputusan=verdict,
        )
        summary = {"hasil": "ditemukan", "kemiripan": score, "mesin": eng.name}
        if verdict is not None:
            summary["keputusan"] = verdict
    call.disclose(check.req, check.decision, subjects=(check.nik,), result=summary)
    return out


def verify_face(
    session: Session,
    call: Call,
    dataset_code: str,
    nik_raw: str,
    photo: bytes,
    engine: FaceEngine | None = None,
) -> VerifikasiWajahOut:
    """A kernel operation: NIK + face photo → `data_tidak_ditemukan` or `ditemukan` with
    `kemiripan` 0-100 (and `keputusan` against the grant's `ambang_kemiripan.foto_wajah`
    when it sets one). API, portal and CLI call it through the kernel."""
    return finish_check(start_check(session, call, dataset_code, nik_raw, photo, engine), call)


def portal_photo(
    session: Session, call: Call, dataset_code: str, nik_raw: str
) -> StoredPhoto | None:
    """A kernel operation, PKS 003 Pasal 2(1)c: the face photo for a caller whose grant
    outputs `foto_wajah` (the portal's 13 elements). None when the person has no photo."""
    dataset = _photo_dataset(dataset_code)
    nik = canonical_nik(nik_raw)
    req = AccessRequest(
        dataset=dataset,
        service=Service.AKSES_NIK,
        mechanism=call.mechanism,
        input_elements=frozenset({"nik"}),
        output_elements=frozenset({PHOTO_ELEMENT}),
        source_ip=call.source_ip,
        internal=call.internal,
    )
    decision = call.authorize(session, req, (nik,))
    row = FaceRepository(session).get(dataset, nik)
    found = None if row is None else StoredPhoto(row.content_type, bytes(row.photo), row.sha256)
    call.disclose(req, decision, subjects=(nik,),
                  result={"hasil": "ditemukan" if found else NOT_FOUND})  # fmt: skip
    return found


def _action(
    session: Session,
    settings: Settings,
    clock: Clock,
    action: str,
    actor: str,
    reason: str,
    dataset: str,
    subjects: tuple[str, ...] = (),
    **detail: Any,
) -> None:
    event = AuditEvent(
        action=action,
        decision="tindakan",
        reason=ACTION_REASON,
        actor=actor,
        dataset=dataset,
        subjects=subjects,
        elements=(PHOTO_ELEMENT,),
        detail={"alasan": reason, **detail},
    )
    record_in_session(session, settings, event, clock)


def enroll(
    session: Session,
    settings: Settings,
    clock: Clock,
    dataset_code: str,
    nik_raw: str,
    photo: bytes,
    *,
    actor: str,
    reason: str,
    engine: FaceEngine | None = None,
) -> EnrolOut:
    """Store a registry person's face photo with its embedding (computed here, once)."""
    dataset = _photo_dataset(dataset_code)
    nik = canonical_nik(nik_raw)
    if registry.get(session, dataset, nik) is None:
        raise NotFound(
            "nik_tidak_terdaftar", f"NIK {mask_nik(nik)} tidak terdaftar di dataset {dataset}."
        )
    decoded = decode_photo(photo)
    eng = engine or face_engine.get_engine()
    face = single_face(eng, decoded)
    replaced = FaceRepository(session).put(
        FacePhoto(
            dataset=dataset,
            nik=nik,
            content_type=decoded.content_type,
            photo=photo,
            sha256=hashlib.sha256(photo).hexdigest(),
            width=decoded.width,
            height=decoded.height,
            engine=eng.name,
            embedding=face_engine.to_bytes(face.embedding),
            enrolled_at=clock.now(),
            enrolled_by=actor,
        )
    )
    _action(session, settings, clock, "foto_wajah.rekam", actor, reason, dataset, (nik,),
            mesin=eng.name, ganti=replaced)  # fmt: skip
    return EnrolOut(dataset, nik, eng.name, replaced, decoded.width, decoded.height)


def remove(
    session: Session,
    settings: Settings,
    clock: Clock,
    dataset_code: str,
    nik_raw: str,
    *,
    actor: str,
    reason: str,
) -> None:
    dataset = _photo_dataset(dataset_code)
    nik = canonical_nik(nik_raw)
    if not FaceRepository(session).remove(dataset, nik):
        raise NotFound("foto_tidak_ditemukan", f"Tidak ada foto wajah untuk NIK {mask_nik(nik)}.")
    _action(session, settings, clock, "foto_wajah.hapus", actor, reason, dataset, (nik,))


def reindex(
    session: Session,
    settings: Settings,
    clock: Clock,
    dataset_code: str,
    *,
    actor: str,
    engine: FaceEngine | None = None,
) -> dict[str, int]:
    """Recompute the embeddings made by another engine (after an engine change)."""
    dataset = _photo_dataset(dataset_code)
    eng = engine or face_engine.get_engine()
    repo = FaceRepository(session)
    done = failed = 0
    for nik in list(repo.keys_not_of_engine(dataset, eng.name)):
        row = repo.get(dataset, nik)
        assert row is not None
        try:
            face = single_face(eng, decode_photo(row.photo))
        except SimpulError:
            failed += 1
            continue
        repo.set_embedding(dataset, nik, eng.name, face_engine.to_bytes(face.embedding))
        done += 1
    _action(session, settings, clock, "foto_wajah.indeks_ulang", actor,
            f"ganti mesin ke {eng.name}", dataset, mesin=eng.name, diperbarui=done,
            gagal=failed)  # fmt: skip
    return {"diperbarui": done, "gagal": failed}


def stats(session: Session, dataset_code: str, engine_name: str) -> StoreStats:
    dataset = _photo_dataset(dataset_code)
    by_engine = FaceRepository(session).count_by_engine(dataset)
    return StoreStats(dataset, sum(by_engine.values()), by_engine, engine_name)


def compare(a: bytes, b: bytes, engine: FaceEngine | None = None) -> float:
    """Similarity 0-100 of the faces in two photos (engine check; no registry data)."""
    eng = engine or face_engine.get_engine()
    first = single_face(eng, decode_photo(a)).embedding
    second = single_face(eng, decode_photo(b)).embedding
    return round(eng.similarity(first, second), 1)
