"""The portal's frame: templates, the signed-in user, role guards, CSRF, and `install`,
which mounts every portal router and the static files on the app."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from simpul.access import service as access
from simpul.access.auth import session_principal  # the same checks as every API call
from simpul.access.schemas import Principal, Role
from simpul.errors import SimpulError
from simpul.kit.masking import mask_nik
from simpul.kit.proxies import PEER
from simpul.kit.timezones import WIB, Zone
from simpul.portal import i18n, offer, sessions
from simpul.portal.models import PortalSession
from simpul.portal.nav import PAGES, nav_for
from simpul.portal.settings import PortalSettings, load_portal_settings
from simpul.runtime import Runtime

HERE = Path(__file__).parent


@dataclass
class Portal:
    runtime: Runtime
    cfg: PortalSettings
    env: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = _when
        self.env.filters["stamp"] = _stamp
        self.env.filters["mask_nik"] = mask_nik
        self.env.filters["num"] = _num
        self.env.filters["pct"] = _pct
        self.env.filters["label"] = _label
        self.env.filters["institution"] = _institution


def _lang(ctx: Context) -> str:
    lang = ctx.get("lang")
    return lang if isinstance(lang, str) and lang in i18n.LANGS else i18n.DEFAULT_LANG


def _zone(ctx: Context) -> Zone:
    zone = ctx.get("zone")
    return zone if isinstance(zone, Zone) else WIB


@pass_context
def _num(ctx: Context, value: object, digits: int | None = None) -> str:
    """A number as the reader's language writes it (Babel): 20.852 in Indonesian."""
    return i18n.number(_lang(ctx), value, digits)


@pass_context
def _pct(ctx: Context, value: float | None, digits: int = 1) -> str:
    return i18n.percent(_lang(ctx), value, digits)


@pass_context
def _when(ctx: Context, value: object) -> str | Markup:
    """A date; an instant in the reader's institution's zone, the zone named (WIB …), in
    a span that never wraps. Anything else as it is (escaped)."""
    if isinstance(value, date):
        text = i18n.when(_lang(ctx), value, _zone(ctx))
        return Markup('<span class="date">{}</span>').format(text)
    return i18n.when(_lang(ctx), value, _zone(ctx))


@pass_context
def _stamp(ctx: Context, value: datetime | None) -> str | Markup:
    if value is None:
        return "—"
    text = i18n.stamp(_lang(ctx), value, _zone(ctx))
    return Markup('<span class="date">{}</span>').format(text)


@pass_context
def _institution(ctx: Context, code: str | None) -> str:
    """An institution's name for its code (the page's `institutions`), else the code."""
    names = ctx.get("inst_names")
    if not code:
        return "—"
    return str(names.get(code, code)) if isinstance(names, dict) else code


@pass_context
def _label(ctx: Context, code: object, family: str) -> str:
    """`{{ grant.service|label("svc.name") }}`: the catalogue's word for a code."""
    return i18n.label(_lang(ctx), family, code)


@dataclass(frozen=True)
class User:
    principal: Principal
    row: PortalSession
    full_name: str | None
    # Nav pages the user's role has but its agreements give it nothing to do on (offer.py).
    idle: frozenset[str] = frozenset()
    zone: Zone = WIB  # the institution's time zone: times on its pages are shown in it
    institution_name: str | None = None

    @property
    def role(self) -> Role:
        return self.principal.role

    @property
    def csrf(self) -> str:
        return self.row.csrf_token

    @property
    def actor(self) -> str:
        return f"portal:{self.principal.username}"


