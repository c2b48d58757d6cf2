"""Benchmark: generate the synthetic world (four registries) and report speed and memory.

Target: 1,000,000 people in at most 60 s with peak memory at most 2 GB on a 2-core machine.
SIMPUL_BENCH_TOY=1 runs a toy size (20,000 people) so CI proves the script still works; the
verdict is printed but never fails the run (exit code 0 unless generation crashes).

    python bench/generate.py --people 1000000 --seed 42
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from simpul.registry.synth import generate_world

TARGET_SECONDS = 60.0
TARGET_BYTES = 2 * 1024**3
FULL_SIZE = 1_000_000
TOY_SIZE = 20_000


def peak_rss_bytes() -> int:
    """Peak resident set size of this process and its children (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024
    return max(own, children) * scale


def main(argv: list[str] | None = None) -> int:
    toy = os.environ.get("SIMPUL_BENCH_TOY") == "1"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=TOY_SIZE if toy else FULL_SIZE)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=None, help="keep the files here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="simpul-bench-") as tmp:
        out = args.out or Path(tmp)
        started = time.perf_counter()
        paths = generate_world(args.people, args.seed, out)
        wall = time.perf_counter() - started
        rss = peak_rss_bytes()
        counts = {name: pq.ParquetFile(path).metadata.num_rows for name, path in paths.items()}
        sizes = {name: path.stat().st_size for name, path in paths.items()}

    print(f"generate: {args.people:,} people, seed {args.seed}{' (toy size)' if toy else ''}")
    print(f"  wall time   {wall:8.2f} s")
    print(f"  throughput  {args.people / wall:12,.0f} people/s")
    print(f"  peak RSS    {rss / 1024**2:8.0f} MiB")
    for name, rows in counts.items():
        print(f"  {name:<13}{rows:>12,} rows {sizes[name] / 1024**2:8.1f} MiB")
    time_ok, mem_ok = wall <= TARGET_SECONDS, rss <= TARGET_BYTES
    if args.people != FULL_SIZE:
        print(f"  (targets are stated for {FULL_SIZE:,} people; this run is a different size)")
    print(f"  time   {'PASS' if time_ok else 'FAIL'} ({wall:.1f} s vs {TARGET_SECONDS:.0f} s)")
    print(f"  memory {'PASS' if mem_ok else 'FAIL'} ({rss / 1024**3:.2f} GiB vs 2 GiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
