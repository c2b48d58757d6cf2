"""The witnessed log (issue 18, ADR 0014) for bench/audit.py, which runs it; this module
measures nothing on its own.

- Durable appends with a checkpoint signed every second (and every 10,000 records), without
  a witness and with one witness cosigning: a real `simpul serve` process over the bench's
  database and a real `simpul audit witness run` process following it over loopback.
- The time from an append's acknowledgement to a checkpoint covering it: signed by the node
  (no witness), cosigned by the witness (its state file). A separate process polls every
  20 ms, so the polling costs the appending process nothing.
- Receipts signed as the server signs them (`ReceiptSigner`), verified offline with
  `receipts.verify_receipt` (signature and request digest).
- `anchor.verify` of the log with the witness's state as the anchor.

Every wait is bounded in time; every child process is ended on the way out, and dies with
the benchmark if that is killed (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import ctypes
import json
import math
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine

from simpul.access.schemas import AccountCreate, AccountKind
from simpul.audit import anchor, receipts, service, signing
from simpul.audit import witness as w
from simpul.audit.schemas import AuditEvent
from simpul.config import Settings
from simpul.db import make_engine
from simpul.governance import actions
from simpul.kit.clock import SystemClock
from simpul.runtime import Runtime

ORIGIN = "simpul.bench/dukcapil"
WITNESS_NAME = "saksi.bench"
WITNESS_ACCOUNT = "bkn.saksi.bench"
LATENCY_TARGET_S = 2.0  # p99, append acknowledged -> cosigned checkpoint covering it
RECEIPT_TARGET_US = 1_000.0
POLL_S = 0.02
START_TIMEOUT_S = 90.0  # a server starting on a busy 2-core machine
COVER_TIMEOUT_S = 30.0  # a checkpoint is due every second, a witness round every 0.25 s
VERIFY_PATH = "/api/v1/datasets/kependudukan/verifikasi"
ELEMENTS = {"nama_lengkap": "SITI RAHAYU", "tanggal_lahir": "1990-01-01"}
_PR_SET_PDEATHSIG = 1


_LIBC = ctypes.CDLL(None)


def _die_with_parent() -> None:  # in the child, between fork and exec
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}


def node_env(settings: Settings) -> dict[str, str]:
    """The server's settings: the bench's database and secrets. The bench's own writer signs
    every checkpoint (each second, each 10,000 records), as the one writer of a node does, so
    the server's writer is told to sign none; no rollup refresh or retention sweep either."""
    env = {
        **_base_env(),
        "SIMPUL_DATA_DIR": str(settings.data_dir),
        "SIMPUL_SECRET_KEY": settings.require_secret("secret_key"),
        "SIMPUL_AUDIT_HMAC_KEY": settings.require_secret("audit_hmac_key"),
        "SIMPUL_PSEUDONYM_KEY": settings.require_secret("pseudonym_key"),
        "SIMPUL_AUDIT_ORIGIN": ORIGIN,
        "SIMPUL_SQLITE_SYNCHRONOUS": settings.sqlite_synchronous,
        "SIMPUL_AUDIT_CHECKPOINT_SECONDS": "86400",
        "SIMPUL_AUDIT_CHECKPOINT_RECORDS": str(10**9),
        "SIMPUL_ROLLUP_REFRESH_SECONDS": "0",
        "SIMPUL_RETENTION_SWEEP_SECONDS": "0",
    }
    if settings.database_url:
        env["SIMPUL_DATABASE_URL"] = settings.database_url
    return env


def register_witness(settings: Settings, state: w.WitnessState) -> str:
    """At the node: a client account of role `saksi` and the witness's key registered for
    it (governance actions, each audited), and a checkpoint over those records. Returns the
    account's client secret."""
    rt = Runtime(settings)
    try:
        with rt.transaction() as s:
            actions.load_institutions(s, settings, rt.clock, actor="bench")
            spec = AccountCreate(username=WITNESS_ACCOUNT, institution="bkn", role="saksi",
                                 kind=AccountKind.CLIENT)  # fmt: skip
            secret = actions.create_account(s, settings, rt.clock, spec, actor="bench").secret
        with rt.transaction() as s:
            actions.register_witness(s, settings, rt.clock, state.name, state.verifier_key,
                                     WITNESS_ACCOUNT, actor="bench")  # fmt: skip
        # A first checkpoint: a witness asking a node that has none is refused, and every
        # refusal is a record (ADR 0014), one per round until the node signs.
        signing.checkpoint(rt.engine, settings, rt.clock)
    finally:
        rt.close()
    return secret.get_secret_value()


