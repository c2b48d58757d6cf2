"""Duties and deadlines in the portal: the open deadlines of the reader's agreements,
feedback data (data balikan) upload, semester reports, and the usage report. Each calls
`simpul.obligations` exactly as its API and CLI do (checked, audited)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from simpul import kernel
from simpul.access.schemas import Role
from simpul.agreements import service as agreements
from simpul.agreements.schemas import Mechanism
from simpul.errors import InvalidInput, SimpulError
from simpul.kernel import Known, Origin
from simpul.kit.ids import new_id
from simpul.obligations import feedback_ops, reports
from simpul.obligations import service as obligations
from simpul.obligations.deadlines import Status
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
from simpul.runtime import Runtime
from simpul.services.api import node_of

router = APIRouter(include_in_schema=False)
MAX_FEEDBACK_BYTES = 50 * 1024 * 1024
SUBMITTERS = (Role.OPERATOR, Role.DATA_USER, Role.RECIPIENT_ADMIN, Role.HUB_ADMIN)
# Feedback data: sent by the obligor's recipient-side accounts, received by the provider
# administrator it is owed to (simpul.obligations.feedback_ops decides both).
FEEDBACK_SENDERS = feedback_ops.SENDERS
# Dated duties an administrator records as done here; the others have their own forms
# (feedback upload, semester report, evaluation) or are events (force majeure, address).
RECORDABLE = frozenset({"implementasi_teknis", "pemberitahuan_perpanjangan", "berita_acara"})
ADMINS = (Role.HUB_ADMIN, Role.PROVIDER_ADMIN, Role.RECIPIENT_ADMIN)


def _visible(session: Session, user: User, rt: Runtime) -> list[str]:
    """The agreements whose duties the user sees (obligations.service.visible_agreements)."""
    return obligations.visible_agreements(session, user.principal, rt.clock.now(), rt.settings)


def can_record(user: User, deadline: Any) -> bool:
    return (
        deadline.is_open
        and deadline.kind in RECORDABLE
        and user.role in ADMINS
        and (user.role is Role.HUB_ADMIN or user.principal.institution in deadline.obligors)
    )


def _owed(session: Session, user: User, ids: list[str], kind: str, at: datetime) -> list[str]:
    """Agreements in which the user's institution owes a duty of `kind`."""
    senders = FEEDBACK_SENDERS if kind == "data_balikan" else SUBMITTERS
    if user.role not in senders:
        return []
    out = []
    for agreement_id in ids:
        if user.role in (Role.OPERATOR, Role.DATA_USER) and agreement_id not in (
            user.principal.agreement_ids
        ):
            continue
        doc = agreements.document_of(agreements.version_in_force(session, agreement_id, at))
        if any(d.kind == kind and user.principal.institution in d.by for d in doc.duties):
            out.append(agreement_id)
    return out


def _duty_ids(
    session: Session,
    user: User,
    ids: list[str],
    at: datetime,
    kind: str,
    match: Callable[[Any, str], bool],
) -> list[str]:
    """Provider side: agreements where the user's institution evaluates, or receives the
    feedback data (hub administrators act for any party)."""
    if user.role not in (Role.PROVIDER_ADMIN, Role.HUB_ADMIN):
        return []
    out = []
    for agreement_id in ids:
        doc = agreements.document_of(agreements.version_in_force(session, agreement_id, at))
        if any(
            d.kind == kind and (user.role is Role.HUB_ADMIN or match(d, user.principal.institution))
            for d in doc.duties
        ):
            out.append(agreement_id)
    return out


def _receives(session: Session, user: User, ids: list[str], at: datetime) -> list[str]:
    """Agreements whose feedback data is owed to the user's institution, for its provider
    administrator only (the hub administrator governs, it does not receive personal data)."""
    if user.role not in feedback_ops.DOWNLOADERS:
        return []
    out = []
    for agreement_id in ids:
        doc = agreements.document_of(agreements.version_in_force(session, agreement_id, at))
        if any(d.kind == "data_balikan" and d.to == user.principal.institution for d in doc.duties):
            out.append(agreement_id)
    return out


