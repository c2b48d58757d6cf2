"""Memory of a pemadanan job (issue 17): peak RSS of the process that runs the job, for a
long list against a 1,000,000-person registry. Target: a 2,000,000-row list within 1 GB.

The world is built by `simpul demo` (the product's generator and loader), the list by the
synthetic list generator, and the job is submitted and run by `simpul match` — the
product's own path: upload validation, the kernel's decision, the queue, the worker code
(`pemadanan.runner`), the final transaction with the job's audit record. The benchmark
polls that process's /proc/<pid>/status (VmHWM: peak resident set since exec) until the
job's status is final, then stops it before it writes the results CSV (the download is a
separate governed read, not the job). Comparison in the same run: the same job on a list a
tenth as long.

    .venv/bin/python bench/memory.py                      # 1M people, 2M and 200k rows
    PYTHONPATH=<older tree>/src .venv/bin/python bench/memory.py 200000   # an older path
    SIMPUL_BENCH_TOY=1 .venv/bin/python bench/memory.py   # 2,000 people, 20k and 2k rows
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

TOY = os.environ.get("SIMPUL_BENCH_TOY") == "1"
PEOPLE = 2_000 if TOY else 1_000_000
ROWS = 20_000 if TOY else 2_000_000
TARGET_MB = 1024
CACHE = Path(os.environ.get("SIMPUL_BENCH_CACHE", "/tmp/simpul-bench")) / f"memory-{PEOPLE}"
SIMPUL = [sys.executable, "-m", "simpul"]
ACCOUNT = "pemprov-jabar.operator"  # BNBA and pemadanan on Regsosek (Jawa Barat) in the demo
DATASET = "regsosek"


def env_for(data: Path) -> dict[str, str]:
    keep = ("SIMPUL_MATCH_MEMORY_MB", "SIMPUL_MATCH_CHUNK_ROWS")  # to measure other settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_") or k in keep}
    return {**env, "SIMPUL_DATA_DIR": str(data)}


def world() -> Path:
    data = CACHE / "data"
    if not (data / "demo-credentials.json").exists():
        subprocess.run(
            [*SIMPUL, "demo", "--people", str(PEOPLE), "--no-serve", "--usage-weeks", "0",
             "--data-dir", str(data), "--fresh"],
            env=env_for(data), check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return data


def make_list(data: Path, rows: int) -> Path:
    """`rows` rows: lists of at most the registry's size from the generator, joined."""
    from simpul.registry.synth import sample_list

    out = CACHE / f"daftar-{rows}.csv"
    if out.exists():
        return out
    parts: list[Path] = []
    left, seed = rows, 1
    while left > 0:
        n = min(left, PEOPLE // 2)
        part = CACHE / f"bagian-{n}-{seed}.csv"
        sample_list("bpum", n, seed, data / "synth", part)
        parts.append(part)
        left -= n
        seed += 1
    with out.open("w", encoding="utf-8") as fh:
        for k, part in enumerate(parts):
            with part.open(encoding="utf-8") as src:
                header = src.readline()
                if k == 0:
                    fh.write(header)
                for line in src:
                    fh.write(line)
    total = sum(1 for _ in out.open(encoding="utf-8")) - 1
    if total > rows:  # the generator adds duplicates: cut back to the size asked for
        with out.open(encoding="utf-8") as src:
            lines = [next(src) for _ in range(rows + 1)]
        out.write_text("".join(lines), encoding="utf-8")
    return out


def _status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0]) // 1024
    except OSError:
        pass
    return out


def _job_ids(data: Path) -> set[str]:
    """The jobs already in the database (earlier runs), read-only."""
    db = sqlite3.connect(f"file:{data / 'simpul.db'}?mode=ro", uri=True, timeout=5)
    try:
        return {str(r[0]) for r in db.execute("SELECT id FROM pemadanan_job")}
    except sqlite3.Error:
        return set()
    finally:
        db.close()


def _job_state(data: Path) -> tuple[str, str] | None:
    """The newest job's (status, id) (read-only)."""
    try:
        db = sqlite3.connect(f"file:{data / 'simpul.db'}?mode=ro", uri=True, timeout=1)
        try:
            row = db.execute(
                "SELECT status, id, created_at FROM pemadanan_job ORDER BY created_at DESC LIMIT 1"
            ).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    if row is None:
        return None
    return str(row[0]), str(row[1])


def run_job(data: Path, listing: Path, known: set[str]) -> dict[str, object]:
    started = time.perf_counter()
    out = CACHE / "hasil.csv"
    proc = subprocess.Popen(
        [*SIMPUL, "match", "--dataset", DATASET, "--input", str(listing), "--output", str(out),
         "--akun", ACCOUNT],
        env=env_for(data), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    peak, status, job = 0, "?", ""
    while True:
        seen = _status(proc.pid)
        peak = max(peak, seen.get("VmHWM", 0))
        state = _job_state(data)
        if state is not None and state[1] not in known:
            status, job = state
            if status in ("selesai", "gagal", "dibatalkan"):
                peak = max(peak, _status(proc.pid).get("VmHWM", 0))
                break
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    if proc.poll() is None:
        proc.terminate()  # the job is done: the results CSV is another (governed) read
    _, err = proc.communicate(timeout=60)
    if status != "selesai":
        sys.stderr.write(err.decode(errors="replace")[-2000:])
    known.add(job)
    return {"rows": listing, "status": status, "peak_mb": peak, "seconds": seconds, "job": job}


def main() -> int:
    CACHE.mkdir(parents=True, exist_ok=True)
    data = world()
    sizes = [int(a) for a in sys.argv[1:]] or [ROWS // 10, ROWS]  # e.g. `bench/memory.py 200000`
    lists = [(rows, make_list(data, rows)) for rows in sizes]
    known = _job_ids(data)
    print(f"registry {DATASET} {PEOPLE:,} people; worker = `simpul match` (peak = VmHWM)")
    ok = True
    for rows, listing in lists:
        got = run_job(data, listing, known)
        print(f"list {rows:>9,} rows  {listing.stat().st_size / 1e6:6.1f} MB  "
              f"status {got['status']}  peak {got['peak_mb']:,} MB  "
              f"time {got['seconds']:.1f} s", flush=True)  # fmt: skip
        ok = ok and got["status"] == "selesai"
        if rows == ROWS and not TOY:
            met = int(str(got["peak_mb"])) <= TARGET_MB
            print(f"target (<= {TARGET_MB} MB at {ROWS:,} rows):", "met" if met else "MISSED")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