class LoginRequired(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class Forbidden(Exception):
    pass


class CsrfFailed(Exception):
    pass


def portal_of(request: Request) -> Portal:
    p = request.app.state.portal
    assert isinstance(p, Portal)
    return p


def lang_of(request: Request) -> str:
    lang = request.cookies.get(sessions.LANG_COOKIE, i18n.DEFAULT_LANG)
    return lang if lang in i18n.LANGS else i18n.DEFAULT_LANG


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def peer_ip(request: Request) -> str | None:
    """The trusted proxy that forwarded this request, if any (simpul.kit.proxies)."""
    peer = request.scope.get(PEER)
    return peer if isinstance(peer, str) else None


def need(request: Request, page_key: str) -> User:
    """The signed-in user, allowed on this page; else a redirect to sign-in, or 403.

    The session and the account are read in a read-only transaction (on SQLite it does not
    queue for the write lock); a write follows only when the session expired, the account
    was revoked, or last-seen is due (every `touch_seconds`). A session still waiting for
    its second factor opens no page (simpul.portal.second_factor)."""
    user = _signed_in(request, pending=None)
    if user.role not in PAGES[page_key].roles:
        raise Forbidden()
    request.state.user = user
    request.state.page_key = page_key
    return user


def need_pending(request: Request, state: str) -> User:
    """The account of a session that passed its password and waits for `state` (a code,
    or enrolment); else a redirect to sign-in."""
    return _signed_in(request, pending=state)


def _signed_in(request: Request, *, pending: str | None) -> User:
    p = portal_of(request)
    rt = p.runtime
    now = rt.clock.now()
    token = request.cookies.get(sessions.SESSION_COOKIE)
    idle: frozenset[str] = frozenset()
    zone = WIB
    inst_name: str | None = None
    with rt.read_transaction() as session:
        row = sessions.lookup(session, token)
        verdict = sessions.verdict(row, now, p.cfg)
        found: tuple[Principal, str | None] | None = None
        if row is not None and verdict in ("ok", "touch"):
            with contextlib.suppress(SimpulError):  # revoked: found stays None
                found = session_principal(session, row.account_id)
            if found is None:
                verdict = "dicabut"  # revoked, or the account row is gone
            elif pending is None:
                idle = offer.unoffered(session, found[0], now, client_ip(request))
                zone = access.institution_zone(session, found[0].institution)
                inst_name = access.institution_name(session, found[0].institution)
    principal, full_name = found if found is not None else (None, None)
    if row is not None and verdict in ("kedaluwarsa", "dicabut", "touch"):
        with rt.transaction() as session:
            sessions.settle(session, row.id_hash, now, end=verdict != "touch")
    if principal is None or row is None:
        reason = {"kedaluwarsa": "session.expired", "dicabut": "session.revoked"}
        raise LoginRequired(reason.get(verdict, "session.required"))
    if row.pending != pending:
        raise LoginRequired("session.required")
    return User(principal, row, full_name, idle, zone, inst_name)


def check_csrf(user: User, form: Mapping[str, Any]) -> None:
    if not sessions.csrf_ok(user.csrf, _text(form.get("csrf"))):
        raise CsrfFailed()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


async def form_of(request: Request) -> dict[str, str]:
    """The posted form as text fields (files are not accepted here)."""
    form = await request.form()
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


def form_list(request_form: Any, name: str) -> list[str]:
    return [v for v in request_form.getlist(name) if isinstance(v, str)]


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    user: User | None = None,
) -> HTMLResponse:
    """Render `template` with the documented frame context (see docs/portal.md)."""
    p = portal_of(request)
    lang = lang_of(request)
    user = user or getattr(request.state, "user", None)
    ctx: dict[str, Any] = {
        "request": request,
        "t": i18n.translator(lang),
        "lang": lang,
        "other_lang": "en" if lang == "id" else "id",
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "user": user,
        "nav": [p for p in nav_for(user.role) if p.key not in user.idle] if user else [],
        "zone": user.zone if user else WIB,
        # A service page opened although no grant of the user's agreements serves it.
        "not_granted": user is not None and getattr(request.state, "page_key", None) in user.idle,
        "csrf": user.csrf if user else None,
        "ok": None,
        "error": None,
    }
    page_key = getattr(request.state, "page_key", None)
    if user is not None:
        rt = p.runtime
        with rt.read_transaction() as session:
            if page_key and PAGES[page_key].needs and "basis" not in ctx:
                ctx["basis"] = offer.basis(session, user.principal, page_key, rt.clock.now())
            if "inst_names" not in ctx:
                ctx["inst_names"] = {i.code: i.name for i in access.list_institutions(session)}
    ok_key = request.query_params.get("ok")
    if ok_key and i18n.has(ok_key) and ok_key.endswith("_ok"):
        ctx["ok"] = i18n.translate(lang, ok_key)
    ctx.update(context or {})
    html = p.env.get_template(template).render(ctx)
    resp = HTMLResponse(html, status_code=status)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return resp


def error_message(lang: str, exc: SimpulError) -> str:
    """An Indonesian (or English) sentence for a refusal or an error: the catalogue's text
    for known reason codes, else the service's own Indonesian detail."""
    key = f"reason.{exc.code}"
    return i18n.translate(lang, key) if i18n.has(key) else exc.detail


def redirect(path: str, ok: str | None = None) -> RedirectResponse:
    joiner = "&" if "?" in path else "?"
    target = path + (f"{joiner}ok={quote(ok)}" if ok else "")
    return RedirectResponse(target, status_code=303)


def cookie_secure(request: Request, cfg: PortalSettings) -> bool:
    if cfg.cookie_secure == "always":
        return True
    if cfg.cookie_secure == "never":
        return False
    return request.url.scheme == "https"


def safe_next(value: str | None) -> str:
    """Only same-site portal paths: no open redirect."""
    if value and value.startswith("/portal/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/portal/beranda"


def install(app: FastAPI, runtime: Runtime, cfg: PortalSettings | None = None) -> None:
    """Mount the portal on `app`: routers, static files, the frame's error pages."""
    from simpul.portal import (
        pages_admin,
        pages_audit,
        pages_auth,
        pages_obligations,
        pages_pemadanan,
        pages_regsosek,
        pages_second_factor,
        pages_services,
    )

    app.state.portal = Portal(runtime, cfg or load_portal_settings(runtime.settings))
    app.mount("/portal/static", StaticFiles(directory=HERE / "static"), name="portal-static")
    for module in (
        pages_auth,
        pages_second_factor,
        pages_services,
        pages_pemadanan,
        pages_regsosek,
        pages_obligations,
        pages_admin,
        pages_audit,
    ):
        app.include_router(module.router)

    def _login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        nxt = quote(request.url.path) if request.method == "GET" else ""
        resp = RedirectResponse(
            f"/portal/masuk?pesan={exc.reason}" + (f"&next={nxt}" if nxt else ""), 303
        )
        resp.delete_cookie(sessions.SESSION_COOKIE, path="/portal")
        return resp

    def _forbidden(request: Request, exc: Exception) -> Response:
        return render(
            request,
            "pesan.html",
            {"title_key": "forbidden.title", "body_key": "forbidden.body"},
            status=403,
        )

    def _csrf(request: Request, exc: Exception) -> Response:
        return render(
            request,
            "pesan.html",
            {"title_key": "error.title", "body_key": "csrf.failed"},
            status=403,
        )

    handlers: dict[type[Exception], Callable[[Request, Exception], Response]] = {
        LoginRequired: _login,
        Forbidden: _forbidden,
        CsrfFailed: _csrf,
    }
    for exc_type, handler in handlers.items():
        app.add_exception_handler(exc_type, handler)
