"""Pemadanan results are governed like any other disclosure: every download is decided on
the request (a suspended or terminated agreement refuses the very next one), only the job's
owner reaches it, and each writes exactly one audit record naming every person in it; the
files cite their source; stored jobs are private and deleted after the agreement's
retention period."""

from __future__ import annotations

import csv
import io
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import func, select, update

from simpul import kernel
from simpul.agreements.schemas import Mechanism
from simpul.audit.models import AuditRecord
from simpul.audit.service import subject_history
from simpul.governance import actions as governance
from simpul.kernel import AccountName, Node, Origin
from simpul.kit.clock import FixedClock
from simpul.matching.engine import match
from simpul.pemadanan import runner, service
from simpul.pemadanan.models import MatchIssue, MatchJob, MatchResultRow
from simpul.pemadanan.repository import JobRepository
from simpul.pemadanan.service import job_dir, purge_expired
from simpul.portal.settings import PortalSettings
from simpul.registry.synth import sample_list
from tests.portal.helpers import sign_in

from .conftest import NOW, Env

OWNER = "kemensos.operator"
AGREEMENT = "pks-kemensos-bkn"
# Everyone else who can sign in at the owner's institution, and another institution's user.
OTHERS = ("kemensos.pengguna", "kemensos.admin-penerima", "kemensos.admin", "kemensos.auditor",
          "bkn.operator")  # fmt: skip
DOWNLOADS = ("hasil.csv", "daftar/selisih.csv", "daftar/asn.csv", "berita-acara.pdf", "hasil",
             "galat")  # fmt: skip


def _job(env: Env, tmp_path: Path, rows: int = 120, seed: int = 5) -> str:
    listing = tmp_path / "kpm.csv"
    sample_list("kpm", rows, seed, env.world, listing)
    with listing.open("a", encoding="utf-8") as fh:  # a row with an issue, echoed by /galat
        fh.write("1234,,\n")
    # Every probable match waits for review, so the discrepancy list names people too.
    resp = env.submit(OWNER, listing, alur="kpm", ambang_terima=1)
    assert resp.status_code == 202, resp.text
    job_id: str = resp.json()["id"]
    assert env.wait(OWNER, job_id)["status"] == "selesai"
    return job_id


def _mark(env: Env) -> int:
    with env.rt.transaction() as s:
        return int(s.scalar(select(func.max(AuditRecord.seq))) or 0)


def _since(env: Env, seq: int) -> list[AuditRecord]:
    with env.rt.transaction() as s:
        stmt = select(AuditRecord).where(AuditRecord.seq > seq).order_by(AuditRecord.seq)
        return list(s.scalars(stmt))


def _get(env: Env, user: str, job_id: str, what: str) -> Any:
    return env.client.get(f"/api/v1/pemadanan/{job_id}/{what}", headers=env.basic(user))


def _rows(env: Env, job_id: str) -> list[MatchResultRow]:
    with env.rt.transaction() as s:
        return JobRepository(s).results(job_id, limit=None)[1]


def _people(rows: list[MatchResultRow]) -> set[str]:
    """Everyone these rows name: the NIK the list gives and the registry person linked."""
    out: set[str] = set()
    for r in rows:
        given = "".join(ch for ch in str(r.input.get("nik", "")) if ch.isdigit())
        out |= {n for n in (given if len(given) == 16 else None, r.nik_cocok) if n}
    return out


def _csv_lines(text: str) -> set[int]:
    first, _, rest = text.partition("\n")
    assert first.startswith("# Sumber: "), first
    return {int(r["baris"]) for r in csv.DictReader(io.StringIO(rest))}


def _in_file(env: Env, job_id: str, what: str, resp: Any) -> set[str]:
    """The people the answer to `what` shows."""
    rows = _rows(env, job_id)
    if what.endswith(".csv"):
        lines = _csv_lines(resp.text)
        return _people([r for r in rows if r.line in lines])
    if what == "hasil":
        lines = {item["baris"] for item in resp.json()["item"]}
        return _people([r for r in rows if r.line in lines])
    if what == "galat":
        lines = {g["baris"] for g in resp.json()}
        return _people([r for r in rows if r.line in lines])
    return _people(rows)  # the berita acara states the outcome for the whole list


