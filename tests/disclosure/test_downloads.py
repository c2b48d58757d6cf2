"""Downloading an extract is a decision of its own (outside-test finding: after `agreement
terminate` a 706-person BNBA file still answered 200, and no download was in the log).

Every download — API, portal, CLI — is decided for the account that made the extract,
under the agreement it was made under, while that agreement is in force; it is recorded
with the persons in the file; the file carries the PKS 000 Pasal 7 ayat (2) source line and
is deleted once older than the agreement's retention. Processing outputs and the
provider's review follow the same rule."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import typer
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from simpul.access.schemas import AccountCreate
from simpul.agreements import service as agreements
from simpul.audit.models import AuditRecord
from simpul.audit.service import subject_history
from simpul.commands.disclosure import app as regsosek_app
from simpul.disclosure import service as svc
from simpul.disclosure import store
from simpul.disclosure.models import ProcessingOutput
from simpul.errors import SimpulError
from simpul.governance.actions import accounts as account_actions
from simpul.governance.actions import agreements as agreement_actions
from simpul.registry.service import snapshot_path
from tests.disclosure.conftest import Env
from tests.portal.helpers import csrf_of, sign_in, text_of

BASE = "/api/v1/datasets/regsosek"
JABAR = "pemprov-jabar.pengguna"
COLLEAGUE = "pemprov-jabar.analis"
AGREEMENT = "pks-bappenas-jabar"
HELD_SQL = "SELECT kode_wilayah, count(*) AS n FROM regsosek GROUP BY 1"  # tiny cells
SAFE_SQL = "SELECT jenis_kelamin, count(*) AS n FROM regsosek GROUP BY 1"


def _head(env: Env) -> int:
    with env.rt.transaction() as s:
        return int(s.scalar(select(func.coalesce(func.max(AuditRecord.seq), 0))) or 0)


def _since(env: Env, mark: int) -> list[AuditRecord]:
    with env.rt.transaction() as s:
        query = select(AuditRecord).where(AuditRecord.seq > mark).order_by(AuditRecord.seq)
        return list(s.scalars(query))


def _extract(env: Env, tier: str = "bnba", fmt: str = "csv", user: str = JABAR) -> dict[str, Any]:
    resp = env.client.post(f"{BASE}/{tier}", json={"format": fmt}, headers=env.basic(user))
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _csv(text: str, source: str) -> list[dict[str, str]]:
    first, rest = text.split("\n", 1)
    assert first == f"# {source}"  # the first line cites the source (PKS 000 Pasal 7(2))
    return list(csv.DictReader(io.StringIO(rest)))


def _govern(env: Env, action: str) -> None:
    fn = {
        "suspend": agreement_actions.suspend_agreement,
        "resume": agreement_actions.resume_agreement,
        "terminate": agreement_actions.terminate_agreement,
    }[action]
    with env.rt.transaction() as s:
        fn(s, env.rt.settings, env.rt.clock, AGREEMENT, actor="hub.admin", reason="uji")


def _colleague(env: Env) -> None:
    """A second data user of the same institution, under the same agreement."""
    data = AccountCreate.model_validate(
        {"institution": "pemprov-jabar", "role": "data_user", "username": COLLEAGUE,
         "agreement_ids": [AGREEMENT]}
    )  # fmt: skip
    with env.rt.transaction() as s:
        issued = account_actions.create_account(s, env.rt.settings, env.rt.clock, data,
                                                actor="hub.admin")  # fmt: skip
    env.creds[COLLEAGUE] = {"password": issued.secret.get_secret_value()}


def _refused(resp: object, status: int, code: str) -> None:
    assert getattr(resp, "status_code") == status, getattr(resp, "text")  # noqa: B009
    assert getattr(resp, "headers")["content-type"] == "application/problem+json"  # noqa: B009
    assert getattr(resp, "json")()["code"] == code  # noqa: B009


def test_each_bnba_download_is_one_record_naming_every_person_in_the_file(env: Env) -> None:
    out = _extract(env)
    assert out["sumber"].startswith(
        "Sumber: Data Registrasi Sosial Ekonomi (Regsosek), Kementerian Perencanaan"
    )
    assert (
        f"perjanjian {AGREEMENT} versi 2" in out["sumber"] and "Pasal 7 ayat (2)" in out["sumber"]
    )
    h = env.basic(JABAR)
    for _ in range(2):
        mark = _head(env)
        got = env.client.get(out["unduh"], headers=h)
        assert got.status_code == 200, got.text
        rows = _csv(got.text, out["sumber"])
        assert len(rows) == out["baris"] > 0
        records = _since(env, mark)
        assert len(records) == 1
        rec = records[0]
        assert (rec.action, rec.decision, rec.actor, rec.agreement_id) == (
            "bnba", "izin", JABAR, AGREEMENT
        )  # fmt: skip
        assert rec.subject_count == len({r["nik"] for r in rows}) == len(rows)
        assert json.loads(rec.result) == {"berkas": f"{out['ekstrak_id']}.csv", "baris": len(rows)}
    # a person in the file sees the extract and both downloads (UU PDP Pasal 32)
    with env.rt.transaction() as s:
        history = subject_history(s, env.rt.settings, rows[0]["nik"])
    assert [(a.action, a.decision, a.actor) for a in history] == [("bnba", "izin", JABAR)] * 3
    # the node's files of the extract are readable by the node's user only
    folder = store.extract_dir(env.rt.settings)
    assert folder.stat().st_mode & 0o777 == 0o700
    files = store.files_of(env.rt.settings, out["ekstrak_id"])
    assert {p.suffix for p in files} == {".csv", ".json", ".subjek"}
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in files)


def test_microdata_download_names_the_persons_behind_its_pseudonyms(env: Env) -> None:
    out = _extract(env, "mikro", "csv")
    mark = _head(env)
    got = env.client.get(out["unduh"], headers=env.basic(JABAR))
    assert got.status_code == 200, got.text
    rows = _csv(got.text, out["sumber"])
    assert len(rows) == out["baris"] > 0 and "nik" not in rows[0]
    (rec,) = _since(env, mark)
    assert (rec.action, rec.decision, rec.subject_count) == ("mikro", "izin", len(rows))
    assert json.loads(rec.result) == {"berkas": f"{out['ekstrak_id']}.csv", "baris": len(rows)}
    # a person outside the grant's province is not among them
    world = pq.read_table(
        snapshot_path(env.rt.settings, "regsosek"), columns=["nik", "kode_wilayah"]
    )
    outside = next(r["nik"] for r in world.to_pylist() if not r["kode_wilayah"].startswith("32"))
    with env.rt.transaction() as s:
        assert subject_history(s, env.rt.settings, outside) == []
    parquet = _extract(env, "mikro", "parquet")
    got = env.client.get(parquet["unduh"], headers=env.basic(JABAR))
    meta = pq.ParquetFile(io.BytesIO(got.content)).metadata.metadata
    assert meta[b"sumber"].decode() == parquet["sumber"]


def test_suspension_expiry_and_termination_refuse_the_very_next_download(env: Env) -> None:
    h, admin = env.basic(JABAR), env.basic("bappenas.admin")
    out = _extract(env)
    released = env.client.post(f"{BASE}/pengolahan", json={"sql": SAFE_SQL}, headers=h).json()
    held = env.client.post(f"{BASE}/pengolahan", json={"sql": HELD_SQL}, headers=h).json()
    assert (released["status"], held["status"]) == ("dirilis", "menunggu_tinjauan")
    assert env.client.get(out["unduh"], headers=h).status_code == 200

    def all_refused(code: str) -> None:
        mark = _head(env)
        _refused(env.client.get(out["unduh"], headers=h), 403, code)
        (rec,) = _since(env, mark)  # recorded, with the persons asked for
        assert (rec.action, rec.decision, rec.reason) == ("bnba", "tolak", code)
        assert rec.subject_count == out["baris"]
        _refused(env.client.get(f"{BASE}/pengolahan/{released['id']}", headers=h), 403, code)
        _refused(env.client.get(f"{BASE}/tinjauan", headers=admin), 403, code)
        review = {"keputusan": "setujui", "alasan": "diperiksa"}
        resp = env.client.post(f"{BASE}/tinjauan/{held['id']}", json=review, headers=admin)
        _refused(resp, 403, code)
        refusals = [r for r in _since(env, mark) if r.decision == "tolak" and r.reason == code]
        assert len(refusals) == 4

    _govern(env, "suspend")
    all_refused("perjanjian_ditangguhkan")
    _govern(env, "resume")
    assert env.client.get(out["unduh"], headers=h).status_code == 200
    queue = env.client.get(f"{BASE}/tinjauan", headers=admin).json()
    assert [q["id"] for q in queue] == [held["id"]]
    env.rt.clock.advance(timedelta(days=3650))  # type: ignore[attr-defined]
    all_refused("perjanjian_berakhir")
    env.rt.clock.advance(-timedelta(days=3650))  # type: ignore[attr-defined]
    _govern(env, "terminate")
    all_refused("perjanjian_diakhiri")
    with env.rt.transaction() as s:  # the output stayed as it was: nobody reviewed it
        assert s.get(ProcessingOutput, held["id"]).status == "menunggu_tinjauan"  # type: ignore[union-attr]


def test_only_the_owner_downloads_and_every_other_attempt_is_recorded(env: Env) -> None:
    _colleague(env)
    out = _extract(env)
    mine = env.client.post(f"{BASE}/pengolahan", json={"sql": SAFE_SQL},
                           headers=env.basic(JABAR)).json()  # fmt: skip
    other = env.basic(COLLEAGUE)
    own = _extract(env, user=COLLEAGUE)  # entitled to BNBA itself …
    assert env.client.get(own["unduh"], headers=other).status_code == 200
    mark = _head(env)
    _refused(env.client.get(out["unduh"], headers=other), 404, "ekstrak_tidak_ada")  # … not to this
    (rec,) = _since(env, mark)
    assert (rec.actor, rec.decision, rec.reason, rec.agreement_id, rec.subject_count) == (
        COLLEAGUE, "tolak", "ekstrak_tidak_ada", AGREEMENT, 0
    )  # fmt: skip
    assert json.loads(rec.result) == {"berkas": f"{out['ekstrak_id']}.csv"}
    for who, path in ((other, f"{BASE}/pengolahan/{mine['id']}"),
                      (env.basic("kemensos.analis"), out["unduh"]),
                      (env.basic(JABAR), f"{BASE}/ekstrak/bnba-tidak-ada"),
                      (env.basic(JABAR), f"{BASE}/ekstrak/..simpul.db")):  # fmt: skip
        mark = _head(env)
        resp = env.client.get(path, headers=who)
        assert resp.status_code == 404, (path, resp.text)
        assert [r.decision for r in _since(env, mark)] == ["tolak"], path
    # a revoked owner is refused on the next download
    with env.rt.transaction() as s:
        account_actions.revoke_account(s, env.rt.settings, env.rt.clock, JABAR,
                                       actor="hub.admin", reason="pindah tugas")  # fmt: skip
    resp = env.client.get(out["unduh"], headers=env.basic(JABAR))
    assert resp.status_code == 401 and "nik" not in resp.text


def test_purge_deletes_what_outlived_the_agreements_retention(env: Env) -> None:
    h = env.basic(JABAR)
    old = [_extract(env), _extract(env, "mikro", "parquet")]
    output = env.client.post(f"{BASE}/pengolahan", json={"sql": SAFE_SQL}, headers=h).json()
    with env.rt.transaction() as s:
        days = agreements.retention_days(s, AGREEMENT)
    assert days == 30  # retensi.hari of PKS 000 (Pasal 6 ayat (4) huruf a)

    def purge() -> tuple[int, list[AuditRecord]]:
        mark = _head(env)
        with env.rt.transaction() as s:
            n = svc.purge_expired(s, env.rt.settings, env.rt.clock)
        return n, [r for r in _since(env, mark) if r.action == "disklosur.hapus_retensi"]

    assert purge() == (0, [])  # nothing old enough: nothing deleted, nothing recorded
    env.rt.clock.advance(timedelta(days=days - 1))  # type: ignore[attr-defined]
    young = _extract(env)
    env.rt.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    n, records = purge()
    assert n == 3 and len(records) == 1
    rec = records[0]
    assert (rec.decision, rec.actor) == ("tindakan", "sistem")
    assert json.loads(rec.result) == {"ekstrak": 2, "keluaran": 1, "jumlah": 3}
    for gone in old:
        assert store.files_of(env.rt.settings, gone["ekstrak_id"]) == []
        _refused(env.client.get(gone["unduh"], headers=h), 404, "ekstrak_tidak_ada")
    _refused(env.client.get(f"{BASE}/pengolahan/{output['id']}", headers=h), 404,
             "keluaran_tidak_ada")  # fmt: skip
    assert env.client.get(young["unduh"], headers=h).status_code == 200
    assert purge() == (0, [])


def test_a_refused_request_does_not_break_the_next_one(env: Env) -> None:
    """A refusal ended its read transaction with a rollback, which expired the governance
    memo's agreement rows: the next request of the same epoch failed with a 500."""
    h = env.basic(JABAR)
    _refused(env.client.post(f"{BASE}/mikro", json={"wilayah": "31"}, headers=h), 403,
             "di_luar_cakupan_wilayah")  # fmt: skip
    resp = env.client.post(f"{BASE}/mikro", json={"wilayah": "32"}, headers=h)
    assert resp.status_code == 200, resp.text
    assert env.client.get(resp.json()["unduh"], headers=h).status_code == 200


