"""Microdata extracts: k-anonymity on the declared quasi-identifiers at a million persons,
pseudonyms keyed per agreement, direct identifiers gone."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from simpul.disclosure.extracts import agreement_key, build_microdata
from simpul.disclosure.rules import SdcRules
from simpul.disclosure.synthetic import create_regsosek
from tests.conftest import build_settings

TODAY = date(2026, 11, 23)
GRANT = frozenset({
    "id_keluarga", "jenis_kelamin", "tanggal_lahir", "status_hubungan_keluarga", "kode_wilayah",
    "pendidikan_tertinggi", "status_bekerja", "lapangan_usaha", "disabilitas",
    "jumlah_anggota_keluarga", "luas_lantai", "pengeluaran_per_kapita", "desil_kesejahteraan",
})  # fmt: skip


@pytest.fixture(scope="module")
def million() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"threads": 2})
    create_regsosek(con, "r", 1_000_000, seed=3)
    return con


def test_million_person_extract_meets_k5_on_declared_quasi_identifiers(
    million: duckdb.DuckDBPyConnection,
) -> None:
    result = build_microdata(million, "r", GRANT, SdcRules(), "a" * 64, TODAY, None)
    report = result.report
    quasi = report["kuasi_identifier"]
    assert set(quasi) == {"jenis_kelamin", "kelompok_umur", "wilayah",
                          "status_hubungan_keluarga", "jumlah_anggota_keluarga"}  # fmt: skip
    # an independent check of the table the extract is written from
    row = million.execute(
        f"SELECT min(n), count(*), sum(n) FROM (SELECT count(*) AS n FROM mikro "
        f"GROUP BY {', '.join(quasi)})"
    ).fetchone()
    assert row is not None
    smallest, classes, rows = row
    assert smallest >= 5
    assert rows == result.rows == 1_000_000 - report["baris_dihapus"]
    assert report["baris_dihapus"] < 10_000  # local suppression, not mass deletion
    assert report["k_tercapai"] == smallest and report["kelas_kesetaraan"] == classes
    cols = {c[0] for c in million.execute("DESCRIBE mikro").fetchall()}
    assert not cols & {"nik", "no_kk", "nama_lengkap", "alamat", "tanggal_lahir", "kode_wilayah"}
    assert {"id_individu", "id_kk", "id_keluarga", "kelompok_umur", "wilayah"} <= cols
    # generalised values only
    lengths = million.execute(
        "SELECT DISTINCT length(wilayah) FROM mikro WHERE wilayah <> '*'"
    ).fetchall()
    assert lengths == [(6,)]


def test_pseudonyms_differ_between_agreements_and_are_stable(tmp_path: object) -> None:
    con = duckdb.connect()
    create_regsosek(con, "r", 20_000, seed=4)
    settings = build_settings(tmp_path)  # type: ignore[arg-type]
    key_a = agreement_key(settings, "pks-bappenas-jabar")
    key_b = agreement_key(settings, "pks-lain")
    assert key_a != key_b
    ids = {}
    for name, key in (("a", key_a), ("b", key_b), ("a2", key_a)):
        build_microdata(con, "r", GRANT, SdcRules(), key, TODAY, ("32",))
        ids[name] = {r[0] for r in con.execute("SELECT id_individu FROM mikro").fetchall()}
        kk = {r[0] for r in con.execute("SELECT id_kk FROM mikro").fetchall()}
        assert not kk & {r[0] for r in con.execute("SELECT no_kk FROM r").fetchall()}
    assert ids["a"] == ids["a2"]  # the same agreement links its own extracts
    assert ids["a"] and not ids["a"] & ids["b"]  # two agreements cannot link
    nik = {r[0] for r in con.execute("SELECT nik FROM r").fetchall()}
    assert not ids["a"] & nik


def test_settings_choose_region_level_and_k() -> None:
    con = duckdb.connect()
    create_regsosek(con, "r", 30_000, seed=5)
    rules = SdcRules(k_anonimitas=10, tingkat_wilayah_mikro="kabupaten")
    result = build_microdata(con, "r", GRANT, rules, "b" * 64, TODAY, None)
    assert result.report["k_tercapai"] >= 10
    lengths = con.execute("SELECT DISTINCT length(wilayah) FROM mikro WHERE wilayah <> '*'")
    assert lengths.fetchall() == [(4,)]