def test_each_download_writes_one_record_naming_everyone_in_it(env: Env, tmp_path: Path) -> None:
    job_id = _job(env, tmp_path)
    for what in DOWNLOADS:
        before = _mark(env)
        resp = _get(env, OWNER, job_id, what)
        assert resp.status_code == 200, (what, resp.text)
        records = _since(env, before)
        assert len(records) == 1, (what, [(r.action, r.decision) for r in records])
        (rec,) = records
        assert rec.decision == "izin" and rec.actor == OWNER and rec.agreement_id == AGREEMENT
        people = _in_file(env, job_id, what, resp)
        assert rec.subject_count == len(people), what
        if what != "galat":
            assert rec.subject_count > 0, what
    # Someone in hasil.csv finds that download in their own access history.
    before = _mark(env)
    assert _get(env, OWNER, job_id, "hasil.csv").status_code == 200
    (rec,) = _since(env, before)
    someone = next(r.nik_cocok for r in _rows(env, job_id) if r.nik_cocok)
    with env.rt.transaction() as s:
        assert any(a.seq == rec.seq for a in subject_history(s, env.settings, someone))


@pytest.mark.parametrize(
    ("act", "code"), [("suspend", "perjanjian_ditangguhkan"), ("terminate", "perjanjian_diakhiri")]
)
def test_downloads_close_the_moment_the_agreement_stops(
    env: Env, tmp_path: Path, act: str, code: str
) -> None:
    job_id = _job(env, tmp_path)
    assert _get(env, OWNER, job_id, "hasil.csv").status_code == 200
    with env.rt.transaction() as s:
        change = (
            governance.suspend_agreement if act == "suspend" else governance.terminate_agreement
        )
        change(s, env.settings, env.rt.clock, AGREEMENT, actor="bkn.admin", reason="uji")
    for what in DOWNLOADS:
        before = _mark(env)
        resp = _get(env, OWNER, job_id, what)
        assert resp.status_code == 403, (what, resp.text)
        assert resp.json()["code"] == code
        assert "Sumber" not in resp.text and "%PDF" not in resp.text
        records = _since(env, before)
        assert [(r.decision, r.reason) for r in records] == [("tolak", code)], what
    # Reviewing is refused as well, and the status stays readable for the owner.
    resp = env.client.post(f"/api/v1/pemadanan/{job_id}/hasil/2/tinjau",
                           json={"keputusan": "ditolak"}, headers=env.basic(OWNER))  # fmt: skip
    assert resp.status_code == 403 and resp.json()["code"] == code
    assert (
        env.client.get(f"/api/v1/pemadanan/{job_id}", headers=env.basic(OWNER)).status_code == 200
    )
    if act == "suspend":  # resumed: available again
        with env.rt.transaction() as s:
            governance.resume_agreement(s, env.settings, env.rt.clock, AGREEMENT,
                                        actor="bkn.admin", reason="klarifikasi")  # fmt: skip
        assert _get(env, OWNER, job_id, "hasil.csv").status_code == 200


