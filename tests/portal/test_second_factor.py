"""The portal's second factor (TOTP, issue 17): required by role and by grant, enrolment
with recovery codes, one use per code, throttled guessing, an administrator's reset, and
every step audited — on SQLite and PostgreSQL (the `settings` fixture)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from simpul.access import totp
from simpul.access.models import SecondFactor
from simpul.audit.models import AuditRecord
from tests.portal.conftest import PortalEnv
from tests.portal.helpers import csrf_of, next_code, text_of

SECRET_RE = re.compile(r'id="rahasia-totp">([A-Z2-7 ]+)<')


def _records(env: PortalEnv, action: str) -> list[Any]:
    with env.rt.transaction() as s:
        stmt = select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.seq)
        return list(s.execute(stmt).scalars())


def _password(client: TestClient, username: str, password: str) -> Any:
    page = client.get("/portal/masuk")
    return client.post(
        "/portal/masuk",
        data={"username": username, "password": password, "csrf": csrf_of(page.text)},
    )


def _code(client: TestClient, page: str, code: str) -> Any:
    return client.post("/portal/masuk/kode", data={"kode": code, "csrf": csrf_of(page)})


def _new_account(env: PortalEnv, admin: str, **form: str) -> str:
    """An account made by `admin` through the portal; its generated password."""
    client = env.client(admin)
    page = client.get("/portal/akun")
    resp = client.post("/portal/akun", data={"csrf": csrf_of(page.text), **form})
    assert resp.status_code == 200, text_of(resp.text)
    return str(resp.text.split('id="rahasia">', 1)[1].split("<", 1)[0])


def _enrol(env: PortalEnv, client: TestClient, page: Any) -> tuple[str, list[str], Any]:
    """From the enrolment page: a wrong first code, then the right one. The secret, the
    recovery codes shown, and the page that shows them."""
    assert page.url.path == "/portal/masuk/daftar-kode"
    found = SECRET_RE.search(page.text)
    assert found, "the key for manual entry is on the page"
    secret = found.group(1).replace(" ", "")
    assert 'src="data:image/svg+xml' in page.text  # the QR code, inline
    wrong = client.post(
        "/portal/masuk/daftar-kode", data={"kode": "000000", "csrf": csrf_of(page.text)}
    )
    assert wrong.status_code == 401 and "salah" in text_of(wrong.text)
    assert SECRET_RE.search(wrong.text).group(1).replace(" ", "") == secret  # type: ignore[union-attr]
    code = totp.current_code(secret, env.clock.now().timestamp())
    done = client.post(
        "/portal/masuk/daftar-kode", data={"kode": code, "csrf": csrf_of(wrong.text)}
    )
    assert done.status_code == 200, text_of(done.text)
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", done.text)
    return secret, codes, done


def test_an_administrator_must_enrol_before_any_page_opens(portal_env: PortalEnv) -> None:
    env = portal_env
    password = _new_account(
        env,
        "hub.admin",
        username="bkn.admin2",
        role="provider_admin",
        institution="bkn",
        full_name="Admin Kedua",
    )
    client = env.client()
    resp = _password(client, "bkn.admin2", password)
    assert resp.url.path == "/portal/masuk/daftar-kode"
    # The password alone opens nothing, not even the dashboard; the session is void.
    assert client.get("/portal/beranda").url.path == "/portal/masuk"
    resp = _password(client, "bkn.admin2", password)
    secret, codes, done = _enrol(env, client, resp)
    assert len(codes) == totp.RECOVERY_CODES == len(set(codes))
    assert "tidak akan ditampilkan lagi" in text_of(done.text)
    assert client.get("/portal/beranda").url.path == "/portal/beranda"  # signed in now
    # Stored encrypted: the base32 secret is nowhere in the row.
    with env.rt.transaction() as s:
        row = s.scalars(select(SecondFactor)).all()
        mine = [r for r in row if r.confirmed_at is not None and secret not in r.secret_enc]
        assert len(mine) == len(row)
    made = _records(env, "akun.faktor_kedua_aktif")
    ours = [json.loads(r.detail) for r in made if r.actor == "portal:bkn.admin2"]
    assert ours == [{"akun": "bkn.admin2", "kode_pemulihan": 10}]
    assert all(secret not in r.detail and codes[0] not in r.detail for r in made)
    # The next sign-in asks for a code; a code already used is refused.
    env.clock.advance(timedelta(seconds=30))
    again = env.client()
    page = _password(again, "bkn.admin2", password)
    assert page.url.path == "/portal/masuk/kode"
    code = totp.current_code(secret, env.clock.now().timestamp())
    assert _code(again, page.text, code).url.path == "/portal/beranda"
    third = env.client()
    page = _password(third, "bkn.admin2", password)
    replay = _code(third, page.text, code)
    assert replay.status_code == 401 and "sudah dipakai" in text_of(replay.text)


def test_the_grant_decides_for_operators(portal_env: PortalEnv) -> None:
    """BKN's data user may look people up by NIK (PKS 003): its operators must have a second
    factor. Kemenkop's (PKS 004: ASN status and matching only) need not."""
    env = portal_env
    bkn = _new_account(
        env,
        "bkn.admin-penerima",
        username="bkn.operator2",
        role="operator",
        operator_of="bkn.pengguna",
    )
    kop = _new_account(
        env,
        "kemenkop.admin-penerima",
        username="kemenkop.operator2",
        role="operator",
        operator_of="kemenkop.pengguna",
    )
    assert _password(env.client(), "bkn.operator2", bkn).url.path == "/portal/masuk/daftar-kode"
    assert _password(env.client(), "kemenkop.operator2", kop).url.path == "/portal/beranda"


