"""The tiers over HTTP: who gets what, inside which region, audited."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from simpul.audit.models import AuditRecord
from tests.disclosure.conftest import Env

BASE = "/api/v1/datasets/regsosek"
JABAR = "pemprov-jabar.pengguna"


def _audit(env: Env, action: str) -> list[AuditRecord]:
    with env.rt.transaction() as s:
        return list(s.scalars(select(AuditRecord).where(AuditRecord.action == action)))


def test_aggregate_table_is_protected_and_audited(env: Env) -> None:
    body = {"dimensi": ["wilayah", "jenis_kelamin"], "tingkat_wilayah": "provinsi"}
    resp = env.client.post(f"{BASE}/agregat", json=body, headers=env.basic(JABAR))
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["sumber"].startswith("Sumber: Data Registrasi Sosial Ekonomi")
    assert "Pasal 7 ayat (2)" in out["sumber"]
    rows = out["baris"]
    grand = next(r for r in rows if r["wilayah"] == "JUMLAH" and r["jenis_kelamin"] == "JUMLAH")
    assert grand["jumlah"] == 3000 or grand["jumlah"] > 2900  # the whole synthetic world
    for r in rows:
        if r["status"] != "aman":
            assert r["jumlah"] is None and r["persen"] is None
        else:
            assert r["jumlah"] == 0 or r["jumlah"] >= 10
    assert out["ditekan_primer"] > 0  # small provinces exist in a 3,000-person world
    records = _audit(env, "agregat")
    assert records and records[-1].decision == "izin"


def test_aggregate_only_user_gets_403_on_microdata_and_bnba(env: Env) -> None:
    h = env.basic("kemensos.analis")
    resp = env.client.post(f"{BASE}/agregat", json={"dimensi": ["jenis_kelamin"]}, headers=h)
    assert resp.status_code == 200, resp.text
    for tier in ("mikro", "bnba"):
        resp = env.client.post(f"{BASE}/{tier}", json={}, headers=h)
        assert resp.status_code == 403, resp.text
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["code"] == "layanan_tidak_diizinkan"
    resp = env.client.post(f"{BASE}/pengolahan", json={"sql": "SELECT 1"}, headers=h)
    assert resp.status_code == 403
    assert {r.decision for r in _audit(env, "mikro")} == {"tolak"}
    # an element outside the aggregate grant
    resp = env.client.post(f"{BASE}/agregat", json={"dimensi": ["lapangan_usaha"]}, headers=h)
    assert (resp.status_code, resp.json()["code"]) == (403, "elemen_di_luar_hibah")


def test_scoped_aggregate_never_shows_other_regions(env: Env) -> None:
    h = env.basic("kemensos.analis")  # scope: province 33
    body = {"dimensi": ["wilayah", "jenis_kelamin"], "tingkat_wilayah": "kabupaten"}
    rows = env.client.post(f"{BASE}/agregat", json=body, headers=h).json()["baris"]
    assert rows and all(r["wilayah"].startswith("33") for r in rows)
    body["wilayah"] = "32"
    resp = env.client.post(f"{BASE}/agregat", json=body, headers=h)
    assert (resp.status_code, resp.json()["code"]) == (403, "di_luar_cakupan_wilayah")
    assert [r.reason for r in _audit(env, "agregat")][-1] == "di_luar_cakupan_wilayah"
    # allowed, but the table cannot be protected: refused, and the refusal is audited
    body = {"dimensi": ["wilayah", "jenis_kelamin", "kelompok_umur", "pendidikan_tertinggi"],
            "tingkat_wilayah": "desa"}  # fmt: skip
    resp = env.client.post(f"{BASE}/agregat", json=body, headers=h)
    assert (resp.status_code, resp.json()["code"]) == (422, "tabel_tidak_dapat_dilindungi")
    last = _audit(env, "agregat")[-1]
    assert (last.decision, last.reason) == ("tolak", resp.json()["code"])
    assert json.loads(last.result) == {"ditolak": "tabel_tidak_dapat_dilindungi"}


def test_microdata_extract_pseudonymised_with_risk_report(env: Env) -> None:
    resp = env.client.post(f"{BASE}/mikro", json={"format": "parquet"}, headers=env.basic(JABAR))
    assert resp.status_code == 200, resp.text
    out = resp.json()
    report = out["laporan_risiko"]
    assert report["k_tercapai"] is None or report["k_tercapai"] >= 5
    got = env.client.get(out["unduh"], headers=env.basic(JABAR))
    assert got.status_code == 200
    parquet = pq.ParquetFile(io.BytesIO(got.content))
    assert parquet.metadata.metadata[b"sumber"].decode() == out["sumber"]  # Pasal 7 ayat (2)
    table = parquet.read()
    assert table.num_rows == out["baris"]
    names = set(table.column_names)
    assert not names & {"nik", "no_kk", "nama_lengkap", "alamat", "tanggal_lahir", "kode_wilayah"}
    assert {"id_individu", "id_kk", "kelompok_umur", "wilayah"} <= names
    assert all(w == "*" or w.startswith("32") for w in table.column("wilayah").to_pylist())
    # another account cannot download it
    other = env.client.get(out["unduh"], headers=env.basic("kemensos.analis"))
    assert other.status_code == 404


def test_bnba_only_inside_scope(env: Env) -> None:
    h = env.basic(JABAR)
    resp = env.client.post(f"{BASE}/bnba", json={"format": "csv"}, headers=h)
    assert resp.status_code == 200, resp.text
    text = env.client.get(resp.json()["unduh"], headers=h).text
    lines = text.strip().splitlines()
    assert lines[0] == f"# {resp.json()['sumber']}"  # PKS 000 Pasal 7 ayat (2), first line
    header = lines[1].split(",")
    col = header.index("kode_wilayah")
    assert len(lines) - 2 == resp.json()["baris"] > 0
    assert all(line.split(",")[col].startswith("32") for line in lines[2:] if line)
    resp = env.client.post(f"{BASE}/bnba", json={"wilayah": "3171"}, headers=h)
    assert (resp.status_code, resp.json()["code"]) == (403, "di_luar_cakupan_wilayah")
    records = _audit(env, "bnba")  # the extract, its download, the refusal
    assert [r.decision for r in records] == ["izin", "izin", "tolak"]
    assert "berkas" in json.loads(records[1].result)


def test_processing_facility_release_queue_and_review(env: Env) -> None:
    h = env.basic(JABAR)
    ok = env.client.post(
        f"{BASE}/pengolahan",
        json={"sql": "SELECT jenis_kelamin, count(*) AS n FROM regsosek GROUP BY 1"},
        headers=h,
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "dirilis" and len(ok.json()["baris"]) == 2
    assert "Pasal 7 ayat (2)" in ok.json()["sumber"]
    # the view holds only the grant's scope (province 32), pseudonyms, no names
    cols = env.client.post(
        f"{BASE}/pengolahan",
        json={"sql": "SELECT left(kode_wilayah, 2) AS p, count(*) AS n FROM regsosek GROUP BY 1"},
        headers=h,
    ).json()
    assert [r[0] for r in cols["baris"]] == ["32"]
    refused = env.client.post(
        f"{BASE}/pengolahan", json={"sql": "SELECT nama_lengkap FROM regsosek"}, headers=h
    )
    assert refused.status_code == 422 and refused.json()["code"] == "kueri_gagal"
    bad = env.client.post(f"{BASE}/pengolahan", json={"sql": "COPY regsosek TO 'x'"}, headers=h)
    assert (bad.status_code, bad.json()["code"]) == (403, "pernyataan_dilarang")
    small = env.client.post(
        f"{BASE}/pengolahan",
        json={"sql": "SELECT kode_wilayah, count(*) AS n FROM regsosek GROUP BY 1",
              "tujuan": "peta desa"},
        headers=h,
    ).json()  # fmt: skip
    assert small["status"] == "menunggu_tinjauan" and small["baris"] is None
    # the data user cannot review; the provider's administrator can
    admin = env.basic("bappenas.admin")
    assert env.client.get(f"{BASE}/tinjauan", headers=h).status_code == 403
    queue = env.client.get(f"{BASE}/tinjauan", headers=admin).json()
    assert [q["id"] for q in queue] == [small["id"]] and queue[0]["baris"]
    done = env.client.post(
        f"{BASE}/tinjauan/{small['id']}",
        json={"keputusan": "tolak", "alasan": "sel desa di bawah ambang"},
        headers=admin,
    )
    assert done.status_code == 200 and done.json()["status"] == "ditolak"
    again = env.client.post(
        f"{BASE}/tinjauan/{small['id']}", json={"keputusan": "setujui", "alasan": "ubah"},
        headers=admin,
    )  # fmt: skip
    assert again.status_code == 409
    mine = env.client.get(f"{BASE}/pengolahan/{small['id']}", headers=h).json()
    assert mine["status"] == "ditolak" and mine["baris"] is None
    assert mine["alasan_tinjauan"] == "sel desa di bawah ambang"
    reviews = [r for r in _audit(env, "pengolahan.tinjau") if "pengguna" in json.loads(r.result)]
    assert [(r.actor, json.loads(r.result)["status"]) for r in reviews] == [
        ("bappenas.admin", "ditolak")
    ]
    assert json.loads(reviews[0].detail) == {"alasan": "sel desa di bawah ambang"}
    refused = [(r.actor, r.reason) for r in _audit(env, "pengolahan.tinjau")
               if r.decision == "tolak"]  # fmt: skip
    assert refused == [
        (JABAR, "peran_tidak_berwenang"),
        ("bappenas.admin", "keluaran_sudah_ditinjau"),
    ]
    runs = _audit(env, "pengolahan")  # five runs and the owner's read of one output
    assert len(runs) == 6


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(region=st.sampled_from(["32", "3201", "3273", "327301", "31", "3171", "11", "33"]),
       tier=st.sampled_from(["bnba", "mikro"]))  # fmt: skip
def test_provincial_grant_never_returns_a_row_outside_its_province(
    env: Env, region: str, tier: str
) -> None:
    h = env.basic(JABAR)
    resp = env.client.post(f"{BASE}/{tier}", json={"format": "parquet", "wilayah": region},
                           headers=h)  # fmt: skip
    if not region.startswith("32"):
        assert (resp.status_code, resp.json()["code"]) == (403, "di_luar_cakupan_wilayah")
        return
    assert resp.status_code == 200, resp.text
    table = pq.read_table(io.BytesIO(env.client.get(resp.json()["unduh"], headers=h).content))
    column = "kode_wilayah" if tier == "bnba" else "wilayah"
    codes = table.column(column).to_pylist()
    assert all(c.startswith(region) or (tier == "mikro" and c == "*") for c in codes), codes
