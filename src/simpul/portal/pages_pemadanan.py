"""Matching (pemadanan) in the portal: upload a list, watch the job, read and review the
results, download the lists the PKS ask for and the berita acara. Every step that reveals
results (and the upload) is one kernel call of the operation its API runs — decided against
the job's agreement on every request, recorded with the people it names, the owner's only.
While a job runs its page shows its state only (it reloads itself; nothing to record)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from simpul import kernel
from simpul.agreements.schemas import Mechanism
from simpul.errors import InvalidInput, SimpulError
from simpul.kernel import Known, Node, Origin
from simpul.kernel.core import Op
from simpul.kit.ids import new_id
from simpul.pemadanan import reads, service
from simpul.pemadanan.schemas import TERMINAL, OptionsIn
from simpul.portal import i18n
from simpul.portal.web import (
    User,
    check_csrf,
    client_ip,
    error_message,
    lang_of,
    need,
    peer_ip,
    portal_of,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)
WORKFLOWS = ("bpum", "kpm", "umum", "regsosek")
PAGE = 50
R = TypeVar("R")


def _run(
    request: Request, user: User, action: str, op: Op[..., R], *args: Any,
    about: str | None = None, **kw: Any,
) -> R:  # fmt: skip
    """One pemadanan operation through the kernel for the signed-in user (no per-call
    quota, as in the API: see `simpul.pemadanan.api.node`)."""
    node = Node(portal_of(request).runtime,
                writer=getattr(request.app.state, "audit_writer", None))  # fmt: skip
    origin = Origin(Mechanism.WEB_PORTAL, action=action, dataset=about,
                    source_ip=client_ip(request), peer_ip=peer_ip(request),
                    request_id=new_id("portal-"))  # fmt: skip
    return kernel.run(node, Known(user.principal), origin, op, *args, **kw)


def _refusal_page(request: Request, exc: SimpulError) -> HTMLResponse:
    if exc.status == 404:
        return render(request, "pesan.html", {"title_key": "notfound.title",
                      "body": exc.detail}, status=404)  # fmt: skip
    return render(request, "pesan.html", {"title_key": "error.title",
                  "body": error_message(lang_of(request), exc)}, status=exc.status)  # fmt: skip


def _list_page(request: Request, user: User, *, error: str | None = None, status: int = 200,
               given: dict[str, str] | None = None) -> HTMLResponse:  # fmt: skip
    rt = portal_of(request).runtime
    with rt.read_transaction() as session:
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
            accept = float(form["ambang_terima"]) if form.get("ambang_terima") else None
            options = OptionsIn(ambang=threshold, ambang_terima=accept)
        except ValueError:
            raise InvalidInput(
                "ambang_tidak_valid",
                "Ambang tinjauan harus 0,05–0,999 dan ambang terima 0,5–1.",
            ) from None
        dataset = form.get("dataset") or None
        job = _run(
            request, user, "pemadanan.unggah", service.submit,
            about=service.workflow_dataset(workflow, dataset), upload=path, filename=name,
            dataset=dataset, workflow=workflow, options=options,
        )  # fmt: skip
    except SimpulError as exc:
        return _list_page(
            request, user, error=error_message(lang, exc), status=exc.status, given=form
        )
    return redirect(f"/portal/pemadanan/{job.id}")


@router.get("/portal/pemadanan/{job_id}")
def job_detail(request: Request, job_id: str) -> HTMLResponse:
    user = need(request, "pemadanan_detail")
    rt = portal_of(request).runtime
    status_filter = request.query_params.get("status") or None
    raw_offset = request.query_params.get("dari", "0")
    offset = int(raw_offset) if raw_offset.isdigit() else 0
    ctx: dict[str, Any] = {"status_filter": status_filter, "offset": offset, "page": PAGE}
    try:  # the state alone (owner only): a running job's page reloads itself
        job = service.owner_step(rt, user.principal, "pemadanan.status", service.job_detail,
                                 job_id)  # fmt: skip
    except SimpulError as exc:
        return _refusal_page(request, exc)
    ctx["job"] = job
    status = 200
    if job.status in TERMINAL:  # its issues and results: decided now, recorded
        try:
            page = _run(request, user, "pemadanan.halaman", reads.job_page, job_id,
                        status=status_filter, offset=offset, limit=PAGE)  # fmt: skip
        except SimpulError as exc:
            if exc.status == 404:
                return _refusal_page(request, exc)
            # Refused (e.g. the agreement is suspended): the job's state, no result.
            ctx["error"], status = error_message(lang_of(request), exc), exc.status
        else:
            ctx["job"], ctx["issues"] = page.job, page.issues
            if page.rows is not None:
                ctx["total"], ctx["rows"], ctx["lists"] = page.total, page.rows, page.lists
    return render(request, "pemadanan_detail.html", ctx, status=status)


@router.post("/portal/pemadanan/{job_id}/batal")
async def job_cancel(request: Request, job_id: str) -> Response:
    form = {k: v for k, v in (await request.form()).multi_items() if isinstance(v, str)}
    return await run_in_threadpool(_cancel, request, job_id, form)


def _cancel(request: Request, job_id: str, form: dict[str, str]) -> Response:
    user = need(request, "pemadanan_detail")
    check_csrf(user, form)
    rt = portal_of(request).runtime
    try:
        service.owner_step(rt, user.principal, "pemadanan.batal", service.cancel, job_id)
    except SimpulError as exc:
        if exc.status == 404:
            return _refusal_page(request, exc)
        # already finished: the page shows its final state
    return redirect(f"/portal/pemadanan/{job_id}", "match.cancelled_ok")


@router.post("/portal/pemadanan/{job_id}/tinjau/{line}")
async def job_review(request: Request, job_id: str, line: int) -> Response:
    form = {k: v for k, v in (await request.form()).multi_items() if isinstance(v, str)}
    return await run_in_threadpool(_review, request, job_id, line, form)


def _review(request: Request, job_id: str, line: int, form: dict[str, str]) -> Response:
    user = need(request, "pemadanan_detail")
    check_csrf(user, form)
    try:
        _run(request, user, "pemadanan.tinjau", service.review, job_id, line,
             form.get("keputusan", ""), form.get("alasan", "")[:500])  # fmt: skip
    except SimpulError as exc:
        return _refusal_page(request, exc)
    return redirect(f"/portal/pemadanan/{job_id}?status=kemungkinan_cocok", "match.reviewed_ok")


def _download(berkas: reads.Berkas) -> Response:
    return Response(
        berkas.content,
        media_type=berkas.media_type,
        headers={"Content-Disposition": f'attachment; filename="{berkas.name}"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip


@router.get("/portal/pemadanan/{job_id}/unduh/{nama}.csv")
def job_csv(request: Request, job_id: str, nama: str) -> Response:
    user = need(request, "pemadanan_detail")
    try:
        berkas = _run(request, user, "pemadanan.unduh", reads.list_csv, job_id, nama)
    except SimpulError as exc:
        return _refusal_page(request, exc)
    return _download(berkas)


@router.get("/portal/pemadanan/{job_id}/berita-acara.pdf")
def job_minutes(request: Request, job_id: str) -> Response:
    user = need(request, "pemadanan_detail")
    try:
        berkas = _run(request, user, "pemadanan.berita_acara", reads.minutes, job_id)
    except SimpulError as exc:
        return _refusal_page(request, exc)
    return _download(berkas)
