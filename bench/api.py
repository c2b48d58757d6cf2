"""Web-service throughput over loopback: the verification endpoint side by side with a bare
endpoint (`/healthz`) of the same server, same settings, same run.

A bounded async client (httpx, N concurrent connections, a fixed number of requests) drives
a real `simpul serve` process built on a fresh demo world. Prints requests/s and latency
percentiles for both, and the ratio. SIMPUL_BENCH_TOY=1 runs a few hundred requests.

    .venv/bin/python bench/api.py --requests 20000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq

TOY = os.environ.get("SIMPUL_BENCH_TOY") == "1"
SIMPUL = [sys.executable, "-m", "simpul"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("server did not become ready")


async def drive(
    base: str, method: str, path: str, bodies: list[Any], headers: dict[str, str], conc: int
) -> tuple[float, list[float], int]:
    """Send every body once with `conc` workers; returns (seconds, latencies, errors)."""
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t0 = time.perf_counter()
                resp = await client.request(method, path, json=body)
                latencies.append(time.perf_counter() - t0)
                if resp.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        return time.perf_counter() - started, latencies, errors


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def report(name: str, seconds: float, lat: list[float], errors: int) -> float:
    rps = len(lat) / seconds
    print(
        f"{name:<28} {rps:>9,.0f} req/s   p50 {pct(lat, 0.5):6.1f} ms   "
        f"p99 {pct(lat, 0.99):6.1f} ms   errors {errors}"
    )
    return rps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300 if TOY else 20_000)
    parser.add_argument("--concurrency", type=int, default=8 if TOY else 64)
    parser.add_argument("--people", type=int, default=2_000 if TOY else 100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="simpul-bench-api-") as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, "SIMPUL_DATA_DIR": str(data)}
        subprocess.run(
            [*SIMPUL, "demo", "--people", str(args.people), "--no-serve"],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        creds = {c["username"]: c for c in json.loads((data / "demo-credentials.json").read_text())}
        people = pq.read_table(data / "registry" / "kependudukan.parquet").to_pylist()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        # Throughput, not the grant's quota, is measured here.
        proc = subprocess.Popen(
            [*SIMPUL, "serve", "--port", str(port)], env={**env, "SIMPUL_QUOTA_ENABLED": "false"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_ready(base, proc)
            client = creds["bkn.klien"]
            token = httpx.post(
                f"{base}/api/v1/token",
                data={"client_id": client["client_id"], "client_secret": client["client_secret"]},
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            n = args.requests
            bodies = [
                {
                    "nik": p["nik"],
                    "elemen": {"nama_lengkap": p["nama_lengkap"],
                               "tanggal_lahir": p["tanggal_lahir"].isoformat()},
                }
                for p in (people[i % len(people)] for i in range(n))
            ]  # fmt: skip
            print(f"api: {n:,} requests, {args.concurrency} connections, 1 worker process"
                  f"{' (toy size)' if TOY else ''}")  # fmt: skip
            bare = asyncio.run(drive(base, "GET", "/healthz", [None] * n, {}, args.concurrency))
            verif = asyncio.run(
                drive(base, "POST", "/api/v1/datasets/kependudukan/verifikasi", bodies, auth,
                      args.concurrency)
            )  # fmt: skip
            bare_rps = report("bare GET /healthz", *bare)
            verif_rps = report("POST verifikasi (audited)", *verif)
            print(f"ratio verifikasi / bare: {verif_rps / bare_rps:.2f} (target ≥ 0.5)")
            print(f"verifikasi target ≥ 3,000 req/s, p99 ≤ 25 ms: "
                  f"{'PASS' if verif_rps >= 3000 and pct(verif[1], 0.99) <= 25 else 'BELOW'}"
                  f"{' (toy size, not compared)' if TOY else ''}")  # fmt: skip
            batch_items = [{"nik": b["nik"], "elemen": b["elemen"]} for b in bodies[:1000]]
            rounds = 2 if TOY else 20
            t0 = time.perf_counter()
            for _ in range(rounds):
                resp = httpx.post(
                    f"{base}/api/v1/datasets/kependudukan/verifikasi/batch",
                    json={"item": batch_items}, headers=auth, timeout=60,
                )  # fmt: skip
                resp.raise_for_status()
            per_s = rounds * len(batch_items) / (time.perf_counter() - t0)
            print(f"batch verifikasi: {per_s:,.0f} verifications/s (target ≥ 50,000/s)")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
