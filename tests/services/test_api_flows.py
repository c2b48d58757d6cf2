"""End-to-end over HTTP for each seed flow, checked against the generator's truth.
SQLite and PostgreSQL; a small synthetic world, the demo's institutions, PKS and accounts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from simpul.access import passwords as pw
from simpul.app import create_app
from simpul.config import Settings
from simpul.kit.clock import FixedClock
from simpul.registry.synth import generate_world
from tests.worlds import FAST_PASSWORDS, basic_header, governed_runtime

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def world_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_world(3_000, 5, tmp_path_factory.mktemp("world"))


@dataclass
class Env:
    client: TestClient
    clock: FixedClock
    creds: dict[str, dict[str, Any]]
    people: list[dict[str, Any]]
    asn: list[dict[str, Any]]
    dtks: list[dict[str, Any]]

    def basic(self, username: str) -> dict[str, str]:
        return basic_header(self.creds, username)

    def bearer(self, username: str) -> dict[str, str]:
        c = self.creds[username]
        resp = self.client.post(
            "/api/v1/token",
            data={"client_id": c["client_id"], "client_secret": c["client_secret"]},
        )
        assert resp.status_code == 200, resp.text
        return {"Authorization": "Bearer " + resp.json()["access_token"]}


@pytest.fixture
def env(
    settings: Settings, world_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Env]:
    monkeypatch.setattr(pw, "DEFAULT", FAST_PASSWORDS)
    clock = FixedClock(NOW)
    rt, creds = governed_runtime(settings, world_files, clock)
    tables = {k: pq.read_table(v).to_pylist() for k, v in world_files.items()}
    with TestClient(create_app(settings, rt), client=("127.0.0.1", 50000)) as client:
        yield Env(client, clock, creds, tables["kependudukan"], tables["asn"], tables["dtks"])
    rt.close()


def iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


VERIF = ["no_kk", "nama_lengkap", "jenis_kelamin", "agama", "tempat_lahir", "tanggal_lahir",
         "status_perkawinan", "status_hubungan_keluarga", "alamat"]  # fmt: skip


def test_bkn_verifies_nik_and_elements(env: Env) -> None:
    person = env.people[17]
    body = {"nik": person["nik"], "elemen": {k: iso(person[k]) for k in VERIF}}
    resp = env.client.post(
        "/api/v1/datasets/kependudukan/verifikasi", json=body, headers=env.basic("bkn.operator")
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"hasil": "ditemukan", "elemen": dict.fromkeys(VERIF, "sesuai")}
    # SIAK aliases, a wrong name and a swapped date: answered per element, values never shown.
    born = person["tanggal_lahir"]
    wrong = {"NAMA_LGKP": "NAMA YANG LAIN SAMA SEKALI", "TGL_LHR": f"{born:%Y}-{born:%d}-{born:%m}"}
    resp = env.client.post(
        "/api/v1/datasets/kependudukan/verifikasi",
        json={"nik": person["nik"], "elemen": wrong},
        headers=env.basic("bkn.operator"),
    )
    got = resp.json()
    assert got["elemen"]["nama_lengkap"] == "tidak_sesuai"
    if born.day != born.month and born.day <= 12:
        assert got["elemen"]["tanggal_lahir"] == "tidak_sesuai"
    assert person["nama_lengkap"] not in resp.text
    missing = "3273011302900999"
    resp = env.client.post(
        "/api/v1/datasets/kependudukan/verifikasi",
        json={"nik": missing, "elemen": {"nama_lengkap": "X"}},
        headers=env.basic("bkn.operator"),
    )
    assert resp.json() == {"hasil": "data_tidak_ditemukan"}


def test_kemenkop_screens_bpum_candidates_on_asn(env: Env) -> None:
    headers = env.bearer("kemenkop.klien")
    civil = env.asn[3]
    resp = env.client.post(
        "/api/v1/datasets/asn/cek-status",
        json={"nik": civil["nik"], "nama_lengkap": civil["nama_lengkap"],
              "tanggal_lahir": iso(civil["tanggal_lahir"])},
        headers=headers,
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"hasil": "ASN", "data": {"instansi": civil["instansi"]}}
    asn_niks = {a["nik"] for a in env.asn}
    other = next(p for p in env.people if p["nik"] not in asn_niks)
    resp = env.client.post(
        "/api/v1/datasets/asn/cek-status",
        json={"nik": other["nik"], "nama_lengkap": other["nama_lengkap"]},
        headers=headers,
    )
    assert resp.json() == {"hasil": "data_tidak_ditemukan"}
    # NIK found, biodata differs: still ASN, and the recipient can tell.
    resp = env.client.post(
        "/api/v1/datasets/asn/cek-status",
        json={"nik": civil["nik"], "nama_lengkap": "ORANG LAIN SEKALI"},
        headers=headers,
    )
    assert resp.json()["keterangan"] == "nik_ditemukan_biodata_berbeda"
    assert resp.json()["elemen_berbeda"] == ["nama_lengkap"]


def test_kemensos_screens_kpm_on_asn_without_instansi(env: Env) -> None:
    civil = env.asn[0]
    resp = env.client.post(
        "/api/v1/datasets/asn/cek-status",
        json={"nik": civil["nik"]},
        headers=env.basic("kemensos.operator"),
    )
    assert resp.json() == {"hasil": "ASN"}  # PKS 001: "ASN" or "data tidak ditemukan" only


def test_bkn_reads_dtks(env: Env) -> None:
    member = env.dtks[0]
    resp = env.client.post(
        "/api/v1/datasets/dtks/cek-status",
        json={"nik": member["nik"]},
        headers=env.basic("bkn.operator"),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"hasil": "TERDAFTAR DTKS", "data": {"id_dtks": member["id_dtks"]}}


def test_the_retired_lookup_by_url_is_refused_without_a_lookup(env: Env) -> None:
    """Issue 17: `GET …/nik/{NIK}` put the NIK in 2,154 access-log lines and in the
    problem's `instance`. It is gone: 410 `metode_usang` for anyone, with or without a
    credential, naming the POST; no look-up, no audit record, the NIK never echoed."""
    nik = env.people[5]["nik"]
    before = _audit_count(env)
    for headers in ({}, env.bearer("bkn.klien"), env.basic("bkn.operator")):
        resp = env.client.get(f"/api/v1/datasets/kependudukan/nik/{nik}", headers=headers)
        assert resp.status_code == 410
        assert resp.headers["content-type"] == "application/problem+json"
        body = resp.json()
        assert body["code"] == "metode_usang"
        assert body["pengganti"] == "/api/v1/datasets/kependudukan/akses-nik"
        assert "POST /api/v1/datasets/kependudukan/akses-nik" in body["detail"]
        assert nik not in resp.text
        assert body["instance"] == f"/api/v1/datasets/kependudukan/nik/{nik[:6]}**********"
        assert set(body) <= {"type", "title", "status", "code", "detail", "instance",
                             "pengganti"}  # fmt: skip
    # A NIK in the dataset's place is not echoed either.
    resp = env.client.get(f"/api/v1/datasets/{nik}/nik/{nik}")
    assert resp.status_code == 410 and nik not in resp.text
    assert _audit_count(env) == before


def _audit_count(env: Env) -> int:
    from sqlalchemy import func, select

    from simpul.audit.models import AuditRecord

    rt = env.client.app.state.runtime  # type: ignore[attr-defined]
    with rt.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(AuditRecord)) or 0)


def test_ikd_lookup_returns_nine_elements(env: Env) -> None:
    person = env.people[5]
    resp = env.client.post(
        "/api/v1/datasets/kependudukan/akses-nik",
        json={"nik": person["nik"]},
        headers=env.bearer("bkn.klien"),
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert set(data) == {"nik", "nama_lengkap", "jenis_kelamin", "tempat_lahir",
                         "tanggal_lahir", "agama", "status_perkawinan", "jenis_pekerjaan",
                         "alamat"}  # fmt: skip
    assert data["nama_lengkap"] == person["nama_lengkap"]
    assert "anggota_keluarga" not in resp.json()  # the family is the portal's grant


def test_refusals(env: Env) -> None:
    person = env.people[1]
    url = "/api/v1/datasets/kependudukan/verifikasi"
    # An element outside the grant (jenis_pekerjaan is not one of the 10 of Pasal 2(1)a).
    resp = env.client.post(
        url,
        json={"nik": person["nik"], "elemen": {"jenis_pekerjaan": "PETANI/PEKEBUN"}},
        headers=env.basic("bkn.operator"),
    )
    assert resp.status_code == 403
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["code"] == "elemen_di_luar_hibah"
    # No credential; a wrong one.
    resp = env.client.post(url, json={"nik": person["nik"], "elemen": {"agama": "ISLAM"}})
    assert (resp.status_code, resp.json()["code"]) == (401, "kredensial_tidak_ada")
    assert "Bearer" in resp.headers["www-authenticate"]
    resp = env.client.post(
        url, json={"nik": person["nik"], "elemen": {"agama": "ISLAM"}},
        headers={"Authorization": "Bearer salah"},
    )  # fmt: skip
    assert (resp.status_code, resp.json()["code"]) == (401, "kredensial_tidak_valid")
    # Kemenkop has no right to population data.
    resp = env.client.post(
        url, json={"nik": person["nik"], "elemen": {"agama": "ISLAM"}},
        headers=env.basic("kemenkop.operator"),
    )  # fmt: skip
    assert (resp.status_code, resp.json()["code"]) == (403, "layanan_tidak_diizinkan")


def test_expired_agreement_and_revoked_client(env: Env) -> None:
    civil = env.asn[2]
    headers = env.bearer("kemenkop.klien")
    url = "/api/v1/datasets/asn/cek-status"
    assert env.client.post(url, json={"nik": civil["nik"]}, headers=headers).status_code == 200
    env.clock.advance(timedelta(days=800))  # past the demo extension (2027-12-31)
    resp = env.client.post(url, json={"nik": civil["nik"]}, headers=env.basic("kemenkop.operator"))
    assert (resp.status_code, resp.json()["code"]) == (403, "perjanjian_berakhir")
    env.clock.set(NOW)
    listing = env.client.get("/api/v1/perjanjian", headers=headers).json()
    assert [(p["id"], p["status"]) for p in listing] == [("pks-kemenkop-bkn", "berlaku")]
    from simpul.access import service as access

    rt = env.client.app.state.runtime  # type: ignore[attr-defined]
    with rt.transaction() as s:
        access._revoke_account(s, "kemenkop.klien", actor="uji", reason="uji", clock=env.clock)
    resp = env.client.post(url, json={"nik": civil["nik"]}, headers=headers)
    assert resp.status_code == 401


def test_every_decision_is_audited_with_hashed_subjects(env: Env) -> None:
    from sqlalchemy import text

    from simpul.audit import service as audit

    person = env.people[2]
    url = "/api/v1/datasets/kependudukan/verifikasi"
    ok = env.client.post(
        url, json={"nik": person["nik"], "elemen": {"agama": iso(person["agama"])}},
        headers=env.basic("bkn.operator"),
    )  # fmt: skip
    denied = env.client.post(
        url, json={"nik": person["nik"], "elemen": {"agama": "ISLAM"}},
        headers=env.basic("kemenkop.operator"),
    )  # fmt: skip
    assert (ok.status_code, denied.status_code) == (200, 403)
    rt = env.client.app.state.runtime  # type: ignore[attr-defined]
    with rt.sessions() as s:
        rows = s.execute(
            text("select decision, reason, actor, agreement_id, grant_id from audit_record "
                 "where action = 'verifikasi' order by seq")
        ).all()  # fmt: skip
        dump = " ".join(str(v) for r in s.execute(text("select * from audit_record")).all()
                        for v in r)  # fmt: skip
        history = audit.subject_history(s, rt.settings, person["nik"])
        assert audit.verify(s).ok
    assert [tuple(r) for r in rows] == [
        ("izin", "ok", "bkn.operator", "pks-dukcapil-bkn", "hibah-verifikasi-ws"),
        ("tolak", "layanan_tidak_diizinkan", "kemenkop.operator", None, None),
    ]
    assert person["nik"] not in dump  # the log holds keyed hashes, never the NIK
    assert len(history) == 2


def test_batch_verification_and_status_with_per_item_errors(env: Env) -> None:
    people = env.people[:40]
    items: list[dict[str, Any]] = [
        {"nik": p["nik"], "elemen": {"nama_lengkap": p["nama_lengkap"]}} for p in people
    ]
    items[3] = {"nik": "12345", "elemen": {"nama_lengkap": "X"}}  # bad NIK
    items[7] = {"nik": people[7]["nik"], "elemen": {"warna_favorit": "biru"}}  # unknown element
    resp = env.client.post(
        "/api/v1/datasets/kependudukan/verifikasi/batch",
        json={"item": items},
        headers=env.basic("bkn.operator"),
    )
    assert resp.status_code == 200, resp.text
    got = resp.json()["item"]
    assert len(got) == 40
    assert got[3]["hasil"] == "galat"
    assert got[3]["galat"]["code"] == "nik_panjang_salah"
    assert got[7]["galat"]["code"] == "elemen_tidak_dikenal"
    good = [g for i, g in enumerate(got) if i not in (3, 7)]
    assert all(g["elemen"] == {"nama_lengkap": "sesuai"} for g in good)

    civil = env.asn[:5]
    status_items = [{"nik": a["nik"]} for a in civil] + [{"nik": "3273011302900999"}]
    resp = env.client.post(
        "/api/v1/datasets/asn/cek-status/batch",
        json={"item": status_items},
        headers=env.bearer("kemenkop.klien"),
    )
    results = resp.json()["item"]
    assert [r["hasil"] for r in results] == ["ASN"] * 5 + ["data_tidak_ditemukan"]
    assert [r["data"]["instansi"] for r in results[:5]] == [a["instansi"] for a in civil]

    too_many = {"item": [{"nik": people[0]["nik"]}] * 1001}
    resp = env.client.post(
        "/api/v1/datasets/asn/cek-status/batch", json=too_many, headers=env.bearer("kemenkop.klien")
    )
    assert (resp.status_code, resp.json()["code"]) == (413, "batch_terlalu_besar")


def test_health_and_metrics(env: Env) -> None:
    assert env.client.get("/healthz").status_code == 200
    assert env.client.get("/readyz").json() == {"status": "siap"}
    metrics = env.client.get("/metrics")
    assert metrics.status_code == 200
    assert "python_info" in metrics.text