def test_recovery_codes_work_once_and_are_audited(portal_env: PortalEnv) -> None:
    env = portal_env
    cred = env.creds["dukcapil.admin"]
    code = cred["recovery_codes"][3]
    client = env.client()
    page = _password(client, "dukcapil.admin", cred["password"])
    assert _code(client, page.text, code.upper().replace("-", " ")).url.path == "/portal/beranda"
    other = env.client()
    page = _password(other, "dukcapil.admin", cred["password"])
    assert _code(other, page.text, code).status_code == 401
    used = [json.loads(r.detail) for r in _records(env, "masuk.kode_pemulihan")]
    assert used == [{"akun": "dukcapil.admin", "sisa_kode": 9}]
    # The security page counts what is left.
    assert "Sisa kode pemulihan: 9" in text_of(client.get("/portal/keamanan").text)


def test_guessing_codes_is_throttled_per_source(portal_env: PortalEnv) -> None:
    env = portal_env
    cred = env.creds["hub.admin"]
    client = env.client()
    page = _password(client, "hub.admin", cred["password"])
    answers = []
    for guess in range(6):
        resp = _code(client, page.text, f"{guess:06d}")
        answers.append(resp.status_code)
        page = resp
    assert answers == [401] * 5 + [429]
    assert resp.headers["retry-after"] == "30"
    # Throttled, the right code is refused here too, and nothing opens.
    step = int(env.clock.now().timestamp() // totp.INTERVAL) + 1
    right = _code(client, page.text, totp.current_code(cred["totp_secret"], step * 30))
    assert right.status_code == 429
    assert client.get("/portal/beranda").url.path == "/portal/masuk"
    blocks = [json.loads(r.detail) for r in _records(env, "masuk.dibatasi")]
    assert [(b["akun"], b["sumber"]) for b in blocks] == [("hub.admin", "127.0.0.1")]
    # The user elsewhere signs in.
    elsewhere = TestClient(env.app, client=("127.0.0.2", 50001))
    page = _password(elsewhere, "hub.admin", cred["password"])
    assert _code(elsewhere, page.text, next_code(cred, env.clock.now())).url.path == (
        "/portal/beranda"
    )


def test_a_waiting_password_lapses(portal_env: PortalEnv) -> None:
    env = portal_env
    cred = env.creds["bkn.operator"]
    client = env.client()
    page = _password(client, "bkn.operator", cred["password"])
    env.clock.advance(timedelta(minutes=11))
    resp = _code(client, page.text, next_code(cred, env.clock.now()))
    assert resp.url.path == "/portal/masuk"


def test_admin_resets_a_lost_second_factor_within_its_institution(portal_env: PortalEnv) -> None:
    env = portal_env
    admin = env.client("bkn.admin-penerima")
    page = admin.get("/portal/akun")
    assert "Atur ulang faktor kedua" in page.text
    # Not across institutions.
    resp = admin.post(
        "/portal/akun/kemenkop.operator/atur-ulang-faktor-kedua",
        data={"csrf": csrf_of(page.text), "reason": "ponsel hilang"},
    )
    assert resp.status_code == 403
    resp = admin.post(
        "/portal/akun/bkn.operator/atur-ulang-faktor-kedua",
        data={"csrf": csrf_of(page.text), "reason": "ponsel hilang"},
    )
    assert resp.status_code == 200 and "diatur ulang" in text_of(resp.text)
    resets = _records(env, "akun.faktor_kedua_atur_ulang")
    assert [(r.actor, json.loads(r.detail)) for r in resets] == [
        ("portal:bkn.admin-penerima", {"alasan": "ponsel hilang", "akun": "bkn.operator"})
    ]
    # The operator must enrol again: its grant requires a second factor.
    client = env.client()
    resp = _password(client, "bkn.operator", env.creds["bkn.operator"]["password"])
    _, codes, _ = _enrol(env, client, resp)
    assert len(codes) == 10
    # The old recovery codes died with the old factor.
    env.clock.advance(timedelta(seconds=60))
    other = env.client()
    page = _password(other, "bkn.operator", env.creds["bkn.operator"]["password"])
    assert _code(other, page.text, env.creds["bkn.operator"]["recovery_codes"][0]).status_code == (
        401
    )


def test_new_recovery_codes_need_a_current_code(portal_env: PortalEnv) -> None:
    env = portal_env
    cred = env.creds["dukcapil.auditor"]
    client = env.client("dukcapil.auditor")
    page = client.get("/portal/keamanan")
    assert "aktif" in text_of(page.text)
    wrong = client.post(
        "/portal/keamanan/kode-pemulihan", data={"kode": "123456", "csrf": csrf_of(page.text)}
    )
    assert wrong.status_code == 401
    # A recovery code is not a current code: it cannot mint new ones.
    spare = client.post(
        "/portal/keamanan/kode-pemulihan",
        data={"kode": cred["recovery_codes"][0], "csrf": csrf_of(page.text)},
    )
    assert spare.status_code == 401
    env.clock.advance(timedelta(seconds=90))
    code = totp.current_code(cred["totp_secret"], env.clock.now().timestamp())
    resp = client.post(
        "/portal/keamanan/kode-pemulihan", data={"kode": code, "csrf": csrf_of(page.text)}
    )
    assert resp.status_code == 200
    fresh = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", resp.text)
    assert len(fresh) == 10 and not set(fresh) & set(cred["recovery_codes"])
    assert [json.loads(r.detail)["akun"] for r in _records(env, "akun.kode_pemulihan_baru")] == [
        "dukcapil.auditor"
    ]
    # The old set no longer signs in; the new one does.
    other = env.client()
    page = _password(other, "dukcapil.auditor", cred["password"])
    page = _code(other, page.text, cred["recovery_codes"][1])
    assert page.status_code == 401
    assert _code(other, page.text, fresh[0]).url.path == "/portal/beranda"


def test_a_user_not_required_may_enrol_from_the_security_page(portal_env: PortalEnv) -> None:
    env = portal_env
    password = _new_account(
        env,
        "kemenkop.admin-penerima",
        username="kemenkop.operator3",
        role="operator",
        operator_of="kemenkop.pengguna",
    )
    client = env.client()
    assert _password(client, "kemenkop.operator3", password).url.path == "/portal/beranda"
    page = client.get("/portal/keamanan")
    assert "belum aktif" in text_of(page.text)
    page = client.get("/portal/keamanan?daftar=1")
    secret = SECRET_RE.search(page.text).group(1).replace(" ", "")  # type: ignore[union-attr]
    code = totp.current_code(secret, env.clock.now().timestamp())
    done = client.post("/portal/keamanan/daftar", data={"kode": code, "csrf": csrf_of(page.text)})
    assert done.status_code == 200 and "Kode pemulihan" in text_of(done.text)
    env.clock.advance(timedelta(seconds=30))
    again = env.client()
    assert _password(again, "kemenkop.operator3", password).url.path == "/portal/masuk/kode"
