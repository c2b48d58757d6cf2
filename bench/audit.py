"""Audit log benchmark: durable appends per second with concurrent writers, and the time to
verify a million-record log, on SQLite and PostgreSQL.

Targets: >= 20,000 durable appends/s; verify 1,000,000 records in <= 10 s. The baseline,
measured in the same run on the same database, is a plain single-row INSERT + COMMIT per
record from the same kind of writer threads (what an audit log without group commit does).

On the verified log it then appends batch-shaped records (1,000 subjects each, as a batch
call writes) with the subject look-up index led by generation (ADR 0008) and, on the same
database after swapping the index, keyed by the hash prefix alone (the layout before),
printing CPU per subject for both; and times a person's history look-up.

The witnessed log (issue 18, bench/audit_witness.py), on the verified log: durable appends
with a checkpoint every second, with no witness and with one witness cosigning (a real
`simpul serve` over the bench's database and a real `simpul audit witness run` following
it); the time from an append to the checkpoint that covers it, signed and cosigned; receipts
signed as the server signs them and verified offline; and verify against the witness's state
next to the plain verify of the same log. Targets: >= 20,000 appends/s with the witness,
p99 append -> cosigned <= 2 s, <= 1 ms per receipt, verify 1,000,000 records against the
witness <= 10 s.

    python bench/audit.py [--backend sqlite|postgresql|both] [--records N] [--writers N]
                          [--tasks N] [--processes N] [--verify-records N]
                          [--witness-records N] [--witness-interval S]
                          [--witness-processes N]
                          [--sample-every N] [--receipt-every N]

Writers are threads calling AuditWriter.append (each blocks until its record is durable),
and, in a second series, asyncio tasks awaiting AuditWriter.append_async; each series runs
in one process and in --processes processes sharing the database.

SIMPUL_BENCH_TOY=1 runs tiny sizes in seconds. SQLite runs with synchronous=FULL (the
default: durable against power loss); PostgreSQL with its defaults (fsync on, synchronous
commit on) in databases `simpul_bench_audit` (the append runs) and `simpul_bench_audit_log`
(the verified log) on 127.0.0.1:5432, created and dropped here.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import multiprocessing as mp
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from simpul.audit import service
from simpul.audit.schemas import AuditEvent
from simpul.config import Settings
from simpul.db import make_engine, run_migrations
from simpul.kit.clock import SystemClock

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for audit_witness, beside it
if TYPE_CHECKING:  # imported where used: the append workers' processes need none of it
    import audit_witness as aw

TOY = os.environ.get("SIMPUL_BENCH_TOY") == "1"
PG_ADMIN = os.environ.get(
    "SIMPUL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PG_DB = "simpul_bench_audit"
APPEND_TARGET = 20_000
VERIFY_TARGET_S = 10.0


def make_event(i: int) -> AuditEvent:
    """A typical verification decision: one subject, two elements, a small result."""
    nik = f"3171{i % 90 + 10:02d}{i % 28 + 1:02d}0{i % 9 + 1}9{i % 10}{i % 10_000:04d}"
    return AuditEvent(
        action="verifikasi",
        decision="izin" if i % 20 else "tolak",
        reason="ok" if i % 20 else "elemen_di_luar_hibah",
        actor=f"klien-dinsos-{i % 40:02d}",
        institution="Dinas Sosial Kabupaten Bogor",
        agreement_id="pks-003-dukcapil-dinsos",
        agreement_version=2,
        grant_id="hibah-verifikasi",
        service="verifikasi",
        mechanism="api",
        dataset="kependudukan",
        subjects=(nik,),
        elements=("nama_lengkap", "tanggal_lahir"),
        result={"nama_lengkap": "sesuai", "tanggal_lahir": "sesuai"},
        request_id=f"req-{i:012d}",
        latency_ms=3.2,
    )


def settings_for(data_dir: Path, url: str | None) -> Settings:
    import audit_witness as aw

    return Settings(
        data_dir=data_dir,
        database_url=url,
        audit_hmac_key=SecretStr(secrets.token_urlsafe(32)),
        secret_key=SecretStr(secrets.token_urlsafe(32)),  # for `simpul serve` (the witness)
        pseudonym_key=SecretStr(secrets.token_urlsafe(32)),
        audit_origin=aw.ORIGIN,
        sqlite_synchronous="FULL",
    )


# --- appends -----------------------------------------------------------------------------------


def _append_worker(
    settings: Settings,
    mode: str,
    callers: int,
    per_caller: int,
    offset: int,
    start: Any,
    results: Any,
) -> None:
    """One process: `callers` threads (or asyncio tasks) appending `per_caller` events each."""
    engine = make_engine(settings)
    writer = service.AuditWriter(engine, settings, SystemClock())
    # Events are built before the clock starts: the timed loop is the audit append alone.
    events = [make_event(offset + i) for i in range(1_000)]

    def work(k: int) -> None:
        append = writer.append
        for i in range(k * per_caller, (k + 1) * per_caller):
            append(events[i % 1_000])

    async def work_async(k: int) -> None:
        append = writer.append_async
        for i in range(k * per_caller, (k + 1) * per_caller):
            await append(events[i % 1_000])

    async def run_async() -> None:
        await asyncio.gather(*(work_async(k) for k in range(callers)))

    pool = [threading.Thread(target=work, args=(k,)) for k in range(callers)]
    if not start.wait(600):  # the parent is gone (killed): do not wait for ever
        raise RuntimeError("append worker: no start signal in 600 s")
    began = time.perf_counter()
    if mode == "asyncio":
        asyncio.run(run_async())
    else:
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
    results.put((began, time.perf_counter(), callers * per_caller))
    writer.close()
    engine.dispose()


def measure_appends(
    settings: Settings, records: int, callers: int, processes: int, mode: str
) -> float:
    """Durable appends/s: `processes` processes, callers/processes threads or tasks each."""
    per_process = max(1, callers // processes)
    per_caller = max(1, records // (processes * per_process))
    ctx = mp.get_context("spawn")
    if processes == 1:
        gate, results = threading.Event(), ctx.SimpleQueue()
        gate.set()
        _append_worker(settings, mode, per_process, per_caller, 0, gate, results)
        reports = [results.get()]
    else:
        # Monotonic clocks are system-wide on Linux, so the children's timings compare.
        start, results = ctx.Event(), ctx.Queue()
        share = per_process * per_caller
        procs = [
            ctx.Process(
                target=_append_worker,
                args=(settings, mode, per_process, per_caller, k * share, start, results),
            )
            for k in range(processes)
        ]
        for proc in procs:
            proc.start()
        time.sleep(1.5 if TOY else 4.0)  # let every child import and connect first
        start.set()
        reports = [results.get() for _ in procs]
        for proc in procs:
            proc.join()
            if proc.exitcode != 0:
                raise RuntimeError(f"append worker exited with {proc.exitcode}")
    began = min(r[0] for r in reports)
    ended = max(r[1] for r in reports)
    return sum(r[2] for r in reports) / (ended - began)


def measure_baseline(engine: Engine, records: int, writers: int) -> float:
    """One INSERT + COMMIT per record, each writer thread on its own connection."""
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_baseline"))
        conn.execute(text("CREATE TABLE bench_baseline (id BIGINT PRIMARY KEY, payload TEXT)"))
    ids = itertools.count()
    payload = service.canonical_json(list(make_event(1).__dict__.values())[:12])

    def work(n: int) -> None:
        with engine.connect() as conn:
            for _ in range(n):
                with conn.begin():
                    conn.execute(
                        text("INSERT INTO bench_baseline VALUES (:i, :p)"),
                        {"i": next(ids), "p": payload},
                    )

    per_thread = max(1, records // writers)
    pool = [threading.Thread(target=work, args=(per_thread,)) for _ in range(writers)]
    began = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - began
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_baseline"))
    return per_thread * writers / elapsed


# --- verification ------------------------------------------------------------------------------


def build_log(engine: Engine, settings: Settings, records: int, checkpoint_every: int) -> None:
    """Fill the log quickly (large batches through the normal append path), signing a
    checkpoint every `checkpoint_every` records as a running writer would."""
    hasher = service.SubjectHasher(settings.require_secret("audit_hmac_key"))
    pool = [service.prepare(make_event(i), hasher) for i in range(2_000)]
    clock = SystemClock()
    done = 0
    batch = 10_000
    while done < records:
        n = min(batch, records - done)
        items = [pool[(done + i) % len(pool)] for i in range(n)]
        with engine.connect() as conn, conn.begin():
            service.append_prepared(conn, items, clock)
        done += n
        if done % checkpoint_every == 0 or done == records:
            service.checkpoint(engine, settings, clock)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE audit_record, audit_subject"))


def measure_batch_appends(engine: Engine, settings: Settings, records: int) -> tuple[float, float]:
    """Durable subject rows/s and this process's CPU µs per subject row (on SQLite all of
    the database's work; PostgreSQL's server works in its own processes), for records of
    1,000 subjects, one commit each."""
    hasher = service.SubjectHasher(settings.require_secret("audit_hmac_key"))
    events = [
        dataclasses.replace(
            make_event(i),
            subjects=tuple(make_event(i * 1_000 + k).subjects[0] for k in range(1_000)),
        )
        for i in range(records)
    ]
    prepared = [service.prepare(ev, hasher) for ev in events]  # caller-side work, not timed
    clock = SystemClock()
    cpu, began = time.process_time(), time.perf_counter()
    for item in prepared:
        with engine.connect() as conn, conn.begin():
            service.append_prepared(conn, [item], clock)
    rows = records * 1_000
    return rows / (time.perf_counter() - began), (time.process_time() - cpu) / rows * 1e6


HASH_KEYED = "CREATE INDEX ix_audit_subject_prefix ON audit_subject (substr(subject_hash, 1, 12))"
GENERATION_LED = (
    "CREATE INDEX ix_audit_subject_gen_prefix ON audit_subject (gen, substr(subject_hash, 1, 12))"
)


def use_hash_keyed_index(engine: Engine) -> None:
    """The look-up index as it was before ADR 0008, for the same-run comparison."""
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_audit_subject_gen_prefix"))
        conn.execute(text(HASH_KEYED))


def use_generation_index(engine: Engine) -> None:
    """Back to the product's index (migration 0006) for what runs after."""
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_audit_subject_prefix"))
        conn.execute(text(GENERATION_LED))


