"""Shared by the portal's HTTP and browser tests: a small demo-like world and sign-in."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

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
    for prefix in ("/portal/perjanjian", "/portal/pemadanan", "/portal/regsosek"):
        if path.startswith(prefix + "/"):
            return role in PAGES[prefix]
    return False


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str) -> Any:
    page = client.get("/portal/masuk")
    return client.post(
        "/portal/masuk",
        data={"username": username, "password": password, "csrf": csrf_of(page.text)},
    )


def text_of(html: str) -> str:
    """Visible text, roughly: tags dropped, whitespace collapsed."""
    import html as htmllib

    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


Say = Callable[[str], None]
