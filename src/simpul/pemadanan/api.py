"""HTTP adapters for pemadanan: upload → 202 with the job id; status; results; lists of
the PKS workflows; clerical review; cancel; the berita acara as PDF."""

from __future__ import annotations

import csv
import io
import tempfile
import threading
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from simpul.access.policy import Decision
from simpul.access.schemas import Principal
from simpul.errors import InvalidInput
from simpul.kit.csvsafe import safe_cell
from simpul.kit.ids import new_id
from simpul.pemadanan import berita_acara, service
from simpul.pemadanan.runner import run_pending
from simpul.pemadanan.schemas import HasilOut, HasilPage, JobOut, OptionsIn, TinjauIn
from simpul.runtime import Runtime
from simpul.services.api import PROBLEMS, Caller

router = APIRouter(prefix="/api/v1/pemadanan", tags=["pemadanan"])
CHUNK = 1 << 20


def _runtime(request: Request) -> Runtime:
    rt = request.app.state.runtime
    assert isinstance(rt, Runtime)
    return rt


def _context(request: Request, rt: Runtime, principal: Principal) -> service.JobContext:
    return service.JobContext(
        principal=principal,
        settings=rt.settings,
        clock=rt.clock,
        source_ip=request.client.host if request.client else None,
        request_id=request.headers.get("x-request-id") or new_id("req-"),
    )


def start_worker(rt: Runtime) -> threading.Thread:
    """Run queued jobs in the background of this process (claims are compare-and-set, so
    several such threads, or a separate `simpul pemadanan worker`, never run a job twice)."""
    thread = threading.Thread(target=run_pending, args=(rt,), daemon=True, name="pemadanan")
    thread.start()
    return thread


async def _spool(upload: UploadFile, limit: int, folder: Path) -> Path:
    """The upload to a temporary file, refused as soon as it passes the size limit."""
    suffix = Path(upload.filename or "daftar.csv").suffix.lower()[:8]
    target = folder / f"unggah{suffix}"
    size = 0
    with target.open("wb") as fh:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise InvalidInput(
                    "berkas_terlalu_besar", f"Berkas lebih dari batas {limit:,} bita.", status=413
                )
            fh.write(chunk)
    return target


@router.post(
    "",
    status_code=202,
    response_model=JobOut,
    responses={**PROBLEMS, 413: {"description": "Berkas atau jumlah baris melebihi batas."}},
)
async def submit(
    request: Request,
    principal: Caller,
    berkas: Annotated[UploadFile, File(description="Daftar CSV atau XLSX.")],
    dataset: Annotated[str | None, Form()] = None,
    alur: Annotated[str, Form(description="umum | bpum | kpm | regsosek")] = "umum",
    ambang: Annotated[float, Form(ge=0.05, le=0.999)] = 0.5,
    batas_baris: Annotated[int | None, Form(ge=1)] = None,
) -> JSONResponse:
    """Unggah daftar untuk dipadankan; dijawab 202 dengan id pekerjaan (diproses di latar)."""
    rt = _runtime(request)
    ctx = _context(request, rt, principal)
    with tempfile.TemporaryDirectory(prefix="simpul-unggah-") as tmp:
        path = await _spool(berkas, rt.settings.max_upload_bytes, Path(tmp))
        options = OptionsIn(ambang=ambang, batas_baris=batas_baris)
        from starlette.concurrency import run_in_threadpool

        def work() -> tuple[JobOut | None, Decision | None]:
            with rt.transaction() as session:
                return service.submit(
                    session, ctx, upload=path, filename=berkas.filename or path.name,
                    dataset=dataset, workflow=alur, options=options,
                )  # fmt: skip

        job, refused = await run_in_threadpool(work)
    if refused is not None:
        from simpul.services.service import refusal

        raise refusal(refused)
    assert job is not None
    start_worker(rt)
    return JSONResponse(
        job.model_dump(mode="json", exclude_none=True),
        status_code=202,
        headers={"Location": f"/api/v1/pemadanan/{job.id}"},
    )


