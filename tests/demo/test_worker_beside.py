"""`simpul demo` serves with one matching worker beside the server: an upload is matched by
it, and the worker goes when the server goes (stopped, or killed outright)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from simpul.access import passwords as pw
from simpul.config import Settings
from simpul.demo.service import build_governance, build_registries, write_credentials
from simpul.registry.synth import sample_list
from simpul.runtime import Runtime

pytestmark = pytest.mark.xdist_group("serve")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(what: Callable[[], Any], timeout: float, about: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + timeout
    while not (got := what()):
        assert time.monotonic() < deadline, about()
        time.sleep(0.1)
    return got


def _workers_of(parent: int) -> list[int]:
    """Live `simpul … worker` processes whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"worker" in argv and b"simpul" in argv and stat[0] != "Z" and int(stat[1]) == parent:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _demo(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SIMPUL_SECRET_KEY": settings.require_secret("secret_key"),
        "SIMPUL_AUDIT_HMAC_KEY": settings.require_secret("audit_hmac_key"),
        "SIMPUL_PSEUDONYM_KEY": settings.require_secret("pseudonym_key"),
    }
    cmd = [sys.executable, "-m", "simpul", "--data-dir", str(settings.data_dir), "demo",
           "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    _until(ready, 90, lambda: f"demo did not serve (exit {proc.poll()})")
    return proc


def test_the_demo_runs_a_worker_that_goes_with_its_server(
    settings: Settings, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "sqlite":
        pytest.skip("the demo's processes are the same on both backends; one suffices")
    monkeypatch.setattr(
        pw, "DEFAULT", pw.Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024))
    )
    rt = Runtime(settings)
    build_registries(rt, 400, 5, say=lambda _m: None)
    creds = {c["username"]: c for c in build_governance(rt, say=lambda _m: None)}
    write_credentials(settings.data_dir, list(creds.values()))
    rt.close()
    listed = tmp_path / "bpum.csv"
    sample_list("bpum", 40, 3, settings.data_dir / "synth", listed)
    auth = ("kemenkop.operator", creds["kemenkop.operator"]["password"])

    port = _free_port()
    demo = _demo(settings, port)
    try:
        (worker,) = _until(lambda: _workers_of(demo.pid), 30, lambda: "no worker beside")
        base = f"http://127.0.0.1:{port}/api/v1/pemadanan"
        with listed.open("rb") as fh:
            resp = httpx.post(base, files={"berkas": ("bpum.csv", fh, "text/csv")},
                              data={"alur": "bpum"}, auth=auth, timeout=30)  # fmt: skip
        assert resp.status_code == 202, resp.text
        job = resp.json()["id"]

        def state() -> dict[str, Any]:
            got: dict[str, Any] = httpx.get(f"{base}/{job}", auth=auth, timeout=10).json()
            return got

        _until(lambda: state()["status"] == "selesai", 90, state)
        demo.send_signal(signal.SIGTERM)  # Ctrl-C / systemd stop of the server
        demo.wait(timeout=60)
        _until(lambda: not _alive(worker), 30, lambda: "the worker outlived the demo")
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(timeout=10)

    demo = _demo(settings, port)
    (worker,) = _until(lambda: _workers_of(demo.pid), 30, lambda: "no worker beside")
    demo.send_signal(signal.SIGKILL)
    demo.wait(timeout=10)
    _until(lambda: not _alive(worker), 10, lambda: "the worker outlived a killed demo")
