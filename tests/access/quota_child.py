"""One of the processes of tests/access/test_quota_processes.py: builds the node's limiter
as `simpul serve` does (`limiter_for`), says it is ready, waits for the start signal, then
asks for one unit at a time and prints how many it was allowed.

    python -m tests.access.quota_child DATA_DIR DATABASE_URL|- REDIS_URL|- PREFIX GO CALLS
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from simpul.access.quota import limiter_for
from simpul.agreements.schemas import Quota
from simpul.config import Settings

AT = datetime(2026, 12, 7, 8, 0, 17, tzinfo=UTC)  # every process counts in the same minute
QUOTA = Quota.model_validate({"per_menit": 600, "per_hari": 100_000})  # PKS 003's grant


def main() -> None:
    data_dir, database_url, redis_url, prefix, go, calls = sys.argv[1:7]
    settings = Settings(
        data_dir=Path(data_dir),
        database_url=None if database_url == "-" else database_url,
        redis_url=None if redis_url == "-" else redis_url,
        redis_key_prefix=prefix,
        secret_key=SecretStr("x"),
    )
    limiter = limiter_for(settings)
    assert limiter is not None
    limiter.consume("akun-warmup", "pks/warmup", QUOTA, AT)  # connect before the start
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not Path(go).exists():
        if time.monotonic() > deadline:
            raise SystemExit("no start signal")
        time.sleep(0.005)
    allowed = sum(
        limiter.consume("akun-bkn", "PKS-003/verifikasi", QUOTA, AT) is None
        for _ in range(int(calls))
    )
    print(f"allowed {allowed}", flush=True)
    limiter.close()


if __name__ == "__main__":
    main()
