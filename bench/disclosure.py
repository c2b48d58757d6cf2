"""Tiered Regsosek access: a 3-dimension aggregate table with primary and secondary
suppression over 10,000,000 persons (target ≤ 2 s), and a pseudonymised, k-anonymous
microdata extract of 1,000,000 persons written to Parquet (target ≤ 30 s).

The persons are Regsosek-shaped rows generated inside DuckDB (`disclosure.synthetic`:
hash-of-row-number values over the real village list, households of four sharing a
village) and written to Parquet, so the timed work reads a snapshot exactly as the service
does. Generation is not timed.

    .venv/bin/python bench/disclosure.py                 # 10M aggregate, 1M extract
    SIMPUL_BENCH_TOY=1 .venv/bin/python bench/disclosure.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from simpul.disclosure.aggregate import TableSpec, build_table
from simpul.disclosure.extracts import _write, build_microdata
from simpul.disclosure.rules import SdcRules
from simpul.disclosure.synthetic import create_regsosek
from simpul.disclosure.variables import quote

TOY = os.environ.get("SIMPUL_BENCH_TOY") == "1"
TODAY = date(2026, 11, 23)
MICRO_GRANT = frozenset({
    "id_keluarga", "jenis_kelamin", "tanggal_lahir", "status_hubungan_keluarga", "kode_wilayah",
    "pendidikan_tertinggi", "status_bekerja", "lapangan_usaha", "disabilitas",
    "jumlah_anggota_keluarga", "status_kepemilikan_rumah", "luas_lantai", "jenis_lantai",
    "jenis_dinding", "jenis_atap", "sumber_air_minum", "fasilitas_bab", "sumber_penerangan",
    "bahan_bakar_memasak", "memiliki_lemari_es", "memiliki_sepeda_motor", "memiliki_mobil",
    "memiliki_lahan", "pengeluaran_per_kapita", "desil_kesejahteraan",
})  # fmt: skip


def snapshot(folder: Path, people: int, columns: frozenset[str] | None) -> Path:
    started = time.perf_counter()
    con = duckdb.connect(config={"threads": 2})
    create_regsosek(con, "r", people, seed=11, columns=columns)
    path = folder / f"regsosek-{people}.parquet"
    con.execute(f"COPY r TO {quote(str(path))} (FORMAT parquet, COMPRESSION zstd)")
    con.close()
    print(f"  generated {people:,} persons in {time.perf_counter() - started:.1f} s (not timed)")
    return path


def bench_aggregate(path: Path, runs: int, level: str) -> float:
    spec = TableSpec(("wilayah", "jenis_kelamin", "kelompok_umur"), level)
    times, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        con = duckdb.connect(config={"threads": 2})
        con.execute("SET enable_progress_bar = false")
        con.execute(f"CREATE VIEW regsosek AS SELECT * FROM read_parquet({quote(str(path))})")
        table = build_table(con, "regsosek", spec, SdcRules(), TODAY)
        con.close()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    print(f"  wall {[round(t, 2) for t in times]} s, process CPU {[round(c, 2) for c in cpu]} s")
    print(
        f"  table: {table.cells:,} cells (table, margins, regional subtotals), "
        f"{table.suppressed_primary:,} primary + {table.suppressed_secondary:,} secondary "
        f"suppressed, {table.fallback_witnesses} repaired witnesses"
    )
    return statistics.median(times)


def bench_microdata(path: Path, folder: Path) -> float:
    started, cpu_started = time.perf_counter(), time.process_time()
    con = duckdb.connect(config={"threads": 2})
    con.execute("SET enable_progress_bar = false")
    con.execute(f"CREATE VIEW regsosek AS SELECT * FROM read_parquet({quote(str(path))})")
    result = build_microdata(con, "regsosek", MICRO_GRANT, SdcRules(), "f" * 64, TODAY, None)
    _write(con, "mikro", folder / "mikro.parquet", "parquet")
    con.close()
    elapsed = time.perf_counter() - started
    print(f"  process CPU {time.process_time() - cpu_started:.1f} s")
    r = result.report
    print(
        f"  extract: {r['baris']:,} rows, k achieved {r['k_tercapai']}, "
        f"{r['baris_dihapus']:,} removed, suppressed values {r['nilai_ditekan']}"
    )
    return elapsed


def load() -> str:
    try:
        return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "load average unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=20_000 if TOY else 10_000_000)
    parser.add_argument("--micro", type=int, default=5_000 if TOY else 1_000_000)
    parser.add_argument("--runs", type=int, default=1 if TOY else 3)
    parser.add_argument("--level", default="provinsi" if TOY else "kabupaten")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, {load()} at start")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(
            f"aggregate region ({args.level}) x sex x age group over {args.persons:,} persons "
            f"(median of {args.runs})"
        )
        columns = frozenset({"kode_wilayah", "jenis_kelamin", "tanggal_lahir"})
        agg_path = snapshot(folder, args.persons, columns)
        agg = bench_aggregate(agg_path, args.runs, args.level)
        print(f"3-dimension aggregate with suppression: {agg:.2f} s (target ≤ 2 s)")
        print(f"microdata extract of {args.micro:,} persons")
        micro_path = snapshot(folder, args.micro, None)
        micro = bench_microdata(micro_path, folder)
        print(f"microdata extract (pseudonyms, k=5, Parquet): {micro:.1f} s (target ≤ 30 s)")
        print(f"{load()} at end")


if __name__ == "__main__":
    main()