@dataclass(frozen=True)
class Filters:
    """The duties page's filters (query string): whose duties, which status, which agreement.
    By default a user sees the open duties its own institution owes; the hub administrator,
    who owes none, sees every party's."""

    whose: str  # "saya" | "semua"
    status: str  # "terbuka" | "semua" | a Status value
    agreement: str  # "" or an agreement id the user sees

    @classmethod
    def of(cls, request: Request, user: User, ids: list[str]) -> Filters:
        q = request.query_params
        whose = q.get("pihak") or ("semua" if user.role is Role.HUB_ADMIN else "saya")
        status = q.get("status") or ("semua" if q.get("semua") == "1" else "terbuka")
        if status not in STATUS_CHOICES:
            status = "terbuka"
        agreement = q.get("perjanjian", "")
        return cls(whose if whose in ("saya", "semua") else "saya", status,
                   agreement if agreement in ids else "")  # fmt: skip

    def apply(self, found: list[Any]) -> list[Any]:
        if self.status in ("terbuka", "semua"):
            return found
        return [d for d in found if d.status.value == self.status]


STATUS_CHOICES = ("terbuka", "semua", *(s.value for s in Status))


def _page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    rt = portal_of(request).runtime
    with rt.transaction() as session:
        ids = _visible(session, user, rt)
        chosen = Filters.of(request, user, ids)
        every = obligations.deadlines(
            session, rt.settings, rt.clock, agreement_ids=[chosen.agreement] if chosen.agreement
            else ids, open_only=chosen.status == "terbuka",
            institution=user.principal.institution if chosen.whose == "saya" else None,
        )  # fmt: skip
        found = chosen.apply(every)
        now = rt.clock.now()
        names = {a: agreements.summary(session, a, now) for a in ids}
        feedback_ids = _owed(session, user, ids, "data_balikan", now)
        report_ids = _owed(session, user, ids, "laporan_semester", now)
        evaluate_ids = _duty_ids(session, user, ids, now, "evaluasi", lambda d, own: own in d.by)
        receive_ids = _receives(session, user, ids, now)
    counts = {
        "open": sum(1 for d in every if d.is_open),
        "late": sum(1 for d in every if d.status is Status.TERLAMBAT),
        "done": sum(1 for d in every if not d.is_open),
    }
    ctx: dict[str, Any] = {
        "deadlines": found,
        "filters": chosen,
        "status_choices": STATUS_CHOICES,
        "agreement_ids": ids,
        "names": names,
        "counts": counts,
        "show_all": chosen.status != "terbuka",
        "feedback_ids": feedback_ids,
        "report_ids": report_ids,
        "year": rt.clock.today().year,
        "semester": 1 if rt.clock.today().month <= 6 else 2,
        "upload": None,
        "recordable": {d.key() for d in found if can_record(user, d)},
        "evaluate_ids": evaluate_ids,
        "receive_ids": receive_ids,
        "recommendations": reports.RECOMMENDATIONS,
    }
    ctx.update(extra or {})
    return render(request, "kewajiban.html", ctx, status=status)


@router.get("/portal/kewajiban")
def duties(request: Request) -> HTMLResponse:
    user = need(request, "kewajiban")
    return _page(request, user)


@router.post("/portal/kewajiban/data-balikan")
async def feedback_upload(request: Request) -> Response:
    form = await request.form(max_files=1, max_fields=10)
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    upload = form.get("berkas")
    content = b""
    name = "unggahan.csv"
    if isinstance(upload, UploadFile) and upload.filename:
        name = upload.filename[:300]
        content = await upload.read(MAX_FEEDBACK_BYTES + 1)
    return await run_in_threadpool(_feedback, request, fields, content, name)