class WitnessedNode:
    """A witness folder and its account at the node (`prepare`, before the log is built),
    then `simpul serve` over the bench's database and `simpul audit witness run` (`start`)."""

    def __init__(self, settings: Settings, folder: Path, interval: float) -> None:
        self.settings, self.folder, self.interval = settings, folder, interval
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self._secret = ""
        self.url = ""
        self._started = 0.0
        self.poller: Poller | None = None
        self.metrics_port = 0
        self.state: w.WitnessState | None = None

    @property
    def started(self) -> bool:
        return bool(self.procs)

    def prepare(self) -> None:
        self.state = w.WitnessState.create(self.folder, WITNESS_NAME)
        self._secret = register_witness(self.settings, self.state)

    def _spawn(self, name: str, args: Sequence[str], env: dict[str, str]) -> None:
        log = self.folder.parent / f"{name}.log"
        self.logs.append(log)
        with log.open("wb") as sink:
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "simpul", *args], env=env, stdout=sink,
                stderr=subprocess.STDOUT, cwd=self.folder.parent, preexec_fn=_die_with_parent,
            ))  # fmt: skip

    def start(self) -> None:
        """Both processes at once: the witness's rounds fail (and say so in its log) until
        the server listens, then it cosigns."""
        assert self.state is not None, "prepare() first"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.state.follow(ORIGIN, signing.log_verifier_key(self.settings), self.url)
        self._started = time.monotonic()
        self._spawn("serve", ["serve", "--port", str(port)], node_env(self.settings))
        env = {**_base_env(), "SIMPUL_SAKSI_CLIENT_SECRET": self._secret}
        self.metrics_port = free_port()
        args = ["audit", "witness", "run", str(self.folder), "--client-id", WITNESS_ACCOUNT,
                "--interval", str(self.interval),
                "--metrics-port", str(self.metrics_port)]  # fmt: skip
        self._spawn("saksi", args, env)
        self.poller = Poller(self.folder, self.settings, 3_600)

    def wait_up(self) -> float:
        """Seconds from `start` until the server answered /healthz."""
        while True:
            self._alive()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return time.monotonic() - self._started
            if time.monotonic() - self._started > START_TIMEOUT_S:
                raise RuntimeError(f"simpul serve not up in {START_TIMEOUT_S:.0f} s{self._tail()}")
            time.sleep(0.05)

    def _alive(self) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                what = " ".join(map(str, proc.args[3:5]))
                raise RuntimeError(f"simpul {what} exited with {proc.returncode}{self._tail()}")

    def _tail(self) -> str:
        parts = [f"\n--- {p.name}:\n" + p.read_text(errors="replace")[-2000:] for p in self.logs]
        return "".join(parts)

    def cosigned(self) -> int:
        assert self.state is not None
        found = self.state.followed(ORIGIN)
        return found.size if found else 0

    def wait_cosigned(self, size: int, timeout: float = COVER_TIMEOUT_S) -> float:
        """Seconds until the witness has cosigned a checkpoint of at least `size` records."""
        began = time.monotonic()
        while self.cosigned() < size:
            self._alive()
            if time.monotonic() - began > timeout:
                raise RuntimeError(
                    f"witness cosigned {self.cosigned():,} < {size:,} after {timeout:.0f} s"
                    + self._tail()
                )
            time.sleep(POLL_S)
        return time.monotonic() - began

    def round_steps(self) -> dict[str, tuple[int, float, int]]:
        """From the witness's own metrics: step → (rounds, mean seconds, rounds over 0.5 s)."""
        text_ = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        found: dict[str, dict[str, float]] = {}
        for line in text_.splitlines():
            for counted in ("simpul_witness_fetch_failures_total", "simpul_witness_refusals_total"):
                if line.startswith(counted):
                    slot = found.setdefault(counted.split("_")[2], {"count": 0.0})
                    slot["count"] += float(line.rsplit(" ", 1)[1])
                    slot["fast"] = slot["count"]
            if not line.startswith("simpul_witness_round_step_seconds"):
                continue
            name, value = line.rsplit(" ", 1)
            step = name.split('step="', 1)[1].split('"', 1)[0]
            slot = found.setdefault(step, {})
            if name.startswith("simpul_witness_round_step_seconds_count"):
                slot["count"] = float(value)
            elif name.startswith("simpul_witness_round_step_seconds_sum"):
                slot["sum"] = float(value)
            elif 'le="0.5"' in name:
                slot["fast"] = float(value)
        return {
            step: (int(v.get("count", 0)), v.get("sum", 0.0) / max(1.0, v.get("count", 0)),
                   int(v.get("count", 0) - v.get("fast", 0)))
            for step, v in found.items()
        }  # fmt: skip

    def pause(self) -> None:
        """Freeze the witness, then (its last call answered) the server: they cost nothing
        while the other measurements run."""
        for proc in reversed(self.procs):
            proc.send_signal(signal.SIGSTOP)
            time.sleep(0.2)

    def resume(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.procs.clear()

    def close(self) -> None:
        self.stop()
        if self.poller is not None:
            self.poller.close()


# --- polling what covers a record ----------------------------------------------------------


def _probe(kind: str, arg: Any) -> Callable[[], int]:
    if kind == "witness":
        state = w.WitnessState(arg)

        def witness() -> int:
            found = state.followed(ORIGIN)
            return found.size if found else 0

        return witness
    engine = make_engine(arg, read_only=True)
    query = text("SELECT max(tree_size) FROM audit_checkpoint")

    def checkpoint() -> int:
        with engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    return checkpoint


def _poll(conn: Any, folder: Path, settings: Settings, seconds: float) -> None:
    """Child process. Told a kind ("witness": the witness's state; "checkpoint": the node's
    latest checkpoint), it reads the size covered every POLL_S and keeps (monotonic time,
    size) at each change, until told "end" (it then answers the timeline, the poll count and
    the longest gap between polls) or "quit"; it lives at most `seconds`."""
    probes: dict[str, Callable[[], int]] = {}
    probe: Callable[[], int] | None = None
    timeline: list[tuple[float, int]] = []
    last, polls, gap, previous = -1, 0, 0.0, 0.0
    conn.send("ready")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if conn.poll(POLL_S if probe is not None else 1.0):
            command = conn.recv()
            if command == "quit":
                return
            if command == "end":
                conn.send((timeline, polls, gap))
                probe = None
                continue
            if command not in probes:
                probes[command] = _probe(command, folder if command == "witness" else settings)
            probe, timeline = probes[command], []
            last, polls, gap, previous = -1, 0, 0.0, time.monotonic()
            conn.send("begun")
            continue
        if probe is None:
            continue
        size = probe()
        now = time.monotonic()
        gap, previous, polls = max(gap, now - previous), now, polls + 1
        if size != last:
            timeline.append((now, size))
            last = size


class Poller:
    """One polling process for a backend's runs, started early so that its start-up (a
    second or two of imports) overlaps other work."""

    def __init__(self, folder: Path, settings: Settings, seconds: float) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_poll, args=(child, folder, settings, seconds), daemon=True)
        self._proc.start()
        self._ready = False

    def _answer(self) -> Any:
        if not self._conn.poll(START_TIMEOUT_S):
            raise RuntimeError("the poller does not answer")
        return self._conn.recv()

    def begin(self, kind: str) -> None:
        if not self._ready:
            assert self._answer() == "ready"
            self._ready = True
        self._conn.send(kind)
        assert self._answer() == "begun"

    def end(self) -> tuple[list[tuple[float, int]], int, float]:
        time.sleep(3 * POLL_S)  # let it see what the caller just saw
        self._conn.send("end")
        return self._answer()  # type: ignore[no-any-return]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send("quit")
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=10)


