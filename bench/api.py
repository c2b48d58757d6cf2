"""Web-service throughput over loopback: the verification endpoint side by side with a bare
endpoint (`/healthz`) of the same server, same settings, same run.

A real `simpul serve` (N worker processes) on a fresh demo world is driven by wrk (Debian
package `wrk`; a Lua script cycles through distinct NIKs and elements) or, when wrk is not
installed, by a bounded async httpx client. For each endpoint it prints requests/s, latency
percentiles and the server's CPU time per request (read from /proc: unlike requests/s it
hardly moves when other work shares the machine), then the ratio verification / bare and the
batch endpoint's verifications/s (1,000 per call, from 1, N and 2N kept-alive connections,
and from 2N clients opening a new connection per call: worker processes share one listening
socket, so kept-alive connections stay wherever the kernel placed them, sometimes all on one
worker; wrk here too, as a Python client posting 200 kB bodies costs more CPU than the
server it measures). Every verification is audited durably (group commit).
SIMPUL_BENCH_TOY=1 runs a couple of seconds per endpoint. Quotas are off unless `--quota`
names a counter (`database`, `redis`): then every call is counted as in production, under
a bench addendum that raises the verification grant's quota so that none is refused.

    .venv/bin/python bench/api.py --workers 2 --connections 64 --seconds 15
    .venv/bin/python bench/api.py --database-url postgresql://127.0.0.1/bench_api
    .venv/bin/python bench/api.py --no-fast-path   # also without the shortcut, compared
    .venv/bin/python bench/api.py --quota redis    # quotas counted in Redis (or: database)
    .venv/bin/python bench/api.py --federated      # + BKN's node verifying at Dukcapil's

With --federated the same run then builds the federated demo (`simpul demo --federated
--no-serve`, the same people) and serves two of its nodes as a user would — Dukcapil's and
BKN's, each `simpul serve --workers N` and `simpul federation serve` — and drives BKN's
own node: every verification is decided and logged there, forwarded over mutual TLS to
Dukcapil's listener, decided and logged again, and answered with Dukcapil's receipt, which
BKN's node checks. Printed beside the single-node figures (target: >= 0.5x). Both nodes
share this machine's cores with the load generator, as the single node does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pyarrow.parquet as pq

TOY = os.environ.get("SIMPUL_BENCH_TOY") == "1"
SIMPUL = [sys.executable, "-m", "simpul"]
LUA = """
local bodies = {%s}
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "%s"%s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("%s", nil, headers, bodies[i])
end
done = function(summary, latency, requests)
  io.write(string.format("LAT %%d %%d %%d\\n", latency:percentile(50), latency:percentile(99),
                         summary.requests))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def server_cpu(root_pid: int) -> float:
    """User + system CPU seconds of the server and every process under it (its workers;
    with --federated, both nodes' servers, workers and listeners)."""
    pids, queue = [], [root_pid]
    while queue:
        pid = queue.pop()
        pids.append(pid)
        children = Path(f"/proc/{pid}/task/{pid}/children")
        if children.exists():
            queue += [int(p) for p in children.read_text().split()]
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def client_token(base: str, client: dict[str, str]) -> str:
    """A machine client's bearer token, as any recipient's system takes it."""
    answer = httpx.post(
        f"{base}/api/v1/token",
        data={"client_id": client["client_id"], "client_secret": client["client_secret"]},
    )
    return str(answer.json()["access_token"])


def read_people(path: Path) -> list[dict[str, object]]:
    """The first 5,000 synthetic people, with the elements the verifications send."""
    columns = ["nik", "nama_lengkap", "tanggal_lahir", "tempat_lahir"]
    rows: list[dict[str, object]] = pq.read_table(path, columns=columns).to_pylist()[:5000]
    return rows


def verification_bodies(people: list[dict[str, object]]) -> list[str]:
    return [
        json.dumps({"nik": p["nik"], "elemen": {
            "nama_lengkap": p["nama_lengkap"], "tanggal_lahir": str(p["tanggal_lahir"]),
            "tempat_lahir": p["tempat_lahir"]}})
        for p in people
    ]  # fmt: skip


