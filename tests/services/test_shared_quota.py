"""The grant's quota as BKN's client meets it over HTTP (issue 17, shared quotas).

- `simpul serve --workers 2`: the two worker processes together allow exactly the grant's
  600 verifications a minute — with Redis and with the database counter, on SQLite and
  PostgreSQL — and say when to retry.
- A batch larger than the grant's minute can never pass: it is refused up front (413,
  naming both numbers), not told to retry; one that fits passes, and counts its items.
- The retry hint is honest: after the hinted seconds (an injected clock, not a minute's
  sleep) the same call passes, one second earlier it does not.
- A quota that cannot be counted (Redis down) refuses with 503 and makes /readyz fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
import redis
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import text

from simpul.access import passwords as pw
from simpul.app import create_app
from simpul.config import Settings
from simpul.demo.service import build_governance, build_registries
from simpul.kit.clock import FixedClock
from simpul.registry.synth import generate_world
from simpul.runtime import Runtime
from tests.worlds import FAST_PASSWORDS, basic_header, governed_runtime

pytestmark = pytest.mark.xdist_group("serve")
REDIS_URL = "redis://127.0.0.1:6379/0"
PER_MINUTE = 600  # PKS 003's grant hibah-verifikasi-ws (seed)
VERIFY = "/api/v1/datasets/kependudukan/verifikasi"
NOW = datetime(2026, 11, 23, 9, 0, 17, tzinfo=UTC)  # 43 s left in the minute


@pytest.fixture
def prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own; only its keys are deleted afterwards."""
    name = f"simpul-test:{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{name}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def _counted(settings: Settings, store: str, prefix: str) -> Settings:
    if store == "redis":
        return settings.model_copy(update={"redis_url": REDIS_URL, "redis_key_prefix": prefix})
    return settings.model_copy(update={"redis_url": None})


# --- two worker processes ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(settings: Settings) -> dict[str, str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")},
        "SIMPUL_DATA_DIR": str(settings.data_dir),
        "SIMPUL_SECRET_KEY": settings.require_secret("secret_key"),
        "SIMPUL_AUDIT_HMAC_KEY": settings.require_secret("audit_hmac_key"),
        "SIMPUL_PSEUDONYM_KEY": settings.require_secret("pseudonym_key"),
        "SIMPUL_REDIS_KEY_PREFIX": settings.redis_key_prefix,
    }
    if settings.database_url:
        env["SIMPUL_DATABASE_URL"] = settings.database_url
    if settings.redis_url:
        env["SIMPUL_REDIS_URL"] = settings.redis_url
    return env


def _same_minute_ahead(seconds: float) -> None:
    """Wait, if need be, until `seconds` fit before the minute ends: the burst must fall in
    one window of the real clock for its total to be the quota."""
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.5)


