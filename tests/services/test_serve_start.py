"""`simpul serve` as an operator runs it (issue 17), over real processes on loopback:

- `--workers 2` starts on a busy machine: uvicorn's 5 s child health check killed 11
  starting workers on a loaded 2-core node and restart to ready took 75 s (observed);
- `--access-log` never writes a NIK: 2,154 access-log lines carried NIKs in clear.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from simpul.config import Settings

pytestmark = pytest.mark.xdist_group("serve")
NIK = "3171011203900001"
SIMPUL = [sys.executable, "-m", "simpul"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _instance(tmp_path: Path) -> dict[str, str]:
    """A fresh instance made the only way there is: `simpul init`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    env.update(SIMPUL_DATA_DIR=str(tmp_path / "inst"), SIMPUL_SECRET_KEY="k" * 32,
               SIMPUL_AUDIT_HMAC_KEY="h" * 32, SIMPUL_PSEUDONYM_KEY="p" * 32)  # fmt: skip
    done = subprocess.run([*SIMPUL, "init"], env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return env


@contextmanager
def _serving(env: dict[str, str], log: Path, *args: str) -> Iterator[tuple[str, float]]:
    """The server's base URL once /healthz answers, and how long that took."""
    port = _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen([*SIMPUL, "serve", "--port", str(port), *args], env=env,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() - started < 150, "not ready in 150 s:\n" + log.read_text()
            time.sleep(0.25)
        yield base, time.monotonic() - started
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _worker_pid(base: str) -> int:
    with httpx.Client(timeout=30) as fresh:  # a new connection: the kernel picks a worker
        return int(fresh.get(f"{base}/healthz").json()["pid"])


@contextmanager
def _busy(cpus: int) -> Iterator[None]:
    """`cpus` processes burning CPU for at most three minutes (bounded even if orphaned)."""
    burn = "import time\nend = time.monotonic() + 180\nwhile time.monotonic() < end: pass"
    burners = [subprocess.Popen([sys.executable, "-c", burn]) for _ in range(cpus)]
    try:
        yield
    finally:
        for b in burners:
            b.kill()
            b.wait(timeout=10)


def test_two_workers_start_and_stay_up_on_a_busy_machine(tmp_path: Path) -> None:
    env = _instance(tmp_path)
    log = tmp_path / "serve.log"
    with _busy(os.cpu_count() or 2), _serving(env, log, "--workers", "2") as (base, ready):
        pids: set[int] = set()
        with ThreadPoolExecutor(8) as pool:
            for _ in range(40):  # bounded: 40 rounds of 8 concurrent new connections
                pids |= set(pool.map(lambda _i: _worker_pid(base), range(8)))
                if len(pids) == 2:
                    break
        assert len(pids) == 2, f"one worker answered everything: {pids}"
        # Past uvicorn's old 5 s health check, twice over: nobody was killed or replaced.
        time.sleep(12)
        assert _worker_pid(base) in pids
        text = log.read_text()
    assert ready < 150
    started = {int(p) for p in re.findall(r"Started server process \[(\d+)\]", text)}
    assert started == pids, text
    for sign in ("died", "not ready", "failed to start"):
        assert sign not in text, text


def test_serve_gives_starting_workers_the_configured_health_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn

    from simpul import serve
    from simpul.runtime import Runtime

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(kw))
    settings = Settings(data_dir=tmp_path, worker_healthcheck_seconds=90)
    monkeypatch.setattr(serve, "checked_runtime", lambda folder: Runtime(settings))
    serve.serve_folder(tmp_path, "127.0.0.1", 0, 2)
    assert seen["timeout_worker_healthcheck"] == 90
    assert Settings().worker_healthcheck_seconds >= 60  # uvicorn's own 5 s killed workers
    for handler in seen["log_config"]["handlers"].values():
        assert "mask_nik" in handler["filters"]


def test_the_access_log_never_carries_a_nik(tmp_path: Path) -> None:
    env = _instance(tmp_path)
    log = tmp_path / "serve.log"
    encoded = "".join(f"%{ord(c):02X}" for c in NIK)
    with (
        _serving(env, log, "--workers", "2", "--access-log") as (base, _ready),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        assert client.get(f"/api/v1/datasets/kependudukan/nik/{NIK}").status_code == 410
        assert client.get(f"/api/v1/perjanjian?nik={NIK}").status_code == 401
        assert client.get(f"/tidak-ada/{NIK}/x").status_code == 404
        assert client.get(f"/api/v1/perjanjian?nik={encoded}").status_code == 401
        lookup = client.post("/api/v1/datasets/kependudukan/akses-nik", json={"nik": NIK})
        assert lookup.status_code == 401
    text = log.read_text()
    assert '"GET /api/v1/datasets/kependudukan/nik/317101******0001 HTTP/1.1" 410' in text, text
    assert "/api/v1/perjanjian?nik=317101******0001" in text
    assert '"POST /api/v1/datasets/kependudukan/akses-nik HTTP/1.1" 401' in text
    assert not re.search(r"\d{16}", text), text
    assert encoded not in text
