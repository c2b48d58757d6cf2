"""Dashboard and the data services of operators and data users: look-up by NIK, element
verification, status check. Each calls the same service function as the API."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile

from simpul.access.schemas import Role
from simpul.agreements import service as agreements
from simpul.agreements.schemas import Service
from simpul.face import engine as face_engine
from simpul.face import service as face
from simpul.obligations import service as obligations
from simpul.obligations.deadlines import Status
from simpul.portal import i18n
from simpul.portal.context import Granted, call, granted, visible_agreements
from simpul.portal.nav import PAGES, Page
from simpul.portal.web import check_csrf, form_of, lang_of, need, portal_of, render
from simpul.registry.datasets import Dataset, ElementType, get_dataset
from simpul.services import service as services

router = APIRouter(include_in_schema=False)


@router.get("/portal/beranda")
def dashboard(request: Request) -> HTMLResponse:
    user = need(request, "beranda")
    rt = portal_of(request).runtime
    now = rt.clock.now()
    with rt.transaction() as session:
        shown = visible_agreements(session, user, now)
        service_role = user.role in (Role.OPERATOR, Role.DATA_USER)
        grants = granted(session, user, now) if service_role else []
        # Alerts: the duties the user's own institution owes (the hub administrator, who
        # owes none, every party's), due within 30 days (still in time: first), then overdue.
        open_now = obligations.dashboard(session, rt.settings, rt.clock, user.principal)
        own = user.principal.institution
        if user.role is not Role.HUB_ADMIN:
            open_now = [d for d in open_now if own in d.obligors]
        alerts = [d for d in open_now if d.status is Status.SEGERA] + [
            d for d in open_now if d.status is Status.TERLAMBAT
        ]
        names = {a.agreement_id: agreements.summary(session, a.agreement_id, now)
                 for a in alerts}  # fmt: skip
    today = rt.clock.today()
    rows = [{"s": s, "days_left": (s.ends_on - today).days} for s in shown]
    pages_of: dict[tuple[str, str], Page] = {}  # the first page serving a grant links it
    for page in PAGES.values():
        for need_ in page.needs if page.nav else ():
            for m in need_.mechanisms:
                pages_of.setdefault((need_.service.value, m.value), page)
    return render(request, "beranda.html", {"agreements": rows, "grants": grants,
                  "alerts": alerts, "names": names, "pages_of": pages_of})  # fmt: skip


def _datasets(grants: list[Granted], service: Service) -> list[str]:
    return sorted({g.grant.dataset for g in grants if g.grant.service is service})


def _labels(ds: Dataset) -> dict[str, str]:
    return {e.name: e.label for e in ds.elements} | {"anggota_keluarga": "Anggota keluarga"}


# -- look-up by NIK -----------------------------------------------------------------------


@router.get("/portal/layanan/akses-nik")
def lookup_form(request: Request) -> HTMLResponse:
    user = need(request, "akses_nik")
    return render(request, "akses_nik.html", {"nik": "", "user": user})


@router.post("/portal/layanan/akses-nik")
async def lookup_post(request: Request) -> HTMLResponse:
    form = await form_of(request)
    return await run_in_threadpool(_lookup, request, form)


def _lookup(request: Request, form: dict[str, str]) -> HTMLResponse:
    user = need(request, "akses_nik")
    check_csrf(user, form)
    nik = form.get("nik", "").strip()
    outcome = call(request, user, Service.AKSES_NIK, services.lookup, "kependudukan", nik)
    ds = get_dataset("kependudukan")
    labels = _labels(ds)
    order = [e.name for e in ds.elements]
    answer = outcome.answer
    photo = None
    if answer is not None and answer.hasil == "ditemukan":
        # PKS 003 Pasal 2(1)c: the face photo, decided (output foto_wajah) and audited apart.
        shot = call(request, user, Service.AKSES_NIK, face.portal_photo, "kependudukan", nik)
        if shot.answer is not None:
            encoded = base64.b64encode(shot.answer.data).decode("ascii")
            photo = f"data:{shot.answer.content_type};base64,{encoded}"
    family_cols: list[str] = []
    if answer is not None and answer.anggota_keluarga:
        keys = {k for m in answer.anggota_keluarga for k in m}
        family_cols = [n for n in order if n in keys]
    return render(
        request,
        "akses_nik.html",
        {
            "nik": nik,
            "outcome": outcome,
            "labels": labels,
            "rows": (
                [
                    (labels.get(k, k), v)
                    for k, v in sorted(
                        answer.data.items(),
                        key=lambda kv: order.index(kv[0]) if kv[0] in order else 99,
                    )
                ]
                if answer is not None and answer.data
                else []
            ),
            "family_cols": family_cols,
            "photo": photo,
        },
        status=outcome.status,
    )


# -- element verification -----------------------------------------------------------------


def _verify_fields(ds: Dataset) -> list[dict[str, Any]]:
    names = ds.profiles.get("verifikasi_10", ())
    fields = []
    for name in names:
        el = ds.element(name)
        kind = "date" if el.type is ElementType.TANGGAL else "select" if el.values else "text"
        fields.append({"name": name, "label": el.label, "kind": kind, "values": el.values})
    return fields


@router.get("/portal/layanan/verifikasi")
def verify_form(request: Request) -> HTMLResponse:
    need(request, "verifikasi")
    ds = get_dataset("kependudukan")
    return render(request, "verifikasi.html", {"fields": _verify_fields(ds), "given": {}})


@router.post("/portal/layanan/verifikasi")
async def verify_post(request: Request) -> HTMLResponse:
    form = await form_of(request)
    return await run_in_threadpool(_verify, request, form)


def _verify(request: Request, form: dict[str, str]) -> HTMLResponse:
    user = need(request, "verifikasi")
    check_csrf(user, form)
    ds = get_dataset("kependudukan")
    fields = _verify_fields(ds)
    given = {f["name"]: form.get(f["name"], "").strip() for f in fields}
    elements = {k: v for k, v in given.items() if v}
    nik = form.get("nik", "").strip()
    ctx: dict[str, Any] = {"fields": fields, "given": given, "nik": nik}
    if not elements:
        ctx["error"] = i18n.translate(lang_of(request), "svc.no_elements")
        return render(request, "verifikasi.html", ctx, status=422)
    outcome = call(
        request, user, Service.VERIFIKASI, services.verify_elements, ds.code, nik, elements
    )
    labels = _labels(ds)
    ctx["outcome"] = outcome
    if outcome.answer is not None and outcome.answer.elemen:
        ctx["results"] = [(labels.get(k, k), v) for k, v in outcome.answer.elemen.items()]
    return render(request, "verifikasi.html", ctx, status=outcome.status)


# -- status check -------------------------------------------------------------------------


def _check_datasets(request: Request) -> list[str]:
    user = need(request, "cek_status")
    rt = portal_of(request).runtime
    with rt.transaction() as session:
        found = _datasets(granted(session, user, rt.clock.now()), Service.CEK_STATUS)
    return found or ["asn"]


@router.get("/portal/layanan/cek-status")
def check_form(request: Request) -> HTMLResponse:
    datasets = _check_datasets(request)
    return render(
        request, "cek_status.html", {"datasets": datasets, "dataset": datasets[0], "given": {}}
    )


@router.post("/portal/layanan/cek-status")
async def check_post(request: Request) -> HTMLResponse:
    form = await form_of(request)
    return await run_in_threadpool(_check, request, form)


def _check(request: Request, form: dict[str, str]) -> HTMLResponse:
    datasets = _check_datasets(request)
    user = need(request, "cek_status")
    check_csrf(user, form)
    chosen = form.get("dataset", "")
    dataset = chosen if chosen in datasets else datasets[0]
    given = {k: form.get(k, "").strip() for k in ("nik", "nama_lengkap", "tanggal_lahir")}
    outcome = call(
        request,
        user,
        Service.CEK_STATUS,
        services.check_status,
        dataset,
        given["nik"],
        given["nama_lengkap"] or None,
        given["tanggal_lahir"] or None,
    )
    ds = get_dataset(dataset)
    ctx = {
        "datasets": datasets,
        "dataset": dataset,
        "given": given,
        "outcome": outcome,
        "labels": _labels(ds),
    }
    return render(request, "cek_status.html", ctx, status=outcome.status)


# -- face verification --------------------------------------------------------------------


@router.get("/portal/layanan/verifikasi-wajah")
def face_form(request: Request) -> HTMLResponse:
    need(request, "verifikasi_wajah")
    return render(request, "verifikasi_wajah.html", {"nik": ""})


@router.post("/portal/layanan/verifikasi-wajah")
async def face_post(request: Request) -> HTMLResponse:
    """NIK + photo (multipart). The photo is read up to the engine's limit and no further,
    kept only in memory, and never stored or logged (as on the API)."""
    form = await request.form(max_files=1, max_fields=5)
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    upload = form.get("foto")
    photo: bytes | None = None
    if isinstance(upload, UploadFile) and upload.filename:
        photo = await upload.read(face_engine.MAX_PHOTO_BYTES + 1)
    await form.close()
    return await run_in_threadpool(_face, request, fields, photo)


def _face(request: Request, form: dict[str, str], photo: bytes | None) -> HTMLResponse:
    user = need(request, "verifikasi_wajah")
    check_csrf(user, form)
    nik = form.get("nik", "").strip()
    ctx: dict[str, Any] = {"nik": nik}
    if not photo:
        ctx["error"] = i18n.translate(lang_of(request), "svc.no_photo")
        return render(request, "verifikasi_wajah.html", ctx, status=422)
    outcome = call(
        request,
        user,
        Service.VERIFIKASI_WAJAH,
        face.verify_face,
        "kependudukan",
        nik,
        photo,
    )
    ctx["outcome"] = outcome
    return render(request, "verifikasi_wajah.html", ctx, status=outcome.status)
