"""The portal in a real Chromium (the system's, headless; never downloaded), against a
uvicorn server on a demo-like world built with the demo's own functions. Screenshots of
the pages go to test-artefacts/portal/ for a person to look at."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import playwright.sync_api as playwright_api
import pyarrow.parquet as pq
import pytest
import uvicorn

from simpul.access import passwords as pw
from simpul.access import totp
from simpul.access.schemas import InstitutionUpdate, Role
from simpul.app import create_app
from simpul.demo.service import (
    build_governance,
    build_registries,
    fulfil_past_duties,
    howto,
    write_credentials,
)
from simpul.face.demo import enrol_demo_photos
from simpul.governance import actions
from simpul.kit.clock import FixedClock
from simpul.pemadanan.worker import Options, Supervisor
from simpul.registry.synth.lists import sample_list
from simpul.runtime import Runtime
from tests.conftest import build_settings
from tests.portal.conftest import FAST, NOW
from tests.portal.helpers import PAGES, ROLE_ACCOUNTS, allowed, next_code

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.xdist_group("portal")]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "portal"
WIDTH = 1366  # the common office laptop screen: no page may be wider
# The CI machine is shared and often loaded: wait generously for pages and assertions.
WAIT_MS = 30_000
playwright_api.expect.set_options(timeout=WAIT_MS)


@dataclass
class Site:
    base: str
    creds: dict[str, dict[str, Any]]
    people: list[dict[str, Any]]
    asn: list[dict[str, Any]]
    data_dir: Path

    def password(self, username: str) -> str:
        return str(self.creds[username]["password"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    mp = pytest.MonkeyPatch()
    mp.setattr(pw, "DEFAULT", FAST)
    data = tmp_path_factory.mktemp("portal-site")
    settings = build_settings(data)
    rt = Runtime(settings, clock=FixedClock(NOW))
    rt.migrate()
    build_registries(rt, 600, 7, say=lambda _m: None)
    issued = build_governance(rt, say=lambda _m: None)
    fulfil_past_duties(rt, say=lambda _m: None)  # as `simpul demo`: most past duties done
    with rt.transaction() as session:  # Kemensos' office moved to Makassar: WITA (UTC+8)
        actions.update_institution(session, rt.settings, rt.clock, "kemensos",
                                   InstitutionUpdate(region="7371"), actor="uji",
                                   reason="uji zona waktu")  # fmt: skip
    write_credentials(data, issued)
    creds = {c["username"]: c for c in issued}
    enrol_demo_photos(rt, say=lambda _m: None)  # scikit-image sample faces, no real person
    registry = data / "registry"
    people = pq.read_table(registry / "kependudukan.parquet").to_pylist()
    asn = pq.read_table(registry / "asn.parquet").to_pylist()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, rt), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    # As `simpul demo` does, a matching worker beside the server (the web runs no job).
    stop = threading.Event()
    supervisor = Supervisor(rt, Options(heartbeat=0.5, poll=0.5))
    worker = threading.Thread(target=supervisor.run, kwargs={"until": stop.is_set}, daemon=True)
    worker.start()
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield Site(f"http://127.0.0.1:{port}", creds, people, asn, data)
    stop.set()
    worker.join(timeout=30)
    server.should_exit = True
    thread.join(timeout=10)
    rt.close()
    mp.undo()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():  # never a silent skip: the portal is tested in a real browser
        pytest.fail("Debian's chromium is not installed (/usr/bin/chromium): `make test` "
                    "installs it (.ci/system-deps), or `apt-get install chromium`.")  # fmt: skip
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


class Visitor:
    """One browser context (its own cookies) signed in as one account."""

    def __init__(self, browser: Any, site: Site, username: str | None, **ctx: Any) -> None:
        self.site = site
        ctx.setdefault("viewport", {"width": WIDTH, "height": 768})
        self.context = browser.new_context(**ctx)
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        if username:
            self.sign_in(username)

    def _console(self, message: Any) -> None:
        # A refused request (a wrong code 401, 403, 422) is on purpose; a 404 is a bug.
        expected = re.match(r"Failed to load resource: .* status of (401|403|422)", message.text)
        if message.type == "error" and not expected:
            self.errors.append(f"{self.page.url}: {message.text} {message.location}")

    def sign_in(self, username: str) -> None:
        page = self.page
        page.goto(self.site.base + "/")
        assert page.url.endswith("/portal/masuk")
        page.get_by_label("User ID").fill(username)
        page.get_by_label("Kata sandi").fill(self.site.password(username))
        page.get_by_role("button", name="Masuk").click()
        page.wait_for_url(re.compile(r".*/portal/(beranda|masuk/kode).*"))
        if "/portal/masuk/kode" in page.url:  # the demo's users all have a second factor
            page.get_by_label("Kode", exact=True).fill(next_code(self.site.creds[username], NOW))
            page.get_by_role("button", name="Verifikasi").click()
        page.wait_for_url("**/portal/beranda")

    def menu(self, name: str) -> None:
        """Follow a link of the side menu (the dashboard may link the same page)."""
        self.page.locator("nav.side").get_by_role("link", name=name, exact=True).click()

    def goto(self, path: str) -> Any:
        return self.page.goto(self.site.base + path)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def text(self) -> str:
        return str(self.page.inner_text("main"))

    def words(self) -> str:
        """What a person reads on the page, without the `<code>` spans (audit reasons)."""
        return str(
            self.page.evaluate(
                "() => { const m = (document.querySelector('main') || document.body)"
                ".cloneNode(true); m.querySelectorAll('code').forEach(c => c.remove());"
                " return m.innerText; }"
            )
        )

    def width(self) -> int:
        return int(self.page.evaluate("() => document.documentElement.scrollWidth"))

    def close(self) -> None:
        assert self.errors == [], self.errors  # no script error, no CSP violation
        self.context.close()


def test_every_demo_role_signs_in_to_its_dashboard(browser: Any, site: Site) -> None:
    for role, username in ROLE_ACCOUNTS.items():
        v = Visitor(browser, site, username)
        nav = v.page.locator("nav.side a").all_inner_texts()
        assert "Beranda" in nav
        assert ("Akses NIK" in nav) == (username == "bkn.operator")  # PKS 003 web portal
        assert ("Log audit" in nav) == (role in (Role.HUB_ADMIN, Role.PROVIDER_ADMIN, Role.AUDITOR))
        assert username in v.page.inner_text("header")
        v.shot(f"beranda-{role.value}")
        v.close()
    # The login page itself, in both languages, and a phone-sized dashboard.
    v = Visitor(browser, site, None)
    v.goto("/portal/masuk")
    v.shot("masuk")
    v.page.get_by_role("link", name="English").click()
    assert v.page.get_by_role("heading", name="Sign in").is_visible()
    v.shot("masuk-en")
    v.close()
    v = Visitor(browser, site, "bkn.operator", viewport={"width": 390, "height": 844})
    v.shot("beranda-operator-ponsel")
    v.close()


def test_operator_looks_up_a_person_and_verifies_elements(browser: Any, site: Site) -> None:
    person = next(p for p in site.people[2:] if p["status_hubungan_keluarga"] == "KEPALA KELUARGA")
    v = Visitor(browser, site, "bkn.operator")
    v.menu("Akses NIK")
    v.page.get_by_label("NIK").fill(person["nik"])
    v.page.get_by_role("button", name="Cari").click()
    shown = v.text()
    assert "Data ditemukan" in shown and person["nama_lengkap"] in shown
    assert "Anggota keluarga dalam satu KK" in shown
    v.shot("akses-nik")
    assert v.page.locator("img.photo").count() == 0  # no photo enrolled for this person

    # The demo enrolled a sample face for the snapshot's first person: shown where granted.
    v.page.get_by_label("NIK").fill(site.people[0]["nik"])
    v.page.get_by_role("button", name="Cari").click()
    photo = v.page.locator("img.photo")
    playwright_api.expect(photo).to_be_visible()
    assert photo.evaluate("img => img.naturalWidth") > 50
    v.shot("akses-nik-foto")

    v.menu("Verifikasi elemen")
    v.page.get_by_label("NIK").fill(person["nik"])
    v.page.get_by_label("Nama lengkap").fill(person["nama_lengkap"].lower())
    v.page.get_by_label("Tanggal lahir").fill(person["tanggal_lahir"].isoformat())
    v.page.get_by_label("Jenis kelamin").select_option(
        "PEREMPUAN" if person["jenis_kelamin"] == "LAKI-LAKI" else "LAKI-LAKI"
    )
    v.page.get_by_role("button", name="Verifikasi").click()
    rows = dict(tuple(r.split("\t")) for r in v.page.locator(".result table tr").all_inner_texts())
    assert rows == {
        "Nama lengkap": "sesuai",
        "Tanggal lahir": "sesuai",
        "Jenis kelamin": "tidak sesuai",
    }
    v.shot("verifikasi")
    v.close()

    civil = site.asn[0]
    v = Visitor(browser, site, "kemenkop.pengguna")
    v.menu("Cek status")
    v.page.get_by_label("NIK").fill(civil["nik"])
    v.page.get_by_role("button", name="Periksa").click()
    assert re.search(r"Hasil:\s*ASN", v.text()) and civil["instansi"] in v.text()
    v.shot("cek-status")
    v.close()


def test_kemenkop_operator_screens_a_bpum_list(browser: Any, site: Site, tmp_path: Path) -> None:
    """PKS 004: upload the BPUM candidates, watch the job, download the result and minutes."""
    bpum = tmp_path / "calon-bpum.csv"
    sample_list("bpum", 60, 5, site.data_dir / "synth", bpum)
    v = Visitor(browser, site, "kemenkop.operator")
    v.menu("Pemadanan daftar")
    v.page.get_by_label("Berkas daftar").set_input_files(str(bpum))
    v.page.get_by_label("Alur", exact=True).select_option("bpum")
    v.shot("pemadanan")
    v.page.get_by_role("button", name="Unggah dan padankan").click()
    v.page.wait_for_url("**/portal/pemadanan/padan-*")
    status = v.page.locator("#status-pekerjaan")
    playwright_api.expect(status).to_have_text("selesai", timeout=90_000)
    assert "Ringkasan hasil" in v.text()
    v.shot("pemadanan-selesai")
    downloads = {}
    for name in ("Daftar penerima setelah ASN dieliminasi (CSV)", "Berita acara (PDF)"):
        with v.page.expect_download() as info:
            v.page.get_by_role("link", name=name).click()
        target = tmp_path / info.value.suggested_filename
        info.value.save_as(target)
        downloads[name] = target
    assert downloads["Berita acara (PDF)"].read_bytes().startswith(b"%PDF")
    source, header = (
        downloads["Daftar penerima setelah ASN dieliminasi (CSV)"]
        .read_text("utf-8")
        .split("\n", 2)[:2]
    )
    assert source.startswith("# Sumber: Badan Kepegawaian Negara")  # PKS 000 Pasal 7(2)
    # The list's own columns as uploaded, then the result.
    assert header.startswith("NIK,NAMA,TANGGAL_LAHIR,NO_HP,ALAMAT,baris,status,alasan")
    v.close()


def test_kemensos_reviews_a_probable_match_beside_its_candidates(
    browser: Any, site: Site, tmp_path: Path
) -> None:
    """Issue 20: the reviewer sees the row and its candidates side by side."""
    usulan = tmp_path / "usulan-kpm.csv"
    people = site.asn[:4]
    rows = [f"{p['nama_lengkap'].title()},{p['tanggal_lahir']:%d-%m-%Y}" for p in people]
    usulan.write_text("nama_lengkap,tanggal_lahir\n" + "\n".join(rows) + "\n", "utf-8")
    v = Visitor(browser, site, "kemensos.operator")
    v.menu("Pemadanan daftar")
    v.page.get_by_label("Berkas daftar").set_input_files(str(usulan))
    v.page.get_by_label("Alur", exact=True).select_option("kpm")
    v.page.get_by_label("Ambang cocok tanpa tinjauan", exact=False).fill("1")
    v.page.get_by_role("button", name="Unggah dan padankan").click()
    v.page.wait_for_url("**/portal/pemadanan/padan-*")
    status = v.page.locator("#status-pekerjaan")
    playwright_api.expect(status).to_have_text("selesai", timeout=90_000)
    v.page.goto(v.page.url.split("?")[0] + "?status=kemungkinan_cocok")
    table = v.page.locator("table.candidates").first
    playwright_api.expect(table).to_be_visible()
    text = table.inner_text()
    assert "Kandidat 1 (diusulkan)" in text and "✓ sama" in text and "tanggal_lahir" in text
    assert not any(p["nik"] in v.page.content() for p in people)  # no registry NIK shown
    v.shot("pemadanan-tinjau-kandidat")
    v.page.get_by_role("button", name="Terima").first.click()
    assert "Tinjauan dicatat" in v.text()
    v.close()


def test_dukcapil_suspends_bkn_and_the_next_lookup_is_refused(browser: Any, site: Site) -> None:
    person = site.people[3]
    op = Visitor(browser, site, "bkn.operator")
    op.menu("Akses NIK")
    op.page.get_by_label("NIK").fill(person["nik"])
    op.page.get_by_role("button", name="Cari").click()
    assert "Data ditemukan" in op.text()

    admin = Visitor(browser, site, "dukcapil.admin")
    admin.menu("Perjanjian")
    admin.page.locator('tr[data-agreement="pks-dukcapil-bkn"] a').click()
    admin.shot("perjanjian-detail")
    # No one-click suspension: the control leads to a page naming what closes, for whom.
    assert admin.page.get_by_role("button", name="Tangguhkan").count() == 0
    admin.page.get_by_role("link", name="Tangguhkan perjanjian…").click()
    admin.page.wait_for_url("**/konfirmasi/tangguhkan")
    step = admin.text()
    assert "4 layanan ditutup seketika untuk Badan Kepegawaian Negara" in step
    assert "Akses NIK (web portal, Data kependudukan)" in step
    admin.shot("perjanjian-konfirmasi-tangguhkan")
    admin.page.get_by_label("Alasan").fill("dugaan penyalahgunaan akses")
    admin.page.get_by_role("button", name="Ya, tangguhkan sekarang").click()
    assert "Perjanjian ditangguhkan." in admin.text()
    assert "ditangguhkan" in admin.page.inner_text("#status-perjanjian")
    admin.shot("perjanjian-ditangguhkan")

    op.page.get_by_role("button", name="Cari").click()  # the same form, resubmitted
    refusal = op.page.get_by_role("alert")
    assert "Permintaan ditolak" in refusal.inner_text()
    assert "ditangguhkan oleh penyedia data" in refusal.inner_text()
    assert person["nama_lengkap"] not in op.text()
    op.shot("akses-nik-ditolak")

    # Dukcapil's auditor finds the refusal (it names no agreement, but Dukcapil's dataset).
    auditor = Visitor(browser, site, "dukcapil.auditor")
    auditor.menu("Log audit")
    auditor.page.get_by_label("Keputusan").select_option("tolak")
    auditor.page.get_by_role("button", name="Saring").click()
    assert "perjanjian_ditangguhkan" in auditor.text()  # the stable code, beside its words
    assert "Perjanjian sedang ditangguhkan oleh penyedia data" in auditor.words()
    auditor.shot("audit-cari")
    auditor.close()

    admin.page.get_by_label("Alasan (dicatat di log audit)").fill("klarifikasi diterima")
    admin.page.get_by_role("button", name="Lanjutkan").click()
    assert "berlaku" in admin.page.inner_text("#status-perjanjian")
    op.page.get_by_role("button", name="Cari").click()
    assert "Data ditemukan" in op.text()
    op.close()
    admin.close()


def test_auditor_reads_a_persons_access_history(browser: Any, site: Site) -> None:
    person = site.people[8]
    op = Visitor(browser, site, "bkn.operator")
    op.goto("/portal/layanan/akses-nik")
    op.page.get_by_label("NIK").fill(person["nik"])
    op.page.get_by_role("button", name="Cari").click()
    op.close()
    v = Visitor(browser, site, "dukcapil.auditor")
    v.menu("Riwayat akses orang")
    v.page.get_by_label("NIK").fill(person["nik"])
    v.page.get_by_role("button", name="Cari").click()
    rows = v.page.locator("tbody tr").all_inner_texts()
    assert any("bkn.operator" in r and "Akses NIK" in r for r in rows), rows
    assert person["nik"] not in v.text()
    v.shot("audit-subjek")
    v.menu("Integritas log")
    assert "Utuh" in v.text()
    v.shot("audit-verifikasi")
    v.close()


def test_crawler_every_link_of_every_role(browser: Any, site: Site) -> None:
    """Follow every portal link each role's pages show: nothing 5xx, nothing forbidden
    offered; and every page the role may not open answers 403."""
    for role, username in ROLE_ACCOUNTS.items():
        v = Visitor(browser, site, username)
        seen: set[str] = set()
        queue = ["/portal/beranda"]
        while queue:
            path = queue.pop(0)
            if path in seen:
                continue
            seen.add(path)
            resp = v.goto(path)
            assert resp is not None and resp.status < 500, (role, path)
            assert resp.status == 200, (role, path, resp.status)
            assert allowed(role, path), (role, path)
            if "?" not in path and "konfirmasi" not in path:  # one picture per page
                slug = path.removeprefix("/portal/").replace("/", "_") or "root"
                v.shot(f"{role.value}--{slug}")
            hrefs = v.page.eval_on_selector_all(
                "a[href]:not([download])", "els => els.map(e => e.href)"
            )
            for href in hrefs:
                local = href.removeprefix(site.base).split("#", 1)[0]
                if not local.startswith("/portal/") or local.startswith(
                    ("/portal/bahasa/", "/portal/static/")
                ):
                    continue
                if local not in seen:
                    queue.append(local)
        assert len(seen) >= 2
        for path, roles in PAGES.items():
            if role not in roles:
                resp = v.goto(path)
                assert resp is not None and resp.status == 403, (role, path)
        v.close()


def test_the_demo_howto_names_a_portal_sign_in_that_works(browser: Any, site: Site) -> None:
    port = int(site.base.rsplit(":", 1)[1])
    text = howto(site.data_dir, "127.0.0.1", port)
    found = re.search(rf"{re.escape(site.base)}/portal/ — masuk sebagai (\S+) / (\S+) ", text)
    assert found, text
    v = Visitor(browser, site, None)
    v.goto("/portal/")
    v.page.get_by_label("User ID").fill(found.group(1))
    v.page.get_by_label("Kata sandi").fill(found.group(2))
    v.page.get_by_role("button", name="Masuk").click()
    # Every demo user has a second factor; the how-to names the command that shows its code
    # (run against this site's frozen clock, the code is the one for that instant).
    v.page.wait_for_url("**/portal/masuk/kode**")
    assert f"account demo-code {found.group(1)}" in text
    v.page.get_by_label("Kode", exact=True).fill(next_code(site.creds[found.group(1)], NOW))
    v.page.get_by_role("button", name="Verifikasi").click()
    v.page.wait_for_url("**/portal/beranda")
    v.close()


def test_a_reset_second_factor_is_enrolled_again_from_the_qr_page(browser: Any, site: Site) -> None:
    admin = Visitor(browser, site, "hub.admin")
    admin.goto("/portal/akun")
    row = admin.page.locator('tr[data-account="kemensos.auditor"]')
    row.get_by_placeholder("Alasan").last.fill("ponsel hilang")
    row.get_by_role("button", name="Atur ulang faktor kedua").click()
    admin.page.wait_for_url("**/portal/akun?ok=**")
    assert "pengguna mendaftar lagi" in admin.text()
    admin.close()
    v = Visitor(browser, site, None)
    v.goto("/portal/masuk")
    v.page.get_by_label("User ID").fill("kemensos.auditor")
    v.page.get_by_label("Kata sandi").fill(site.password("kemensos.auditor"))
    v.page.get_by_role("button", name="Masuk").click()
    v.page.wait_for_url("**/portal/masuk/daftar-kode**")
    assert v.page.get_by_role("img", name="Kode QR untuk aplikasi autentikator").is_visible()
    v.shot("faktor-kedua-daftar")
    secret = v.page.locator("#rahasia-totp").inner_text().replace(" ", "")
    v.page.get_by_label("Kode dari aplikasi").fill(totp.current_code(secret, NOW.timestamp()))
    v.page.get_by_role("button", name="Aktifkan").click()
    codes = v.page.locator("#kode-pemulihan li").all_inner_texts()
    assert len(codes) == 10
    v.shot("faktor-kedua-kode-pemulihan")
    v.page.get_by_role("link", name="Lanjut").click()
    v.page.wait_for_url("**/portal/beranda")
    v.close()
    # The code page, as every later sign-in shows it.
    v = Visitor(browser, site, None)
    v.goto("/portal/masuk")
    v.page.get_by_label("User ID").fill("dukcapil.auditor")
    v.page.get_by_label("Kata sandi").fill(site.password("dukcapil.auditor"))
    v.page.get_by_role("button", name="Masuk").click()
    v.page.wait_for_url("**/portal/masuk/kode**")
    v.shot("faktor-kedua-kode")
    v.page.get_by_label("Kode", exact=True).fill("000000")
    v.page.get_by_role("button", name="Verifikasi").click()
    assert "Kode salah" in v.text()
    v.close()


def test_jabar_data_user_builds_an_aggregate_table(browser: Any, site: Site) -> None:
    v = Visitor(browser, site, "pemprov-jabar.pengguna")
    v.menu("Data Regsosek")
    v.page.get_by_label("Dimensi").select_option(["wilayah", "kelompok_umur"])
    v.page.get_by_label("Tingkat wilayah").select_option("provinsi")
    v.page.get_by_role("button", name="Buat tabel").click()
    playwright_api.expect(v.page.locator("#tabel")).to_contain_text("Wilayah × Kelompok umur")
    v.shot("regsosek-agregat")
    v.close()


# -- issue 21: the portal as people use it ----------------------------------------------------

# Each account's menu, written from the PKS grants (src/simpul/agreements/seed), not from
# simpul.portal.nav: BKN receives look-up (web portal), verification, face verification
# (PKS 003) and the DTKS status check (PKS 001); Kemenkop only the ASN status check, by web
# service and by list (PKS 004: its BPUM screening); Kemensos the ASN status check and list
# matching (PKS 001); Pemprov Jabar the Regsosek tiers and matching against Regsosek (PKS 000).
SERVICE_MENUS = {
    "bkn.operator": ["Akses NIK", "Verifikasi elemen", "Verifikasi wajah", "Cek status"],
    "bkn.pengguna": ["Akses NIK", "Verifikasi elemen", "Verifikasi wajah", "Cek status"],
    "kemenkop.pengguna": ["Cek status", "Pemadanan daftar"],
    "kemenkop.operator": ["Cek status", "Pemadanan daftar"],
    "kemensos.operator": ["Cek status", "Pemadanan daftar"],
    "pemprov-jabar.pengguna": ["Pemadanan daftar", "Data Regsosek"],
}
ADMIN_MENU = ["Perjanjian", "Akun", "Pembaca KTP-el", "Log audit", "Integritas log",
              "Riwayat akses orang"]  # fmt: skip
OTHER_MENUS = {
    "dukcapil.admin": ADMIN_MENU,  # Dukcapil provides no processing facility: no review
    "bappenas.admin": ["Tinjauan keluaran", *ADMIN_MENU],
    "kemenkop.admin-penerima": ["Perjanjian", "Akun", "Pembaca KTP-el"],
    "dukcapil.auditor": ["Perjanjian", "Log audit", "Integritas log", "Riwayat akses orang"],
}
# Codes that a page must show as words (the audit log's own reason codes stay in <code>).
CODES = ("akses_nik", "verifikasi_wajah", "cek_status", "web_service", "web_portal",
         "cocok_nik_elemen_berbeda", "kemungkinan_cocok", "bahan_bakar_memasak",
         "menunggu_tinjauan", "implementasi_teknis", "laporan_semester", "dipenuhi_terlambat",
         "verifikasi_10", "portal_13", "dukcapil →", "{'", "UTC", "Sumber: Sumber",
         "PKS 000 Pasal")  # fmt: skip
TIME = re.compile(r"\b\d{2}[.:]\d{2}(?:[.:]\d{2})? (WIB|WITA|WIT)\b")


def test_menus_follow_the_agreements_grants(browser: Any, site: Site) -> None:
    menus = {u: ["Beranda", *m, "Kewajiban & tenggat"] for u, m in SERVICE_MENUS.items()}
    menus |= {u: ["Beranda", "Kewajiban & tenggat", *m] for u, m in OTHER_MENUS.items()}
    for username, expected in menus.items():
        v = Visitor(browser, site, username)
        nav = v.page.locator("nav.side a").all_inner_texts()
        assert sorted(nav) == sorted(expected), (username, nav)
        # The dashboard's services link only to pages the menu offers.
        hrefs = "els => els.map(e => e.getAttribute('href'))"
        links = v.page.eval_on_selector_all("main table a", hrefs)
        offered = v.page.eval_on_selector_all("nav.side a", hrefs)
        assert set(links) <= set(offered), (username, links)
        v.shot(f"menu--{username}")
        v.close()
    # Kemenkop opening look-up by its address: told that its agreements do not grant it.
    v = Visitor(browser, site, "kemenkop.operator")
    v.page.get_by_role("link", name="English").click()  # the same menu, in English
    nav = v.page.locator("nav.side a").all_inner_texts()
    assert nav == ["Dashboard", "Status check", "List matching", "Duties & deadlines"], nav
    services = v.page.locator("main table tbody tr").first.inner_text()
    assert "Status check" in services and "web service" in services, services
    v.shot("beranda-kemenkop-en")
    v.page.get_by_role("link", name="Bahasa Indonesia").click()
    v.goto("/portal/layanan/akses-nik")
    playwright_api.expect(v.page.locator("#tidak-diberikan")).to_contain_text(
        "Perjanjian instansi Anda tidak memberi layanan ini"
    )
    v.shot("akses-nik-tidak-diberikan")
    v.close()


def test_every_page_fits_1366_shows_words_and_local_time(browser: Any, site: Site) -> None:
    """Crawl each account's pages at 1366 × 768: no page wider than the screen, codes shown
    as words, every time in the institution's zone with the zone named."""
    accounts = {**{u: "WIB" for u in ROLE_ACCOUNTS.values()}, "kemensos.admin": "WITA",
                "kemensos.operator": "WITA", "pemprov-jabar.pengguna": "WIB"}  # fmt: skip
    v = Visitor(browser, site, None)  # the sign-in page and its registry box fit too
    v.goto("/portal/masuk")
    assert v.width() <= WIDTH
    v.close()
    for username, zone in accounts.items():
        v = Visitor(browser, site, username)
        assert v.page.locator("header .zone").inner_text() == zone
        seen: set[str] = set()
        queue = ["/portal/beranda"]
        while queue:
            path = queue.pop(0)
            if path in seen or len(seen) >= 25:
                continue
            seen.add(path)
            resp = v.goto(path)
            assert resp is not None and resp.status == 200, (username, path)
            assert v.width() <= WIDTH, (username, path, v.width())
            words = v.words()
            if not path.startswith("/portal/audit"):  # the log's summaries are its own text
                assert not [c for c in CODES if c in words], (username, path, words[:400])
            assert {m for m in TIME.findall(words)} <= {zone}, (username, path)
            hrefs = v.page.eval_on_selector_all(
                "main a[href]:not([download]), nav a[href]", "els => els.map(e => e.href)"
            )
            for href in hrefs:
                local = href.removeprefix(site.base).split("#", 1)[0]
                if local.startswith("/portal/") and "konfirmasi" not in local and local not in seen:
                    queue.append(local)
        v.close()
    # Kemensos (Makassar) reads its own sign-in at 17.00 WITA, BKN (Jakarta) at 16.00 WIB:
    # one instant, 09.00 UTC, stored once.
    for username, shown in (("kemensos.admin", "17.00 WITA"),
                            ("bkn.admin-penerima", "16.00 WIB")):  # fmt: skip
        v = Visitor(browser, site, username)
        v.goto("/portal/akun")
        row = v.page.locator(f'tr[data-account="{username}"]').inner_text()
        assert f"23 Nov 2026 {shown}" in row, row
        v.shot(f"akun-zona--{username}")
        v.close()