def _portal(env: Env, username: str) -> TestClient:
    client = TestClient(env.client.app, client=("127.0.0.1", 50000))
    cred = env.creds[username]
    resp = sign_in(client, username, cred["password"], cred, env.rt.clock.now())
    assert resp.status_code == 200 and resp.url.path == "/portal/beranda", resp.text
    return client


def test_portal_download_is_decided_recorded_and_cites_the_source_once(env: Env) -> None:
    user = _portal(env, JABAR)
    page = user.get("/portal/regsosek")
    resp = user.post("/portal/regsosek/bnba", data={"csrf": csrf_of(page.text), "format": "csv"})
    shown = text_of(resp.text)
    assert resp.status_code == 200, shown
    assert "Sumber: Data Registrasi Sosial Ekonomi" in shown and "Sumber: Sumber" not in shown
    link = resp.text.split('href="/portal/regsosek/ekstrak/', 1)[1].split('"', 1)[0]
    mark = _head(env)
    got = user.get(f"/portal/regsosek/ekstrak/{link}")
    assert got.status_code == 200 and got.headers["cache-control"] == "no-store"
    assert got.text.startswith("# Sumber: Data Registrasi Sosial Ekonomi")
    (rec,) = _since(env, mark)
    rows = got.text.count("\n") - 2  # source line, header
    assert (rec.action, rec.decision, rec.actor, rec.subject_count) == ("bnba", "izin", JABAR, rows)
    table = user.post("/portal/regsosek/agregat",
                      data={"csrf": csrf_of(page.text), "dimensi": ["jenis_kelamin"]})  # fmt: skip
    assert "Sumber: Sumber" not in text_of(table.text)
    _govern(env, "terminate")
    mark = _head(env)
    refused = user.get(f"/portal/regsosek/ekstrak/{link}")
    assert refused.status_code == 403 and "diakhiri" in text_of(refused.text)
    assert [(r.decision, r.reason) for r in _since(env, mark)] == [("tolak", "perjanjian_diakhiri")]