# --- the timed appends ---------------------------------------------------------------------


@dataclass
class Run:
    label: str
    rate: float = 0.0
    latencies: list[float] = field(default_factory=list)
    uncovered: int = 0
    polls: int = 0
    max_gap: float = 0.0
    kept: list[service.Receipt] = field(default_factory=list)
    steps: dict[str, tuple[int, float, int]] = field(default_factory=dict)


def _timed_worker(
    settings: Settings,
    events: Sequence[AuditEvent],
    per_task: int,
    tasks: int,
    offset: int,
    sample_every: int,
    keep_every: int,
    gate: Any,
    results: Any,
) -> None:
    """One appending process (a server worker's shape): `tasks` asyncio tasks awaiting
    AuditWriter.append_async, its writer signing checkpoints every second and every 10,000
    records as each `simpul serve` worker's does. Reports (began, ended, appended, samples,
    kept receipts), then waits for `gate` again before closing its writer (the others may
    still be appending, and the covering checkpoint is waited for with the writers open)."""
    engine = make_engine(settings)
    writer = service.AuditWriter(engine, settings, SystemClock(), checkpoint_every=10_000,
                                 checkpoint_seconds=1.0)  # fmt: skip
    samples: list[tuple[int, float]] = []
    kept: list[service.Receipt] = []

    async def work(k: int) -> None:
        append, mono, n = writer.append_async, time.monotonic, len(events)
        for i in range(offset + k * per_task, offset + (k + 1) * per_task):
            got = await append(events[i % n])
            if got.seq % sample_every == 0:
                samples.append((got.seq, mono()))
            if got.seq % keep_every == 0:
                kept.append(got)

    async def main() -> None:
        await asyncio.gather(*(work(k) for k in range(tasks)))

    try:
        if not gate[0].wait(START_TIMEOUT_S * 4):
            raise RuntimeError("timed appends: no start signal")
        began = time.perf_counter()
        asyncio.run(main())
        results.put((began, time.perf_counter(), per_task * tasks, samples, kept))
        gate[1].wait(COVER_TIMEOUT_S * 4)
    finally:
        writer.close()
        engine.dispose()