@router.get("", response_model=list[JobOut], response_model_exclude_none=True, responses=PROBLEMS)
def list_jobs(request: Request, principal: Caller) -> list[JobOut]:
    """Pekerjaan pemadanan instansi pemanggil, terbaru dahulu."""
    with _runtime(request).transaction() as session:
        return service.list_jobs(session, principal)


@router.get(
    "/{job_id}", response_model=JobOut, response_model_exclude_none=True, responses=PROBLEMS
)
def detail(job_id: str, request: Request, principal: Caller) -> JobOut:
    """Status dan progres satu pekerjaan; jumlah per status setelah selesai."""
    rt = _runtime(request)
    with rt.transaction() as session:
        out = service.job_detail(session, principal, job_id)
        waiting = service.needs_worker(session, job_id, rt.clock.now())
    if waiting:  # queued, or its worker died (e.g. the server restarted): pick it up
        start_worker(rt)
    return out


@router.post("/{job_id}/batal", response_model=JobOut, response_model_exclude_none=True)
def cancel(job_id: str, request: Request, principal: Caller) -> JobOut:
    """Batalkan pekerjaan yang masih antri atau berjalan."""
    with _runtime(request).transaction() as session:
        return service.cancel(session, principal, job_id)


@router.get("/{job_id}/hasil", response_model=HasilPage, response_model_exclude_none=True)
def results(
    job_id: str,
    request: Request,
    principal: Caller,
    status: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> HasilPage:
    """Satu halaman hasil (opsional satu status)."""
    with _runtime(request).transaction() as session:
        total, items = service.results_page(
            session, principal, job_id, status=status, offset=offset, limit=limit
        )
    return HasilPage(total=total, item=items)


@router.get("/{job_id}/galat")
def issues(job_id: str, request: Request, principal: Caller) -> list[dict[str, object]]:
    """Masalah per baris unggahan (galat: baris dilewati; peringatan: baris tetap dipadankan)."""
    with _runtime(request).transaction() as session:
        return service.issues(session, principal, job_id)


def _csv(header: list[str], rows: list[list[object]], name: str) -> Response:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows([[safe_cell(c) for c in r] for r in rows])
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/{job_id}/hasil.csv", response_class=Response)
def results_csv(job_id: str, request: Request, principal: Caller) -> Response:
    """Hasil lengkap sebagai CSV: status per baris dan elemen keluaran yang diizinkan hibah."""
    with _runtime(request).transaction() as session:
        job, rows = service.all_results(session, principal, job_id)
        header, cells = service.csv_rows(job, rows)
    return _csv(header, cells, f"hasil-{job_id}.csv")


@router.get("/{job_id}/daftar/{nama}.csv", response_class=Response)
def workflow_list(job_id: str, nama: str, request: Request, principal: Caller) -> Response:
    """Daftar menurut alur PKS: bpum → penerima, balikan; kpm → selisih, asn; umum → cocok."""
    with _runtime(request).transaction() as session:
        lists = service.workflow_lists(session, principal, job_id)
        if nama not in lists:
            raise InvalidInput(
                "daftar_tidak_dikenal", f"Daftar {nama!r} tidak ada (pilihan: {', '.join(lists)})."
            )
        job, _ = service.all_results(session, principal, job_id)
        header, cells = service.csv_rows(job, lists[nama])
    return _csv(header, cells, f"{nama}-{job_id}.csv")


@router.post("/{job_id}/hasil/{baris}/tinjau", response_model=HasilOut)
def review(
    job_id: str, baris: int, body: TinjauIn, request: Request, principal: Caller
) -> HasilOut:
    """Tinjauan petugas atas satu kemungkinan_cocok: diterima atau ditolak (diaudit)."""
    rt = _runtime(request)
    with rt.transaction() as session:
        return service.review(
            session, _context(request, rt, principal), job_id, baris, body.keputusan, body.alasan
        )


@router.get("/{job_id}/berita-acara.pdf", response_class=Response)
def minutes(job_id: str, request: Request, principal: Caller) -> Response:
    """Berita acara hasil pemadanan (PDF)."""
    rt = _runtime(request)
    with rt.transaction() as session:
        pdf = berita_acara.render(session, principal, job_id, rt.clock.now())
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="berita-acara-{job_id}.pdf"'},
    )