def _feedback(request: Request, form: dict[str, str], content: bytes, name: str) -> Response:
    user = need(request, "kewajiban")
    check_csrf(user, form)
    agreement_id = form.get("perjanjian", "")
    try:
        if len(content) > MAX_FEEDBACK_BYTES:
            raise InvalidInput("berkas_terlalu_besar", "Berkas lebih dari 50 MB.", status=413)
        result = _kernel(request, user, feedback_ops.UPLOAD, feedback_ops.upload, agreement_id,
                         content, filename=name)  # fmt: skip
    except SimpulError as exc:
        return _page(request, user, {"error": error_message(lang_of(request), exc)}, exc.status)
    return _page(request, user, {"upload": result})


def _kernel(request: Request, user: User, action: str, op: Any, *args: Any, **kw: Any) -> Any:
    """One feedback operation through the kernel as the signed-in user (decided, recorded
    with the people the file carries, durable before the page answers)."""
    origin = Origin(Mechanism.WEB_PORTAL, action=action, source_ip=client_ip(request),
                    peer_ip=peer_ip(request),
                    request_id=new_id("portal-"))  # fmt: skip
    return kernel.run(node_of(request.app.state), Known(user.principal), origin, op, *args, **kw)


@router.post("/portal/kewajiban/laporan-semester")
async def semester_report(request: Request) -> Response:
    form = {k: v for k, v in (await request.form()).multi_items() if isinstance(v, str)}
    return await run_in_threadpool(_report, request, form)


def _report(request: Request, form: dict[str, str]) -> Response:
    user = need(request, "kewajiban")
    check_csrf(user, form)
    rt = portal_of(request).runtime
    try:
        year, semester = int(form.get("tahun", "0")), int(form.get("semester", "0"))
        if not (2000 <= year <= 2100 and semester in (1, 2)):
            raise InvalidInput("periode_tidak_valid", "Tahun atau semester tidak valid.")
        with rt.transaction() as session:
            ids = _visible(session, user, rt)
            agreement_id = form.get("perjanjian", "")
            if agreement_id not in ids or user.role not in SUBMITTERS:
                raise SimpulError("perjanjian_di_luar_akun", "Perjanjian di luar akun.", status=403)
            reports.submit_semester_report(
                session,
                rt.settings,
                rt.clock,
                agreement_id,
                year,
                semester,
                narrative=form.get("uraian", ""),
                actor=user.principal.username,
                institution=user.principal.institution,
            )
    except ValueError:
        return _page(request, user, {"error": "Tahun atau semester tidak valid."}, 422)
    except SimpulError as exc:
        return _page(request, user, {"error": error_message(lang_of(request), exc)}, exc.status)
    return redirect("/portal/kewajiban?semua=1", "duty.report_ok")


@router.get("/portal/perjanjian/{agreement_id}/laporan-penggunaan")
def usage_report(request: Request, agreement_id: str) -> Response:
    """The usage report of one semester (HTML with charts, or PDF)."""
    user = need(request, "perjanjian_detail")
    rt = portal_of(request).runtime
    q = request.query_params
    today = rt.clock.today()
    try:
        year = int(q.get("tahun", str(today.year)))
        semester = int(q.get("semester", "1" if today.month <= 6 else "2"))
        if not (2000 <= year <= 2100 and semester in (1, 2)):
            raise ValueError
    except ValueError:
        return render(
            request,
            "pesan.html",
            {"title_key": "error.title", "body": "Tahun atau semester tidak valid."},
            status=422,
        )
    with rt.transaction() as session:
        if agreement_id not in _visible(session, user, rt):
            return render(
                request,
                "pesan.html",
                {"title_key": "notfound.title", "body_key": "notfound.title"},
                status=404,
            )
        usage = reports.usage(session, rt.settings, rt.clock, agreement_id, year, semester)
        lang = lang_of(request)
        html = reports.usage_html(usage, lambda family, code: i18n.label(lang, family, code))
    if q.get("format") == "pdf":
        return Response(
            reports.pdf(html),
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="laporan-penggunaan-'
                f'{agreement_id}-{year}-s{semester}.pdf"',
                "Cache-Control": "no-store",
            },
        )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.post("/portal/kewajiban/evaluasi")
