"""HTTP adapters for the tiered Regsosek access under `/api/v1/datasets/regsosek/…`.

The PKS 000 grants name the portal (Sepakat) as the mechanism; these endpoints are the
portal's data interface, so calls are decided as `web_portal`. Each adapter runs one
kernel operation (`simpul.kernel.run`): the principal resolved in the call's transaction,
the decision, the audit records durable, then the answer or the refusal. A file download
is such a call too: decided and recorded each time (`extracts.extract_file`).
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from simpul.agreements.schemas import Mechanism
from simpul.disclosure import extracts, sandbox
from simpul.disclosure import service as svc
from simpul.disclosure.schemas import (
    BnbaIn,
    EkstrakOut,
    KeluaranOut,
    KueriIn,
    MikroIn,
    TabelIn,
    TabelOut,
    TinjauanIn,
)
from simpul.disclosure.variables import DATASET
from simpul.kernel import run
from simpul.kernel.core import Op
from simpul.services.api import PROBLEMS, PROBLEMS_BODY, Creds, credential, node_of
from simpul.services.api import origin as api_origin

router = APIRouter(prefix="/api/v1/datasets/regsosek", tags=["regsosek"])
R = TypeVar("R")
DOWNLOAD = "ekstrak.unduh"  # the action of a refusal before the extract is known


def _run(request: Request, creds: Creds, action: str, op: Op[..., R], *args: Any) -> R:
    """One request through the kernel (decided as `web_portal`: see the module)."""
    origin = api_origin(request, action, DATASET, Mechanism.WEB_PORTAL)
    return run(node_of(request.app.state), credential(creds), origin, op, *args)


@router.post("/agregat", response_model=TabelOut, responses=PROBLEMS_BODY)
def agregat(body: TabelIn, request: Request, creds: Creds) -> TabelOut:
    """Tabel agregat terpilah dengan penekanan sel primer dan sekunder (PKS 000 Pasal 2
    huruf a). Semua total dan subtotal ikut dilindungi; sel ditekan bernilai null."""
    return _run(request, creds, "agregat", svc.aggregate, body.spec())


@router.post("/mikro", response_model=EkstrakOut, responses=PROBLEMS_BODY)
def mikro(body: MikroIn, request: Request, creds: Creds) -> EkstrakOut:
    """Ekstrak data mikro: tanpa identitas langsung, NIK/KK dipseudonimkan per perjanjian,
    kuasi-identifier digeneralisasi, k-anonimitas dengan penekanan lokal, laporan risiko."""
    return _run(request, creds, "mikro", extracts.microdata, body.format, body.wilayah)


@router.post("/bnba", response_model=EkstrakOut, responses=PROBLEMS_BODY)
def bnba(body: BnbaIn, request: Request, creds: Creds) -> EkstrakOut:
    """Data by name by address, hanya di dalam cakupan wilayah perjanjian."""
    return _run(request, creds, "bnba", extracts.bnba, body.format, body.wilayah)


@router.get("/ekstrak/{ekstrak_id}", response_class=FileResponse, responses=PROBLEMS)
def unduh(ekstrak_id: str, request: Request, creds: Creds) -> FileResponse:
    """Unduh berkas ekstrak: hanya akun pembuatnya, selama perjanjiannya berlaku; setiap
    unduhan diputuskan dan dicatat dengan orang-orang di dalam berkas."""
    got = _run(request, creds, DOWNLOAD, extracts.extract_file, ekstrak_id)
    return FileResponse(got.path, media_type=got.media_type, filename=got.filename,
                        headers={"Cache-Control": "no-store"})  # fmt: skip


@router.post("/pengolahan", response_model=KeluaranOut, responses=PROBLEMS_BODY)
def pengolahan(body: KueriIn, request: Request, creds: Creds) -> KeluaranOut:
    """Jalankan SQL (DuckDB) di fasilitas pengolahan atas view tingkat akses pemanggil.
    Keluaran diperiksa (ambang, dominasi, p-rasio, nol disklosif); yang gagal menunggu
    tinjauan penyedia."""
    return _run(request, creds, "pengolahan", sandbox.submit, body.sql, body.tujuan)


@router.get("/pengolahan/{output_id}", response_model=KeluaranOut, responses=PROBLEMS)
def keluaran(output_id: str, request: Request, creds: Creds) -> KeluaranOut:
    """Keluaran milik pemanggil, selama perjanjiannya berlaku; baris hanya tampil bila
    dirilis atau disetujui."""
    return _run(request, creds, "pengolahan", sandbox.get_output, output_id)


@router.get("/tinjauan", response_model=list[KeluaranOut], responses=PROBLEMS)
def antrean(request: Request, creds: Creds) -> list[KeluaranOut]:
    """Antrean tinjauan keluaran bagi admin penyedia (perjanjian yang berlaku)."""
    return _run(request, creds, sandbox.REVIEW, sandbox.review_queue)


@router.post("/tinjauan/{output_id}", response_model=KeluaranOut, responses=PROBLEMS_BODY)
def tinjau(output_id: str, body: TinjauanIn, request: Request, creds: Creds) -> KeluaranOut:
    """Setujui atau tolak keluaran yang gagal pemeriksaan, dengan alasan (diaudit)."""
    return _run(request, creds, sandbox.REVIEW, sandbox.review, output_id,
                body.keputusan == "setujui", body.alasan)  # fmt: skip
