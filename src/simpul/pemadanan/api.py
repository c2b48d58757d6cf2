"""HTTP adapters for pemadanan: upload → 202 with the job id; status; results; lists of
the PKS workflows; clerical review; cancel; the berita acara as PDF.

Whatever reveals results (and the upload itself) is one kernel call of an operation in
`simpul.pemadanan.service` / `simpul.pemadanan.reads`: decided against the job's agreement
on every request, recorded with the people it names, the owner's only. Status, the list of
one's jobs and cancelling reveal no result; they are the owner's only too."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from simpul import kernel
from simpul.agreements.schemas import Mechanism
from simpul.errors import InvalidInput, problem_responses
from simpul.kernel import Node
from simpul.kernel.core import Op
from simpul.pemadanan import reads, service
from simpul.pemadanan.schemas import HasilOut, HasilPage, JobOut, OptionsIn, TinjauIn
from simpul.runtime import Runtime
from simpul.services.api import (
    CALLER_PROBLEMS,
    PROBLEMS_BODY,
    Caller,
    Creds,
    credential,
    node_of,
    origin,
)

router = APIRouter(prefix="/api/v1/pemadanan", tags=["pemadanan"])
CHUNK = 1 << 20
# A job's operations: refused as any governed call, or in conflict with the job's state.
JOB_PROBLEMS = problem_responses(401, 403, 404, 409, 422, 429, 503)
JOB_PROBLEMS_BODY = problem_responses(401, 403, 404, 409, 413, 422, 429, 503)
R = TypeVar("R")


def _runtime(request: Request) -> Runtime:
    rt = request.app.state.runtime
    assert isinstance(rt, Runtime)
    return rt


def node(request: Request) -> Node:
    """The app's kernel node, without the per-call quota: a job is not metered per request
    today (its submission and its downloads alike)."""
    return replace(node_of(request.app.state), quota=None)


def _run(
    request: Request, creds: Creds, action: str, op: Op[..., R], *args: Any,
    about: str | None = None, **kw: Any,
) -> R:  # fmt: skip
    """One pemadanan operation through the kernel (in the thread pool's thread); `about`:
    the dataset, when known before the job is read (a submission)."""
    where = origin(request, action, about, Mechanism.BATCH)
    return kernel.run(node(request), credential(creds), where, op, *args, **kw)


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
    responses={
        **PROBLEMS_BODY,
        **problem_responses(413, s413="Berkas atau jumlah baris melebihi batas."),
        202: {
            "description": "Diterima; pekerjaan antri sampai pekerja (`simpul worker`) "
            "mengambilnya.",
            "headers": {
                "Location": {
                    "description": "Alamat status pekerjaan.",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
        },
    },
)
async def submit(
    request: Request,
    creds: Creds,
    berkas: Annotated[UploadFile, File(description="Daftar CSV atau XLSX.")],
    dataset: Annotated[str | None, Form()] = None,
    alur: Annotated[str, Form(description="umum | bpum | kpm | regsosek")] = "umum",
    ambang: Annotated[float, Form(ge=0.05, le=0.999)] = 0.5,
    ambang_terima: Annotated[float | None, Form(ge=0.5, le=1.0)] = None,
    batas_baris: Annotated[int | None, Form(ge=1)] = None,
) -> JSONResponse:
    """Unggah daftar untuk dipadankan; dijawab 202 dengan id pekerjaan, yang antri sampai
    pekerja (`simpul worker`) mengambilnya."""
    rt = _runtime(request)
    with tempfile.TemporaryDirectory(prefix="simpul-unggah-") as tmp:
        path = await _spool(berkas, rt.settings.max_upload_bytes, Path(tmp))
        options = OptionsIn(ambang=ambang, ambang_terima=ambang_terima, batas_baris=batas_baris)

        def work() -> JobOut:
            return _run(
                request, creds, "pemadanan.unggah", service.submit,
                about=service.workflow_dataset(alur, dataset), dataset=dataset, upload=path,
                filename=berkas.filename or path.name, workflow=alur, options=options,
            )  # fmt: skip

        job = await run_in_threadpool(work)
    return JSONResponse(
        job.model_dump(mode="json", exclude_none=True),
        status_code=202,
        headers={"Location": f"/api/v1/pemadanan/{job.id}"},
    )


@router.get(
    "", response_model=list[JobOut], response_model_exclude_none=True, responses=CALLER_PROBLEMS
)
def list_jobs(request: Request, principal: Caller) -> list[JobOut]:
    """Pekerjaan pemadanan milik akun pemanggil, terbaru dahulu."""
    with _runtime(request).read_transaction() as session:
        return service.list_jobs(session, principal)


@router.get(
    "/{job_id}", response_model=JobOut, response_model_exclude_none=True, responses=JOB_PROBLEMS
)
def detail(job_id: str, request: Request, principal: Caller) -> JobOut:
    """Status dan progres satu pekerjaan; jumlah per status setelah selesai."""
    out: JobOut = service.owner_step(_runtime(request), principal, "pemadanan.status",
                                     service.job_detail, job_id)  # fmt: skip
    return out


@router.post(
    "/{job_id}/batal", response_model=JobOut, response_model_exclude_none=True,
    responses=JOB_PROBLEMS,
)  # fmt: skip
def cancel(job_id: str, request: Request, principal: Caller) -> JobOut:
    """Batalkan pekerjaan yang masih antri atau berjalan."""
    out: JobOut = service.owner_step(_runtime(request), principal, "pemadanan.batal",
                                     service.cancel, job_id)  # fmt: skip
    return out


@router.get(
    "/{job_id}/hasil", response_model=HasilPage, response_model_exclude_none=True,
    responses=JOB_PROBLEMS,
)  # fmt: skip
def results(
    job_id: str,
    request: Request,
    creds: Creds,
    status: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> HasilPage:
    """Satu halaman hasil (opsional satu status)."""
    total, items = _run(request, creds, "pemadanan.hasil", reads.results_page, job_id,
                        status=status, offset=offset, limit=limit)  # fmt: skip
    return HasilPage(total=total, item=items)


@router.get("/{job_id}/galat", responses=JOB_PROBLEMS)
def issues(job_id: str, request: Request, creds: Creds) -> list[dict[str, object]]:
    """Masalah per baris unggahan (galat: baris dilewati; peringatan: baris tetap dipadankan)."""
    return _run(request, creds, "pemadanan.galat", reads.issues, job_id)


def _file(berkas: reads.Berkas) -> Response:
    return Response(
        berkas.content,
        media_type=berkas.media_type,
        headers={"Content-Disposition": f'attachment; filename="{berkas.name}"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip


@router.get("/{job_id}/hasil.csv", response_class=Response, responses=JOB_PROBLEMS)
def results_csv(job_id: str, request: Request, creds: Creds) -> Response:
    """Hasil lengkap sebagai CSV: status per baris dan elemen keluaran yang diizinkan hibah.
    Baris pertama menyebut sumber data (PKS Pasal 7 ayat (2))."""
    return _file(_run(request, creds, "pemadanan.unduh", reads.results_csv, job_id))


@router.get("/{job_id}/daftar/{nama}.csv", response_class=Response, responses=JOB_PROBLEMS)
def workflow_list(job_id: str, nama: str, request: Request, creds: Creds) -> Response:
    """Daftar menurut alur PKS: bpum → penerima, balikan; kpm → selisih, asn; umum → cocok."""
    return _file(_run(request, creds, "pemadanan.unduh", reads.list_csv, job_id, nama))


@router.post("/{job_id}/hasil/{baris}/tinjau", response_model=HasilOut, responses=JOB_PROBLEMS_BODY)
def review(job_id: str, baris: int, body: TinjauIn, request: Request, creds: Creds) -> HasilOut:
    """Tinjauan petugas atas satu kemungkinan_cocok: diterima atau ditolak (diaudit)."""
    return _run(request, creds, "pemadanan.tinjau", service.review, job_id, baris,
                body.keputusan, body.alasan)  # fmt: skip


@router.get("/{job_id}/berita-acara.pdf", response_class=Response, responses=JOB_PROBLEMS)
def minutes(job_id: str, request: Request, creds: Creds) -> Response:
    """Berita acara hasil pemadanan (PDF); kakinya menyebut sumber data."""
    return _file(_run(request, creds, "pemadanan.berita_acara", reads.minutes, job_id))