def test_duties_show_the_institutions_own_and_a_realistic_mix(browser: Any, site: Site) -> None:
    v = Visitor(browser, site, "bkn.admin-penerima")
    v.goto("/portal/kewajiban")
    obligors = v.page.locator("tbody td[data-label='Pihak wajib']").all_inner_texts()
    assert obligors and all("Badan Kepegawaian Negara" in o for o in obligors)
    v.page.locator("#f-status").select_option("semua")
    v.page.get_by_role("button", name="Saring").click()
    states = v.page.locator("tbody .deadline").all_inner_texts()
    done = sum(1 for s in states if s.startswith("dipenuhi"))
    late = states.count("terlambat")
    assert done > late > 0, states  # most past duties fulfilled; a few still overdue
    v.shot("kewajiban-bkn")
    v.page.locator("#f-perjanjian").select_option("pks-kemensos-bkn")
    v.page.get_by_role("button", name="Saring").click()
    assert set(
        v.page.locator("tbody tr[data-agreement]").evaluate_all(
            "rows => rows.map(r => r.dataset.agreement)"
        )
    ) == {"pks-kemensos-bkn"}
    v.close()


def test_revocation_asks_first_and_names_the_consequence(browser: Any, site: Site) -> None:
    v = Visitor(browser, site, "kemenkop.admin-penerima")
    v.goto("/portal/akun")
    v.page.locator('tr[data-account="kemenkop.pengguna"]').get_by_role(
        "link", name="Cabut…"
    ).click()
    v.page.wait_for_url("**/konfirmasi/cabut")
    text = v.text()
    assert "Akun kemenkop.pengguna (Pengguna Data, Kementerian Koperasi" in text
    assert "kemenkop.operator" in text  # its operator loses access too
    v.shot("akun-konfirmasi-cabut")
    v.page.get_by_role("link", name="Batal, kembali").first.click()
    v.page.wait_for_url("**/portal/akun")
    assert "aktif" in v.page.locator('tr[data-account="kemenkop.pengguna"]').inner_text()
    v.close()


