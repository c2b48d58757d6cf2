"""The role × resource matrix of docs/governance.md ("Roles and resources"), driven over
HTTP: every account of the demo against every feedback, obligations and audit resource of
every agreement, through the API and the portal, on SQLite and PostgreSQL.

The matrix is written out here from the PKS themselves (who is party, who owes feedback to
whom), independently of the code that decides it, so that a wrong decision fails a cell.
An outside test once found 18–28 cross-institution 2xx answers in this very grid (auditors
of Kemensos and Bappenas downloading PKS 003's feedback data; Dukcapil's auditor reading
PKS 004's records); the grid below must hold none."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from simpul.access.schemas import Role
from simpul.audit.models import AuditRecord
from simpul.cli import app as cli_app
from simpul.config import Settings
from simpul.errors import SimpulError
from tests.portal.conftest import PortalEnv
from tests.portal.helpers import csrf_of
from tests.worlds import basic_header


@dataclass(frozen=True)
class Pks:
    parties: frozenset[str]
    feedback_by: frozenset[str] = frozenset()  # who owes feedback data (data balikan)
    feedback_to: str | None = None  # the provider it is returned to
    columns: tuple[str, ...] = ("nik",)


# From src/simpul/agreements/seed/*.yaml: `pihak` and the `data_balikan` duties.
AGREEMENTS = {
    "pks-dukcapil-bkn": Pks(frozenset({"dukcapil", "bkn"}), frozenset({"bkn"}), "dukcapil",
                            ("nik", "nip", "status_kepegawaian", "kedudukan_hukum")),
    "pks-kemenkop-bkn": Pks(frozenset({"kemenkop", "bkn"}), frozenset({"kemenkop"}), "bkn",
                            ("nik", "nama_lengkap", "tanggal_lahir")),
    "pks-kemensos-bkn": Pks(frozenset({"kemensos", "bkn"})),  # no feedback duty
    "pks-bappenas-jabar": Pks(frozenset({"bappenas", "pemprov-jabar"}),
                              frozenset({"pemprov-jabar"}), "bappenas",
                              ("nik", "no_kk", "nama_lengkap", "kode_wilayah", "alamat")),
}  # fmt: skip
# Provider → the institutions receiving its data under an agreement (the grants): their
# refusals naming no agreement (decided before one was chosen) reach the provider's readers.
RECEIVES_FROM = {"dukcapil": {"bkn"}, "bkn": {"kemenkop", "kemensos"}, "kemensos": {"bkn"},
                 "bappenas": {"pemprov-jabar"}}  # fmt: skip
# The civil servant both BKN (PKS 003) and Kemenkop (PKS 004) access: feedback owed there.
OWED = ("pks-dukcapil-bkn", "pks-kemenkop-bkn")
SERVICE = {Role.DATA_USER, Role.OPERATOR}
READERS = {Role.HUB_ADMIN, Role.PROVIDER_ADMIN, Role.RECIPIENT_ADMIN, Role.AUDITOR}
AUDIT_PAGES = {Role.HUB_ADMIN, Role.PROVIDER_ADMIN, Role.AUDITOR}
SENDERS = {Role.RECIPIENT_ADMIN, Role.OPERATOR, Role.DATA_USER}


@dataclass(frozen=True)
class Account:
    username: str
    role: Role
    institution: str
    client: bool
    bound: frozenset[str]  # agreements it acts under (an operator: its data user's)

    def sees(self, agreement: str, hub_auditors: frozenset[str] = frozenset()) -> bool:
        """Obligations, reports and records of the agreement."""
        if self.role is Role.HUB_ADMIN or self.username in hub_auditors:
            return True
        if self.role is Role.WITNESS:  # a log's checkpoints and proofs, nothing of agreements
            return False
        if self.role in SERVICE:
            return agreement in self.bound
        return self.institution in AGREEMENTS[agreement].parties

    def downloads(self, agreement: str) -> bool:
        """Feedback data: only to the provider administrator it is returned to."""
        return self.role is Role.PROVIDER_ADMIN and self.institution == (
            AGREEMENTS[agreement].feedback_to
        )

    def uploads(self, agreement: str) -> bool:
        pks = AGREEMENTS[agreement]
        return (
            self.role in SENDERS
            and self.institution in pks.feedback_by
            and (self.role is Role.RECIPIENT_ADMIN or agreement in self.bound)
        )


def accounts(creds: dict[str, dict[str, Any]]) -> list[Account]:
    out = []
    for name, c in sorted(creds.items()):
        role = Role(c["role"])
        bound = c["agreements"]
        if role is Role.OPERATOR:
            bound = creds[f"{c['institution']}.pengguna"]["agreements"]
        out.append(Account(name, role, c["institution"], c["kind"] == "client", frozenset(bound)))
    return out


@dataclass
class Grid:
    """Every answer, for the assertions and for a readable failure."""

    cells: list[tuple[str, str, str, int, bool]] = field(default_factory=list)

    def check(
        self, who: Account, resource: str, agreement: str, status: int, allowed: bool
    ) -> None:
        self.cells.append((who.username, resource, agreement, status, allowed))

    def wrong(self) -> list[tuple[str, str, str, int, bool]]:
        return [c for c in self.cells if (200 <= c[3] < 300) != c[4]]


def _agreement_of(cell: str) -> str | None:
    text = html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
    return None if text in ("", "—") else text.split(" v")[0]


def audit_rows(page: str) -> list[tuple[str | None, str | None]]:
    """(institution, agreement) of each record the audit search shows."""
    out = []
    for row in re.findall(r'<tr data-seq="\d+">(.*?)</tr>', page, re.S):
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)
        inst = re.search(r'<span class="muted">([^<]+)</span>', cells[5])
        out.append((inst.group(1) if inst else None, _agreement_of(cells[6])))
    return out


def history_rows(page: str) -> list[tuple[str | None, str | None, str]]:
    """(institution, agreement, actor) of each record a subject history shows."""
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S)
    out = []
    for row in re.findall(r"<tr>(.*?)</tr>", body.group(1) if body else "", re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        if len(cells) < 8:
            continue  # "no records"
        found = re.search(r'data-institution="([^"]*)"', row)  # the code; the cell shows the name
        inst = found.group(1) if found else ""
        out.append((inst or None, _agreement_of(cells[6]), cells[2].strip()))
    return out


def duty_agreements(page: str) -> set[str]:
    return set(re.findall(r'<tr data-duty="[^"]*" data-agreement="([^"]+)">', page))


@dataclass
class MatrixWorld:
    env: PortalEnv
    civil: dict[str, Any]  # accessed under PKS 003 and PKS 004: records under both
    bodies: dict[str, bytes]
    api: TestClient
    headers: dict[str, dict[str, str]]

    def people_niks(self) -> set[str]:
        return {self.civil["nik"]}


def _bearer(api: TestClient, creds: dict[str, Any]) -> dict[str, str]:
    resp = api.post("/api/v1/token", data={"client_id": creds["client_id"],
                                           "client_secret": creds["client_secret"]})  # fmt: skip
    assert resp.status_code == 200, resp.text
    return {"Authorization": "Bearer " + resp.json()["access_token"]}


@pytest.fixture
def matrix(portal_env: PortalEnv) -> MatrixWorld:
    env = portal_env
    civil = next(a for a in env.asn if a["kedudukan_hukum"] == "AKTIF")
    api = env.client()
    headers = {
        name: _bearer(api, c) if c["kind"] == "client" else basic_header(env.creds, name)
        for name, c in env.creds.items()
    }
    # PKS 003: BKN looks the civil servant up in the population registry (portal); PKS 004:
    # Kemenkop checks the same person's ASN status (web service). Both owe feedback on them.
    op = env.client("bkn.operator")
    page = op.get("/portal/layanan/akses-nik")
    resp = op.post(
        "/portal/layanan/akses-nik", data={"nik": civil["nik"], "csrf": csrf_of(page.text)}
    )
    assert resp.status_code == 200
    resp = api.post("/api/v1/datasets/asn/cek-status", json={"nik": civil["nik"]},
                    headers=headers["kemenkop.klien"])  # fmt: skip
    assert resp.status_code == 200 and resp.json()["hasil"] == "ASN", resp.text
    person = next(p for p in env.people if p["nik"] == civil["nik"])
    values = {
        "nik": civil["nik"], "nip": civil["nip"], "status_kepegawaian": civil["status_kepegawaian"],
        "kedudukan_hukum": civil["kedudukan_hukum"], "nama_lengkap": civil["nama_lengkap"],
        "tanggal_lahir": str(civil["tanggal_lahir"]), "no_kk": person["no_kk"],
        "kode_wilayah": person["kode_wilayah"], "alamat": person["alamat"],
    }  # fmt: skip
    bodies = {}
    for agreement, pks in AGREEMENTS.items():
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(pks.columns)
        writer.writerow([values[c] for c in pks.columns])
        bodies[agreement] = buf.getvalue().encode()
    return MatrixWorld(env, civil, bodies, api, headers)


def test_every_account_meets_exactly_the_matrix(matrix: MatrixWorld) -> None:
    env, api = matrix.env, matrix.api
    everyone = accounts(env.creds)
    # The demo's accounts: every party and role (with a log witness per recipient).
    assert len(everyone) == 29
    nik = matrix.civil["nik"]
    grid = Grid()
    leaks: list[tuple[str, str, str]] = []  # a clear NIK where the matrix gives no personal data
    portals: dict[str, TestClient] = {a.username: env.client(a.username)
                                      for a in everyone if not a.client}  # fmt: skip

    def seen(who: Account, resource: str, agreement: str, text: str, personal: bool) -> None:
        if nik in text and not personal:
            leaks.append((who.username, resource, agreement))

    # Feedback upload first (API, then portal), so that the downloads carry personal data.
    for who in everyone:
        h = matrix.headers[who.username]
        for agreement in AGREEMENTS:
            resp = api.post(f"/api/v1/perjanjian/{agreement}/data-balikan",
                            content=matrix.bodies[agreement],
                            headers={**h, "Content-Type": "text/csv"})  # fmt: skip
            grid.check(who, "api.unggah", agreement, resp.status_code, who.uploads(agreement))
            seen(who, "api.unggah", agreement, resp.text, False)
            if who.client:
                continue
            client = portals[who.username]
            csrf = csrf_of(client.get("/portal/kewajiban").text)
            resp = client.post(
                "/portal/kewajiban/data-balikan",
                data={"csrf": csrf, "perjanjian": agreement},
                files={"berkas": ("balikan.csv", matrix.bodies[agreement], "text/csv")},
            )
            grid.check(who, "portal.unggah", agreement, resp.status_code, who.uploads(agreement))
            seen(who, "portal.unggah", agreement, resp.text, False)

    for who in everyone:
        h = matrix.headers[who.username]
        resp = api.get("/api/v1/kewajiban", params={"semua": "true"}, headers=h)
        assert resp.status_code == 200, (who, resp.text)
        listed = {r["perjanjian"] for r in resp.json()}
        assert listed == {a for a in AGREEMENTS if who.sees(a)}, who
        for agreement in AGREEMENTS:
            base = f"/api/v1/perjanjian/{agreement}"
            resp = api.get(f"{base}/data-balikan", headers=h)
            grid.check(who, "api.unduh", agreement, resp.status_code, who.downloads(agreement))
            seen(who, "api.unduh", agreement, resp.text, who.downloads(agreement))
            if 200 <= resp.status_code < 300:
                assert resp.text.startswith("# Sumber: ")
                assert (nik in resp.text) == (agreement in OWED), agreement
            resp = api.get(f"{base}/data-balikan/terlambat", headers=h)
            grid.check(who, "api.terlambat", agreement, resp.status_code, who.sees(agreement))
            resp = api.get(f"{base}/laporan-penggunaan", params={"tahun": 2026, "semester": 2},
                           headers=h)  # fmt: skip
            grid.check(who, "api.laporan", agreement, resp.status_code, who.sees(agreement))
            seen(who, "api.laporan", agreement, resp.text, False)
        if who.client:
            continue
        client = portals[who.username]
        # Every party's duties (the page's default is the reader's own institution's).
        page = client.get("/portal/kewajiban", params={"status": "semua", "pihak": "semua"})
        assert page.status_code == 200
        assert duty_agreements(page.text) == {a for a in AGREEMENTS if who.sees(a)}, who
        for agreement in AGREEMENTS:
            resp = client.get(f"/portal/kewajiban/{agreement}/data-balikan.csv")
            grid.check(who, "portal.unduh", agreement, resp.status_code, who.downloads(agreement))
            seen(who, "portal.unduh", agreement, resp.text, who.downloads(agreement))
            resp = client.get(f"/portal/perjanjian/{agreement}/laporan-penggunaan",
                              params={"tahun": "2026", "semester": "2"})  # fmt: skip
            allowed = who.role in READERS and who.sees(agreement)
            grid.check(who, "portal.laporan", agreement, resp.status_code, allowed)

    # The audit search and a person's history: records of the reader's agreements and of
    # its own institution only (the hub administrator: the whole log, a governance view).
    with env.rt.transaction() as s:
        logged = dict(s.execute(select(AuditRecord.agreement_id, func.count())
                                .group_by(AuditRecord.agreement_id)).all())  # fmt: skip
    for who in everyone:
        if who.client:
            continue
        client = portals[who.username]
        for agreement in AGREEMENTS:
            resp = client.get("/portal/audit", params={"agreement_id": agreement})
            grid.check(who, "portal.audit", agreement, resp.status_code, who.role in AUDIT_PAGES)
            if resp.status_code != 200:
                continue
            rows = audit_rows(resp.text)
            if who.sees(agreement):
                assert rows and logged.get(agreement), (who, agreement)
            strangers = [r for r in rows if r[1] == agreement and r[0] != who.institution]
            assert bool(strangers) == who.sees(agreement), (who, agreement, rows[:3])
        csrf = csrf_of(client.get("/portal/kewajiban").text)  # the session's token
        resp = client.post("/portal/audit/subjek", data={"nik": nik, "csrf": csrf})
        allowed = who.role in (Role.PROVIDER_ADMIN, Role.AUDITOR)
        grid.check(who, "portal.riwayat_subjek", "*", resp.status_code, allowed)
        answer = re.sub(r'<input id="nik"[^>]*>', "", resp.text)  # the form keeps what was typed
        seen(who, "portal.riwayat_subjek", "*", answer, False)  # masked, always
        shown = history_rows(resp.text)
        for inst, in_agreement, _ in shown:
            assert (
                inst == who.institution
                or (in_agreement is not None and who.sees(in_agreement))
                or (in_agreement is None and inst in RECEIVES_FROM.get(who.institution, ()))
            ), who
        if allowed:
            by_agreement = {a for _, a, _ in shown if a}
            assert by_agreement == {a for a in OWED if who.sees(a)}, (who, shown)

    users = sum(1 for a in everyone if not a.client)
    assert len(grid.cells) == len(everyone) * 4 * 4 + users * (4 * 4 + 1)  # every cell asked
    assert grid.wrong() == []
    assert leaks == []
    # Personal data crosses to no other institution: every 2xx download went to the
    # provider the feedback is returned to, and auditors never download.
    downloads = [c for c in grid.cells if c[1].endswith("unduh") and 200 <= c[3] < 300]
    by_name = {a.username: a for a in everyone}
    assert downloads and all(
        by_name[u].institution == AGREEMENTS[a].feedback_to
        and by_name[u].role is Role.PROVIDER_ADMIN
        for u, _, a, _, _ in downloads
    )


def test_downloads_and_history_lookups_are_recorded_with_the_person(matrix: MatrixWorld) -> None:
    env, api = matrix.env, matrix.api
    nik = matrix.civil["nik"]
    csv_type = {"Content-Type": "text/csv"}
    resp = api.post("/api/v1/perjanjian/pks-dukcapil-bkn/data-balikan",
                    content=matrix.bodies["pks-dukcapil-bkn"],
                    headers={**matrix.headers["bkn.pengguna"], **csv_type})  # fmt: skip
    assert resp.status_code == 200 and resp.json()["diterima"] == 1, resp.text
    got = api.get("/api/v1/perjanjian/pks-dukcapil-bkn/data-balikan",
                  headers=matrix.headers["dukcapil.admin"])  # fmt: skip
    assert got.status_code == 200
    refused = api.get("/api/v1/perjanjian/pks-dukcapil-bkn/data-balikan",
                      headers=matrix.headers["kemensos.auditor"])  # fmt: skip
    assert refused.status_code == 403 and refused.json()["code"] == "peran_tidak_berwenang"
    auditor = env.client("dukcapil.auditor")
    page = auditor.get("/portal/audit/subjek")
    auditor.post("/portal/audit/subjek", data={"nik": nik, "csrf": csrf_of(page.text)})
    hub = env.client("hub.admin")
    page = hub.get("/portal/audit/subjek")
    resp = hub.post("/portal/audit/subjek", data={"nik": nik, "csrf": csrf_of(page.text)})
    assert resp.status_code == 403 and "bkn.operator" not in resp.text

    # Dukcapil's auditor now finds, in the person's own history: BKN's upload (the person
    # as an accepted row), Dukcapil's download, its own look-up and the hub's refused one.
    page = auditor.get("/portal/audit/subjek")
    resp = auditor.post("/portal/audit/subjek", data={"nik": nik, "csrf": csrf_of(page.text)})
    actors = [(actor, agreement) for _, agreement, actor in history_rows(resp.text)]
    assert ("bkn.pengguna", "pks-dukcapil-bkn") in actors  # kewajiban.data_balikan
    assert ("dukcapil.admin", "pks-dukcapil-bkn") in actors  # data_balikan.unduh
    assert ("dukcapil.auditor", None) in actors  # audit.riwayat_subjek
    assert ("kemenkop.klien", "pks-kemenkop-bkn") not in actors  # PKS 004: not Dukcapil's
    with env.rt.transaction() as s:
        rows = s.execute(select(AuditRecord.action, AuditRecord.decision, AuditRecord.actor,
                                AuditRecord.subject_count, AuditRecord.result)
                         .where(AuditRecord.action.in_(("data_balikan.unduh",
                                                        "audit.riwayat_subjek")))
                         .order_by(AuditRecord.seq)).all()  # fmt: skip
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("data_balikan.unduh", "izin", "dukcapil.admin", 1),
        ("data_balikan.unduh", "tolak", "kemensos.auditor", 0),
        ("audit.riwayat_subjek", "izin", "dukcapil.auditor", 1),
        ("audit.riwayat_subjek", "tolak", "hub.admin", 1),
        ("audit.riwayat_subjek", "izin", "dukcapil.auditor", 1),
    ]
    assert json.loads(rows[0][4])["baris"] == 1


def test_a_hub_wide_auditor_only_by_configuration(
    matrix: MatrixWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, api = matrix.env, matrix.api
    h = matrix.headers["bappenas.auditor"]
    listed = {r["perjanjian"] for r in api.get("/api/v1/kewajiban", params={"semua": "true"},
                                               headers=h).json()}  # fmt: skip
    assert listed == {"pks-bappenas-jabar"}
    monkeypatch.setattr(env.rt.settings, "hub_auditors", ["bappenas.auditor"])
    listed = {r["perjanjian"] for r in api.get("/api/v1/kewajiban", params={"semua": "true"},
                                               headers=h).json()}  # fmt: skip
    assert listed == set(AGREEMENTS)
    client = env.client("bappenas.auditor")
    rows = audit_rows(client.get("/portal/audit", params={"agreement_id": "pks-dukcapil-bkn"}).text)
    assert any(inst == "bkn" for inst, _ in rows)
    page = client.get("/portal/audit/subjek")
    resp = client.post("/portal/audit/subjek",
                       data={"nik": matrix.civil["nik"], "csrf": csrf_of(page.text)})  # fmt: skip
    assert {a for _, a, _ in history_rows(resp.text)} >= {"pks-dukcapil-bkn", "pks-kemenkop-bkn"}
    # Hub-wide reading is not personal data: still no feedback file.
    for agreement in AGREEMENTS:
        assert api.get(f"/api/v1/perjanjian/{agreement}/data-balikan", headers=h).status_code == 403
        assert client.get(f"/portal/kewajiban/{agreement}/data-balikan.csv").status_code == 403


def test_feedback_is_refused_once_the_agreement_is_not_in_force(matrix: MatrixWorld) -> None:
    env, api = matrix.env, matrix.api
    csv_type = {"Content-Type": "text/csv"}
    admin = env.client("dukcapil.admin")
    detail = admin.get("/portal/perjanjian/pks-dukcapil-bkn")
    form = {"csrf": csrf_of(detail.text), "reason": "uji data balikan", "konfirmasi": "ya"}
    resp = admin.post("/portal/perjanjian/pks-dukcapil-bkn/tangguhkan", data=form)
    assert resp.status_code == 200
    got = api.get("/api/v1/perjanjian/pks-dukcapil-bkn/data-balikan",
                  headers=matrix.headers["dukcapil.admin"])  # fmt: skip
    assert got.status_code == 403 and got.json()["code"] == "perjanjian_ditangguhkan"
    up = api.post("/api/v1/perjanjian/pks-dukcapil-bkn/data-balikan",
                  content=matrix.bodies["pks-dukcapil-bkn"],
                  headers={**matrix.headers["bkn.operator"], **csv_type})  # fmt: skip
    assert up.status_code == 403 and up.json()["code"] == "perjanjian_ditangguhkan"
    # The deadlines and the records stay readable: that is what an evaluation needs.
    late = api.get("/api/v1/perjanjian/pks-dukcapil-bkn/data-balikan/terlambat",
                   headers=matrix.headers["dukcapil.auditor"])  # fmt: skip
    assert late.status_code == 200


def test_the_cli_meets_the_same_matrix(matrix: MatrixWorld, tmp_path: Path) -> None:
    """`--akun` commands are the same kernel calls: the provider administrator gets a 0600
    file citing its source, an auditor none; a person's history is scoped and recorded."""
    env = matrix.env
    nik = matrix.civil["nik"]
    sent = matrix.api.post(
        "/api/v1/perjanjian/pks-dukcapil-bkn/data-balikan",
        content=matrix.bodies["pks-dukcapil-bkn"],
        headers={**matrix.headers["bkn.operator"], "Content-Type": "text/csv"},
    )
    assert sent.status_code == 200
    settings = env.rt.settings
    cli_env = {
        "SIMPUL_DATA_DIR": str(settings.data_dir),
        "SIMPUL_DATABASE_URL": settings.effective_database_url,
        "SIMPUL_AUDIT_HMAC_KEY": "test-audit-hmac-key",
        "SIMPUL_SECRET_KEY": "test-secret-key",
        "SIMPUL_PSEUDONYM_KEY": "test-pseudonym-key",
    }
    runner = CliRunner()
    out = tmp_path / "balikan.csv"
    download = ["obligations", "feedback", "download", "pks-dukcapil-bkn", "--out", str(out)]
    res = runner.invoke(cli_app, [*download, "--akun", "dukcapil.auditor"], env=cli_env)
    assert isinstance(res.exception, SimpulError) and not out.exists()
    assert res.exception.code == "peran_tidak_berwenang"
    res = runner.invoke(cli_app, [*download, "--akun", "dukcapil.admin"], env=cli_env)
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# Sumber: Badan Kepegawaian Negara (data balikan); perjanjian "
                               "pks-dukcapil-bkn versi ")  # fmt: skip
    assert any(line.startswith(nik) for line in lines[2:])
    history = ["audit", "subject", nik, "--json", "--akun"]
    res = runner.invoke(cli_app, [*history, "dukcapil.auditor"], env=cli_env)
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert {r["agreement_id"] for r in rows} - {None} == {"pks-dukcapil-bkn"}
    assert nik not in res.output.replace(f'"{nik}"', "")  # no NIK but the one asked about
    res = runner.invoke(cli_app, [*history, "hub.admin"], env=cli_env)
    assert isinstance(res.exception, SimpulError)
    assert res.exception.code == "peran_tidak_berwenang"
    with env.rt.transaction() as s:
        stmt = (
            select(AuditRecord.actor, AuditRecord.decision)
            .where(AuditRecord.action.in_(("data_balikan.unduh", "audit.riwayat_subjek")))
            .order_by(AuditRecord.seq)
        )
        assert s.execute(stmt).all() == [
            ("dukcapil.auditor", "tolak"),
            ("dukcapil.admin", "izin"),
            ("dukcapil.auditor", "izin"),
            ("hub.admin", "tolak"),
        ]