def _cli(env: Env) -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = env.rt

    root.add_typer(regsosek_app, name="regsosek")
    return root


def test_cli_extract_is_a_recorded_download_with_the_source_line(env: Env, tmp_path: Path) -> None:
    target = tmp_path / "bnba.csv"
    mark = _head(env)
    result = CliRunner().invoke(_cli(env), ["regsosek", "bnba", "--akun", JABAR,
                                            "--keluaran", str(target)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert target.stat().st_mode & 0o777 == 0o600
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# Sumber: Data Registrasi Sosial Ekonomi")
    rows = text.count("\n") - 2
    made, download = _since(env, mark)
    assert json.loads(made.result)["baris"] == rows
    assert (download.decision, download.subject_count) == ("izin", rows)
    assert "berkas" in json.loads(download.result)
    _govern(env, "terminate")
    result = CliRunner().invoke(_cli(env), ["regsosek", "bnba", "--akun", JABAR,
                                            "--keluaran", str(tmp_path / "lagi.csv")])  # fmt: skip
    assert isinstance(result.exception, SimpulError)
    assert result.exception.code == "perjanjian_diakhiri"
    assert not (tmp_path / "lagi.csv").exists()


def test_an_extract_whose_metadata_lacks_the_agreement_is_not_handed_out(env: Env) -> None:
    """Files written before the metadata named the agreement cannot be decided."""
    out = _extract(env)
    sidecar = store.extract_dir(env.rt.settings) / f"{out['ekstrak_id']}.json"
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    del data["agreement_id"]
    sidecar.write_text(json.dumps(data), encoding="utf-8")
    _refused(env.client.get(out["unduh"], headers=env.basic(JABAR)), 404, "ekstrak_tidak_ada")


def test_a_bnba_csv_never_carries_a_live_spreadsheet_formula(env: Env) -> None:
    """Found reviewing the kernel work: BNBA and microdata CSVs were written by DuckDB
    without the formula guard every other export applies (kit.csvsafe)."""
    path = snapshot_path(env.rt.settings, "regsosek")
    table = pq.read_table(path)
    names = table.column("nama_lengkap").to_pylist()
    jabar = [i for i, code in enumerate(table.column("kode_wilayah").to_pylist())
             if str(code).startswith("32")]  # fmt: skip
    names[jabar[0]] = '=HYPERLINK("http://contoh.invalid","klik")'
    pq.write_table(table.set_column(table.schema.get_field_index("nama_lengkap"),
                                    "nama_lengkap", [names]), path)  # fmt: skip
    out = _extract(env, "bnba", "csv")
    got = env.client.get(out["unduh"], headers=env.basic(JABAR))
    assert got.status_code == 200, got.text
    cells = [r["nama_lengkap"] for r in _csv(got.text, out["sumber"])]
    assert '\'=HYPERLINK("http://contoh.invalid","klik")' in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)