def timed_appends(
    settings: Settings,
    events: Sequence[AuditEvent],
    records: int,
    tasks: int,
    processes: int,
    sample_every: int,
    keep_every: int,
    poller: Poller,
    kind: str,
    covered: Callable[[int], Any],
    label: str,
) -> Run:
    """`processes` processes of `tasks / processes` asyncio tasks each (`_timed_worker`),
    the acknowledgement time of every `sample_every`-th seq kept; then, the writers still
    running, wait (`covered`) until the last sample is covered and match each sample
    against the poller's timeline of `kind` ("witness" or "checkpoint")."""
    ctx = mp.get_context("spawn")
    per_process = max(1, tasks // processes)
    per_task = max(1, records // (processes * per_process))
    gate, results = (ctx.Event(), ctx.Event()), ctx.Queue()
    share = per_process * per_task
    shape = (settings, events, per_task, per_process)
    procs = [
        ctx.Process(
            target=_timed_worker, args=(*shape, k * share, sample_every, keep_every, gate, results)
        )
        for k in range(processes)
    ]
    for proc in procs:
        proc.start()
    run = Run(label)
    samples: list[tuple[int, float]] = []
    try:
        time.sleep(2.0 if processes > 1 else 1.0)  # let each child import and connect first
        poller.begin(kind)
        gate[0].set()
        reports = [results.get(timeout=COVER_TIMEOUT_S * 20) for _ in procs]
        began, ended = min(r[0] for r in reports), max(r[1] for r in reports)
        run.rate = sum(r[2] for r in reports) / (ended - began)
        for report in reports:
            samples += report[3]
            run.kept += report[4]
        if samples:
            covered(max(seq for seq, _ in samples))
        timeline, run.polls, run.max_gap = poller.end()
    finally:
        gate[1].set()
        for proc in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=10)
    for proc in procs:
        if proc.exitcode != 0:
            raise RuntimeError(f"appending process exited with {proc.exitcode}")
    run.latencies, run.uncovered = covering_delays(sorted(samples), timeline)
    if os.environ.get("SIMPUL_BENCH_DEBUG"):
        worst = sorted(zip(run.latencies, sorted(samples), strict=False), reverse=True)[:5]
        t0 = min(t for _, t in samples)
        print("  slowest:", [(round(d, 2), seq, round(t - t0, 2)) for d, (seq, t) in worst])
        print("  timeline:", [(round(t - t0, 2), size) for t, size in timeline])
    return run


def covering_delays(
    samples: Sequence[tuple[int, float]], timeline: Sequence[tuple[float, int]]
) -> tuple[list[float], int]:
    """For each (seq, acknowledged at) sample, the seconds until the first poll that saw a
    size >= seq (sizes only grow), and how many samples no poll saw covered."""
    times, sizes = [t for t, _ in timeline], [size for _, size in timeline]
    delays, uncovered = [], 0
    for seq, done in samples:
        k = bisect.bisect_left(sizes, seq)
        if k == len(sizes):
            uncovered += 1
        else:  # a poll between the commit and the caller's wake-up counts as no delay
            delays.append(max(0.0, times[k] - done))
    return delays, uncovered


def wait_checkpoint(engine: Engine) -> Callable[[int], float]:
    def covered(size: int) -> float:
        began = time.monotonic()
        query = text("SELECT max(tree_size) FROM audit_checkpoint")
        while True:
            with engine.connect() as conn:
                if int(conn.execute(query).scalar() or 0) >= size:
                    return time.monotonic() - began
            if time.monotonic() - began > COVER_TIMEOUT_S:
                raise RuntimeError(f"no checkpoint covers #{size} after {COVER_TIMEOUT_S:.0f} s")
            time.sleep(POLL_S)

    return covered


def quantiles(values: Sequence[float]) -> tuple[float, float, float]:
    """p50, p99 (nearest rank) and max."""
    xs = sorted(values)
    if not xs:
        return math.nan, math.nan, math.nan

    def rank(p: float) -> float:
        return xs[min(len(xs) - 1, max(0, math.ceil(p * len(xs)) - 1))]

    return rank(0.50), rank(0.99), xs[-1]


def head_size(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT last_seq FROM audit_head")).scalar_one())


def vacuum(engine: Engine) -> None:
    """PostgreSQL: each run starts from a vacuumed, analysed log (autovacuum would otherwise
    pick one of them to land in)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE audit_record, audit_subject"))


def append_series(
    node: WitnessedNode,
    engine: Engine,
    settings: Settings,
    events: Sequence[AuditEvent],
    records: int,
    tasks: int,
    sample_every: int,
    keep_every: int,
    processes: int = 1,
) -> tuple[Run, Run]:
    """With the witness cosigning (the node running), then with no witness (both of its
    processes ended): (no witness, one witness)."""
    vacuum(engine)
    # Warm up: the witness cosigns what the other measurements appended, so the timed run
    # starts with nothing pending.
    signing.checkpoint(engine, settings, SystemClock())
    node.wait_cosigned(head_size(engine), START_TIMEOUT_S)
    shape = (settings, events, records, tasks, processes, sample_every, keep_every)
    assert node.poller is not None
    witnessed = timed_appends(*shape, node.poller, "witness", node.wait_cosigned, "one witness")
    witnessed.steps = node.round_steps()
    node.stop()
    vacuum(engine)
    alone = timed_appends(*shape, node.poller, "checkpoint", wait_checkpoint(engine), "no witness")
    return alone, witnessed


# --- receipts and verify against the witness -----------------------------------------------


def measure_receipts(settings: Settings, kept: Sequence[service.Receipt]) -> tuple[float, float]:
    """µs per receipt: signed as the server signs a verification's answer (ReceiptSigner over
    the request digest), then verified offline as a recipient does (key, signature, and that
    it was made for this request and body)."""
    signer = receipts.ReceiptSigner(settings)
    public = signer.key.public
    bodies = [
        json.dumps(
            {"nik": f"3171{r.seq % 10**12:012d}", "elemen": ELEMENTS}, separators=(",", ":")
        ).encode()
        for r in kept
    ]
    began = time.perf_counter()
    headers = [
        signer.sign(r, receipts.request_digest("POST", VERIFY_PATH, body))
        for r, body in zip(kept, bodies, strict=True)
    ]
    signed = time.perf_counter() - began
    verify, pairs = receipts.verify_receipt, list(zip(headers, bodies, strict=True))
    began = time.perf_counter()
    problems = [verify(h, public, "POST", VERIFY_PATH, b) for h, b in pairs]
    checked = time.perf_counter() - began
    bad = [p for p in problems if p is not None]
    if bad:
        raise RuntimeError(f"{len(bad)} receipts do not verify: {bad[0]}")
    n = max(1, len(kept))
    return signed / n * 1e6, checked / n * 1e6


def verify_against_witness(
    engine: Engine, settings: Settings, folder: Path, workers: int | None
) -> tuple[float, service.VerifyResult, int]:
    """`simpul audit verify --saksi FOLDER`: seconds (reading the anchor included), result,
    and the size the witness cosigned."""
    began = time.perf_counter()
    held = anchor.from_witness(folder, ORIGIN)
    result = anchor.verify(
        engine, trusted_key_ids=signing.trusted_key_ids(settings), anchor=held,
        lag_seconds=settings.audit_cosign_lag_seconds, now=datetime.now(UTC), workers=workers,
    )  # fmt: skip
    return time.perf_counter() - began, result, held.size


if __name__ == "__main__":  # bench/run_all.py runs every script here; this one is a part
    print("bench/audit_witness.py is part of bench/audit.py: run that.")