def test_hub_auditors_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().hub_auditors == []  # nobody reads the whole log by default
    monkeypatch.setenv("SIMPUL_HUB_AUDITORS", '["inspektorat.auditor", "bappenas.auditor"]')
    assert Settings().hub_auditors == ["inspektorat.auditor", "bappenas.auditor"]


def test_a_refusal_naming_no_agreement_reaches_only_the_counterpart_provider(
    matrix: MatrixWorld,
) -> None:
    """PKS 003 suspended: BKN's next look-up is refused before any agreement is chosen. Its
    provider's auditor finds it; Kemensos' attempt on the same registry without any
    agreement with Dukcapil it does not (that stays between Kemensos and the hub)."""
    env, api = matrix.env, matrix.api
    person = env.people[30]
    admin = env.client("dukcapil.admin")
    detail = admin.get("/portal/perjanjian/pks-dukcapil-bkn")
    form = {"csrf": csrf_of(detail.text), "reason": "uji", "konfirmasi": "ya"}
    assert (
        admin.post("/portal/perjanjian/pks-dukcapil-bkn/tangguhkan", data=form).status_code == 200
    )
    op = env.client("bkn.operator")
    page = op.get("/portal/layanan/akses-nik")
    form = {"nik": person["nik"], "csrf": csrf_of(page.text)}
    assert op.post("/portal/layanan/akses-nik", data=form).status_code == 403
    body = {"nik": person["nik"], "elemen": {"nama_lengkap": person["nama_lengkap"]}}
    resp = api.post("/api/v1/datasets/kependudukan/verifikasi", json=body,
                    headers=matrix.headers["kemensos.klien"])  # fmt: skip
    assert resp.status_code == 403
    with env.rt.transaction() as s:
        refused = s.execute(select(AuditRecord.institution, AuditRecord.agreement_id)
                            .where(AuditRecord.decision == "tolak",
                                   AuditRecord.dataset == "kependudukan")).all()  # fmt: skip
    assert set(refused) == {("bkn", None), ("kemensos", None)}
    search = {"decision": "tolak"}
    auditor = env.client("dukcapil.auditor")
    rows = audit_rows(auditor.get("/portal/audit", params=search).text)
    assert ("bkn", None) in rows and ("kemensos", None) not in rows
    rows = audit_rows(env.client("hub.admin").get("/portal/audit", params=search).text)
    assert {("bkn", None), ("kemensos", None)} <= set(rows)
    page = auditor.get("/portal/audit/subjek")
    resp = auditor.post("/portal/audit/subjek", data={"nik": person["nik"],
                                                      "csrf": csrf_of(page.text)})  # fmt: skip
    assert [(inst, agreement) for inst, agreement, _ in history_rows(resp.text)] == [("bkn", None)]
