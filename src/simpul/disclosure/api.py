"""HTTP adapters for the tiered Regsosek access under `/api/v1/datasets/regsosek/…`.

The PKS 000 grants name the portal (Sepakat) as the mechanism; these endpoints are the
portal's data interface, so calls are decided as `web_portal`. Each adapter authenticates,
runs one service function in one transaction, makes the audit record durable, then answers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from simpul.access.policy import Decision
from simpul.access.schemas import Principal
from simpul.agreements.schemas import Mechanism, Service
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
from simpul.kernel import Known, run
from simpul.kernel.core import legacy
from simpul.runtime import Runtime
from simpul.services.api import PROBLEMS, Caller, node_of
from simpul.services.api import origin as api_origin

router = APIRouter(prefix="/api/v1/datasets/regsosek", tags=["regsosek"])
R = TypeVar("R")


def _runtime(request: Request) -> Runtime:
    rt = request.app.state.runtime
    assert isinstance(rt, Runtime)
    return rt


def _run(
    request: Request,
    principal: Principal,
    service: Service,
    fn: Callable[..., tuple[R | None, Decision | None]],
    *args: Any,
) -> R:
    """One request through the kernel (decided as `web_portal`: see the module)."""
    origin = api_origin(request, service.value, DATASET, Mechanism.WEB_PORTAL)
    out = run(node_of(request.app.state), Known(principal), origin, legacy(fn), *args)
    assert out is not None
    return out


@router.post("/agregat", response_model=TabelOut, responses=PROBLEMS)
def agregat(body: TabelIn, request: Request, principal: Caller) -> TabelOut:
    """Tabel agregat terpilah dengan penekanan sel primer dan sekunder (PKS 000 Pasal 2
    huruf a). Semua total dan subtotal ikut dilindungi; sel ditekan bernilai null."""
    return _run(request, principal, Service.AGREGAT, svc.aggregate, body.spec())


@router.post("/mikro", response_model=EkstrakOut, responses=PROBLEMS)
def mikro(body: MikroIn, request: Request, principal: Caller) -> EkstrakOut:
    """Ekstrak data mikro: tanpa identitas langsung, NIK/KK dipseudonimkan per perjanjian,
    kuasi-identifier digeneralisasi, k-anonimitas dengan penekanan lokal, laporan risiko."""
    return _run(request, principal, Service.MIKRO, extracts.microdata, body.format, body.wilayah)


@router.post("/bnba", response_model=EkstrakOut, responses=PROBLEMS)
def bnba(body: BnbaIn, request: Request, principal: Caller) -> EkstrakOut:
    """Data by name by address, hanya di dalam cakupan wilayah perjanjian."""
    return _run(request, principal, Service.BNBA, extracts.bnba, body.format, body.wilayah)


@router.get("/ekstrak/{ekstrak_id}", response_class=FileResponse, responses=PROBLEMS)
def unduh(ekstrak_id: str, request: Request, principal: Caller) -> FileResponse:
    """Unduh berkas ekstrak milik akun pemanggil."""
    rt = _runtime(request)
    path, media = extracts.extract_file(rt.settings, principal, ekstrak_id)
    return FileResponse(path, media_type=media, filename=Path(path).name)


@router.post("/pengolahan", response_model=KeluaranOut, responses=PROBLEMS)
def pengolahan(body: KueriIn, request: Request, principal: Caller) -> KeluaranOut:
    """Jalankan SQL (DuckDB) di fasilitas pengolahan atas view tingkat akses pemanggil.
    Keluaran diperiksa (ambang, dominasi, p-rasio, nol disklosif); yang gagal menunggu
    tinjauan penyedia."""
    return _run(request, principal, Service.PENGOLAHAN, sandbox.submit, body.sql, body.tujuan)


@router.get("/pengolahan/{output_id}", response_model=KeluaranOut, responses=PROBLEMS)
def keluaran(output_id: str, request: Request, principal: Caller) -> KeluaranOut:
    """Keluaran milik pemanggil; baris hanya tampil bila dirilis atau disetujui."""
    rt = _runtime(request)
    with rt.transaction() as session:
        return sandbox.get_output(session, principal, output_id)


@router.get("/tinjauan", response_model=list[KeluaranOut], responses=PROBLEMS)
def antrean(request: Request, principal: Caller) -> list[KeluaranOut]:
    """Antrean tinjauan keluaran bagi admin penyedia."""
    rt = _runtime(request)
    with rt.transaction() as session:
        return sandbox.review_queue(session, principal)


@router.post("/tinjauan/{output_id}", response_model=KeluaranOut, responses=PROBLEMS)
def tinjau(output_id: str, body: TinjauanIn, request: Request, principal: Caller) -> KeluaranOut:
    """Setujui atau tolak keluaran yang gagal pemeriksaan, dengan alasan (diaudit)."""
    rt = _runtime(request)
    with rt.transaction() as session:
        return sandbox.review(
            session, rt.settings, principal, output_id, body.keputusan == "setujui",
            body.alasan, rt.clock,
        )  # fmt: skip