def measure_history(engine: Engine, settings: Settings, lookups: int) -> tuple[float, int]:
    """Milliseconds per subject-history look-up, and how many generations each seeks."""
    from simpul.audit.models import SUBJECT_GENERATION
    from simpul.db import session_factory

    sessions = session_factory(engine)
    with sessions() as session:
        total = session.execute(text("SELECT subjects FROM audit_head")).scalar_one()
        niks = [make_event(i * 7).subjects[0] for i in range(lookups)]
        began = time.perf_counter()
        found = sum(len(service.subject_history(session, settings, nik)) for nik in niks)
        elapsed = time.perf_counter() - began
    assert found > 0
    return elapsed / lookups * 1000, max(total - 1, 0) // SUBJECT_GENERATION + 1


def measure_verify(engine: Engine, settings: Settings, workers: int | None) -> tuple[float, Any]:
    began = time.perf_counter()
    result = service.verify(
        engine, trusted_key_ids=service.trusted_key_ids(settings), workers=workers
    )
    return time.perf_counter() - began, result


# --- driver ------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    if TOY:
        return "toy size, not compared"
    return "OK" if ok else "BELOW TARGET"


def run_backend(backend: str, args: argparse.Namespace) -> None:
    import audit_witness as aw

    print(
        f"\n== {backend}: {args.records:,} appends, {args.writers} writers; "
        f"verify {args.verify_records:,} records",
        flush=True,
    )
    # Two databases: the append runs', dropped once they are done, and the verified log's.
    names = (PG_DB, PG_DB + "_log")
    with tempfile.TemporaryDirectory(prefix="simpul-bench-audit-") as tmp:
        urls: tuple[str | None, str | None] = (None, None)
        admin = None
        if backend == "postgresql":
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                for name in names:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
            base = PG_ADMIN.rsplit("/", 1)[0]
            urls = (f"{base}/{names[0]}", f"{base}/{names[1]}")
        (Path(tmp) / "log").mkdir()
        log_settings = settings_for(Path(tmp) / "log", urls[1])
        node = aw.WitnessedNode(log_settings, Path(tmp) / "saksi", args.witness_interval)
        try:
            log_engine = make_engine(log_settings)
            run_migrations(log_engine)
            if TOY:  # its seconds of start-up overlap the toy append runs (not compared)
                node.prepare()
                node.start()
            settings = settings_for(Path(tmp), urls[0])
            engine = make_engine(settings)
            run_migrations(engine)
            procs = [1, args.processes] if args.processes > 1 else [1]
            for mode, callers in (("threads", args.writers), ("asyncio", args.tasks)):
                for processes in procs:
                    rate = measure_appends(settings, args.records, callers, processes, mode)
                    unit = "threads" if mode == "threads" else "asyncio tasks"
                    print(
                        f"append, {processes} process(es) x {callers // processes} {unit}: "
                        f"{rate:,.0f} durable appends/s (target {APPEND_TARGET:,}/s: "
                        f"{verdict(rate >= APPEND_TARGET)})",
                        flush=True,
                    )
            check = service.verify(engine)
            print(
                f"log after the append runs verifies: {check.ok} ({check.records_checked:,} "
                f"records, {check.checkpoints_checked} checkpoints)",
                flush=True,
            )
            base_writers = min(args.writers, 32)
            base = measure_baseline(engine, args.baseline_records, base_writers)
            print(
                f"baseline, single-row INSERT+COMMIT per record, {base_writers} threads: "
                f"{base:,.0f}/s",
                flush=True,
            )
            engine.dispose()
            if backend == "sqlite":
                for extra in ("", "-wal", "-shm"):
                    Path(tmp, f"simpul.db{extra}").unlink(missing_ok=True)
            else:
                with admin.connect() as conn:  # type: ignore[union-attr]
                    conn.execute(text(f'DROP DATABASE "{PG_DB}" WITH (FORCE)'))
            on_verified_log(log_engine, log_settings, node, args)
            log_engine.dispose()
        finally:
            node.close()
            if admin is not None:
                with admin.connect() as conn:
                    for name in names:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


