"""The node's log as it publishes it (docs/audit.md): the latest checkpoint as a C2SP signed
note with its cosignatures, inclusion and consistency proofs, and the cosignatures that
witnesses hand back. Each is a kernel call marked `publishes`: decided for the auditor and
witness roles (and the node's administrators), refusals recorded, answers not (ADR 0014).
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from simpul import kernel
from simpul.access.policy import deny
from simpul.access.schemas import Role
from simpul.audit import witnessed
from simpul.audit.schemas import AuditEvent
from simpul.audit.signing import Proof
from simpul.audit.tree import TreeCache
from simpul.kernel import Call, Refused
from simpul.oversight import reading
from simpul.services.api import PROBLEMS, PROBLEMS_BODY, Creds, credential, node_of, origin

router = APIRouter(prefix="/api/v1/audit", tags=["log audit"])

PUBLISH = "audit.publikasi"
COSIGN = "audit.kosignatur"
# Who reads what the node publishes about its log: its witnesses and auditors, and the
# administrators of the node's institutions. Operators and data users have no need.
READERS = frozenset(
    {Role.WITNESS, Role.AUDITOR, Role.HUB_ADMIN, Role.PROVIDER_ADMIN, Role.RECIPIENT_ADMIN}
)
_tree_lock = threading.Lock()


def tree_of(state: object) -> TreeCache:
    """The process's tree cache (one per server worker)."""
    with _tree_lock:
        cache = getattr(state, "audit_tree", None)
        if cache is None:
            cache = TreeCache()
            state.audit_tree = cache  # type: ignore[attr-defined]
    assert isinstance(cache, TreeCache)
    return cache


def _refuse(session: Session, call: Call, detail: str) -> Refused:
    refused = deny("peran_tidak_berwenang", 403, detail)
    call.record(
        session,
        AuditEvent(
            action=call.action, decision="tolak", reason=refused.reason,
            actor=call.principal.username, institution=call.principal.institution,
            service=call.action, mechanism=call.mechanism.value, result={"status": 403},
            request_id=call.request_id,
        ),
    )  # fmt: skip
    return Refused(refused)


def _reader(session: Session, call: Call) -> None:
    if call.principal.role not in READERS:
        raise _refuse(session, call, "Log audit diterbitkan untuk saksi, auditor dan admin.")


@kernel.publishes
def published_checkpoint(session: Session, call: Call) -> str:
    _reader(session, call)
    return witnessed.published_note(session)


@kernel.publishes
def consistency(
    session: Session, call: Call, cache: TreeCache, old: int, new: int | None
) -> witnessed.Consistency:
    _reader(session, call)
    return witnessed.consistency(session, cache, old, new)


@kernel.publishes
def inclusion(session: Session, call: Call, cache: TreeCache, seq: int, size: int | None) -> Proof:
    _reader(session, call)
    return witnessed.inclusion(session, cache, seq, size)


@kernel.publishes
@kernel.writes
def cosignature(session: Session, call: Call, size: int, line: str) -> str:
    if call.principal.role is not Role.WITNESS:
        raise _refuse(session, call, "Hanya akun saksi yang menyerahkan kosignatur.")
    who = witnessed.accept_cosignature(session, call.clock, call.principal.username, size, line)
    return who.name


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, **PROBLEMS},
)
def checkpoint(request: Request, creds: Creds) -> Response:
    """Checkpoint terakhir log audit simpul ini: catatan bertanda tangan C2SP
    (tlog-checkpoint, signed-note) dengan tanda tangan simpul lalu kosignatur para saksi."""
    text = kernel.run(node_of(request.app.state), credential(creds),
                      origin(request, PUBLISH, None), published_checkpoint)  # fmt: skip
    return PlainTextResponse(text, headers={"Cache-Control": "no-store"})


class KonsistensiOut(BaseModel):
    lama: int
    baru: int
    bukti: list[str] = Field(description="Hash simpul pohon (base64), RFC 9162 §2.1.4.")
    checkpoint: str = Field(description="Checkpoint berukuran `baru` (teks C2SP).")


