"""HTTP adapters for obligations: the deadlines feed, feedback upload and download, usage
reports. Thin: feedback files go through the kernel (decided for a party of the agreement,
recorded with the people they carry); the feed and the reports are scoped to the
agreements the caller may see (`service.visible_agreements`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel

from simpul import kernel
from simpul.access.schemas import Principal
from simpul.agreements.lifecycle import local_date
from simpul.errors import SimpulError
from simpul.obligations import feedback, feedback_ops, reports, service
from simpul.obligations.deadlines import Deadline
from simpul.runtime import Runtime
from simpul.services.api import (
    CALLER_PROBLEMS,
    PROBLEMS,
    PROBLEMS_BODY,
    Caller,
    Creds,
    credential,
    node_of,
    origin,
)

router = APIRouter(prefix="/api/v1", tags=["kewajiban"])


def _runtime(request: Request) -> Runtime:
    rt = request.app.state.runtime
    assert isinstance(rt, Runtime)
    return rt


class KewajibanOut(BaseModel):
    perjanjian: str
    kewajiban: str
    jenis: str
    uraian: str
    pasal: str
    oleh: list[str]
    kepada: str | None
    periode: str
    tenggat: date | None
    status: str
    dipenuhi_pada: date | None
    belum_dipenuhi: int | None
    keterangan: str


def _out(d: Deadline) -> KewajibanOut:
    return KewajibanOut(
        perjanjian=d.agreement_id,
        kewajiban=d.duty_id,
        jenis=d.kind,
        uraian=d.label,
        pasal=d.clause,
        oleh=list(d.obligors),
        kepada=d.to,
        periode=d.period,
        tenggat=d.due_on,
        status=d.status.value,
        dipenuhi_pada=d.fulfilled_on,
        belum_dipenuhi=d.outstanding,
        keterangan=d.note,
    )


def _forbidden(agreement_id: str) -> SimpulError:
    return SimpulError(
        "perjanjian_di_luar_akun",
        f"Akun tidak terikat perjanjian {agreement_id} dan bukan pihak di dalamnya.",
        status=403,
    )


def _visible(rt: Runtime, principal: Principal, agreement_id: str) -> None:
    with rt.read_transaction() as session:
        ids = service.visible_agreements(session, principal, rt.clock.now(), rt.settings)
    if agreement_id not in ids:
        raise _forbidden(agreement_id)


@router.get("/kewajiban", response_model=list[KewajibanOut], responses=CALLER_PROBLEMS)
def kewajiban(
    request: Request,
    principal: Caller,
    semua: Annotated[bool, Query(description="Sertakan yang sudah dipenuhi.")] = False,
) -> list[KewajibanOut]:
    """Tenggat kewajiban perjanjian pemanggil: implementasi, laporan, data balikan, evaluasi,
    pemberitahuan; terdekat lebih dulu."""
    rt = _runtime(request)
    with rt.read_transaction() as session:
        ids = service.visible_agreements(session, principal, rt.clock.now(), rt.settings)
        found = service.deadlines(
            session, rt.settings, rt.clock, agreement_ids=ids, open_only=not semua
        )
    return [_out(d) for d in found]


class UnggahOut(BaseModel):
    unggahan: str
    perjanjian: str
    kewajiban: str
    jumlah_baris: int
    diterima: int
    ditolak: int
    galat: list[dict[str, object]]


@router.post(
    "/perjanjian/{agreement_id}/data-balikan",
    response_model=UnggahOut,
    responses=PROBLEMS_BODY,
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def unggah_data_balikan(
    agreement_id: str,
    request: Request,
    creds: Creds,
    kewajiban: Annotated[str | None, Query()] = None,
    nama_berkas: Annotated[str, Query(max_length=300)] = "unggahan.csv",
) -> UnggahOut:
    """Unggah data balikan (CSV: kolom `nik` dan elemen kewajiban) oleh pihak yang wajib
    menyampaikannya (admin penerima, operator, pengguna data). Setiap baris diperiksa
    terhadap subjek yang diakses; baris yang tidak terutang ditolak dengan alasannya."""
    content = await request.body()
    result = await run_in_threadpool(
        kernel.run,
        node_of(request.app.state),
        credential(creds),
        origin(request, feedback_ops.UPLOAD, None),
        feedback_ops.upload,
        agreement_id,
        content,
        filename=nama_berkas,
        duty_id=kewajiban,
    )
    return UnggahOut(
        unggahan=result.upload_id,
        perjanjian=agreement_id,
        kewajiban=result.duty_id,
        jumlah_baris=result.rows_total,
        diterima=result.rows_accepted,
        ditolak=result.rows_rejected,
        galat=[{"baris": v.line, "kode": v.code, "keterangan": v.detail} for v in result.errors],
    )


@router.get(
    "/perjanjian/{agreement_id}/data-balikan", response_class=PlainTextResponse, responses=PROBLEMS
)
def unduh_data_balikan(
    agreement_id: str,
    request: Request,
    creds: Creds,
    kewajiban: Annotated[str | None, Query()] = None,
) -> Response:
    """Data balikan yang diterima (CSV, baris pertama sumbernya), hanya untuk admin penyedia
    yang dituju kewajiban data balikan, selama perjanjian berlaku; dicatat di log audit
    dengan NIK yang termuat."""
    found = kernel.run(
        node_of(request.app.state),
        credential(creds),
        origin(request, feedback_ops.DOWNLOAD, None),
        feedback_ops.download,
        agreement_id,
        kewajiban,
    )
    return Response(
        found.text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="data-balikan-{agreement_id}.csv"',
            "Cache-Control": "no-store",
        },
    )


class TerlambatOut(BaseModel):
    kewajiban: str
    diakses: date
    tenggat: date
    belum: int


@router.get(
    "/perjanjian/{agreement_id}/data-balikan/terlambat",
    response_model=list[TerlambatOut],
    responses=PROBLEMS,
)
def data_balikan_terlambat(
    agreement_id: str, request: Request, principal: Caller
) -> list[TerlambatOut]:
    """Data balikan yang melewati tenggat: per hari akses pertama, jumlah subjek."""
    rt = _runtime(request)
    _visible(rt, principal, agreement_id)
    today = local_date(rt.clock.now())
    out: list[TerlambatOut] = []
    with rt.read_transaction() as session:
        view = service.view(session, agreement_id, rt.clock.now())
        for duty in feedback.feedback_duties(view.doc):
            for day in feedback.overdue_by_day(
                session, rt.settings, agreement_id, view.doc, duty, today
            ):
                out.append(
                    TerlambatOut(
                        kewajiban=duty.id, diakses=day.first_access, tenggat=day.due_on,
                        belum=day.outstanding,
                    )
                )  # fmt: skip
    return out


@router.get(
    "/perjanjian/{agreement_id}/laporan-penggunaan",
    responses={
        **PROBLEMS,
        200: {
            "description": "Laporan (HTML, atau PDF dengan `format=pdf`).",
            "content": {"text/html": {}, "application/pdf": {"schema": {"type": "string",
                        "format": "binary"}}},
        },
    },
    response_class=HTMLResponse,
)  # fmt: skip
def laporan_penggunaan(
    agreement_id: str,
    request: Request,
    principal: Caller,
    tahun: Annotated[int, Query(ge=2000, le=2100)],
    semester: Annotated[int, Query(ge=1, le=2)],
    format: Annotated[str, Query(pattern="^(html|pdf)$")] = "html",
) -> Response:
    """Laporan penggunaan per perjanjian dan semester (HTML atau PDF, dengan grafik)."""
    rt = _runtime(request)
    _visible(rt, principal, agreement_id)
    with rt.transaction() as session:  # refreshes the log's rollups first
        usage = reports.usage(session, rt.settings, rt.clock, agreement_id, tahun, semester)
        html = reports.usage_html(usage)
    if format == "pdf":
        return Response(reports.pdf(html), media_type="application/pdf")
    return HTMLResponse(html)