def test_api_docs_render_with_the_network_blocked(browser: Any, site: Site) -> None:
    v = Visitor(browser, site, None)
    outside: list[str] = []

    def only_this_node(route: Any) -> None:
        if route.request.url.startswith(site.base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    v.context.route("**/*", only_this_node)
    v.goto("/docs")
    playwright_api.expect(v.page.locator(".swagger-ui .info .title")).to_contain_text("Simpul")
    playwright_api.expect(v.page.locator(".opblock").first).to_be_visible()
    assert outside == []  # nothing was asked of a CDN
    v.shot("docs-offline")
    v.close()


def test_regsosek_pivot_chart_and_downloads(browser: Any, site: Site, tmp_path: Path) -> None:
    v = Visitor(browser, site, "pemprov-jabar.pengguna")
    v.goto("/portal/regsosek")
    v.page.get_by_label("Dimensi").select_option(["wilayah", "jenis_kelamin"])
    v.page.get_by_label("Tingkat wilayah").select_option("provinsi")
    v.page.get_by_role("button", name="Buat tabel").click()
    pivot = v.page.locator("#pivot")
    playwright_api.expect(pivot).to_be_visible()
    head = pivot.locator("thead th").all_inner_texts()
    assert head[1:] == ["LAKI-LAKI", "PEREMPUAN", "Jumlah"]
    assert pivot.locator("tbody tr").last.locator("th").inner_text() == "Jumlah"
    assert pivot.locator("td.suppressed").count() > 0  # small cells marked •
    assert v.page.locator("#grafik svg rect").count() > 0
    assert v.width() <= WIDTH
    v.shot("regsosek-pivot")
    for button, suffix in (("Unduh CSV", ".csv"), ("Unduh XLSX", ".xlsx")):
        with v.page.expect_download() as info:
            v.page.get_by_role("button", name=button).click()
        target = tmp_path / info.value.suggested_filename
        info.value.save_as(target)
        assert target.suffix == suffix
    text = (tmp_path / "regsosek-wilayah-jenis_kelamin.csv").read_text("utf-8")
    assert text.startswith("# Sumber: Data Registrasi Sosial Ekonomi (Regsosek)")
    v.close()
