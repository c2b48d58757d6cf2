"""The portal over HTTP (no browser), on SQLite and PostgreSQL: sessions, CSRF, lock-out,
expiry, role guards, and that each page's action is the service's own (decided, audited)."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from simpul.access.schemas import Role
from simpul.audit.models import AuditRecord
from simpul.pemadanan import runner
from simpul.portal.models import PortalSession
from simpul.registry.synth.lists import sample_list
from tests.portal.conftest import PortalEnv
from tests.portal.helpers import PAGES, ROLE_ACCOUNTS, csrf_of, next_code, sign_in, text_of
from tests.worlds import basic_header


def _records(env: PortalEnv, **where: str) -> list[AuditRecord]:
    with env.rt.transaction() as s:
        stmt = select(AuditRecord).order_by(AuditRecord.seq)
        for key, value in where.items():
            stmt = stmt.where(getattr(AuditRecord, key) == value)
        return list(s.execute(stmt).scalars())


def test_sign_in_sets_a_guarded_cookie_and_sign_out_ends_the_session(
    portal_env: PortalEnv,
) -> None:
    client = portal_env.client()
    resp = portal_env.sign_in(client, "bkn.operator")
    assert resp.status_code == 200
    assert "bkn.pengguna" in text_of(resp.text)  # acting for its data user
    cookie = next(
        h for h in resp.history[0].headers.get_list("set-cookie") if h.startswith("simpul_sesi=")
    )
    flags = {p.strip().split("=")[0].lower() for p in cookie.split(";")[1:]}
    assert {"httponly", "path", "samesite"} <= flags
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in flags  # plain http in this test; see the https test below
    token = client.cookies.get("simpul_sesi")
    page = client.get("/portal/beranda")
    resp = client.post("/portal/keluar", data={"csrf": csrf_of(page.text)})
    assert resp.url.path == "/portal/masuk"
    # Replaying the old cookie does not bring the session back.
    replay = portal_env.client()
    replay.cookies.set("simpul_sesi", token or "", path="/portal")
    resp = replay.get("/portal/beranda")
    assert resp.url.path == "/portal/masuk"


def test_cookie_is_secure_over_https(portal_env: PortalEnv) -> None:
    client = portal_env.client(base_url="https://testserver")
    resp = portal_env.sign_in(client, "bkn.operator")
    cookie = next(
        h for h in resp.history[0].headers.get_list("set-cookie") if h.startswith("simpul_sesi=")
    )
    assert "; secure" in cookie.lower()


def test_failed_sign_ins_throttle_one_source_and_never_tell_who_exists(
    portal_env: PortalEnv,
) -> None:
    from fastapi.testclient import TestClient

    client = portal_env.client()
    answers: dict[str, list[tuple[int, str, str | None]]] = {}
    for name in ("bkn.operator", "tidak.ada"):
        answers[name] = []
        for _ in range(6):
            resp = sign_in(client, name, "salah-sekali")
            page = text_of(resp.text).replace(name, "<nama>")
            answers[name].append((resp.status_code, page, resp.headers.get("retry-after")))
    # An existing account and an unknown name answer alike, wrong or throttled.
    assert answers["bkn.operator"] == answers["tidak.ada"]
    assert [a[0] for a in answers["tidak.ada"]] == [401] * 5 + [429]
    assert "User ID atau kata sandi tidak valid" in answers["tidak.ada"][0][1]
    assert answers["tidak.ada"][5][2] == "30"
    # Throttled from this address: the right password is refused here too ...
    resp = portal_env.sign_in(client, "bkn.operator")
    assert resp.status_code == 429
    assert "simpul_sesi" not in client.cookies
    # ... but the rightful user from another address signs in.
    elsewhere = TestClient(portal_env.app, client=("127.0.0.2", 50001))
    resp = portal_env.sign_in(elsewhere, "bkn.operator")
    assert resp.url.path == "/portal/beranda"
    with portal_env.rt.transaction() as s:
        rows = s.execute(
            select(AuditRecord).where(AuditRecord.action == "masuk.dibatasi")
        ).scalars().all()  # fmt: skip
        details = [json.loads(r.detail) for r in rows]
        found = sorted((d["akun"], d["sumber"]) for d in details)
        assert found == [("bkn.operator", "127.0.0.1"), ("tidak.ada", "127.0.0.1")]
        assert all("salah-sekali" not in r.detail for r in rows)
    # After the backoff this address may try again.
    portal_env.clock.advance(timedelta(seconds=31))
    resp = portal_env.sign_in(client, "bkn.operator")
    assert resp.url.path == "/portal/beranda"


def test_machine_clients_cannot_sign_in(portal_env: PortalEnv) -> None:
    c = portal_env.creds["kemenkop.klien"]
    resp = sign_in(portal_env.client(), c["client_id"], c["client_secret"])
    assert resp.status_code == 403
    assert "web service" in text_of(resp.text)


def test_forms_without_the_session_csrf_token_change_nothing(portal_env: PortalEnv) -> None:
    admin = portal_env.client("dukcapil.admin")
    target = "/portal/perjanjian/pks-dukcapil-bkn/tangguhkan"
    for data in ({"reason": "uji"}, {"reason": "uji", "csrf": "palsu"}):
        resp = admin.post(target, data={**data, "konfirmasi": "ya"})
        assert resp.status_code == 403
        assert "CSRF" in text_of(resp.text)
    # Another session's token does not work either.
    other = portal_env.client("hub.admin")
    foreign = csrf_of(other.get("/portal/beranda").text)
    forged = {"reason": "uji", "csrf": foreign, "konfirmasi": "ya"}
    assert admin.post(target, data=forged).status_code == 403
    page = admin.get("/portal/perjanjian/pks-dukcapil-bkn")
    assert "berlaku" in text_of(page.text)
    assert _records(portal_env, action="perjanjian.tangguhkan") == []
    # The sign-in form has its own token, bound to a pre-session cookie.
    fresh = portal_env.client()
    resp = fresh.post(
        "/portal/masuk",
        data={
            "username": "bkn.operator",
            "password": portal_env.creds["bkn.operator"]["password"],
            "csrf": "palsu",
        },
    )
    assert resp.status_code == 403
    assert "simpul_sesi" not in fresh.cookies


def test_idle_and_absolute_session_expiry(portal_env: PortalEnv) -> None:
    client = portal_env.client("bkn.operator")
    portal_env.clock.advance(timedelta(minutes=29))
    assert client.get("/portal/beranda").url.path == "/portal/beranda"  # activity keeps it
    portal_env.clock.advance(timedelta(minutes=31))
    resp = client.get("/portal/layanan/akses-nik")
    assert resp.url.path == "/portal/masuk"
    assert "berakhir" in text_of(resp.text)
    # Absolute limit: active every 20 minutes, still ended 12 hours after sign-in.
    client = portal_env.client("bkn.operator")
    for _ in range(35):  # 11 h 40 min
        portal_env.clock.advance(timedelta(minutes=20))
        assert client.get("/portal/beranda").url.path == "/portal/beranda"
    portal_env.clock.advance(timedelta(minutes=21))
    assert client.get("/portal/beranda").url.path == "/portal/masuk"
    with portal_env.rt.transaction() as s:
        rows = list(s.execute(select(PortalSession)).scalars())
    opened = [r for r in rows if r.pending is None]  # each sign-in's code step is a row too
    assert len(opened) == 2 and all(r.ended_at is not None for r in rows)


@pytest.mark.parametrize("role", list(ROLE_ACCOUNTS))
def test_each_role_opens_exactly_its_pages(portal_env: PortalEnv, role: Role) -> None:
    client = portal_env.client(ROLE_ACCOUNTS[role])
    for path, roles in PAGES.items():
        resp = client.get(path)
        assert resp.status_code == (200 if role in roles else 403), (role, path)


def test_signed_out_visitor_is_sent_to_sign_in_and_back(portal_env: PortalEnv) -> None:
    client = portal_env.client()
    resp = client.get("/portal/perjanjian")
    assert resp.url.path == "/portal/masuk"
    page = resp.text
    resp = client.post(
        "/portal/masuk",
        data={
            "username": "hub.admin",
            "password": portal_env.creds["hub.admin"]["password"],
            "csrf": csrf_of(page),
            "next": "/portal/perjanjian",
        },
    )
    # The password alone opens nothing: the code page carries the destination on.
    assert resp.url.path == "/portal/masuk/kode"
    assert client.get("/portal/perjanjian").url.path == "/portal/masuk"
    page = client.post(
        "/portal/masuk",
        data={
            "username": "hub.admin",
            "password": portal_env.creds["hub.admin"]["password"],
            "csrf": csrf_of(client.get("/portal/masuk").text),
            "next": "/portal/perjanjian",
        },
    ).text
    carried = re.search(r'name="next" value="([^"]*)"', page)
    assert carried and carried.group(1) == "/portal/perjanjian"
    resp = client.post("/portal/masuk/kode", data={
        "kode": next_code(portal_env.creds["hub.admin"], portal_env.clock.now()),
        "csrf": csrf_of(page), "next": carried.group(1)})  # fmt: skip
    assert resp.url.path == "/portal/perjanjian"
    # No open redirect.
    page = portal_env.client().get("/portal/masuk").text
    resp = portal_env.client().post(
        "/portal/masuk",
        data={
            "username": "hub.admin",
            "password": "x",
            "csrf": csrf_of(page),
            "next": "https://example.org/",
        },
    )
    assert "example.org" not in str(resp.url)


def test_suspension_refuses_the_operators_next_lookup(portal_env: PortalEnv) -> None:
    person = portal_env.people[5]
    op = portal_env.client("bkn.operator")
    csrf = csrf_of(op.get("/portal/layanan/akses-nik").text)
    resp = op.post("/portal/layanan/akses-nik", data={"nik": person["nik"], "csrf": csrf})
    assert resp.status_code == 200
    assert person["nama_lengkap"] in text_of(resp.text)

    admin = portal_env.client("dukcapil.admin")
    detail = admin.get("/portal/perjanjian/pks-dukcapil-bkn")
    # The agreement page offers the second step only, after its content.
    assert 'action="/portal/perjanjian/pks-dukcapil-bkn/tangguhkan"' not in detail.text
    assert detail.text.index("konfirmasi/tangguhkan") > detail.text.index("Riwayat")
    # A post without the confirmation changes nothing: it leads to the confirmation page,
    # which names what closes and for whom, and the clause from the agreement's YAML.
    resp = admin.post(
        "/portal/perjanjian/pks-dukcapil-bkn/tangguhkan",
        data={"csrf": csrf_of(detail.text), "reason": "dugaan penyalahgunaan"},
    )
    step = text_of(resp.text)
    assert resp.url.path == "/portal/perjanjian/pks-dukcapil-bkn/konfirmasi/tangguhkan"
    assert "4 layanan ditutup seketika untuk Badan Kepegawaian Negara" in step
    assert "Verifikasi wajah (web service, Data kependudukan)" in step
    assert "Dasar: Pasal 9 huruf a" in step  # pengakhiran: pelanggaran-kewajiban
    assert not _records(portal_env, action="perjanjian.tangguhkan")
    resp = admin.post(
        "/portal/perjanjian/pks-dukcapil-bkn/tangguhkan",
        data={"csrf": csrf_of(resp.text), "reason": "dugaan penyalahgunaan",
              "konfirmasi": "ya"},
    )  # fmt: skip
    assert resp.status_code == 200 and "ditangguhkan" in text_of(resp.text)

    resp = op.post("/portal/layanan/akses-nik", data={"nik": person["nik"], "csrf": csrf})
    assert resp.status_code == 403
    shown = text_of(resp.text)
    assert "Permintaan ditolak" in shown and "ditangguhkan" in shown
    assert person["nama_lengkap"] not in shown
    refused = _records(portal_env, action="akses_nik", decision="tolak")
    assert [r.reason for r in refused] == ["perjanjian_ditangguhkan"]
    assert refused[0].mechanism == "web_portal" and refused[0].actor == "bkn.operator"
    acts = _records(portal_env, action="perjanjian.tangguhkan")
    assert [a.actor for a in acts] == ["portal:dukcapil.admin"]

    # The recipient cannot lift it; the provider can.
    bkn_admin = portal_env.client("bkn.admin-penerima")
    page = bkn_admin.get("/portal/perjanjian/pks-dukcapil-bkn")
    assert "/lanjutkan" not in page.text
    resp = bkn_admin.post(
        "/portal/perjanjian/pks-dukcapil-bkn/lanjutkan",
        data={"csrf": csrf_of(page.text), "reason": "x"},
    )
    assert resp.status_code == 403
    detail = admin.get("/portal/perjanjian/pks-dukcapil-bkn")
    admin.post(
        "/portal/perjanjian/pks-dukcapil-bkn/lanjutkan",
        data={"csrf": csrf_of(detail.text), "reason": "klarifikasi diterima"},
    )
    resp = op.post("/portal/layanan/akses-nik", data={"nik": person["nik"], "csrf": csrf})
    assert resp.status_code == 200


def test_verification_answers_per_element_and_never_shows_values(portal_env: PortalEnv) -> None:
    person = portal_env.people[9]
    op = portal_env.client("bkn.operator")
    csrf = csrf_of(op.get("/portal/layanan/verifikasi").text)
    resp = op.post(
        "/portal/layanan/verifikasi",
        data={
            "csrf": csrf,
            "nik": person["nik"],
            "nama_lengkap": person["nama_lengkap"],
            "tanggal_lahir": person["tanggal_lahir"].isoformat(),
            "tempat_lahir": "KOTA YANG TIDAK ADA DI MANA PUN",
        },
    )
    shown = text_of(resp.text)
    assert resp.status_code == 200
    assert "Nama lengkap sesuai" in shown and "Tanggal lahir sesuai" in shown
    assert "Tempat lahir tidak sesuai" in shown
    assert person["tempat_lahir"] not in shown.replace("KOTA YANG TIDAK ADA DI MANA PUN", "")
    izin = _records(portal_env, action="verifikasi", decision="izin")
    assert len(izin) == 1 and izin[0].mechanism == "web_service"
    assert (izin[0].request_id or "").startswith("portal-")
    # A bad NIK is explained, not a crash.
    resp = op.post(
        "/portal/layanan/verifikasi", data={"csrf": csrf, "nik": "12345", "nama_lengkap": "X"}
    )
    assert resp.status_code == 422 and "NIK" in text_of(resp.text)


def test_status_check_for_a_civil_servant(portal_env: PortalEnv) -> None:
    civil = portal_env.asn[2]
    user = portal_env.client("kemenkop.pengguna")
    page = user.get("/portal/layanan/cek-status")
    resp = user.post(
        "/portal/layanan/cek-status",
        data={
            "csrf": csrf_of(page.text),
            "dataset": "asn",
            "nik": civil["nik"],
            "nama_lengkap": civil["nama_lengkap"],
        },
    )
    shown = text_of(resp.text)
    assert resp.status_code == 200
    assert "Hasil: ASN" in shown and civil["instansi"] in shown


def test_revoking_an_account_ends_its_portal_session(portal_env: PortalEnv) -> None:
    op = portal_env.client("bkn.operator")
    admin = portal_env.client("bkn.admin-penerima")
    page = admin.get("/portal/akun")
    assert "kemenkop.operator" not in text_of(page.text)  # other institutions' accounts
    assert 'value="pks-kemenkop-bkn"' not in page.text  # BKN provides there, never receives
    # The list offers the second step only; a post without it leads there, changing nothing.
    assert 'action="/portal/akun/bkn.operator/cabut"' not in page.text
    resp = admin.post(
        "/portal/akun/bkn.operator/cabut",
        data={"csrf": csrf_of(page.text), "reason": "pindah tugas"},
    )
    assert resp.url.path == "/portal/akun/bkn.operator/konfirmasi/cabut"
    assert "tidak dapat masuk lagi; sesi portal dan token API-nya berakhir" in text_of(resp.text)
    assert op.get("/portal/beranda").url.path == "/portal/beranda"  # still signed in
    resp = admin.post(
        "/portal/akun/bkn.operator/cabut",
        data={"csrf": csrf_of(page.text), "reason": "pindah tugas", "konfirmasi": "ya"},
    )
    assert resp.status_code == 200 and "dicabut" in text_of(resp.text)
    resp = op.get("/portal/beranda")
    assert resp.url.path == "/portal/masuk" and "dicabut" in text_of(resp.text)
    # Not across institutions: no confirmation page, and a forged confirmed post is refused.
    assert admin.get("/portal/akun/kemenkop.operator/konfirmasi/cabut").status_code == 404
    resp = admin.post(
        "/portal/akun/kemenkop.operator/cabut",
        data={"csrf": csrf_of(page.text), "reason": "x", "konfirmasi": "ya"},
    )
    assert resp.status_code == 403


def test_recipient_admin_creates_an_operator_who_can_sign_in(portal_env: PortalEnv) -> None:
    admin = portal_env.client("kemenkop.admin-penerima")
    page = admin.get("/portal/akun")
    resp = admin.post(
        "/portal/akun",
        data={
            "csrf": csrf_of(page.text),
            "username": "kemenkop.operator2",
            "role": "operator",
            "full_name": "Operator Kedua",
            "operator_of": "kemenkop.pengguna",
        },
    )
    assert resp.status_code == 200, text_of(resp.text)
    secret = resp.text.split('id="rahasia">', 1)[1].split("<", 1)[0]
    fresh = portal_env.client()
    resp = sign_in(fresh, "kemenkop.operator2", secret)
    assert resp.url.path == "/portal/beranda"
    assert "PKS Nomor 81/PKS/D.2/IX/2022 dan 28/HM.04.01/2022" in text_of(resp.text)  # PKS 004
    # The demo's own accounts are recorded too (actor "demo"); this one names the admin.
    made = [r for r in _records(portal_env, action="akun.buat") if r.actor != "demo"]
    assert [(r.actor, json.loads(r.detail)["akun"]) for r in made] == [
        ("portal:kemenkop.admin-penerima", "kemenkop.operator2")
    ]
    # A recipient administrator cannot create a provider administrator.
    resp = admin.post(
        "/portal/akun",
        data={"csrf": csrf_of(page.text), "username": "kemenkop.bos", "role": "hub_admin"},
    )
    assert resp.status_code == 422


def test_auditor_sees_one_persons_history_within_scope(portal_env: PortalEnv) -> None:
    person = portal_env.people[21]
    op = portal_env.client("bkn.operator")
    csrf = csrf_of(op.get("/portal/layanan/akses-nik").text)
    op.post("/portal/layanan/akses-nik", data={"nik": person["nik"], "csrf": csrf})
    from simpul.audit import signing

    signing.checkpoint(portal_env.rt.engine, portal_env.rt.settings, portal_env.rt.clock)
    auditor = portal_env.client("dukcapil.auditor")
    page = auditor.get("/portal/audit/subjek")
    resp = auditor.post(
        "/portal/audit/subjek", data={"nik": person["nik"], "csrf": csrf_of(page.text)}
    )
    shown = text_of(resp.text)
    assert "bkn.operator" in shown and "pks-dukcapil-bkn" in shown
    # Each entry with its proof: included in a signed checkpoint (no witness in this world).
    assert "Tercakup checkpoint #" in shown and "TIDAK sah" not in shown
    assert person["nik"] not in shown and person["nik"][:6] + "******" in shown  # masked
    # Kemensos is no party to PKS 003: its administrator sees none of these records.
    other = portal_env.client("kemensos.admin")
    page = other.get("/portal/audit/subjek")
    resp = other.post(
        "/portal/audit/subjek", data={"nik": person["nik"], "csrf": csrf_of(page.text)}
    )
    assert "bkn.operator" not in text_of(resp.text)
    # The audit search and the chain verification.
    resp = auditor.get("/portal/audit", params={"actor": "bkn.operator"})
    assert "akses_nik" in text_of(resp.text)
    resp = auditor.get("/portal/audit/verifikasi")
    assert "Utuh" in text_of(resp.text)


def test_english_toggle_keeps_the_page(portal_env: PortalEnv) -> None:
    client = portal_env.client("bkn.operator")
    resp = client.get("/portal/bahasa/en", params={"next": "/portal/layanan/verifikasi"})
    assert resp.url.path == "/portal/layanan/verifikasi"
    assert "Element verification" in text_of(resp.text)
    assert 'lang="en"' in resp.text
    resp = client.get("/portal/bahasa/id", params={"next": "https://example.org/"})
    assert resp.url.path == "/portal/beranda" and "Beranda" in text_of(resp.text)


def test_kemenkop_screens_a_bpum_list_and_downloads_the_results(
    portal_env: PortalEnv, tmp_path: Path
) -> None:
    bpum = tmp_path / "bpum.csv"
    truth_file = sample_list("bpum", 40, 3, portal_env.world, bpum)
    op = portal_env.client("kemenkop.operator")
    page = op.get("/portal/pemadanan")
    with bpum.open("rb") as fh:
        resp = op.post(
            "/portal/pemadanan",
            data={"csrf": csrf_of(page.text), "alur": "bpum", "ambang": "0.5"},
            files={"berkas": ("bpum.csv", fh, "text/csv")},
        )
    assert resp.status_code == 200, text_of(resp.text)
    job_path = resp.url.path
    assert job_path.startswith("/portal/pemadanan/padan-")
    deadline = time.monotonic() + 90
    while "selesai" not in text_of(resp.text).split("Progres")[0]:
        assert time.monotonic() < deadline, text_of(resp.text)
        assert 'http-equiv="refresh"' in resp.text  # the page reloads itself meanwhile
        runner.run_pending(portal_env.rt)  # the worker's part (the web process runs no job)
        time.sleep(0.2)
        resp = op.get(job_path)
    assert "http-equiv" not in resp.text
    # The lists the PKS asks for: recipients after eliminating ASN, and feedback for BKN.
    truth = {int(r["row"]) + 1: r for r in csv.DictReader(truth_file.open(encoding="utf-8"))}
    penerima = op.get(job_path + "/unduh/penerima.csv")
    assert penerima.status_code == 200
    assert penerima.headers["content-type"].startswith("text/csv")
    source, _, listed = penerima.text.partition("\n")
    assert source.startswith("# Sumber: ")  # PKS 000 Pasal 7(2): the first line cites it
    kept = {int(r["baris"]) for r in csv.DictReader(io.StringIO(listed))}
    balikan_csv = op.get(job_path + "/unduh/balikan.csv").text.partition("\n")[2]
    balikan = list(csv.DictReader(io.StringIO(balikan_csv)))
    found = {int(r["baris"]) for r in balikan}
    assert found and all(truth[b]["is_asn"] == "1" for b in found)  # ASN found are ASN
    assert {r["hasil"] for r in balikan} == {"ASN"}
    clean_asn = {b for b, r in truth.items() if r["is_asn"] == "1" and not r["noise"]}
    assert clean_asn <= found and not clean_asn & kept  # eliminated from the recipients
    pdf = op.get(job_path + "/berita-acara.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # Another institution cannot see the job.
    other = portal_env.client("bkn.operator")
    assert other.get(job_path).status_code == 404


def test_bkn_returns_feedback_and_reports_its_semester(portal_env: PortalEnv) -> None:
    civil = portal_env.asn[4]
    stranger = next(p for p in portal_env.people if p["nik"] != civil["nik"])
    op = portal_env.client("bkn.operator")
    page = op.get("/portal/kewajiban")
    assert page.status_code == 200 and "Laporan semester" in text_of(page.text)
    op.post("/portal/layanan/akses-nik", data={"nik": civil["nik"], "csrf": csrf_of(page.text)})
    owed = text_of(op.get("/portal/kewajiban").text)
    assert "Data balikan" in owed and "terutang" in owed
    dash = text_of(op.get("/portal/beranda").text)  # due within 30 days: an alert
    assert "Perlu perhatian" in dash
    assert re.search(r"DUKCAPIL dan 19/HM.04.01/2024\s*: Data balikan", dash)
    rows = [
        "nik,nip,status_kepegawaian,kedudukan_hukum",
        f"{civil['nik']},{civil['nip']},{civil['status_kepegawaian']},{civil['kedudukan_hukum']}",
        f"{stranger['nik']},{civil['nip']},{civil['status_kepegawaian']},{civil['kedudukan_hukum']}",
    ]
    resp = op.post(
        "/portal/kewajiban/data-balikan",
        data={"csrf": csrf_of(page.text), "perjanjian": "pks-dukcapil-bkn"},
        files={"berkas": ("balikan.csv", "\n".join(rows).encode(), "text/csv")},
    )
    shown = text_of(resp.text)
    assert resp.status_code == 200, shown
    assert "1 dari 2 baris; 1 ditolak" in shown
    assert stranger["nik"] not in shown  # the rejected row's NIK is masked
    assert [r.actor for r in _records(portal_env, action="kewajiban.data_balikan")] == [
        "bkn.operator"
    ]
    # The semester report: once per period, then refused with the reason.
    data = {"csrf": csrf_of(page.text), "perjanjian": "pks-dukcapil-bkn", "tahun": "2026",
            "semester": "2", "uraian": "Pemanfaatan untuk verifikasi calon ASN."}  # fmt: skip
    resp = op.post("/portal/kewajiban/laporan-semester", data=data)
    assert resp.status_code == 200 and "Laporan semester disampaikan" in text_of(resp.text)
    resp = op.post("/portal/kewajiban/laporan-semester", data=data)
    assert resp.status_code == 409 and "sudah disampaikan" in text_of(resp.text)
    # Dukcapil (provider) sees the deadlines of the agreement, but uploads nothing there.
    # By default its own duties (the evaluation it owes); BKN's with "all parties".
    admin = portal_env.client("dukcapil.admin")
    page = admin.get("/portal/kewajiban")
    own = set(re.findall(r'<tr data-duty="([^"]+)" data-agreement="pks-dukcapil-bkn"', page.text))
    assert own == {"evaluasi-semester"}
    every = admin.get("/portal/kewajiban", params={"pihak": "semua", "status": "semua"})
    listed = set(re.findall(r'<tr data-duty="([^"]+)" data-agreement="pks-dukcapil-bkn"',
                            every.text))  # fmt: skip
    assert {"data-balikan-asn", "laporan-semester", "implementasi-teknis"} <= listed
    assert "/portal/kewajiban/data-balikan" not in page.text
    detail = admin.get("/portal/perjanjian/pks-dukcapil-bkn")
    assert "Kewajiban dan tenggat" in text_of(detail.text)
    # Dukcapil receives the feedback (only the accepted row) and evaluates the agreement.
    received = admin.get("/portal/kewajiban/pks-dukcapil-bkn/data-balikan.csv")
    assert received.status_code == 200
    assert civil["nik"] in received.text and stranger["nik"] not in received.text
    assert op.get("/portal/kewajiban/pks-dukcapil-bkn/data-balikan.csv").status_code == 403
    resp = admin.post(
        "/portal/kewajiban/evaluasi",
        data={
            "csrf": csrf_of(page.text),
            "perjanjian": "pks-dukcapil-bkn",
            "periode": "2026-S2",
            "rekomendasi": "lanjut",
            "temuan": "Data balikan belum lengkap.\nLaporan tepat waktu.",
        },
    )
    assert resp.status_code == 200 and "Evaluasi dicatat" in text_of(resp.text)
    assert [r.actor for r in _records(portal_env, action="kewajiban.evaluasi")] == [
        "dukcapil.admin"
    ]
    usage = admin.get("/portal/perjanjian/pks-dukcapil-bkn/laporan-penggunaan",
                      params={"tahun": "2026", "semester": "2"})  # fmt: skip
    assert usage.status_code == 200 and "pks-dukcapil-bkn" in usage.text


def test_jabar_builds_a_suppressed_table_and_extracts_bnba_in_its_region(
    portal_env: PortalEnv,
) -> None:
    user = portal_env.client("pemprov-jabar.pengguna")
    page = user.get("/portal/regsosek")
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    resp = user.post(
        "/portal/regsosek/agregat",
        data={
            "csrf": csrf,
            "dimensi": ["wilayah", "jenis_kelamin"],
            "tingkat_wilayah": "kabupaten",
        },
    )
    shown = text_of(resp.text)
    assert resp.status_code == 200, shown
    assert "Wilayah × Jenis kelamin · kabupaten/kota" in shown and "ditekan primer" in shown
    # The pivot: regencies down, sexes across, totals last; every suppressed cell marked •.
    found = re.search(r"([\d.]+) sel; ([\d.]+) ditekan primer, ([\d.]+) ditekan sekunder", shown)
    assert found
    pivot = resp.text.split('id="pivot"', 1)[1].split("</table>", 1)[0]
    head = text_of(pivot.split("</thead>", 1)[0])
    assert head.endswith("LAKI-LAKI PEREMPUAN Jumlah")
    body = pivot.split("<tbody>", 1)[1]
    rows = body.count("<tr")
    # Against the same table from the web service: the regencies (4-digit codes) and the
    # total, each regency's cells as the API gives them (• where it gives null).
    api = portal_env.client().post(
        "/api/v1/datasets/regsosek/agregat",
        json={"dimensi": ["wilayah", "jenis_kelamin"], "tingkat_wilayah": "kabupaten"},
        headers=basic_header(portal_env.creds, "pemprov-jabar.pengguna"),
    )
    assert api.status_code == 200, api.text
    cells_api = [r for r in api.json()["baris"]
                 if len(r["wilayah"]) == 4 or r["wilayah"] == "JUMLAH"]  # fmt: skip
    regencies = {r["wilayah"] for r in cells_api} - {"JUMLAH"}
    assert rows == len(regencies) + 1 and cells_api
    assert body.count('class="suppressed"') == sum(1 for r in cells_api if r["jumlah"] is None) > 0
    first = min(regencies)
    row_html = next(r for r in body.split("<tr")[1:] if f"({first})</th>" in r)
    expect = [
        ("•" if r["jumlah"] is None else f"{r['jumlah']:,}".replace(",", "."))
        for r in cells_api
        if r["wilayah"] == first
    ]  # LAKI-LAKI, PEREMPUAN, JUMLAH
    by_sex = {
        r["jenis_kelamin"]: e
        for r, e in zip([r for r in cells_api if r["wilayah"] == first], expect, strict=True)
    }
    assert text_of(row_html).split(")", 1)[1].split() == [
        by_sex["LAKI-LAKI"],
        by_sex["PEREMPUAN"],
        by_sex["JUMLAH"],
    ]
    assert re.search(r"Jumlah\s*</th>", body.rsplit("<tr", 1)[1])  # the total row is last
    chart = resp.text.split('id="grafik"', 1)[1].split("</figure>", 1)[0]
    shown_totals = [
        r
        for r in cells_api
        if r["jenis_kelamin"] == "JUMLAH" and r["wilayah"] != "JUMLAH" and r["jumlah"] is not None
    ]
    assert chart.count("<rect") == min(20, len(shown_totals)) > 0
    # The same table as files, each with the source line first (PKS 000 Pasal 7 ayat (2)).
    form = {"csrf": csrf, "dimensi": ["wilayah", "jenis_kelamin"], "tingkat_wilayah": "kabupaten"}
    got = user.post("/portal/regsosek/agregat", data={**form, "unduh": "csv"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    lines = got.text.splitlines()
    assert lines[0].startswith("# Sumber: Data Registrasi Sosial Ekonomi")
    assert "Sumber: Sumber" not in got.text
    table = list(csv.reader(lines[2:]))
    assert table[0][1:] == ["LAKI-LAKI", "PEREMPUAN", "Jumlah"] and len(table) == rows + 1
    assert sum(row.count("•") for row in table) == body.count('class="suppressed"')
    got = user.post("/portal/regsosek/agregat", data={**form, "unduh": "xlsx"})
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(got.content)).active
    assert sheet is not None and str(sheet["A1"].value).startswith("Sumber: Data Registrasi")
    assert [c.value for c in sheet[4]][1:] == ["LAKI-LAKI", "PEREMPUAN", "Jumlah"]
    resp = user.post("/portal/regsosek/bnba", data={"csrf": csrf, "format": "csv"})
    assert resp.status_code == 200, text_of(resp.text)
    link = re.search(r'href="(/portal/regsosek/ekstrak/[^"]+)"', resp.text)
    assert link, text_of(resp.text)
    got = user.get(link.group(1))
    assert got.status_code == 200
    source, body = got.text.split("\n", 1)
    assert source.startswith("# Sumber: Data Registrasi Sosial Ekonomi")  # PKS 000 Pasal 7(2)
    assert "Sumber: Sumber" not in got.text and "Sumber: Sumber" not in text_of(resp.text)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows and all(r["kode_wilayah"].startswith("32") for r in rows)  # Jawa Barat only
    # Another account cannot fetch that extract; an agreement without Regsosek is refused.
    other = portal_env.client("kemenkop.pengguna")
    assert other.get(link.group(1)).status_code == 404
    page = other.get("/portal/regsosek")
    resp = other.post(
        "/portal/regsosek/agregat", data={"csrf": csrf_of(page.text), "dimensi": ["jenis_kelamin"]}
    )
    assert resp.status_code == 403 and "Permintaan ditolak" in text_of(resp.text)


def test_processing_output_waits_for_the_providers_review(portal_env: PortalEnv) -> None:
    user = portal_env.client("pemprov-jabar.pengguna")
    page = user.get("/portal/regsosek")
    sql = "SELECT kode_wilayah, count(*) AS n FROM regsosek GROUP BY 1"  # tiny cells: held
    resp = user.post(
        "/portal/regsosek/pengolahan",
        data={"csrf": csrf_of(page.text), "sql": sql, "tujuan": "uji"},
    )
    shown = text_of(resp.text)
    assert resp.status_code == 200, shown
    assert "menunggu tinjauan penyedia" in shown and "menunggu_tinjauan" not in shown
    # The output check as rules in words: the frequency threshold failed, dominance passed.
    assert re.search(r"Ambang frekuensi: setiap sel paling sedikit 10 responden — gagal pada "
                     r"[\d.]+ sel", shown)  # fmt: skip
    assert "Dominasi: 2 kontributor terbesar tidak lebih dari 90% jumlah sel — lulus" in shown
    assert "{'ambang'" not in shown and "nol_disklosif" not in shown
    reviewer = portal_env.client("bappenas.admin")
    queue = reviewer.get("/portal/tinjauan-keluaran")
    found = re.search(r'action="/portal/tinjauan-keluaran/([^"]+)"', queue.text)
    assert found, text_of(queue.text)
    resp = reviewer.post(
        f"/portal/tinjauan-keluaran/{found.group(1)}",
        data={"csrf": csrf_of(queue.text), "keputusan": "tolak", "alasan": "sel terlalu kecil"},
    )
    assert resp.status_code == 200 and "Keputusan tinjauan dicatat" in text_of(resp.text)
    assert found.group(1) not in resp.text
    # Only the provider's administrators review.
    assert portal_env.client("dukcapil.auditor").get("/portal/tinjauan-keluaran").status_code == 403


def test_kemensos_reviews_a_probable_match_in_the_portal(
    portal_env: PortalEnv, tmp_path: Path
) -> None:
    """A proposed KPM list without NIKs: name and birth date only give probable matches,
    which a clerk accepts or rejects on the job page (audited)."""
    lines = ["nama_lengkap,tanggal_lahir"]
    lines += [f"{p['nama_lengkap']},{p['tanggal_lahir'].isoformat()}" for p in portal_env.asn[:6]]
    kpm = tmp_path / "usulan-kpm.csv"
    kpm.write_text("\n".join(lines) + "\n", encoding="utf-8")
    op = portal_env.client("kemensos.operator")
    page = op.get("/portal/pemadanan")
    with kpm.open("rb") as fh:
        resp = op.post("/portal/pemadanan",
                       data={"csrf": csrf_of(page.text), "alur": "kpm", "ambang_terima": "1"},
                       files={"berkas": ("usulan-kpm.csv", fh, "text/csv")})  # fmt: skip
    job_path = resp.url.path
    deadline = time.monotonic() + 90
    while 'id="status-pekerjaan">selesai' not in resp.text:
        assert time.monotonic() < deadline, text_of(resp.text)
        runner.run_pending(portal_env.rt)
        time.sleep(0.2)
        resp = op.get(job_path)
    resp = op.get(job_path, params={"status": "kemungkinan_cocok"})
    forms = re.findall(rf'action="({re.escape(job_path)}/tinjau/(\d+))"', resp.text)
    assert forms, text_of(resp.text)
    action, line = forms[0]
    # The reviewer sees the row beside its candidates: per element how each agrees (the
    # list's own values, never the registry's), each candidate's probability.
    table = re.search(rf'<table class="small candidates" data-line="{line}">(.*?)</table>',
                      resp.text, re.S)  # fmt: skip
    assert table, text_of(resp.text)
    cells = text_of(table.group(1))
    assert "Kandidat 1 (diusulkan)" in cells and "nama_lengkap" in cells
    assert "✓ sama" in cells and "tanggal_lahir" in cells
    person = next(p for p in portal_env.asn[:6] if p["nama_lengkap"] in cells)
    assert person["nik"] not in resp.text  # no registry NIK before acceptance
    resp = op.post(action, data={"csrf": csrf_of(resp.text), "keputusan": "diterima",
                                 "alasan": "nama dan tanggal lahir sama"})  # fmt: skip
    assert resp.status_code == 200 and "Tinjauan dicatat" in text_of(resp.text)
    assert f'data-line="{line}"' in resp.text and f'{action}"' not in resp.text
    reviews = _records(portal_env, action="pemadanan.tinjau")
    assert [r.actor for r in reviews] == ["kemensos.operator"]
    asn_list = op.get(job_path + "/unduh/asn.csv").text  # the accepted row now counts as ASN
    rows = list(csv.DictReader(io.StringIO(asn_list.partition("\n")[2])))
    assert any(r["baris"] == line for r in rows)
    # The list's own columns come first, as uploaded.
    assert list(rows[0])[:2] == ["nama_lengkap", "tanggal_lahir"]


def test_recipient_admin_records_the_implementation_as_done(portal_env: PortalEnv) -> None:
    admin = portal_env.client("bkn.admin-penerima")
    page = admin.get("/portal/kewajiban")
    form = {
        "csrf": csrf_of(page.text),
        "perjanjian": "pks-dukcapil-bkn",
        "kewajiban": "implementasi-teknis",
        "periode": "",
        "keterangan": "BA uji coba",
    }
    assert 'value="implementasi-teknis"' in page.text  # BKN owes it: it may record it
    # Dukcapil does not owe it: no form, and a forged post is refused.
    provider = portal_env.client("dukcapil.admin")
    other = provider.get("/portal/kewajiban")
    assert 'value="implementasi-teknis"' not in other.text
    refused = provider.post(
        "/portal/kewajiban/dipenuhi", data={**form, "csrf": csrf_of(other.text)}
    )
    assert refused.status_code == 403
    resp = admin.post("/portal/kewajiban/dipenuhi", data=form)
    assert resp.status_code == 200 and "Kewajiban dicatat terpenuhi" in text_of(resp.text)
    rows = [r.split("</tr>", 1)[0] for r in resp.text.split('data-duty="implementasi-teknis"')[1:]]
    ours = [text_of(r) for r in rows if "pks-dukcapil-bkn" in r]
    assert len(ours) == 1 and "dipenuhi terlambat" in ours[0]  # due 2024, recorded today
    assert all("dipenuhi terlambat" not in text_of(r) for r in rows if "pks-dukcapil-bkn" not in r)
    acts = _records(portal_env, action="kewajiban.dipenuhi")
    assert [a.actor for a in acts] == ["bkn.admin-penerima"]


def test_face_verification_form_answers_like_the_api_and_is_audited(
    portal_env: PortalEnv,
) -> None:
    """PKS 003 Pasal 2(1)b in the portal: NIK + photo → similarity or not found; an unusable
    photo or a recipient without the grant gets a clear message; every check audited."""
    from simpul.face import samples
    from simpul.face import service as face

    nik = portal_env.people[0]["nik"]
    with portal_env.rt.transaction() as s:
        face.enroll(s, portal_env.rt.settings, portal_env.clock, "kependudukan", nik,
                    samples.enrolment("astronaut"), actor="uji", reason="uji portal")  # fmt: skip
    client = portal_env.client("bkn.operator")
    page = client.get("/portal/layanan/verifikasi-wajah")
    assert page.status_code == 200 and 'type="file"' in page.text

    def send(photo: bytes | None, who: str = nik) -> tuple[int, str]:
        form = client.get("/portal/layanan/verifikasi-wajah")
        files = {"foto": ("foto.jpg", photo, "image/jpeg")} if photo is not None else None
        resp = client.post("/portal/layanan/verifikasi-wajah",
                           data={"csrf": csrf_of(form.text), "nik": who}, files=files)  # fmt: skip
        return resp.status_code, text_of(resp.text)

    same = next(p for p in samples.probes("astronaut"))
    other = next(p for p in samples.probes("camera"))

    def score(text: str) -> float:  # written as Indonesians read it: 85,6
        found = re.search(r"Kemiripan (\d+(?:,\d+)?) / 100", text)
        assert found, text
        return float(found.group(1).replace(",", "."))

    status, text = send(same.data)
    high = score(text)
    # The seed grant's threshold (60) decides: the same person is sesuai, another is not.
    assert status == 200 and "Wajah sesuai" in text and "Keputusan sesuai" in text
    assert "ambang kemiripan 60 yang ditetapkan hibah" in text
    status, text = send(other.data)
    low = score(text)
    assert "Wajah tidak sesuai" in text and "Keputusan tidak sesuai" in text
    assert high > 60 > low
    status, text = send(same.data, who=portal_env.people[1]["nik"])
    assert status == 200 and "Data tidak ditemukan" in text  # no photo stored for this NIK
    status, text = send(samples.non_faces()[0].data)
    assert status == 422 and "Tidak ada wajah yang terdeteksi pada foto." in text
    status, _ = send(None)
    assert status == 422
    checks = _records(portal_env, service="verifikasi_wajah")
    assert len(checks) == 4 and all(r.request_id.startswith("portal-") for r in checks)
    # Kemenkop has no face-verification grant: refused, with the reason, and audited.
    kop = portal_env.client("kemenkop.operator")
    form = kop.get("/portal/layanan/verifikasi-wajah")
    resp = kop.post("/portal/layanan/verifikasi-wajah",
                    data={"csrf": csrf_of(form.text), "nik": nik},
                    files={"foto": ("foto.jpg", same.data, "image/jpeg")})  # fmt: skip
    assert resp.status_code == 403
    assert len(_records(portal_env, service="verifikasi_wajah")) == 5
