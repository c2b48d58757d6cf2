"""Sign-in, sign-out, language, and the entry redirect."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from simpul.access.auth import authenticate_password
from simpul.access.schemas import AccountKind
from simpul.errors import SimpulError
from simpul.kernel.principals import audit_throttles
from simpul.portal import i18n, second_factor, sessions
from simpul.portal.web import (
    LoginRequired,
    client_ip,
    cookie_secure,
    form_of,
    lang_of,
    need,
    portal_of,
    render,
    safe_next,
)
from simpul.registry import service as registry_service

router = APIRouter(include_in_schema=False)
PRE_MAX_AGE = 2 * 3600


@router.get("/portal")
@router.get("/portal/")
def portal_root(request: Request) -> Response:
    try:
        need(request, "beranda")
    except LoginRequired:
        return RedirectResponse("/portal/masuk", 303)
    return RedirectResponse("/portal/beranda", 303)


def _login_page(
    request: Request, *, error: str | None = None, status: int = 200, username: str = ""
) -> HTMLResponse:
    p = portal_of(request)
    secret = p.runtime.settings.require_secret("secret_key")
    pre = request.cookies.get(sessions.PRE_COOKIE) or sessions.new_pre_cookie()
    lang = lang_of(request)
    notice_key = request.query_params.get("pesan")
    notice = i18n.translate(lang, notice_key) if notice_key and i18n.has(notice_key) else None
    with p.runtime.transaction() as session:
        registries = registry_service.stats(session, p.runtime.settings)
    resp = render(
        request,
        "masuk.html",
        {
            "login_csrf": sessions.pre_token(secret, pre),
            "next": safe_next(request.query_params.get("next")),
            "notice": notice if notice_key and notice_key.startswith("session.") else None,
            "error": error,
            "username": username,
            "registries": registries,
        },
        status=status,
        user=None,
    )
    resp.set_cookie(
        sessions.PRE_COOKIE,
        pre,
        max_age=PRE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, p.cfg),
        path="/portal",
    )
    return resp


@router.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it on every page that names none (e.g. a printable report)."""
    icon = Path(__file__).parent / "static" / "favicon.svg"
    return Response(icon.read_bytes(), media_type="image/svg+xml",
                    headers={"Cache-Control": "max-age=86400"})  # fmt: skip


@router.get("/portal/masuk")
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/portal/masuk")
async def login(request: Request) -> Response:
    form = await form_of(request)
    return await run_in_threadpool(_login, request, form)


def _login(request: Request, form: dict[str, str]) -> Response:
    p = portal_of(request)
    lang = lang_of(request)
    secret = p.runtime.settings.require_secret("secret_key")
    pre = request.cookies.get(sessions.PRE_COOKIE)
    if not pre or not sessions.csrf_ok(sessions.pre_token(secret, pre), form.get("csrf")):
        return _login_page(request, error=i18n.translate(lang, "csrf.failed"), status=403)
    username = form.get("username", "").strip()
    password = form.get("password", "")
    rt = p.runtime
    session = rt.sessions()
    try:
        principal = authenticate_password(
            session, username, password, clock=rt.clock, source=client_ip(request),
            on_throttled=audit_throttles(session, rt),
        )  # fmt: skip
    except SimpulError as exc:
        session.commit()  # the failure count (and a throttle's record) is what engages it
        session.close()
        # Worded the same for an unknown name, a wrong password and a throttled source.
        if exc.status == 429:
            page = _login_page(request, error=exc.detail, status=429, username=username[:64])
            page.headers["Retry-After"] = str(exc.extra.get("coba_lagi_detik", 60))
            return page
        message = i18n.translate(lang, "login.failed")
        return _login_page(request, error=message, status=401, username=username[:64])
    try:
        if principal.kind is not AccountKind.USER:
            session.rollback()
            return _login_page(
                request,
                error=i18n.translate(lang, "login.client"),
                status=403,
                username=username[:64],
            )
        due = second_factor.due(session, principal, rt.clock.now(), p.cfg)
        started = sessions.start(
            session, principal.account_id, rt.clock.now(), p.cfg, client_ip(request),
            pending=due,
        )  # fmt: skip
        session.commit()
    finally:
        session.close()
    target = safe_next(form.get("next"))
    if due is not None:  # the password alone opens nothing: the code (or enrolment) next
        step = "kode" if due == second_factor.CODE_DUE else "daftar-kode"
        target = f"/portal/masuk/{step}?next={quote(target)}"
    resp = RedirectResponse(target, 303)
    resp.set_cookie(
        sessions.SESSION_COOKIE,
        started.token,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, p.cfg),
        path="/portal",
    )
    resp.delete_cookie(sessions.PRE_COOKIE, path="/portal")
    return resp


@router.post("/portal/keluar")
async def logout(request: Request) -> Response:
    form = await form_of(request)
    return await run_in_threadpool(_logout, request, form)


def _logout(request: Request, form: dict[str, str]) -> Response:
    from simpul.portal.web import check_csrf

    user = need(request, "beranda")
    check_csrf(user, form)
    p = portal_of(request)
    with p.runtime.transaction() as session:
        sessions.end(session, request.cookies.get(sessions.SESSION_COOKIE), p.runtime.clock.now())
    resp = RedirectResponse("/portal/masuk?pesan=session.ended", 303)
    resp.delete_cookie(sessions.SESSION_COOKIE, path="/portal")
    return resp


@router.get("/portal/bahasa/{lang}")
def set_language(request: Request, lang: str) -> Response:
    """A display preference only (no data changes), so a plain link switches it."""
    chosen = lang if lang in i18n.LANGS else i18n.DEFAULT_LANG
    resp = RedirectResponse(safe_next(request.query_params.get("next")), 303)
    resp.set_cookie(
        sessions.LANG_COOKIE,
        chosen,
        max_age=365 * 86400,
        samesite="lax",
        path="/portal",
        secure=cookie_secure(request, portal_of(request).cfg),
    )
    return resp