def on_verified_log(
    engine: Engine, settings: Settings, node: aw.WitnessedNode, args: argparse.Namespace
) -> None:
    """The million-record log: verify (plain and against a witness that cosigned it), the
    history look-up, batch-shaped appends, then the witnessed appends and receipts."""
    import audit_witness as aw

    if not node.started:
        node.prepare()  # the witness's account and key at the node: three governance records
        node.start()  # the node's server and the witness start as the log is built
    began = time.perf_counter()
    build_log(engine, settings, args.verify_records, args.checkpoint_every)
    print(
        f"built a {args.verify_records:,}-record log in {time.perf_counter() - began:.1f} s "
        f"(simpul serve up after {node.wait_up():.1f} s)",
        flush=True,
    )
    waited = node.wait_cosigned(aw.head_size(engine), aw.START_TIMEOUT_S)
    print(
        f"simpul audit witness run (interval {args.witness_interval} s) cosigned the "
        f"{node.cosigned():,}-record log {waited:.1f} s after; it and the server are frozen "
        "(SIGSTOP) while the log is verified",
        flush=True,
    )
    node.pause()
    plain: dict[int | None, float] = {}
    for workers in (None, 1):
        seconds, result = measure_verify(engine, settings, workers)
        plain[workers] = seconds
        label = "auto workers" if workers is None else "1 process"
        ok = result.ok and seconds <= VERIFY_TARGET_S
        print(
            f"verify {result.records_checked:,} records, "
            f"{result.checkpoints_checked} checkpoints ({label}): {seconds:.2f} s "
            f"(target <= {VERIFY_TARGET_S:.0f} s: {verdict(ok)}; "
            f"log ok: {result.ok})",
            flush=True,
        )
    for workers in (None, 1):
        seconds, result, size = aw.verify_against_witness(engine, settings, node.folder, workers)
        label = "auto workers" if workers is None else "1 process"
        ok = result.ok and seconds <= VERIFY_TARGET_S
        print(
            f"verify {result.records_checked:,} records against the witness's checkpoint "
            f"#{size:,} ({label}): {seconds:.2f} s, plain verify {plain[workers]:.2f} s "
            f"(target <= {VERIFY_TARGET_S:.0f} s: {verdict(ok)}; log ok: {result.ok}, "
            f"witness {result.witness})",
            flush=True,
        )
    per_ms, gens = measure_history(engine, settings, 20 if TOY else 200)
    print(f"subject history look-up: {per_ms:.2f} ms each ({gens} generations)")
    batches = 5 if TOY else 50
    for label in ("generation-led index (ADR 0008)", "hash-keyed index (before)"):
        if label.startswith("hash"):
            use_hash_keyed_index(engine)
        rate, cpu_us = measure_batch_appends(engine, settings, batches)
        print(
            f"batch-shaped appends ({batches} records x 1,000 subjects, a commit each), "
            f"{label}: {rate:,.0f} subject rows/s, {cpu_us:.1f} µs CPU per subject",
            flush=True,
        )
    use_generation_index(engine)
    node.resume()
    witnessed_appends(engine, settings, node, args)


