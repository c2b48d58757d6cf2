"""The processing facility: what the sandbox refuses, and ACRO-style output checking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from simpul.disclosure import sandbox
from simpul.disclosure.rules import SdcRules
from simpul.errors import SimpulError


@pytest.fixture(scope="module")
def tables(regsosek_file: Path) -> dict[str, Any]:
    table = pq.read_table(regsosek_file).drop_columns(["nik", "no_kk", "nama_lengkap", "alamat"])
    return {"regsosek": table}


def run(tables: dict[str, Any], sql: str, **rules: Any) -> tuple[list[str], list[list[Any]],
                                                                  dict[str, Any]]:  # fmt: skip
    r = SdcRules(**rules)
    con = sandbox.sandbox_connection(tables, r)
    try:
        tree = sandbox.parse(con, sql)
        sandbox.check_tree(tree, {"regsosek"})
        plan = sandbox.instrument(con, tree, sql)
        cols, rows = sandbox.run_limited(con, plan.sql, r.sandbox_seconds)
        return sandbox.check_output(plan, cols, rows, r)
    finally:
        con.close()


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("CREATE TABLE x AS SELECT * FROM regsosek", "pernyataan_dilarang"),
        ("DROP VIEW regsosek", "pernyataan_dilarang"),
        ("INSERT INTO regsosek VALUES (1)", "pernyataan_dilarang"),
        ("COPY regsosek TO '/tmp/bocor.csv'", "pernyataan_dilarang"),
        ("ATTACH '/tmp/lain.db' AS lain", "pernyataan_dilarang"),
        ("INSTALL httpfs", "pernyataan_dilarang"),
        ("LOAD httpfs", "pernyataan_dilarang"),
        ("SET enable_external_access = true", "pernyataan_dilarang"),
        ("PRAGMA database_list", "pernyataan_dilarang"),
        ("SELECT 1; SELECT 2", "satu_pernyataan"),
        ("SELECT * FROM read_csv('/etc/passwd')", "fungsi_dilarang"),
        ("SELECT * FROM read_parquet('/work/x.parquet')", "fungsi_dilarang"),
        ("SELECT * FROM glob('/*')", "fungsi_dilarang"),
        ("SELECT read_text('/etc/hostname')", "fungsi_dilarang"),
        ("SELECT getenv('HOME')", "fungsi_dilarang"),
        ("SELECT * FROM duckdb_settings()", "fungsi_dilarang"),
        ("SELECT * FROM '/etc/passwd'", "tabel_tidak_dikenal"),
        ("SELECT * FROM range(10)", "fungsi_dilarang"),
        ("SELECT * FROM information_schema.tables", "tabel_tidak_dikenal"),
        ("SELEC jenis_kelamin FROM regsosek", "sql_tidak_valid"),
    ],
)
def test_sandbox_refuses(tables: dict[str, Any], sql: str, code: str) -> None:
    with pytest.raises(SimpulError) as caught:
        run(tables, sql)
    assert caught.value.code == code
    assert caught.value.detail  # a clear Indonesian message


def test_runaway_query_is_interrupted(tables: dict[str, Any]) -> None:
    sql = "SELECT count(*) FROM regsosek a, regsosek b, regsosek c WHERE a.luas_lantai > 0"
    with pytest.raises(SimpulError) as caught:
        run(tables, sql, batas_waktu_detik=0.5)
    assert caught.value.code == "kueri_melebihi_batas_waktu"


def test_sandbox_connection_cannot_reach_files(tables: dict[str, Any]) -> None:
    con = sandbox.sandbox_connection(tables, SdcRules())
    for sql in ("SELECT * FROM read_csv('/etc/passwd')", "COPY regsosek TO '/tmp/x.csv'",
                "SET enable_external_access = true"):  # fmt: skip
        with pytest.raises(Exception):  # noqa: B017, PT011 — DuckDB's own refusal, any kind
            con.execute(sql)
    con.close()


def test_safe_aggregate_passes_and_small_cells_fail(tables: dict[str, Any]) -> None:
    cols, rows, checks = run(
        tables, "SELECT jenis_kelamin, count(*) AS n FROM regsosek GROUP BY 1 ORDER BY 1"
    )
    assert checks["lulus"] and cols == ["jenis_kelamin", "n"] and len(rows) == 2
    _, rows, checks = run(tables, "SELECT kode_wilayah, count(*) AS n FROM regsosek GROUP BY 1")
    assert not checks["lulus"]
    assert {f["alasan"] for f in checks["gagal"]} == {"ambang"}


def test_dominance_p_ratio_zeros_and_individual_statistics(tables: dict[str, Any]) -> None:
    # one household's huge floor area dominates its province's sum
    sql = ("SELECT left(kode_wilayah, 2) AS prov, sum(CASE WHEN id_keluarga = "
           "(SELECT min(id_keluarga) FROM regsosek) THEN 1e9 ELSE luas_lantai END) AS luas "
           "FROM regsosek GROUP BY 1")  # fmt: skip
    _, _, checks = run(tables, sql, ambang=1)
    assert "dominasi" in {f["alasan"] for f in checks["gagal"]}
    sql = ("SELECT jenis_kelamin, count(*) FILTER (WHERE luas_lantai > 1e6) AS besar "
           "FROM regsosek GROUP BY 1")  # fmt: skip
    _, _, checks = run(tables, sql)
    assert {f["alasan"] for f in checks["gagal"]} == {"nol_disklosif"}
    _, _, checks = run(tables, "SELECT max(pengeluaran_per_kapita) FROM regsosek")
    assert {f["alasan"] for f in checks["gagal"]} == {"statistik_individu"}
    _, _, checks = run(tables, "SELECT * FROM regsosek LIMIT 5")
    assert checks["gagal"] == [{"alasan": "keluaran_tingkat_individu"}]


def test_memory_limit_refuses_with_a_clear_error(tables: dict[str, Any]) -> None:
    sql = ("SELECT a.id_keluarga, string_agg(b.id_keluarga || b.kode_wilayah, ',') AS s "
           "FROM regsosek a, regsosek b GROUP BY 1")  # fmt: skip
    with pytest.raises(SimpulError) as caught:
        run(tables, sql, batas_memori="16MB", batas_waktu_detik=60)
    assert caught.value.code == "kueri_melebihi_batas_memori"


def test_p_ratio_flags_a_near_sole_contributor(tables: dict[str, Any]) -> None:
    # ten rows, one of them 1e9, dominance switched off (k=1): the p-ratio still fires
    sql = ("SELECT jenis_kelamin, sum(CASE WHEN rn = 1 THEN 1e9 ELSE 1 END) AS s FROM "
           "(SELECT jenis_kelamin, row_number() OVER (PARTITION BY jenis_kelamin "
           "ORDER BY id_keluarga) AS rn FROM regsosek) GROUP BY 1")  # fmt: skip
    _, _, checks = run(tables, sql, dominasi_k=1.0)
    assert {f["alasan"] for f in checks["gagal"]} == {"p_rasio"}