@pytest.mark.parametrize("other", OTHERS)
def test_only_the_owner_reaches_a_job(env: Env, tmp_path: Path, other: str) -> None:
    """Another user, the administrator or the auditor of the same institution gets what a
    stranger gets: no such job, recorded."""
    job_id = _job(env, tmp_path, rows=40)
    for what in ("", *DOWNLOADS):
        before = _mark(env)
        resp = _get(env, other, job_id, what) if what else env.client.get(
            f"/api/v1/pemadanan/{job_id}", headers=env.basic(other))  # fmt: skip
        assert resp.status_code == 404, (what, resp.text)
        assert resp.json()["code"] == "pekerjaan_tidak_ditemukan"
        records = _since(env, before)
        assert [(r.decision, r.reason, r.actor) for r in records] == [
            ("tolak", "pekerjaan_tidak_ditemukan", other)
        ], what
        assert all(r.subject_count == 0 for r in records)
    for path, body in ((f"{job_id}/batal", None), (f"{job_id}/hasil/2/tinjau",
                                                    {"keputusan": "diterima"})):  # fmt: skip
        resp = env.client.post(f"/api/v1/pemadanan/{path}", json=body, headers=env.basic(other))
        assert resp.status_code == 404 and resp.json()["code"] == "pekerjaan_tidak_ditemukan"
    listed = env.client.get("/api/v1/pemadanan", headers=env.basic(other))
    assert listed.status_code == 200 and job_id not in {j["id"] for j in listed.json()}
    assert job_id in {
        j["id"] for j in env.client.get("/api/v1/pemadanan", headers=env.basic(OWNER)).json()
    }


def _portal(env: Env, username: str) -> TestClient:
    env.client.app.state.portal.cfg = PortalSettings(cookie_secure="auto")  # type: ignore[attr-defined]
    client = TestClient(env.client.app, client=("127.0.0.1", 50000))
    cred = env.creds[username]
    resp = sign_in(client, username, cred["password"], cred, env.rt.clock.now())
    assert resp.status_code == 200 and resp.url.path == "/portal/beranda", resp.text
    return client


def test_portal_job_page_and_downloads_are_governed(env: Env, tmp_path: Path) -> None:
    job_id = _job(env, tmp_path, rows=40)
    base = f"/portal/pemadanan/{job_id}"
    owner = _portal(env, OWNER)
    for path in (base, f"{base}/unduh/hasil.csv", f"{base}/unduh/selisih.csv",
                 f"{base}/berita-acara.pdf"):  # fmt: skip
        before = _mark(env)
        resp = owner.get(path)
        assert resp.status_code == 200, path
        records = _since(env, before)
        assert [(r.decision, r.actor) for r in records] == [("izin", OWNER)], path
        if "selisih" not in path:  # the discrepancy list of a small sample may be empty
            assert records[0].subject_count > 0, path
        if path.endswith(".csv"):
            rows = [r for r in _rows(env, job_id) if r.line in _csv_lines(resp.text)]
            assert records[0].subject_count == len(_people(rows))
    # A colleague at the same institution: no such job, and no file.
    colleague = _portal(env, "kemensos.pengguna")
    for path in (base, f"{base}/unduh/hasil.csv", f"{base}/berita-acara.pdf"):
        before = _mark(env)
        resp = colleague.get(path)
        assert resp.status_code == 404 and "Sumber" not in resp.text, path
        assert [r.reason for r in _since(env, before)] == ["pekerjaan_tidak_ditemukan"]
    # Suspended: the page still shows the job's state, but no result and no file.
    with env.rt.transaction() as s:
        governance.suspend_agreement(s, env.settings, env.rt.clock, AGREEMENT,
                                     actor="bkn.admin", reason="uji")  # fmt: skip
    page = owner.get(base)
    assert page.status_code == 403 and 'id="status-pekerjaan">selesai' in page.text
    assert "/unduh/" not in page.text and "data-line=" not in page.text
    assert owner.get(f"{base}/unduh/hasil.csv").status_code == 403
    assert owner.get(f"{base}/berita-acara.pdf").status_code == 403


def test_files_cite_their_source(env: Env, tmp_path: Path) -> None:
    job_id = _job(env, tmp_path, rows=40)
    expected = "# Sumber: Badan Kepegawaian Negara; perjanjian pks-kemensos-bkn versi 2"
    for what in ("hasil.csv", "daftar/selisih.csv", "daftar/asn.csv"):
        first = _get(env, OWNER, job_id, what).text.splitlines()[0]
        assert first.startswith(expected) and first.endswith("(PKS Pasal 7 ayat (2))."), first
    pdf = _get(env, OWNER, job_id, "berita-acara.pdf").content
    pages = PdfReader(io.BytesIO(pdf)).pages
    for page in pages:  # the footer of every page
        flat = " ".join((page.extract_text() or "").split())
        assert "Sumber: Badan Kepegawaian Negara; perjanjian pks-kemensos-bkn versi 2" in flat