def witnessed_appends(
    engine: Engine, settings: Settings, node: aw.WitnessedNode, args: argparse.Namespace
) -> None:
    import audit_witness as aw

    events = [make_event(i) for i in range(1_000)]
    records, tasks = args.witness_records, args.tasks
    each = tasks // args.witness_processes
    shape = f"{args.witness_processes} process(es) x {each:,} asyncio tasks"
    alone, witnessed = aw.append_series(node, engine, settings, events, records, tasks,
                                        args.sample_every, args.receipt_every,
                                        args.witness_processes)  # fmt: skip
    print(
        f"witnessed log: {records:,} appends, {shape}, each process's writer signing a "
        "checkpoint every 1 s or 10,000 records (the witness run first, then its processes "
        "ended)",
        flush=True,
    )
    for run in (alone, witnessed):
        print(
            f"  {run.label + ':':12} {run.rate:,.0f} durable appends/s "
            f"(target {APPEND_TARGET:,}/s: {verdict(run.rate >= APPEND_TARGET)})",
            flush=True,
        )
    print(f"  one witness / no witness: {witnessed.rate / alone.rate:.0%}")
    for run, what, target in ((alone, "checkpoint signed", False),
                              (witnessed, "checkpoint cosigned by the witness", True)):  # fmt: skip
        p50, p99, top = aw.quantiles(run.latencies)
        judged = (
            f"target p99 <= {aw.LATENCY_TARGET_S:.0f} s: "
            f"{verdict(p99 <= aw.LATENCY_TARGET_S and not run.uncovered)}; "
            if target
            else ""
        )
        print(
            f"  append -> {what} ({run.label}): p50 {p50:.2f} s, p99 {p99:.2f} s, "
            f"max {top:.2f} s ({judged}{len(run.latencies)} samples, every "
            f"{args.sample_every:,}th seq, {run.uncovered} uncovered; {run.polls:,} polls, "
            f"longest gap {run.max_gap * 1000:.0f} ms)",
            flush=True,
        )
    steps = ", ".join(
        f"{step} {mean * 1000:.0f} ms mean ({slow} of {count:,} over 0.5 s)"
        for step, (count, mean, slow) in sorted(witnessed.steps.items())
    )
    print(f"  the witness's rounds, from its metrics (whole life): {steps}", flush=True)
    kept = alone.kept + witnessed.kept
    sign_us, verify_us = aw.measure_receipts(settings, kept)
    print(
        f"receipts: {len(kept):,} signed as the server signs them, {sign_us:.0f} µs each; "
        f"verified offline (key, signature, request digest): {verify_us:.0f} µs each "
        f"(target <= {aw.RECEIPT_TARGET_US:,.0f} µs: {verdict(verify_us <= aw.RECEIPT_TARGET_US)})",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--records", type=int, default=2_000 if TOY else 200_000)
    parser.add_argument("--writers", type=int, default=8 if TOY else 256, help="threads")
    parser.add_argument("--tasks", type=int, default=16 if TOY else 1024, help="asyncio tasks")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--verify-records", type=int, default=5_000 if TOY else 1_000_000)
    parser.add_argument("--checkpoint-every", type=int, default=1_000 if TOY else 10_000)
    parser.add_argument("--baseline-records", type=int, default=200 if TOY else 5_000)
    parser.add_argument("--witness-records", type=int, default=2_000 if TOY else 200_000)
    parser.add_argument(
        "--witness-processes", type=int, default=2,
        help="appending processes in the witnessed runs (a `simpul serve --workers 2` node)",
    )  # fmt: skip
    parser.add_argument("--witness-interval", type=float, default=0.25, help="seconds")
    parser.add_argument("--sample-every", type=int, default=100 if TOY else 1_000)
    parser.add_argument("--receipt-every", type=int, default=10 if TOY else 40)
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C: child processes ended, the bench database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"cpu count: {os.cpu_count()}; python {sys.version.split()[0]}; toy: {TOY}")
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        run_backend(backend, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
