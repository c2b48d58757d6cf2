"""Regsosek tiers in the portal (PKS 000 Pasal 2, "melalui Sepakat"): the aggregate-table
builder with disclosure control, microdata and BNBA extracts, and the processing facility.
Each runs the `simpul.disclosure` kernel operation its API runs (decided as web_portal,
audited); downloading an extract and the provider's review are decided per request too."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import ValidationError

from simpul import kernel
from simpul.agreements.schemas import Mechanism, Service
from simpul.disclosure import extracts, sandbox
from simpul.disclosure import service as disclosure
from simpul.disclosure.schemas import TabelIn
from simpul.disclosure.variables import AGE, DATASET, NUMERIC, REGION, variables
from simpul.errors import SimpulError
from simpul.kernel import Known, Origin
from simpul.kernel.core import Op
from simpul.kit.ids import new_id
from simpul.portal import i18n
from simpul.portal import regsosek_views as views
from simpul.portal.context import Outcome, call
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
from simpul.services.api import node_of

router = APIRouter(include_in_schema=False)
R = TypeVar("R")
LEVELS = ("provinsi", "kabupaten", "kecamatan", "desa")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ROW_LIMIT = 500  # rows shown on the page; a narrower table or a region filter shows the rest


def _run(request: Request, user: User, action: str, op: Op[..., R], *args: Any) -> R:
    """A kernel call for what `portal.context.call` does not frame (a download, the
    review queue): decided as web_portal, recorded, raised as a refusal."""
    origin = Origin(Mechanism.WEB_PORTAL, action=action, dataset=DATASET,
                    source_ip=client_ip(request), peer_ip=peer_ip(request),
                    request_id=new_id("portal-"))  # fmt: skip
    return kernel.run(node_of(request.app.state), Known(user.principal), origin, op, *args)


def _refusal(request: Request, exc: SimpulError) -> HTMLResponse:
    return render(request, "pesan.html", {"title_key": "error.title",
                  "body": error_message(lang_of(request), exc)}, status=exc.status)  # fmt: skip


def _context(request: Request, **extra: Any) -> dict[str, Any]:
    rt = portal_of(request).runtime
    names = sorted(variables(rt.clock.today()))
    labels = views.dimension_labels(lang_of(request))
    ctx: dict[str, Any] = {
        "dimensions": views.labelled([REGION, AGE, *[n for n in names if n != AGE]], labels),
        "numeric": views.labelled(sorted(NUMERIC), labels),
        "labels": labels,
        "levels": LEVELS,
        "given": {},
        "chosen": [REGION, "jenis_kelamin"],
        "row_limit": ROW_LIMIT,
    }
    ctx.update(extra)
    return ctx


@router.get("/portal/regsosek")
def regsosek(request: Request) -> HTMLResponse:
    need(request, "regsosek")
    return render(request, "regsosek.html", _context(request))


async def _form(request: Request) -> tuple[dict[str, str], list[str]]:
    form = await request.form()
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    return fields, [v for v in form.getlist("dimensi") if isinstance(v, str)]


@router.post("/portal/regsosek/agregat")
async def aggregate(request: Request) -> Response:
    fields, dims = await _form(request)
    return await run_in_threadpool(_aggregate, request, fields, dims)


def _aggregate(request: Request, form: dict[str, str], dims: list[str]) -> Response:
    """The table, decided and recorded as the API's; shown as a pivot with its chart, or,
    with `unduh=csv|xlsx`, the same answer as a file carrying its source line."""
    user = need(request, "regsosek")
    check_csrf(user, form)
    ctx = _context(request, given=form, chosen=dims)
    try:
        body = TabelIn(
            dimensi=dims,
            tingkat_wilayah=form.get("tingkat_wilayah") or "provinsi",
            wilayah=form.get("wilayah") or None,
            variabel=form.get("variabel") or None,
        )
    except ValidationError as exc:
        ctx["error"] = "; ".join(str(e["msg"]) for e in exc.errors())
        return render(request, "regsosek.html", ctx, status=422)
    outcome = call(request, user, Service.AGREGAT, disclosure.aggregate, body.spec())
    ctx["table"] = outcome
    lang = lang_of(request)
    answer = outcome.answer
    wanted = form.get("unduh")
    if answer is not None and wanted in ("csv", "xlsx"):
        name = "regsosek-" + "-".join(answer.dimensi) + f".{wanted}"
        data = views.as_csv(answer, lang) if wanted == "csv" else views.as_xlsx(answer, lang)
        media = "text/csv; charset=utf-8" if wanted == "csv" else XLSX
        return Response(data, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store"})  # fmt: skip
    if answer is not None and answer.baris:
        ctx["columns"] = list(answer.baris[0])
        t = i18n.translator(lang)
        ctx["pivot"] = views.pivot(answer, t)
        label = ctx["labels"].get(answer.dimensi[0], answer.dimensi[0])
        ctx["chart"] = views.chart(ctx["pivot"], t, label)
    return render(request, "regsosek.html", ctx, status=outcome.status)


@router.post("/portal/regsosek/{tier}")
async def extract(request: Request, tier: str) -> HTMLResponse:
    fields, _ = await _form(request)
    return await run_in_threadpool(_extract, request, tier, fields)


def _extract(request: Request, tier: str, form: dict[str, str]) -> HTMLResponse:
    user = need(request, "regsosek")
    check_csrf(user, form)
    ctx = _context(request, given=form)
    fmt = form.get("format") if form.get("format") in ("csv", "parquet") else "csv"
    region = form.get("wilayah") or None
    outcome: Outcome
    if tier == "mikro":
        outcome = call(request, user, Service.MIKRO, extracts.microdata, fmt, region)
    elif tier == "bnba":
        outcome = call(request, user, Service.BNBA, extracts.bnba, fmt, region)
    elif tier == "pengolahan":
        sql = form.get("sql", "")[:20_000]
        purpose = form.get("tujuan", "")[:500] or None
        outcome = call(request, user, Service.PENGOLAHAN, sandbox.submit, sql, purpose)
        ctx["output"] = outcome
        if outcome.answer is not None:
            ctx["rules"] = views.check_rules(outcome.answer.pemeriksaan, lang_of(request))
        return render(request, "regsosek.html", ctx, status=outcome.status)
    else:
        return render(request, "pesan.html", {"title_key": "notfound.title",
                      "body_key": "notfound.title"}, status=404)  # fmt: skip
    ctx["extract"] = outcome
    return render(request, "regsosek.html", ctx, status=outcome.status)


@router.get("/portal/regsosek/ekstrak/{extract_id}")
def download(request: Request, extract_id: str) -> Response:
    """The extract's file, decided and recorded per download (see `extracts.extract_file`)."""
    user = need(request, "regsosek")
    try:
        got = _run(request, user, "ekstrak.unduh", extracts.extract_file, extract_id)
    except SimpulError as exc:
        return _refusal(request, exc)
    return FileResponse(got.path, media_type=got.media_type, filename=got.filename,
                        headers={"Cache-Control": "no-store"})  # fmt: skip