@router.get("/bukti-konsistensi", response_model=KonsistensiOut, responses=PROBLEMS)
def bukti_konsistensi(
    request: Request,
    creds: Creds,
    lama: Annotated[int, Query(ge=0, le=2**62)],
    baru: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> KonsistensiOut:
    """Bukti konsistensi dari ukuran pohon `lama` ke checkpoint berukuran `baru` (bawaan:
    checkpoint terakhir): log yang sama, hanya bertambah."""
    found = kernel.run(node_of(request.app.state), credential(creds),
                       origin(request, PUBLISH, None), consistency,
                       tree_of(request.app.state), lama, baru)  # fmt: skip
    return KonsistensiOut(
        lama=found.old, baru=found.new, bukti=[witnessed.b64(h) for h in found.proof],
        checkpoint=found.checkpoint.text(),
    )  # fmt: skip


class InklusiOut(BaseModel):
    seq: int
    indeks_daun: int
    ukuran_pohon: int
    hash_entri: str = Field(description="Hash rekaman (hex), daun = SHA-256(0x00 ‖ hash).")
    jalur: list[str] = Field(description="Jalur audit (base64), dari daun ke akar.")
    checkpoint: str = Field(description="Checkpoint yang mencakup rekaman (teks C2SP).")


@router.get("/bukti-inklusi", response_model=InklusiOut, responses=PROBLEMS)
def bukti_inklusi(
    request: Request,
    creds: Creds,
    seq: Annotated[int, Query(ge=1, le=2**62)],
    ukuran: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> InklusiOut:
    """Bukti inklusi rekaman `seq` terhadap checkpoint berukuran `ukuran` (bawaan:
    checkpoint terakhir)."""
    proof = kernel.run(node_of(request.app.state), credential(creds),
                       origin(request, PUBLISH, None), inclusion,
                       tree_of(request.app.state), seq, ukuran)  # fmt: skip
    return InklusiOut(
        seq=proof.seq, indeks_daun=proof.leaf_index, ukuran_pohon=proof.tree_size,
        hash_entri=proof.entry_hash,
        jalur=[witnessed.b64(bytes.fromhex(h)) for h in proof.audit_path],
        checkpoint=proof.checkpoint.text(),
    )  # fmt: skip


class KosignaturIn(BaseModel):
    ukuran_pohon: int = Field(ge=1, le=2**62)
    baris: str = Field(max_length=1000, description="Baris tanda tangan cosignature/v1.")


class KosignaturOut(BaseModel):
    ukuran_pohon: int
    saksi: str


@router.post("/kosignatur", response_model=KosignaturOut, responses=PROBLEMS_BODY)
def kosignatur(request: Request, creds: Creds, body: KosignaturIn) -> KosignaturOut:
    """Saksi menyerahkan kosignaturnya atas checkpoint berukuran `ukuran_pohon`; disimpan di
    samping checkpoint bila sah untuk kunci saksi yang terdaftar."""
    name = kernel.run(node_of(request.app.state), credential(creds),
                      origin(request, COSIGN, None), cosignature,
                      body.ukuran_pohon, body.baris)  # fmt: skip
    return KosignaturOut(ukuran_pohon=body.ukuran_pohon, saksi=name)


class RiwayatIn(BaseModel):
    nik: str = Field(min_length=1, max_length=32, description="NIK orang yang riwayatnya diminta.")


class BuktiOut(BaseModel):
    ukuran_pohon: int
    hash_daun: str
    jalur: list[str]
    checkpoint: str
    saksi: list[str] = Field(description="Saksi yang kosignaturnya atas checkpoint itu sah.")
    terverifikasi: bool


class AksesOut(BaseModel):
    seq: int
    waktu: str
    tindakan: str
    keputusan: str
    alasan: str
    aktor: str | None
    instansi: str | None
    perjanjian: str | None
    versi_perjanjian: int | None
    layanan: str | None
    dataset: str | None
    elemen: list[str]
    bukti: BuktiOut | None = Field(description="Bukti inklusi; kosong bila belum tercakup.")


@router.post("/riwayat-subjek", response_model=list[AksesOut], responses=PROBLEMS_BODY)
def riwayat_subjek(request: Request, creds: Creds, body: RiwayatIn) -> list[AksesOut]:
    """Riwayat akses data satu orang (UU PDP Pasal 32) sebatas cakupan pemanggil, tiap entri
    dengan bukti inklusi terhadap checkpoint yang dikosignatur saksi. Hanya admin penyedia dan
    auditor; permintaan ini sendiri dicatat dengan orang itu sebagai subjek."""
    history, proofs = kernel.run(
        node_of(request.app.state), credential(creds),
        origin(request, reading.SUBJECT_HISTORY, None), reading.subject_history_proven,
        body.nik, tree_of(request.app.state),
    )  # fmt: skip
    out = []
    for h in history:
        p = proofs.get(h.seq)
        proof = (
            BuktiOut(ukuran_pohon=p.tree_size, hash_daun=p.leaf_hash, jalur=p.audit_path,
                     checkpoint=p.checkpoint, saksi=p.witnesses, terverifikasi=p.verified)
            if p is not None else None
        )  # fmt: skip
        out.append(AksesOut(
            seq=h.seq, waktu=h.ts.isoformat(), tindakan=h.action, keputusan=h.decision,
            alasan=h.reason, aktor=h.actor, instansi=h.institution, perjanjian=h.agreement_id,
            versi_perjanjian=h.agreement_version, layanan=h.service, dataset=h.dataset,
            elemen=h.elements, bukti=proof,
        ))  # fmt: skip
    return out
