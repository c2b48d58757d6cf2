"""Matching (pemadanan) in the portal: upload a list, watch the job, read and review the
results, download the lists the PKS ask for and the berita acara. Every step calls
`simpul.pemadanan.service` exactly as its API does (decided, audited)."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from simpul.errors import InvalidInput, SimpulError
from simpul.kit.csvsafe import safe_cell
from simpul.kit.ids import new_id
from simpul.pemadanan import berita_acara, service
from simpul.pemadanan.api import start_worker
from simpul.pemadanan.schemas import OptionsIn
from simpul.portal import i18n
from simpul.portal.web import (
    User,
    check_csrf,
    client_ip,
    error_message,
    lang_of,
    need,
    portal_of,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)
WORKFLOWS = ("bpum", "kpm", "umum", "regsosek")
PAGE = 50
DONE = ("selesai", "gagal", "dibatalkan")


def _ctx(request: Request, user: User) -> service.JobContext:
    rt = portal_of(request).runtime
    return service.JobContext(
        principal=user.principal,
        settings=rt.settings,
        clock=rt.clock,
        source_ip=client_ip(request),
        request_id=new_id("portal-"),
    )


def _list_page(request: Request, user: User, *, error: str | None = None, status: int = 200,
               given: dict[str, str] | None = None) -> HTMLResponse:  # fmt: skip
    rt = portal_of(request).runtime
    with rt.transaction() as session:
        jobs = service.list_jobs(session, user.principal)
    return render(
        request,
        "pemadanan.html",
        {"jobs": jobs, "workflows": WORKFLOWS, "error": error, "given": given or {}},
        status=status,
    )


@router.get("/portal/pemadanan")
def job_list(request: Request) -> HTMLResponse:
    user = need(request, "pemadanan")
    return _list_page(request, user)


@router.post("/portal/pemadanan")
async def job_submit(request: Request) -> Response:
    rt = portal_of(request).runtime
    form = await request.form(max_files=1, max_fields=20)
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    upload = form.get("berkas")
    with tempfile.TemporaryDirectory(prefix="simpul-portal-") as tmp:
        path: Path | None = None
        name = ""
        if isinstance(upload, UploadFile) and upload.filename:
            name = Path(upload.filename).name[:300]
            path = Path(tmp) / ("unggah" + Path(name).suffix.lower()[:8])
            size = await _spool(upload, path, rt.settings.max_upload_bytes)
            if size == 0:
                path = None
        return await run_in_threadpool(_submit, request, fields, path, name)


async def _spool(upload: UploadFile, target: Path, limit: int) -> int:
    size = 0
    with target.open("wb") as fh:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > limit:
                return limit + 1
            fh.write(chunk)
    return size


def _submit(request: Request, form: dict[str, str], path: Path | None, name: str) -> Response:
    user = need(request, "pemadanan")
    check_csrf(user, form)
    rt = portal_of(request).runtime
    lang = lang_of(request)
    workflow = form.get("alur", "umum")
    try:
        if path is None:
            raise InvalidInput("berkas_wajib", i18n.translate(lang, "match.no_file"))
        if path.stat().st_size > rt.settings.max_upload_bytes:
            raise InvalidInput(
                "berkas_terlalu_besar",
                f"Berkas lebih dari batas {rt.settings.max_upload_bytes:,} bita.",
                status=413,
            )
        try:
            threshold = float(form.get("ambang") or 0.5)
            options = OptionsIn(ambang=threshold)
        except ValueError:
            raise InvalidInput("ambang_tidak_valid", "Ambang harus 0,05–0,999.") from None
        ctx = _ctx(request, user)
        with rt.transaction() as session:
            job, refused = service.submit(
                session, ctx, upload=path, filename=name, dataset=form.get("dataset") or None,
                workflow=workflow, options=options,
            )  # fmt: skip
        if refused is not None:
            raise SimpulError(refused.reason, refused.detail, status=refused.status)
    except SimpulError as exc:
        return _list_page(
            request, user, error=error_message(lang, exc), status=exc.status, given=form
        )
    assert job is not None
    start_worker(rt)
    return redirect(f"/portal/pemadanan/{job.id}")


@router.get("/portal/pemadanan/{job_id}")
def job_detail(request: Request, job_id: str) -> HTMLResponse:
    user = need(request, "pemadanan_detail")
    rt = portal_of(request).runtime
    status_filter = request.query_params.get("status") or None
    raw_offset = request.query_params.get("dari", "0")
    offset = int(raw_offset) if raw_offset.isdigit() else 0
    ctx: dict[str, Any] = {"status_filter": status_filter, "offset": offset, "page": PAGE}
    try:
        with rt.transaction() as session:
            job = service.job_detail(session, user.principal, job_id)
            ctx["job"] = job
            ctx["issues"] = service.issues(session, user.principal, job_id)[:100]
            if job.status == "selesai":
                total, rows = service.results_page(
                    session, user.principal, job_id, status=status_filter, offset=offset,
                    limit=PAGE,
                )  # fmt: skip
                ctx["total"], ctx["rows"] = total, rows
                ctx["lists"] = list(service.workflow_lists(session, user.principal, job_id))
    except SimpulError as exc:
        if exc.status == 404:
            return render(request, "pesan.html", {"title_key": "notfound.title",
                          "body": exc.detail}, status=404)  # fmt: skip
        ctx["error"] = error_message(lang_of(request), exc)
    return render(request, "pemadanan_detail.html", ctx)


@router.post("/portal/pemadanan/{job_id}/batal")
async def job_cancel(request: Request, job_id: str) -> Response:
    form = {k: v for k, v in (await request.form()).multi_items() if isinstance(v, str)}
    return await run_in_threadpool(_cancel, request, job_id, form)


def _cancel(request: Request, job_id: str, form: dict[str, str]) -> Response:
    user = need(request, "pemadanan_detail")
    check_csrf(user, form)
    rt = portal_of(request).runtime
    try:
        with rt.transaction() as session:
            service.cancel(session, user.principal, job_id)
    except SimpulError:
        pass  # already finished: the page shows its final state
    return redirect(f"/portal/pemadanan/{job_id}", "match.cancelled_ok")


@router.post("/portal/pemadanan/{job_id}/tinjau/{line}")
async def job_review(request: Request, job_id: str, line: int) -> Response:
    form = {k: v for k, v in (await request.form()).multi_items() if isinstance(v, str)}
    return await run_in_threadpool(_review, request, job_id, line, form)


def _review(request: Request, job_id: str, line: int, form: dict[str, str]) -> Response:
    user = need(request, "pemadanan_detail")
    check_csrf(user, form)
    rt = portal_of(request).runtime
    try:
        with rt.transaction() as session:
            service.review(session, _ctx(request, user), job_id, line,
                           form.get("keputusan", ""), form.get("alasan", "")[:500])  # fmt: skip
    except SimpulError as exc:
        return render(request, "pesan.html", {"title_key": "error.title",
                      "body": error_message(lang_of(request), exc)}, status=exc.status)  # fmt: skip
    return redirect(f"/portal/pemadanan/{job_id}?status=kemungkinan_cocok", "match.reviewed_ok")


def _download(data: bytes | str, media: str, name: str) -> Response:
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip


@router.get("/portal/pemadanan/{job_id}/unduh/{nama}.csv")
def job_csv(request: Request, job_id: str, nama: str) -> Response:
    user = need(request, "pemadanan_detail")
    rt = portal_of(request).runtime
    try:
        with rt.transaction() as session:
            lists = service.workflow_lists(session, user.principal, job_id)
            if nama not in lists:
                raise InvalidInput("daftar_tidak_dikenal", f"Daftar {nama!r} tidak ada.")
            job, _ = service.all_results(session, user.principal, job_id)
            header, cells = service.csv_rows(job, lists[nama])
    except SimpulError as exc:
        return render(request, "pesan.html", {"title_key": "error.title",
                      "body": error_message(lang_of(request), exc)}, status=exc.status)  # fmt: skip
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows([[safe_cell(c) for c in r] for r in cells])
    return _download(buf.getvalue(), "text/csv; charset=utf-8", f"{nama}-{job_id}.csv")


@router.get("/portal/pemadanan/{job_id}/berita-acara.pdf")
def job_minutes(request: Request, job_id: str) -> Response:
    user = need(request, "pemadanan_detail")
    rt = portal_of(request).runtime
    try:
        with rt.transaction() as session:
            pdf = berita_acara.render(session, user.principal, job_id, rt.clock.now())
    except SimpulError as exc:
        return render(request, "pesan.html", {"title_key": "error.title",
                      "body": error_message(lang_of(request), exc)}, status=exc.status)  # fmt: skip
    return _download(pdf, "application/pdf", f"berita-acara-{job_id}.pdf")
