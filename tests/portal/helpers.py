"""Shared by the portal's HTTP and browser tests: a small demo-like world and sign-in."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from simpul.access import totp
from simpul.access.schemas import Role

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')

# One account per role (the demo's names); which portal pages each role may open. Written
# out here, independently of simpul.portal.nav, so that a wrong table there fails a test.
ROLE_ACCOUNTS = {
    Role.HUB_ADMIN: "hub.admin",
    Role.PROVIDER_ADMIN: "dukcapil.admin",
    Role.RECIPIENT_ADMIN: "bkn.admin-penerima",
    Role.OPERATOR: "bkn.operator",
    Role.DATA_USER: "kemenkop.pengguna",
    Role.AUDITOR: "dukcapil.auditor",
}
PAGES = {
    "/portal/": set(Role),  # the entry: to the dashboard
    "/portal/beranda": set(Role),
    "/portal/keamanan": set(Role),  # the user's own second factor
    "/portal/layanan/akses-nik": {Role.OPERATOR, Role.DATA_USER},
    "/portal/layanan/verifikasi": {Role.OPERATOR, Role.DATA_USER},
    "/portal/layanan/verifikasi-wajah": {Role.OPERATOR, Role.DATA_USER},
    "/portal/layanan/cek-status": {Role.OPERATOR, Role.DATA_USER},
    "/portal/pemadanan": {Role.OPERATOR, Role.DATA_USER},
    "/portal/kewajiban": set(Role),
    "/portal/regsosek": {Role.OPERATOR, Role.DATA_USER},
    # The provider's review of processing outputs is decided per agreement (a party
    # decision): Dukcapil's administrator provides no Regsosek, so it is refused and the
    # refusal recorded. Bappenas' administrator opens it (tests/disclosure, tests/kernel).
    "/portal/tinjauan-keluaran": set(),
    "/portal/perjanjian": {Role.HUB_ADMIN, Role.PROVIDER_ADMIN, Role.RECIPIENT_ADMIN, Role.AUDITOR},
    "/portal/perjanjian/pks-dukcapil-bkn": {
        Role.HUB_ADMIN,
        Role.PROVIDER_ADMIN,
        Role.RECIPIENT_ADMIN,
        Role.AUDITOR,
    },
    "/portal/akun": {Role.HUB_ADMIN, Role.PROVIDER_ADMIN, Role.RECIPIENT_ADMIN},
    "/portal/perangkat": {Role.HUB_ADMIN, Role.PROVIDER_ADMIN, Role.RECIPIENT_ADMIN},
    "/portal/audit": {Role.HUB_ADMIN, Role.PROVIDER_ADMIN, Role.AUDITOR},
    "/portal/audit/verifikasi": {Role.HUB_ADMIN, Role.PROVIDER_ADMIN, Role.AUDITOR},
    "/portal/audit/subjek": {Role.HUB_ADMIN, Role.PROVIDER_ADMIN, Role.AUDITOR},
}


def allowed(role: Role, path: str) -> bool:
    """May `role` open `path` (query string ignored)? Unknown portal paths: no."""
    path = path.split("?", 1)[0]
    if path in PAGES:
        return role in PAGES[path]
    for prefix in ("/portal/perjanjian", "/portal/pemadanan", "/portal/regsosek", "/portal/akun"):
        if path.startswith(prefix + "/"):
            return role in PAGES[prefix]
    return False


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def next_code(cred: dict[str, Any], now: datetime) -> str:
    """The second-factor code the user would type next at `now`, as a user with the demo's
    enrolment could: the TOTP code of the next step (the world is built at the same frozen
    instant, whose step its enrolment used, and a step is never accepted after a later one),
    then the recovery codes, one by one. Kept in `cred`, which is per test."""
    used: set[str] = cred.setdefault("_used_codes", set())
    step = int(now.timestamp() // totp.INTERVAL) + 1
    if f"totp:{step}" not in used:
        used.add(f"totp:{step}")
        return totp.current_code(cred["totp_secret"], step * totp.INTERVAL)
    for code in cred["recovery_codes"]:
        if code not in used:
            used.add(code)
            return str(code)
    raise AssertionError(f"{cred['username']}: every code of the demo enrolment is used")


def sign_in(
    client: TestClient,
    username: str,
    password: str,
    cred: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Any:
    """Password, then (when the portal asks) the second-factor code from `cred`."""
    page = client.get("/portal/masuk")
    resp = client.post(
        "/portal/masuk",
        data={"username": username, "password": password, "csrf": csrf_of(page.text)},
    )
    if resp.url.path != "/portal/masuk/kode":
        return resp
    assert cred is not None and now is not None, f"{username} needs a second-factor code"
    nxt = resp.url.params.get("next", "")
    return client.post(
        "/portal/masuk/kode",
        data={"kode": next_code(cred, now), "csrf": csrf_of(resp.text), "next": nxt},
    )


def text_of(html: str) -> str:
    """Visible text, roughly: tags dropped, whitespace collapsed."""
    import html as htmllib

    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


Say = Callable[[str], None]
