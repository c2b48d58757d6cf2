"""`simpul serve --workers N`: several worker processes answer at once, on SQLite and on
PostgreSQL, every answer is right, and every call lands once in one audit chain that
verifies; a suspension made while they run is seen by every worker on its next request."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from simpul.access import passwords as pw
from simpul.audit import service as audit
from simpul.config import Settings
from simpul.demo.service import build_governance, build_registries
from simpul.governance import actions as governance
from simpul.runtime import Runtime

pytestmark = pytest.mark.xdist_group("serve")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(settings: Settings) -> dict[str, str]:
    env = {
        **os.environ,
        "SIMPUL_DATA_DIR": str(settings.data_dir),
        "SIMPUL_SECRET_KEY": settings.require_secret("secret_key"),
        "SIMPUL_AUDIT_HMAC_KEY": settings.require_secret("audit_hmac_key"),
        "SIMPUL_PSEUDONYM_KEY": settings.require_secret("pseudonym_key"),
        "SIMPUL_QUOTA_ENABLED": "false",
    }
    if settings.database_url:
        env["SIMPUL_DATABASE_URL"] = settings.database_url
    return env


@pytest.fixture
def world(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(
        pw, "DEFAULT", pw.Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024))
    )
    rt = Runtime(settings)
    build_registries(rt, 400, 11, say=lambda _m: None)
    creds = {c["username"]: c for c in build_governance(rt, say=lambda _m: None)}
    rt.close()
    return creds["bkn.klien"]


def test_two_workers_serve_audit_and_see_governance(
    settings: Settings, world: dict[str, str]
) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simpul", "serve", "--port", str(port), "--workers", "2"],
        env=_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.3)
        token = httpx.post(
            f"{base}/api/v1/token",
            data={"client_id": world["client_id"], "client_secret": world["client_secret"]},
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        people = pq.read_table(
            Path(settings.data_dir) / "registry" / "kependudukan.parquet",
            columns=["nik", "nama_lengkap", "tanggal_lahir"],
        ).to_pylist()[:120]

        def verify(person: dict[str, object]) -> tuple[int, dict[str, object]]:
            body = {"nik": person["nik"], "elemen": {
                "nama_lengkap": person["nama_lengkap"],
                "tanggal_lahir": str(person["tanggal_lahir"])}}  # fmt: skip
            r = httpx.post(f"{base}/api/v1/datasets/kependudukan/verifikasi", json=body,
                           headers=auth, timeout=30)  # fmt: skip
            return r.status_code, r.json()

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(verify, people))
        assert all(code == 200 for code, _ in answers)
        assert all(a["elemen"] == {"nama_lengkap": "sesuai", "tanggal_lahir": "sesuai"}
                   for _, a in answers)  # fmt: skip

        rt = Runtime(settings)
        with rt.transaction() as s:
            governance.suspend_agreement(
                s, settings, rt.clock, "pks-dukcapil-bkn", actor="uji", reason="uji pekerja"
            )
        # Every worker, whichever answers, refuses from the next request on.
        with ThreadPoolExecutor(8) as pool:
            refused = list(pool.map(verify, people[:24]))
        assert {code for code, _ in refused} == {403}
        assert {a["code"] for _, a in refused} == {"perjanjian_ditangguhkan"}

        with rt.engine.connect() as conn:
            counts = dict(conn.execute(text(
                "SELECT reason, COUNT(*) FROM audit_record WHERE service = 'verifikasi' "
                "GROUP BY reason")).all())  # fmt: skip
        assert counts == {"ok": 120, "perjanjian_ditangguhkan": 24}
        assert audit.verify(rt.engine, workers=1).ok
        rt.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