def batch_payloads(bodies: list[str]) -> list[bytes]:
    """Batches of 1,000 verifications, encoded once."""
    return [("{\"item\": [" + ",".join(bodies[k : k + 1000]) + "]}").encode()
            for k in range(0, len(bodies), 1000)]  # fmt: skip


class Result:
    def __init__(self, name: str, n: int, seconds: float, p50: float, p99: float, cpu: float):
        self.name, self.n, self.seconds, self.p50, self.p99 = name, n, seconds, p50, p99
        self.rps = n / seconds if seconds else 0.0
        self.cpu_us = cpu / n * 1e6 if n else 0.0

    def show(self) -> None:
        print(f"{self.name:<28} {self.rps:>8,.0f} req/s  p50 {self.p50:6.1f} ms  "
              f"p99 {self.p99:6.1f} ms  CPU {self.cpu_us:5.0f} µs/req ({self.n:,})")  # fmt: skip


def run_wrk(base: str, path: str, method: str, bodies: list[str], auth: str, conns: int,
            seconds: int, pid: int, name: str, *, close: bool = False) -> Result:  # fmt: skip
    """`close`: a new connection per call (`Connection: close`), as independent clients."""
    lua_bodies = ",".join("[==[" + b + "]==]" for b in bodies) if bodies else '""'
    extra = ', ["Connection"] = "close"' if close else ""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(LUA % (lua_bodies, auth, extra, method))
        script = fh.name
    cpu0 = server_cpu(pid)
    t0 = time.perf_counter()
    out = subprocess.run(
        ["wrk", f"-t{min(2, conns)}", f"-c{conns}", f"-d{seconds}s", "-s", script, base + path],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    elapsed = time.perf_counter() - t0
    cpu = server_cpu(pid) - cpu0
    os.unlink(script)
    match = re.search(r"LAT (\d+) (\d+) (\d+)", out)
    assert match, out
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise RuntimeError(f"{name}: {bad.group(1)} error responses")
    p50, p99, n = (int(g) for g in match.groups())
    return Result(name, n, elapsed, p50 / 1000, p99 / 1000, cpu)


async def _drive(base: str, method: str, path: str, bodies: list[str], headers: dict[str, str],
                 conns: int, seconds: float) -> tuple[int, list[float]]:  # fmt: skip
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker(k: int) -> None:
            i = k
            while time.perf_counter() < stop:
                body = bodies[i % len(bodies)] if bodies else None
                t = time.perf_counter()
                r = await client.request(method, path, content=body, headers=headers)
                if r.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {r.status_code}")
                latencies.append((time.perf_counter() - t) * 1000)
                i += conns

        await asyncio.gather(*(worker(k) for k in range(conns)))
    return len(latencies), latencies


def run_httpx(base: str, path: str, method: str, bodies: list[str], auth: str, conns: int,
              seconds: int, pid: int, name: str) -> Result:  # fmt: skip
    headers = {"Content-Type": "application/json", "Authorization": auth}
    cpu0 = server_cpu(pid)
    t0 = time.perf_counter()
    n, lat = asyncio.run(_drive(base, method, path, bodies, headers, conns, seconds))
    elapsed = time.perf_counter() - t0
    lat.sort()
    return Result(name, n, elapsed, lat[len(lat) // 2], lat[int(len(lat) * 0.99)],
                  server_cpu(pid) - cpu0)  # fmt: skip


def run_batches(url: str, payloads: list[bytes], auth: str, clients: int, seconds: float) -> float:
    """Verifications per second with `clients` posting pre-encoded batches back to back."""
    headers = {"Authorization": auth, "Content-Type": "application/json"}

    async def client(k: int, stop: float) -> int:
        done = 0
        async with httpx.AsyncClient(timeout=120) as http:
            while time.perf_counter() < stop:
                r = await http.post(url, content=payloads[(k + done) % len(payloads)],
                                    headers=headers)  # fmt: skip
                r.raise_for_status()
                done += 1
        return done * 1000

    async def drive() -> float:
        t0 = time.perf_counter()
        counts = await asyncio.gather(*(client(k, t0 + seconds) for k in range(clients)))
        return sum(counts) / (time.perf_counter() - t0)

    return asyncio.run(drive())


def measure(
    args: argparse.Namespace,
    env: dict[str, str],
    creds: dict[str, dict[str, str]],
    people: list[dict[str, object]],
    use_wrk: bool,
    drive: Callable[..., Result],
    *,
    fast_path: bool,
) -> Result:
    """Serve the demo world with the fast path on or off, and measure it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Throughput, not the grant's quota, is measured here: quotas are off, or counted
    # under the bench addendum's quota that no run reaches (`--quota`).
    proc = subprocess.Popen(
        [*SIMPUL, "serve", "--port", str(port), "--workers", str(args.workers)],
        env={**env, "SIMPUL_QUOTA_ENABLED": "false" if args.quota == "off" else "true",
             "SIMPUL_SERVICE_FAST_PATH": "true" if fast_path else "false"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_ready(base, proc)
        client = creds["bkn.klien"]
        auth = f"Bearer {client_token(base, client)}"
        bodies = verification_bodies(people)
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(f"api (fast path {'on' if fast_path else 'off'}): {args.workers} worker(s), "
              f"{backend}, {args.connections} connections, "
              f"{args.seconds} s per endpoint, quota {args.quota}, load generator "
              f"{'wrk' if use_wrk else 'httpx (wrk not installed)'}"
              f"{' (toy size)' if TOY else ''}; machine load "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
        # Warm both paths (first-request imports, the governance memo).
        json_auth = {"Authorization": auth, "Content-Type": "application/json"}
        for _ in range(20):
            httpx.get(f"{base}/healthz")
            httpx.post(f"{base}/api/v1/datasets/kependudukan/verifikasi",
                       content=bodies[0], headers=json_auth)  # fmt: skip
        bare = drive(base, "/healthz", "GET", [], auth, args.connections, args.seconds,
                     proc.pid, "bare GET /healthz")  # fmt: skip
        verif = drive(base, "/api/v1/datasets/kependudukan/verifikasi", "POST", bodies, auth,
                      args.connections, args.seconds, proc.pid,
                      "POST verifikasi (audited)")  # fmt: skip
        # Look-up by NIK (the IKD profile, PKS 003 Pasal 2(1)d): the NIK in the body, never in
        # the URL (issue 17); the fast path serves it as it serves verification.
        lookups = [json.dumps({"nik": p["nik"]}) for p in people]
        lookup = drive(base, "/api/v1/datasets/kependudukan/akses-nik", "POST", lookups, auth,
                       args.connections, args.seconds, proc.pid,
                       "POST akses-nik (audited)")  # fmt: skip
        bare.show()
        verif.show()
        lookup.show()
        print(
            f"ratio verifikasi / bare: {verif.rps / bare.rps:.2f} throughput, "
            f"{bare.cpu_us / verif.cpu_us:.2f} by CPU per request (target ≥ 0.5)"
        )
        print(
            f"ratio akses-nik / bare: {lookup.rps / bare.rps:.2f} throughput, "
            f"{bare.cpu_us / lookup.cpu_us:.2f} by CPU per request"
        )
        verdict = "PASS" if verif.rps >= 3000 and verif.p99 <= 25 else "BELOW"
        print(f"verifikasi target ≥ 3,000 req/s with p99 ≤ 25 ms: {verdict}"
              f"{' (toy size, not compared)' if TOY else ''}")  # fmt: skip
        batch_path = f"{base}/api/v1/datasets/kependudukan/verifikasi/batch"
        payloads = batch_payloads(bodies)
        per_call = sum(payload.count(b'"nik"') for payload in payloads) / len(payloads)
        runs = [(n, False) for n in sorted({1, args.workers, 2 * args.workers})]
        if use_wrk:
            runs.append((2 * args.workers, True))
        for clients, close in runs:
            if use_wrk:
                r = run_wrk(base, batch_path.removeprefix(base), "POST",
                            [p.decode() for p in payloads], auth, clients,
                            2 if TOY else 10, proc.pid, "batch", close=close)  # fmt: skip
                per_s, timing = r.rps * per_call, (
                    f", p50 {r.p50:.0f} ms p99 {r.p99:.0f} ms per call, "
                    f"CPU {r.cpu_us / per_call:.1f} µs/verification")  # fmt: skip
            else:
                per_s = run_batches(batch_path, payloads, auth, clients, 2 if TOY else 10)
                timing = ""
            how = "a new connection per call" if close else "kept alive"
            print(f"batch verifikasi ({per_call:,.0f} per call, {clients} connection(s), "
                  f"{how}): {per_s:,.0f} verifications/s{timing} "
                  "(target ≥ 50,000/s)")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return verif


def measure_federated(
    args: argparse.Namespace, tmp: Path, use_wrk: bool, drive: Callable[..., Result],
    single: Result,
) -> None:  # fmt: skip
    """BKN's node verifying at Dukcapil's node (see the module's docstring)."""
    root = tmp / "federasi"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    base_port = free_port_block()
    subprocess.run(
        [*SIMPUL, "demo", "--federated", "--no-serve", "--people", str(args.people),
         "--data-dir", str(root), "--base-port", str(base_port)],
        env=clean, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    manifest = json.loads((root / "federasi.json").read_text())
    nodes = {n["member"]: n for n in manifest["nodes"]}
    duk, bkn = nodes["dukcapil"], nodes["bkn"]
    cmds = []
    for node in (duk, bkn):
        at = f"{shlex_join(SIMPUL)} --data-dir {node['folder']}"
        cmds += [f"exec {at} serve --port {node['api_port']} --workers {args.workers} &",
                 f"exec {at} federation serve &"]  # fmt: skip
    # One parent for the four processes, so that server_cpu counts them all.
    env = {**clean, "SIMPUL_QUOTA_ENABLED": "false"}
    group = subprocess.Popen(
        ["bash", "-c", "\n".join([*cmds, "wait"])], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{bkn['api_port']}"
    try:
        wait_ready(f"http://127.0.0.1:{duk['api_port']}", group)
        wait_ready(base, group)
        listed = json.loads((Path(bkn["folder"]) / "demo-credentials.json").read_text())
        client = next(c for c in listed if c["username"] == "bkn.klien")
        auth = f"Bearer {client_token(base, client)}"
        people = read_people(root / "synth" / "kependudukan.parquet")
        bodies = verification_bodies(people)
        path = "/api/v1/datasets/kependudukan/verifikasi"
        headers = {"Authorization": auth, "Content-Type": "application/json"}
        for k in range(20):  # warm: tokens, the directory, the kept-alive TLS connections
            r = httpx.post(base + path, content=bodies[k], headers=headers, timeout=30)
            if r.status_code != 200 or "simpul-receipt" not in r.headers:
                raise RuntimeError(f"federated verification: HTTP {r.status_code} {r.text[:200]}")
        print(f"federated: BKN's node -> Dukcapil's node, {args.workers} worker(s) each, "
              f"SQLite per node, {args.connections} connections; machine load "
              f"{os.getloadavg()[0]:.1f}")  # fmt: skip
        fed = drive(base, path, "POST", bodies, auth, args.connections, args.seconds,
                    group.pid, "POST verifikasi, federated")  # fmt: skip
        single.show()
        fed.show()
        ratio = fed.rps / single.rps if single.rps else 0.0
        verdict = "PASS" if ratio >= 0.5 else "BELOW"
        print(f"federated / single node, same run: {ratio:.2f} throughput, "
              f"{single.cpu_us / fed.cpu_us:.2f} by CPU per request (both nodes' processes) "
              f"(target >= 0.5: {verdict}{', toy size, not compared' if TOY else ''})")  # fmt: skip
        batch = "/api/v1/datasets/kependudukan/verifikasi/batch"
        payloads = batch_payloads(bodies)
        per_call = sum(p.count(b'"nik"') for p in payloads) / len(payloads)
        for clients in sorted({1, 2 * args.workers}):
            per_s = run_batches(base + batch, payloads, auth, clients, 2 if TOY else 10)
            print(f"batch verifikasi, federated ({per_call:,.0f} per call, {clients} "
                  f"client(s)): {per_s:,.0f} verifications/s")  # fmt: skip
    finally:
        os.killpg(group.pid, signal.SIGTERM)
        try:
            group.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(group.pid, signal.SIGKILL)
            group.wait(timeout=10)


def free_port_block() -> int:
    """A base port with base..base+5 and base+100..base+105 free (the federated demo's)."""
    for _ in range(50):
        base = free_port()
        if base + 110 > 65_000:
            continue
        try:
            for port in [base + k for k in range(6)] + [base + 100 + k for k in range(6)]:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of ports on loopback")


def shlex_join(parts: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(p) for p in parts)


BENCH_ADDENDUM = """\
adendum: adendum-bench-kuota
perjanjian: pks-dukcapil-bkn
judul: "ADENDUM BENCH — bukan dokumen resmi: kuota verifikasi untuk uji beban"
demo: true
tanggal_tanda_tangan: {today}
versi_dasar: 2
alasan: Uji beban bench/api.py; kuota dihitung tetapi tidak pernah tercapai.
perubahan:
  hibah_ubah:
    - id: hibah-verifikasi-ws
      kuota:
        per_menit: 1000000000
        per_hari: 1000000000
    - id: hibah-ikd-ws
      kuota:
        per_menit: 1000000000
        per_hari: 1000000000
"""


def raise_quota(env: dict[str, str], tmp: Path) -> None:
    """The verification grant under a quota no run reaches: every call is counted."""
    path = tmp / "adendum-bench.yaml"
    path.write_text(BENCH_ADDENDUM.format(today=time.strftime("%Y-%m-%d")), encoding="utf-8")
    subprocess.run([*SIMPUL, "agreement", "addendum", str(path)], env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=2 if TOY else 15)
    parser.add_argument("--connections", type=int, default=8 if TOY else 64)
    parser.add_argument("--workers", type=int, default=1 if TOY else 2)
    parser.add_argument("--people", type=int, default=1_000 if TOY else 100_000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL instead of SQLite")
    parser.add_argument(
        "--quota",
        choices=["off", "database", "redis"],
        default="off",
        help="count quotas (never reached) in this counter",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--no-fast-path",
        action="store_true",
        help="also serve with the fast path off and compare, same run",
    )
    parser.add_argument(
        "--federated",
        action="store_true",
        help="then BKN's node verifying at Dukcapil's node, compared with the single node",
    )
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None
    drive = run_wrk if use_wrk else run_httpx
    with tempfile.TemporaryDirectory(prefix="simpul-bench-api-") as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, "SIMPUL_DATA_DIR": str(data)}
        if args.database_url:
            env["SIMPUL_DATABASE_URL"] = args.database_url
        subprocess.run(
            [*SIMPUL, "demo", "--people", str(args.people), "--no-serve", "--usage-weeks", "0"],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        if args.quota != "off":
            raise_quota(env, Path(tmp))
        if args.quota == "redis":
            env["SIMPUL_REDIS_URL"] = args.redis_url
            env["SIMPUL_REDIS_KEY_PREFIX"] = f"simpul-bench:{os.getpid()}"
        creds = {c["username"]: c for c in json.loads((data / "demo-credentials.json").read_text())}
        people = read_people(data / "registry" / "kependudukan.parquet")
        compare = args.no_fast_path or TOY  # CI's toy run exercises the comparison too
        configs = [True, False] if compare else [True]
        results = {fast: measure(args, env, creds, people, use_wrk, drive, fast_path=fast)
                   for fast in configs}  # fmt: skip
        if args.federated or TOY:  # CI's toy run exercises the federated path too
            measure_federated(args, Path(tmp), use_wrk, drive, results[True])
        if compare:
            on, off = results[True], results[False]
            print(f"fast path on / off, same run: verification {on.rps:,.0f} / {off.rps:,.0f} "
                  f"req/s ({(on.rps / off.rps - 1) * 100:+.0f} %), CPU {on.cpu_us:.0f} / "
                  f"{off.cpu_us:.0f} µs per verification (the shortcut stays only if it "
                  "buys ≥ 20 %, ADR 0009)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
