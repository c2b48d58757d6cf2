"""The second step of sign-in (a TOTP code or a recovery code), first enrolment, and the
user's own security page (enrol, new recovery codes). See simpul.portal.second_factor."""

from __future__ import annotations

import segno
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from simpul.access import totp
from simpul.errors import SimpulError
from simpul.governance import actions
from simpul.kernel.principals import second_factor as check_second_factor
from simpul.portal import i18n, sessions
from simpul.portal.second_factor import CODE_DUE, ENROL_DUE
from simpul.portal.web import (
    User,
    check_csrf,
    client_ip,
    cookie_secure,
    error_message,
    form_of,
    lang_of,
    need,
    need_pending,
    portal_of,
    render,
    safe_next,
)

router = APIRouter(include_in_schema=False)


def _qr(uri: str) -> str:
    """The otpauth URI as an inline SVG (no script, no request leaves the page)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _page(
    request: Request, user: User, mode: str, *, status: int = 200, **ctx: object
) -> HTMLResponse:
    """One template for every step; a pending session renders without the menu."""
    signed_in = user.row.pending is None
    return render(
        request,
        "faktor_kedua.html",
        {"mode": mode, "form_csrf": user.csrf, "next": safe_next(request.query_params.get("next")),
         "username": user.principal.username, **ctx},
        status=status,
        user=user if signed_in else None,
    )  # fmt: skip


def _open_session(request: Request, user: User, target: str | Response) -> Response:
    """End the pending session and start a full one with a new token (no fixation)."""
    p = portal_of(request)
    rt = p.runtime
    now = rt.clock.now()
    with rt.transaction() as session:
        sessions.end_row(session, user.row.id_hash, now)
        started = sessions.start(session, user.principal.account_id, now, p.cfg, client_ip(request))
    resp = RedirectResponse(target, 303) if isinstance(target, str) else target
    resp.set_cookie(
        sessions.SESSION_COOKIE, started.token, httponly=True, samesite="lax",
        secure=cookie_secure(request, p.cfg), path="/portal",
    )  # fmt: skip
    return resp


# -- sign-in: the code ---------------------------------------------------------------------


@router.get("/portal/masuk/kode")
def code_form(request: Request) -> HTMLResponse:
    return _page(request, need_pending(request, CODE_DUE), "kode")


@router.post("/portal/masuk/kode")
async def code_submit(request: Request) -> Response:
    form = await form_of(request)
    return await run_in_threadpool(_code_submit, request, form)


def _code_submit(request: Request, form: dict[str, str]) -> Response:
    user = need_pending(request, CODE_DUE)
    check_csrf(user, form)
    rt = portal_of(request).runtime
    session = rt.sessions()
    try:
        check_second_factor(session, rt, user.principal, form.get("kode", ""),
                            source=client_ip(request))  # fmt: skip
        session.commit()
    except SimpulError as exc:
        session.commit()  # the failure count (and a throttle's record) is what engages it
        page = _page(request, user, "kode", status=exc.status,
                     error=error_message(lang_of(request), exc))  # fmt: skip
        if exc.status == 429:
            page.headers["Retry-After"] = str(exc.extra.get("coba_lagi_detik", 60))
        return page
    finally:
        session.close()
    return _open_session(request, user, safe_next(form.get("next")))


# -- sign-in: first enrolment --------------------------------------------------------------


def _enrolment(request: Request, user: User) -> totp.Enrolment:
    """The enrolment waiting for its first code, begun now if there is none (a reload
    shows the same secret)."""
    rt = portal_of(request).runtime
    p = user.principal
    with rt.transaction() as session:
        found = totp.pending(session, rt.settings, p.account_id, p.username, p.institution)
        if found is not None:
            return found
        return totp.begin(session, rt.settings, p.account_id, p.username, p.institution,
                          clock=rt.clock)  # fmt: skip


def _enrol_page(request: Request, user: User, action: str, **ctx: object) -> HTMLResponse:
    enrolment = _enrolment(request, user)
    return _page(request, user, "daftar", qr=_qr(enrolment.uri), secret=_grouped(enrolment.secret),
                 action=action, **ctx)  # type: ignore[arg-type]  # fmt: skip


@router.get("/portal/masuk/daftar-kode")
def enrol_form(request: Request) -> HTMLResponse:
    user = need_pending(request, ENROL_DUE)
    return _enrol_page(request, user, "/portal/masuk/daftar-kode")


@router.post("/portal/masuk/daftar-kode")
async def enrol_submit(request: Request) -> Response:
    form = await form_of(request)
    return await run_in_threadpool(_enrol_submit, request, form, ENROL_DUE)


@router.post("/portal/keamanan/daftar")
async def enrol_own(request: Request) -> Response:
    form = await form_of(request)
    return await run_in_threadpool(_enrol_submit, request, form, None)


def _enrol_submit(request: Request, form: dict[str, str], pending: str | None) -> Response:
    user = need_pending(request, ENROL_DUE) if pending else need(request, "keamanan")
    check_csrf(user, form)
    rt = portal_of(request).runtime
    action = "/portal/masuk/daftar-kode" if pending else "/portal/keamanan/daftar"
    try:
        with rt.transaction() as session:
            codes = actions.confirm_second_factor(
                session, rt.settings, rt.clock, user.principal.username, form.get("kode", ""),
                actor=f"portal:{user.principal.username}",
            )  # fmt: skip
    except SimpulError as exc:
        return _enrol_page(request, user, action, status=exc.status,
                           error=error_message(lang_of(request), exc))  # fmt: skip
    nxt = safe_next(form.get("next"))
    page = _page(request, user, "kode_pemulihan", codes=codes, continue_to=nxt,
                 ok=i18n.translate(lang_of(request), "mfa.enrolled_ok"))  # fmt: skip
    return _open_session(request, user, page) if pending else page


# -- the user's own security page ----------------------------------------------------------


@router.get("/portal/keamanan")
def security(request: Request) -> HTMLResponse:
    user = need(request, "keamanan")
    rt = portal_of(request).runtime
    with rt.read_transaction() as session:
        state = totp.status(session, user.principal.account_id)
        left = totp.codes_left(session, user.principal.account_id)
    if state is totp.Status.TIDAK_ADA and request.query_params.get("daftar") != "1":
        return _page(request, user, "keamanan", state=state.value, left=left)
    if state is not totp.Status.AKTIF:
        return _enrol_page(request, user, "/portal/keamanan/daftar")
    return _page(request, user, "keamanan", state=state.value, left=left)


@router.post("/portal/keamanan/kode-pemulihan")
async def renew_codes(request: Request) -> Response:
    form = await form_of(request)
    return await run_in_threadpool(_renew_codes, request, form)


def _renew_codes(request: Request, form: dict[str, str]) -> Response:
    user = need(request, "keamanan")
    check_csrf(user, form)
    rt = portal_of(request).runtime
    try:
        with rt.transaction() as session:
            codes = actions.renew_recovery_codes(
                session, rt.settings, rt.clock, user.principal.username, form.get("kode", ""),
                actor=user.actor,
            )  # fmt: skip
    except SimpulError as exc:
        with rt.read_transaction() as session:
            left = totp.codes_left(session, user.principal.account_id)
        return _page(request, user, "keamanan", status=exc.status, state="aktif", left=left,
                     error=error_message(lang_of(request), exc))  # fmt: skip
    return _page(request, user, "kode_pemulihan", codes=codes, continue_to="/portal/keamanan",
                 ok=i18n.translate(lang_of(request), "mfa.renewed_ok"))  # fmt: skip