# -- the provider's review of processing outputs (PKS 000 Pasal 2 huruf c) ----------------


@router.get("/portal/tinjauan-keluaran")
def review_queue(request: Request) -> HTMLResponse:
    user = need(request, "tinjauan")
    try:
        queue = _run(request, user, sandbox.REVIEW, sandbox.review_queue)
    except SimpulError as exc:
        return _refusal(request, exc)
    lang = lang_of(request)
    rules = {o.id: views.check_rules(o.pemeriksaan, lang) for o in queue}
    return render(request, "tinjauan.html", {"queue": queue, "rules": rules})


@router.post("/portal/tinjauan-keluaran/{output_id}")
async def review_output(request: Request, output_id: str) -> Response:
    fields, _ = await _form(request)
    return await run_in_threadpool(_review, request, output_id, fields)


def _review(request: Request, output_id: str, form: dict[str, str]) -> Response:
    user = need(request, "tinjauan")
    check_csrf(user, form)
    try:
        _run(request, user, sandbox.REVIEW, sandbox.review, output_id,
             form.get("keputusan") == "setujui", form.get("alasan", "")[:1000])  # fmt: skip
    except SimpulError as exc:
        try:
            queue = _run(request, user, sandbox.REVIEW, sandbox.review_queue)
        except SimpulError:
            queue = []
        ctx = {"queue": queue, "error": error_message(lang_of(request), exc)}
        return render(request, "tinjauan.html", ctx, status=exc.status)
    return redirect("/portal/tinjauan-keluaran", "reg.reviewed_ok")
