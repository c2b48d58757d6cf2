"""Server-side portal sessions with per-session CSRF tokens.

The browser holds only a random token (cookie `simpul_sesi`, HttpOnly, SameSite=Lax, Secure
over https); the database holds its sha256, the account, the CSRF token and the times that
bound it: an idle limit (since the last request) and an absolute limit (since sign-in).
Logout, expiry, and revoking the account end the session on its next request.

Before sign-in the login form is protected by a double-submit token: a random cookie
(`simpul_pra`) whose HMAC under the instance secret is the form's hidden field.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from simpul.portal.models import PortalSession
from simpul.portal.repository import SessionRepository
from simpul.portal.settings import PortalSettings

SESSION_COOKIE = "simpul_sesi"
PRE_COOKIE = "simpul_pra"
LANG_COOKIE = "simpul_bahasa"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Started:
    token: str  # for the cookie; never stored
    row: PortalSession


def start(
    session: Session,
    account_id: str,
    now: datetime,
    cfg: PortalSettings,
    source_ip: str | None,
    *,
    pending: str | None = None,
) -> Started:
    """A fresh session (a new token at every sign-in, and again once the second factor is
    given: no fixation). A `pending` session ("kode", "daftar") opens only the second-factor
    pages and lapses after `cfg.pending`."""
    token = secrets.token_urlsafe(32)
    row = PortalSession(
        id_hash=_digest(token),
        account_id=account_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + (cfg.pending if pending else cfg.absolute),
        source_ip=(source_ip or "")[:64] or None,
        pending=pending,
    )
    SessionRepository(session).add(row)
    return Started(token, row)


Verdict = str  # "ok", "touch" (ok, last-seen to be written), or why there is no session


def lookup(session: Session, token: str | None) -> PortalSession | None:
    if not token or len(token) > 200:
        return None
    return SessionRepository(session).get(_digest(token))


def verdict(row: PortalSession | None, now: datetime, cfg: PortalSettings) -> Verdict:
    """ "ok" / "touch" for a live session; else "tidak_ada", "berakhir" or "kedaluwarsa"."""
    if row is None:
        return "tidak_ada"
    if row.ended_at is not None:
        return "berakhir"
    if now >= row.expires_at or now - row.last_seen_at >= cfg.idle:
        return "kedaluwarsa"
    return "touch" if (now - row.last_seen_at).total_seconds() >= cfg.touch_seconds else "ok"


def settle(session: Session, id_hash: str, now: datetime, *, end: bool) -> None:
    """Write what a request learnt: the session expired (end) or is still in use (touch)."""
    row = SessionRepository(session).get(id_hash)
    if row is None or row.ended_at is not None:
        return
    if end:
        row.ended_at = now
    else:
        row.last_seen_at = max(row.last_seen_at, now)


def end(session: Session, token: str | None, now: datetime) -> None:
    if not token or len(token) > 200:
        return
    row = SessionRepository(session).get(_digest(token))
    if row is not None and row.ended_at is None:
        row.ended_at = now


def end_row(session: Session, id_hash: str, now: datetime) -> None:
    """End the session whose token hashes to `id_hash` (a pending one, once its second
    factor is given and a new session replaces it)."""
    row = SessionRepository(session).get(id_hash)
    if row is not None and row.ended_at is None:
        row.ended_at = now


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def pre_token(secret: str, pre_cookie: str) -> str:
    """The login form's CSRF value for this browser's pre-session cookie."""
    mac = hmac.new(secret.encode(), b"portal-login:" + pre_cookie.encode(), hashlib.sha256)
    return mac.hexdigest()


def new_pre_cookie() -> str:
    return secrets.token_urlsafe(24)
