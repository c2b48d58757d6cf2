"""Regsosek-shaped rows generated inside DuckDB, fast enough for 10,000,000 persons.

Not the coherent synthetic Indonesia of `registry.synth` (no valid NIKs, names or family
logic): every column has the registry's type and categories, households of one to eight
people share a village, a KK and the household variables, and each value is a hash of the
row number and a salt, so the same `seed` gives the same table. Used by the benchmark and
by the million-person tests, where only the shape and the volume matter."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from simpul.disclosure.variables import DATASET, quote
from simpul.registry.datasets import get_dataset
from simpul.registry.regions import load_regions

WORK_SECTORS = ("PERTANIAN", "PERDAGANGAN", "INDUSTRI PENGOLAHAN", "KONSTRUKSI", "JASA")


def _pick(values: tuple[str, ...] | list[str], salt: str, key: str = "i") -> str:
    items = ", ".join(quote(v) for v in values)
    return f"([{items}])[1 + (hash({key}, {quote(salt)}) % {len(values)})::INTEGER]"


def create_regsosek(
    con: duckdb.DuckDBPyConnection,
    name: str,
    people: int,
    seed: int = 1,
    columns: frozenset[str] | None = None,
) -> None:
    """Create table `name` with `people` Regsosek-shaped rows (only `columns`, if given)."""
    ds = get_dataset(DATASET)
    villages = sorted(load_regions().villages)
    desa = pa.table({"n": pa.array(range(len(villages)), pa.int32()), "kode": villages})
    con.register("_desa_arrow", desa)
    con.execute("CREATE OR REPLACE TEMP TABLE _desa AS SELECT * FROM _desa_arrow")
    con.unregister("_desa_arrow")

    def values(el: str) -> tuple[str, ...]:
        found = ds.element(el).values
        assert found is not None
        return found

    s = f"'{seed}'"
    hh = "(i // 4)"  # households of four on average: i // 4 shares household variables
    coded_hh = [
        "status_kepemilikan_rumah", "jenis_lantai", "jenis_dinding", "jenis_atap",
        "sumber_air_minum", "fasilitas_bab", "sumber_penerangan", "bahan_bakar_memasak",
    ]  # fmt: skip
    cols = [
        "lpad(CAST(i AS VARCHAR), 16, '0') AS nik",
        f"lpad(CAST({hh} AS VARCHAR), 16, '9') AS no_kk",
        f"'RS' || lpad(CAST({hh} AS VARCHAR), 15, '0') AS id_keluarga",
        "'ORANG SINTETIS ' || CAST(i AS VARCHAR) AS nama_lengkap",
        f"{_pick(values('jenis_kelamin'), 'jk' + s)} AS jenis_kelamin",
        f"DATE '1940-01-01' + CAST(hash(i, 'lahir' || {s}) % 30000 AS INTEGER) AS tanggal_lahir",
        f"CASE WHEN i % 4 = 0 THEN 'KEPALA KELUARGA' ELSE "
        f"{_pick(values('status_hubungan_keluarga')[1:], 'shdk' + s)} END "
        "AS status_hubungan_keluarga",
        "d.kode AS kode_wilayah",
        "'JL. SINTETIS NO. ' || CAST(i % 200 AS VARCHAR) AS alamat",
        f"{_pick(values('pendidikan_tertinggi'), 'pdd' + s)} AS pendidikan_tertinggi",
        f"{_pick(values('status_bekerja'), 'kerja' + s)} AS status_bekerja",
        f"{_pick(WORK_SECTORS, 'lu' + s)} AS lapangan_usaha",
        f"CASE WHEN hash(i, 'dis' || {s}) % 50 = 0 THEN "
        f"{_pick(values('disabilitas')[1:], 'jdis' + s)} ELSE 'TIDAK ADA' END AS disabilitas",
        f"1 + CAST(hash({hh}, 'jml' || {s}) % 8 AS BIGINT) AS jumlah_anggota_keluarga",
        *[f"{_pick(values(c), c + s, hh)} AS {c}" for c in coded_hh],
        f"CAST(20 + hash({hh}, 'luas' || {s}) % 200 AS DOUBLE) AS luas_lantai",
        *[f"hash({hh}, '{c}' || {s}) % 2 = 0 AS {c}"
          for c in ("memiliki_lemari_es", "memiliki_sepeda_motor", "memiliki_mobil",
                    "memiliki_lahan")],
        f"CAST(200000 + hash({hh}, 'pkp' || {s}) % 3000000 AS BIGINT) AS pengeluaran_per_kapita",
        f"1 + CAST(hash({hh}, 'desil' || {s}) % 10 AS BIGINT) AS desil_kesejahteraan",
    ]  # fmt: skip
    if columns is not None:
        cols = [c for c in cols if c.rsplit(" AS ", 1)[-1] in columns]
    con.execute(
        f"CREATE OR REPLACE TABLE {name} AS SELECT {', '.join(cols)} FROM range({people}) r(i) "
        f"JOIN _desa d ON d.n = CAST(hash({hh}, 'desa' || {s}) % {len(villages)} AS INTEGER)"
    )