@pytest.mark.parametrize("store", ["redis", "database"])
def test_two_server_workers_allow_the_grants_quota_exactly(
    settings: Settings, store: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        pw, "DEFAULT", pw.Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024))
    )
    settings = _counted(settings, store, prefix)
    rt = Runtime(settings)
    build_registries(rt, 300, 11, say=lambda _m: None)
    client = {c["username"]: c for c in build_governance(rt, say=lambda _m: None)}["bkn.klien"]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simpul", "serve", "--port", str(port), "--workers", "2"],
        env=_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
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
            data={"client_id": client["client_id"], "client_secret": client["client_secret"]},
        ).json()["access_token"]
        people = pq.read_table(
            Path(settings.data_dir) / "registry" / "kependudukan.parquet",
            columns=["nik", "nama_lengkap"],
        ).to_pylist()

        # A new connection each call: both workers accept from the shared socket.
        http = httpx.Client(base_url=base, timeout=30, headers={
            "Authorization": f"Bearer {token}", "Connection": "close"})  # fmt: skip

        def verify(k: int) -> httpx.Response:
            person = people[k % len(people)]
            body = {"nik": person["nik"], "elemen": {"nama_lengkap": person["nama_lengkap"]}}
            return http.post(VERIFY, json=body)

        _same_minute_ahead(15)
        started = time.time()
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(verify, range(PER_MINUTE + 100)))
        http.close()
        assert int(started // 60) == int(time.time() // 60), "the burst crossed a minute"
        codes = [r.status_code for r in answers]
        assert codes.count(200) == PER_MINUTE
        assert codes.count(429) == 100
        refused = next(r for r in answers if r.status_code == 429)
        wait = refused.json()["coba_lagi_detik"]
        assert refused.headers["Retry-After"] == str(wait)
        assert 0 < wait <= 60 - started % 60 + 1
        with rt.engine.connect() as conn:
            counts = dict(conn.execute(text(
                "SELECT reason, COUNT(*) FROM audit_record WHERE service = 'verifikasi' "
                "GROUP BY reason")).all())  # fmt: skip
        assert counts == {"ok": PER_MINUTE, "kuota_terlampaui": 100}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        rt.close()


# --- batch and retry, in process with an injected clock ----------------------------------


@pytest.fixture(scope="module")
def world_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_world(1_200, 5, tmp_path_factory.mktemp("world"))


def _app(
    settings: Settings, world_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> tuple[TestClient, FixedClock, dict[str, Any], list[dict[str, Any]], Runtime]:
    monkeypatch.setattr(pw, "DEFAULT", FAST_PASSWORDS)
    clock = FixedClock(NOW)
    rt, creds = governed_runtime(settings, world_files, clock)
    people = pq.read_table(world_files["kependudukan"]).to_pylist()
    client = TestClient(create_app(settings, rt), client=("127.0.0.1", 50000))
    return client, clock, creds, people, rt


@pytest.mark.parametrize("store", ["redis", "database"])
def test_a_batch_larger_than_the_quota_is_refused_up_front_and_the_retry_hint_holds(
    settings: Settings,
    store: str,
    prefix: str,
    world_files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, clock, creds, people, rt = _app(_counted(settings, store, prefix), world_files,
                                            monkeypatch)  # fmt: skip
    auth = basic_header(creds, "bkn.operator")
    items = [{"nik": p["nik"], "elemen": {"nama_lengkap": p["nama_lengkap"]}} for p in people]
    with client:
        # 1,000 items — the documented batch maximum — against 600 a minute: never passes.
        resp = client.post(VERIFY + "/batch", json={"item": items[:1000]}, headers=auth)
        assert resp.status_code == 413, resp.text
        got = resp.json()
        assert (got["code"], got["butir"], got["batas_butir"]) == ("batch_melebihi_kuota",
                                                                    1000, PER_MINUTE)  # fmt: skip
        assert "1.000" in got["detail"] and "600" in got["detail"]
        assert "Retry-After" not in resp.headers and "coba_lagi_detik" not in got
        # It took nothing: a batch of exactly the quota passes, and counts its 600 items.
        resp = client.post(VERIFY + "/batch", json={"item": items[:PER_MINUTE]}, headers=auth)
        assert resp.status_code == 200, resp.text
        assert len(resp.json()["item"]) == PER_MINUTE
        one = {"nik": people[0]["nik"], "elemen": {"nama_lengkap": people[0]["nama_lengkap"]}}
        resp = client.post(VERIFY, json=one, headers=auth)
        assert resp.status_code == 429
        wait = resp.json()["coba_lagi_detik"]
        assert wait == 43 and resp.headers["Retry-After"] == "43"  # 09:00:17 → 09:01:00
        # One second early, still refused, and told so; at the hinted time, answered.
        clock.advance(timedelta(seconds=wait - 1))
        resp = client.post(VERIFY, json=one, headers=auth)
        assert (resp.status_code, resp.headers["Retry-After"]) == (429, "1")
        clock.advance(timedelta(seconds=1))
        resp = client.post(VERIFY, json=one, headers=auth)
        assert resp.status_code == 200, resp.text
        # The batch the hint speaks of passes after its own wait too.
        resp = client.post(VERIFY + "/batch", json={"item": items[:PER_MINUTE]}, headers=auth)
        assert resp.status_code == 429
        clock.advance(timedelta(seconds=int(resp.headers["Retry-After"])))
        resp = client.post(VERIFY + "/batch", json={"item": items[:PER_MINUTE]}, headers=auth)
        assert resp.status_code == 200, resp.text
    with rt.engine.connect() as conn:
        reasons = dict(conn.execute(text(
            "SELECT reason, COUNT(*) FROM audit_record WHERE service = 'verifikasi' "
            "GROUP BY reason")).all())  # fmt: skip
    assert reasons == {"batch_melebihi_kuota": 1, "ok": 3, "kuota_terlampaui": 3}
    rt.close()


def test_a_quota_that_cannot_be_counted_refuses_and_the_node_is_not_ready(
    settings: Settings, world_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:9/0"})  # closed port
    client, _clock, creds, people, rt = _app(down, world_files, monkeypatch)
    one = {"nik": people[0]["nik"], "elemen": {"nama_lengkap": people[0]["nama_lengkap"]}}
    with client:
        resp = client.post(VERIFY, json=one, headers=basic_header(creds, "bkn.operator"))
        assert resp.status_code == 503
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["code"] == "kuota_tidak_dapat_diperiksa"
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()["code"]) == (503, "kuota_tidak_dapat_diperiksa")
    with rt.engine.connect() as conn:
        reasons = [r for (r,) in conn.execute(text(
            "SELECT reason FROM audit_record WHERE service = 'verifikasi'"))]  # fmt: skip
    assert reasons == ["kuota_tidak_dapat_diperiksa"]  # refused, and the log says why
    rt.close()