async def evaluation(request: Request) -> Response:
    form = {k: v for k, v in (await request.form()).multi_items() if isinstance(v, str)}
    return await run_in_threadpool(_evaluation, request, form)


def _evaluation(request: Request, form: dict[str, str]) -> Response:
    user = need(request, "kewajiban")
    check_csrf(user, form)
    rt = portal_of(request).runtime
    agreement_id = form.get("perjanjian", "")
    try:
        with rt.transaction() as session:
            allowed = _duty_ids(
                session,
                user,
                _visible(session, user, rt),
                rt.clock.now(),
                "evaluasi",
                lambda d, own: own in d.by,
            )
            if agreement_id not in allowed:
                raise SimpulError(
                    "bukan_pihak_wajib",
                    "Instansi Anda tidak mengevaluasi perjanjian ini.",
                    status=403,
                )
            reports.record_evaluation(
                session,
                rt.settings,
                rt.clock,
                agreement_id,
                period=form.get("periode", ""),
                findings=form.get("temuan", "").splitlines(),
                recommendation=form.get("rekomendasi", ""),
                evaluator=user.principal.username,
            )
    except SimpulError as exc:
        return _page(request, user, {"error": error_message(lang_of(request), exc)}, exc.status)
    return redirect("/portal/kewajiban?semua=1", "duty.evaluation_ok")


@router.get("/portal/kewajiban/{agreement_id}/data-balikan.csv")
def feedback_download(request: Request, agreement_id: str) -> Response:
    """The feedback data received, for the provider administrator it is owed to; recorded
    with the NIKs in the file, first line its source (PKS 000 Pasal 7(2))."""
    user = need(request, "kewajiban")
    try:
        found = _kernel(request, user, feedback_ops.DOWNLOAD, feedback_ops.download, agreement_id)
    except SimpulError as exc:
        return render(
            request,
            "pesan.html",
            {"title_key": "error.title", "body": error_message(lang_of(request), exc)},
            status=exc.status,
        )
    return Response(
        found.text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="data-balikan-{agreement_id}.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/portal/kewajiban/dipenuhi")
async def fulfilment(request: Request) -> Response:
    form = {k: v for k, v in (await request.form()).multi_items() if isinstance(v, str)}
    return await run_in_threadpool(_fulfilment, request, form)


def _fulfilment(request: Request, form: dict[str, str]) -> Response:
    """Record a dated duty as done (obligations.service.record_fulfilment, audited)."""
    user = need(request, "kewajiban")
    check_csrf(user, form)
    rt = portal_of(request).runtime
    agreement_id, duty_id, period = (
        form.get(k, "") for k in ("perjanjian", "kewajiban", "periode")
    )
    try:
        with rt.transaction() as session:
            ids = _visible(session, user, rt)
            found = obligations.deadlines(
                session, rt.settings, rt.clock, agreement_ids=[a for a in ids if a == agreement_id]
            )
            target = next((d for d in found if d.duty_id == duty_id and d.period == period), None)
            if target is None or not can_record(user, target):
                raise SimpulError(
                    "bukan_pihak_wajib",
                    "Kewajiban ini tidak dapat Anda catat sebagai dipenuhi.",
                    status=403,
                )
            obligations.record_fulfilment(
                session,
                rt.settings,
                rt.clock,
                agreement_id,
                duty_id,
                period=period,
                note=form.get("keterangan", ""),
                actor=user.principal.username,
            )
    except SimpulError as exc:
        return _page(request, user, {"error": error_message(lang_of(request), exc)}, exc.status)
    return redirect("/portal/kewajiban?status=semua", "duty.fulfilled_ok")
