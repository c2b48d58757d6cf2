"""The demo's how-to: every command line it prints runs as printed against a served demo
instance and gets the answer the how-to promises (the README's quick start is the same)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import httpx
import pytest
from argon2 import PasswordHasher

from simpul.access import passwords as pw
from simpul.config import Settings
from simpul.demo.service import build_governance, build_registries, howto, write_credentials
from simpul.runtime import Runtime

pytestmark = pytest.mark.xdist_group("serve")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_every_howto_line_works(
    settings: Settings, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "sqlite":
        pytest.skip("the how-to is the same on both backends; one served instance suffices")
    if shutil.which("curl") is None:  # the how-to is curl lines: never a silent skip
        pytest.fail("curl is not installed: `make test` installs it (.ci/system-deps).")
    monkeypatch.setattr(
        pw, "DEFAULT", pw.Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024))
    )
    rt = Runtime(settings)
    build_registries(rt, 400, 5, say=lambda _m: None)
    write_credentials(settings.data_dir, build_governance(rt, say=lambda _m: None))
    rt.close()
    port = _free_port()
    env = {
        **os.environ,
        "SIMPUL_DATA_DIR": str(settings.data_dir),
        "SIMPUL_SECRET_KEY": settings.require_secret("secret_key"),
        "SIMPUL_AUDIT_HMAC_KEY": settings.require_secret("audit_hmac_key"),
        "SIMPUL_PSEUDONYM_KEY": settings.require_secret("pseudonym_key"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "simpul", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.3)
        text = howto(settings.data_dir, "127.0.0.1", port)
        commands = [
            line.strip() for line in text.splitlines()
            if line.startswith("  curl") or line.startswith("  TOKEN")
        ]  # fmt: skip
        # Each curl's answer on its own line, so the answers can be read back one by one.
        script = "set -euo pipefail\n" + "\n".join(
            f"{c}; echo" if c.startswith("curl") else c for c in commands
        )
        run = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, timeout=120, check=False
        )
        assert run.returncode == 0, run.stderr
        answers = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
        assert len(answers) == sum(c.startswith("curl") for c in commands) == 7
        health, verified, profile, dtks, asn, listed, agreements = answers
        assert health["status"] == "ok" and isinstance(health["pid"], int)
        both = {"nama_lengkap": "sesuai", "tanggal_lahir": "sesuai"}
        assert verified == {"hasil": "ditemukan", "elemen": both}
        assert profile["hasil"] == "ditemukan" and len(profile["data"]) == 9
        assert dtks["hasil"] == "TERDAFTAR DTKS"
        assert asn["hasil"] == "ASN" and asn["data"]["instansi"]
        assert listed["item"][0]["hasil"] == "ASN" and len(listed["item"]) == 2
        assert {a["id"]: a["status"] for a in agreements} == {"pks-kemenkop-bkn": "berlaku"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
