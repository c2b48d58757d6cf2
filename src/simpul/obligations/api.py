"""HTTP adapters for obligations: the deadlines feed, feedback upload and download, usage
reports. Thin: authenticate, call one service function in one transaction, answer."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel

from simpul.access.schemas import Principal, Role
from simpul.agreements.lifecycle import local_date
from simpul.errors import SimpulError
from simpul.obligations import feedback, reports, service
from simpul.obligations.deadlines import Deadline
from simpul.runtime import Runtime
from simpul.services.api import PROBLEMS, Caller

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
        ids = service.visible_agreements(session, principal, rt.clock.now())
    if agreement_id not in ids:
        raise _forbidden(agreement_id)


@router.get("/kewajiban", response_model=list[KewajibanOut], responses=PROBLEMS)
def kewajiban(
    request: Request,
    principal: Caller,
    semua: Annotated[bool, Query(description="Sertakan yang sudah dipenuhi.")] = False,
) -> list[KewajibanOut]:
    """Tenggat kewajiban perjanjian pemanggil: implementasi, laporan, data balikan, evaluasi,
    pemberitahuan; terdekat lebih dulu."""
    rt = _runtime(request)
    with rt.read_transaction() as session:
        ids = service.visible_agreements(session, principal, rt.clock.now())
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
    responses=PROBLEMS,
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def unggah_data_balikan(
    agreement_id: str,
    request: Request,
    principal: Caller,
    kewajiban: Annotated[str | None, Query()] = None,
    nama_berkas: Annotated[str, Query(max_length=300)] = "unggahan.csv",
) -> UnggahOut:
    """Unggah data balikan (CSV: kolom `nik` dan elemen kewajiban). Setiap baris diperiksa
    terhadap subjek yang diakses; baris yang tidak terutang ditolak dengan alasannya."""
    rt = _runtime(request)
    if principal.role in (Role.AUDITOR, Role.PROVIDER_ADMIN):
        raise _forbidden(agreement_id)
    content = await request.body()
    _visible(rt, principal, agreement_id)
    with rt.transaction() as session:
        result = feedback.upload(
            session,
            rt.settings,
            rt.clock,
            agreement_id,
            content,
            filename=nama_berkas,
            actor=principal.username,
            institution=principal.institution,
            duty_id=kewajiban,
        )
        service.audit_action(
            session,
            rt.settings,
            rt.clock,
            "kewajiban.data_balikan",
            principal.username,
            agreement_id,
            {
                "unggahan": result.upload_id,
                "diterima": result.rows_accepted,
                "ditolak": result.rows_rejected,
            },
            principal.institution,
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
    principal: Caller,
    kewajiban: Annotated[str | None, Query()] = None,
) -> Response:
    """Data balikan yang diterima (CSV), untuk pihak penerima data balikan."""
    rt = _runtime(request)
    _visible(rt, principal, agreement_id)
    with rt.transaction() as session:
        text = feedback.download_csv(session, agreement_id, kewajiban)
        service.audit_action(
            session,
            rt.settings,
            rt.clock,
            "kewajiban.data_balikan.unduh",
            principal.username,
            agreement_id,
            {"kewajiban": kewajiban},
            principal.institution,
        )
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="data-balikan-{agreement_id}.csv"'},
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
    "/perjanjian/{agreement_id}/laporan-penggunaan", responses=PROBLEMS, response_class=HTMLResponse
)
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