def test_stored_jobs_are_private(env: Env, tmp_path: Path) -> None:
    job_id = _job(env, tmp_path, rows=20)
    folder = job_dir(env.settings, job_id)
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = list(folder.iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_a_suspension_stops_a_running_job(env: Env, tmp_path: Path) -> None:
    """The runner's re-check at a progress step is the kernel's decision for the owner."""
    listing = tmp_path / "kpm.csv"
    sample_list("kpm", 60, 2, env.world, listing)
    origin = Origin(Mechanism.BATCH, action="pemadanan.unggah", dataset="asn", internal=True)
    job = kernel.run(Node(env.rt), AccountName(OWNER), origin, service.submit, upload=listing,
                     filename=listing.name, dataset=None, workflow="kpm")  # fmt: skip

    def suspending(reg: Any, q: Any, opts: Any = None, **kw: Any) -> Any:
        with env.rt.transaction() as s:  # the agreement is suspended while the job runs
            governance.suspend_agreement(s, env.settings, env.rt.clock, AGREEMENT,
                                         actor="bkn.admin", reason="uji")  # fmt: skip
        kw["progress"](1.0)  # its next progress step
        return match(reg, q, opts, **kw)

    assert runner.run_one(env.rt, job.id, matcher=suspending)
    with env.rt.transaction() as s:
        done = JobRepository(s).get(job.id)
        assert done is not None
        assert done.status == "gagal" and done.error_code == "perjanjian_ditangguhkan"
        count = s.scalar(select(func.count()).select_from(MatchResultRow)
                         .where(MatchResultRow.job_id == job.id))  # fmt: skip
        assert count == 0
        records = s.scalars(select(AuditRecord).where(AuditRecord.request_id == job.id)).all()
        assert [(r.decision, r.reason) for r in records] == [("tolak", "perjanjian_ditangguhkan")]


def test_purge_deletes_jobs_past_the_agreements_retention(env: Env, tmp_path: Path) -> None:
    old = _job(env, tmp_path, rows=20, seed=1)
    fresh = _job(env, tmp_path, rows=20, seed=2)
    with env.rt.transaction() as s:  # PKS 001 Pasal 9(1): 30 days
        s.execute(update(MatchJob).where(MatchJob.id == old)
                  .values(created_at=NOW - timedelta(days=31)))  # fmt: skip
        s.execute(update(MatchJob).where(MatchJob.id == fresh)
                  .values(created_at=NOW - timedelta(days=29)))  # fmt: skip
    assert job_dir(env.settings, old).exists()
    before = _mark(env)
    with env.rt.transaction() as s:
        assert purge_expired(s, env.settings, FixedClock(NOW)) == 1
    with env.rt.transaction() as s:
        assert s.get(MatchJob, old) is None and s.get(MatchJob, fresh) is not None
        for table in (MatchResultRow, MatchIssue):
            left = s.scalar(select(func.count()).select_from(table).where(table.job_id == old))
            assert left == 0
        assert s.scalar(select(func.count()).select_from(MatchResultRow)
                        .where(MatchResultRow.job_id == fresh))  # fmt: skip
    assert not job_dir(env.settings, old).exists() and job_dir(env.settings, fresh).exists()
    records = _since(env, before)
    assert [(r.action, r.decision) for r in records] == [("pemadanan.hapus_retensi", "tindakan")]
    assert '"jumlah":1' in records[0].result.replace(" ", "")
    assert _get(env, OWNER, old, "hasil.csv").status_code == 404
    assert _get(env, OWNER, fresh, "hasil.csv").status_code == 200
    before = _mark(env)
    with env.rt.transaction() as s:  # nothing more to delete: nothing recorded
        assert purge_expired(s, env.settings, FixedClock(NOW)) == 0
    assert _since(env, before) == []
