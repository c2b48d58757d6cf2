"""Two processes, one grant: the node's quota holds across them. Each process builds its
limiter as `simpul serve` does and asks for 450 calls of the same account's grant in the
same minute; together they are allowed exactly the grant's 600 — with Redis, and with the
database counter on SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.access.conftest import REDIS_URL
from tests.conftest import pg_database

ROOT = Path(__file__).resolve().parents[2]
CALLS, QUOTA = 450, 600


def _two_processes(data_dir: Path, database_url: str, redis_url: str, prefix: str) -> list[int]:
    go = data_dir / "go"
    cmd = [sys.executable, "-m", "tests.access.quota_child", str(data_dir), database_url,
           redis_url, prefix, str(go), str(CALLS)]  # fmt: skip
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""
        go.touch()  # both connected: they start together
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    return [int(out.split()[-1]) for out, _ in outs]


@pytest.mark.parametrize("store", ["redis", "sqlite", "postgresql"])
def test_two_processes_are_allowed_the_grants_quota_exactly(
    store: str, tmp_path: Path, request: pytest.FixtureRequest, redis_prefix: str
) -> None:
    started = time.monotonic()
    if store == "postgresql":
        with pg_database(request.getfixturevalue("pg_template")) as url:
            allowed = _two_processes(tmp_path, url, "-", redis_prefix)
    else:
        if store == "sqlite":
            shutil.copy(request.getfixturevalue("sqlite_template"), tmp_path / "simpul.db")
        allowed = _two_processes(tmp_path, "-", REDIS_URL if store == "redis" else "-",
                                 redis_prefix)  # fmt: skip
    assert sum(allowed) == QUOTA
    # Each asked 450: counted per process they would have had 900.
    assert all(0 < n <= CALLS for n in allowed), allowed
    assert time.monotonic() - started < 120
