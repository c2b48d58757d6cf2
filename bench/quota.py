"""What counting a quota costs a call: `QuotaLimiter.consume` on each counter, one process,
one grant with a minute and a day window (as PKS 003's), every call allowed.

In process (no counter: the limiter is off), Redis (one script, one round trip), and the
database counter on SQLite and, with --database-url, PostgreSQL. SIMPUL_BENCH_TOY=1 runs
2,000 calls per counter. The end-to-end figure is `bench/api.py --quota redis|database`.

    .venv/bin/python bench/quota.py --redis-url redis://127.0.0.1:6379/0 \
        --database-url postgresql://127.0.0.1/bench_quota
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from simpul.access.quota import Counter, DatabaseCounter, MemoryCounter, QuotaLimiter, RedisCounter
from simpul.agreements.schemas import Quota
from simpul.config import Settings
from simpul.db import make_engine, run_migrations

TOY = os.environ.get("SIMPUL_BENCH_TOY") == "1"
QUOTA = Quota.model_validate({"per_menit": 10**9, "per_hari": 10**9})  # never refuses


def measure(name: str, counter: Counter, calls: int) -> None:
    limiter = QuotaLimiter(counter)
    at = datetime.now(UTC)
    for _ in range(50):  # connect, load the script, warm the caches
        limiter.consume("akun-bench", "pks/warm", QUOTA, at)
    laps: list[float] = []
    t0 = time.perf_counter()
    for _ in range(calls):
        t = time.perf_counter()
        assert limiter.consume("akun-bench", "pks/hibah", QUOTA, at) is None
        laps.append(time.perf_counter() - t)
    total = time.perf_counter() - t0
    laps.sort()
    print(f"{name:<22} {total / calls * 1e6:7.0f} µs/call  p50 {laps[len(laps) // 2] * 1e6:6.0f}"
          f"  p99 {laps[int(len(laps) * 0.99)] * 1e6:6.0f} µs  ({calls:,} calls)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=2_000 if TOY else 20_000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--database-url", default=None, help="also PostgreSQL (migrated)")
    args = parser.parse_args()
    print(f"quota consume, one process{' (toy size)' if TOY else ''}; machine load "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    measure("in process (memory)", MemoryCounter(), args.calls)
    prefix = f"simpul-bench:{uuid.uuid4().hex}"
    redis_counter = RedisCounter(args.redis_url, prefix=prefix)
    try:
        measure("redis", redis_counter, args.calls)
    finally:
        client = redis_counter._redis
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        redis_counter.close()
    with tempfile.TemporaryDirectory(prefix="simpul-bench-quota-") as tmp:
        urls = [None] + ([args.database_url] if args.database_url else [])
        for url in urls:
            settings = Settings(data_dir=Path(tmp), database_url=url, secret_key=SecretStr("x"))
            engine = make_engine(settings)
            run_migrations(engine)
            engine.dispose()
            db = DatabaseCounter(settings)
            measure(f"database ({'PostgreSQL' if url else 'SQLite'})", db, args.calls)
            db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
