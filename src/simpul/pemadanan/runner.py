"""Running matching jobs: claim, re-decide, match with progress and cancel, finish once.

Exactly once: a worker claims a job by compare-and-set (`antri`, or `berjalan` with a
heartbeat older than `stale`), and writes the results, the counts, the final status and
the job's one audit record in a single transaction that succeeds only while it still holds
the job. A worker killed mid-job leaves nothing half-written: the job stays `berjalan`
until its heartbeat goes stale, then the next worker claims it and runs it from the stored
upload; the engine is deterministic, so the results are the same.

Revocation is immediate: each step is a kernel call of the job's owner (`AccountId`),
decided through `Call.authorize` against the agreement the job was submitted under — when
the job starts, at every progress step and when it finishes. A refusal is recorded and ends
the job; an allowed step records nothing, except the last one: the matching's one record,
with every person linked, written through `kernel.core.execute` in the transaction that
stores the results.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from simpul.access.policy import AccessRequest, Decision
from simpul.agreements.schemas import Mechanism
from simpul.audit.service import record_in_session
from simpul.errors import SimpulError
from simpul.kernel import AccountId, Call, Node, Origin, Refused
from simpul.kernel.core import execute, new_call, write_apart, write_in_session
from simpul.kernel.principals import resolve
from simpul.matching.blocking import KEY_COLUMNS
from simpul.matching.engine import (
    KEMUNGKINAN_COCOK,
    TIDAK_DITEMUKAN,
    Candidate,
    ListModel,
    MatchOptions,
    MatchResult,
    RegistryIndex,
    gather_anchors,
    match,
)
from simpul.matching.model import Anchor
from simpul.pemadanan.models import MatchJob
from simpul.pemadanan.repository import JobRepository
from simpul.pemadanan.service import job_request, list_reader
from simpul.pemadanan.upload import ROW_STATUSES
from simpul.registry import service as registry
from simpul.registry.service import snapshot_path
from simpul.runtime import Runtime

log = logging.getLogger(__name__)
STALE = timedelta(seconds=60)
# `engine.match` or a stand-in with its signature (`matching.spark.matcher`).
Matcher = Callable[..., MatchResult]
BEAT_SECONDS = 0.5
MATCH_COLUMNS = (
    "nik", "nama_lengkap", "tanggal_lahir", "jenis_kelamin", "alamat", "rt", "rw", "kode_wilayah"
)  # fmt: skip
# Fault injection for the crash test: seconds to sleep at each progress step.
PAUSE_ENV = "SIMPUL_PEMADANAN_JEDA"
# Fault injection for the memory cap: MB a job takes at its first progress step.
BALLAST_ENV = "SIMPUL_PEMADANAN_BEBAN_MB"
# Result rows per INSERT batch in the final transaction.
INSERT_ROWS = 5_000


class Cancelled(Exception):
    pass


class Lost(Exception):
    """Another worker holds the job now (this one was presumed dead)."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def registry_table(session: Session, settings: Any, dataset: str, extra: list[str]) -> pa.Table:
    """The registry's columns for matching and output: the Parquet snapshot when it has as
    many rows as the keyed store (fast), otherwise the keyed store itself."""
    wanted = list(dict.fromkeys([*MATCH_COLUMNS, *extra]))
    snap = snapshot_path(settings, dataset)
    if snap.exists() and pq.read_metadata(snap).num_rows == registry.count(session, dataset):
        table = registry.read_snapshot(settings, dataset, [*wanted, *KEY_COLUMNS])
        if table is not None:
            return table
    rows = list(registry.iter_records(session, dataset))
    cols: dict[str, list[Any]] = {c: [r.get(c) for r in rows] for c in wanted}
    cols["tanggal_lahir"] = [
        date.fromisoformat(v) if isinstance(v, str) and v else None for v in cols["tanggal_lahir"]
    ]
    present = {
        c: v for c, v in cols.items() if c in MATCH_COLUMNS[:3] or any(x is not None for x in v)
    }
    types = {c: pa.date32() if c == "tanggal_lahir" else None for c in present}
    return pa.table(
        {
            c: pa.array(v, type=types[c]) if types[c] else pa.array([_s(x) for x in v])
            for c, v in present.items()
        }
    )


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def run_pending(
    rt: Runtime, *, worker: str | None = None, limit: int | None = None, stale: timedelta = STALE
) -> int:
    """Claim and run jobs until none is claimable (or `limit` ran); returns how many ran."""
    worker = worker or worker_name()
    ran = 0
    while limit is None or ran < limit:
        now = rt.clock.now()
        with rt.transaction() as s:
            ids = JobRepository(s).claimable(now - stale, 10)
        claimed = None
        for job_id in ids:
            with rt.transaction() as s:
                if JobRepository(s).claim(job_id, worker, now, now - stale):
                    claimed = job_id
                    break
        if claimed is None:
            return ran
        run_claimed(rt, claimed, worker)
        ran += 1
    return ran


def _fail(rt: Runtime, job_id: str, worker: str, status: str, code: str, detail: str) -> None:
    with rt.transaction() as s:
        JobRepository(s).finish(
            job_id, worker,
            {"status": status, "error_code": code, "error_detail": detail,
             "finished_at": rt.clock.now()},
        )  # fmt: skip


def run_one(rt: Runtime, job_id: str, *, matcher: Matcher = match) -> bool:
    """Claim this job and run it here with `matcher` (`simpul match`, the CLI's `--engine`);
    False when another worker holds it or it has already ended. The heartbeat is beaten
    from a thread meanwhile, so that a long parse or registry load is not taken for a dead
    worker by `simpul worker` (which beats its own jobs from its supervisor)."""
    worker = worker_name()
    now = rt.clock.now()
    with rt.transaction() as s:
        if not JobRepository(s).claim(job_id, worker, now, now - STALE):
            return False
    with beating(rt, job_id, worker, rt.settings.worker_heartbeat_seconds):
        run_claimed(rt, job_id, worker, matcher=matcher)
    return True


@contextmanager
def beating(rt: Runtime, job_id: str, worker: str, every: float) -> Iterator[None]:
    """Beat the job's heartbeat every `every` seconds while the body runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                with rt.transaction() as s:
                    JobRepository(s).beat(job_id, worker, rt.clock.now())
            except Exception as exc:  # the next beat tries again; the lease says the rest
                log.warning("pemadanan %s: detak gagal: %s", job_id, type(exc).__name__)

    thread = threading.Thread(target=beat, daemon=True, name=f"detak-{job_id}")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def run_claimed(rt: Runtime, job_id: str, worker: str, *, matcher: Matcher = match) -> None:
    out_of_memory = False
    try:
        _execute(rt, job_id, worker, matcher)
    except MemoryError:  # failed below: its traceback holds the job's data until then
        out_of_memory = True
    except Cancelled:
        _fail(rt, job_id, worker, "dibatalkan", "dibatalkan", "Dibatalkan atas permintaan.")
    except Lost:
        log.warning("pemadanan %s: diambil alih pekerja lain", job_id)
    except SimpulError as exc:
        _fail(rt, job_id, worker, "gagal", exc.code, exc.detail)
    except Exception:
        log.exception("pemadanan %s gagal", job_id)
        _fail(rt, job_id, worker, "gagal", "galat_internal", "Galat internal saat pemadanan.")
    if out_of_memory:
        gc.collect()
        log.error("pemadanan %s: melebihi batas memori", job_id)
        _fail(rt, job_id, worker, "gagal", *too_big(rt.settings.worker_job_memory_mb))


def too_big(memory_mb: int) -> tuple[str, str]:
    """The failure of a job that ran out of memory (its process's cap, or the machine's)."""
    limit = f"batas {memory_mb:,} MB per pekerjaan".replace(",", ".") if memory_mb else "memori"
    exc = SimpulError(
        "pekerjaan_melebihi_memori",
        f"Pekerjaan melebihi {limit} dan dihentikan; tidak ada hasil yang disimpan. Pecah "
        "daftarnya menjadi beberapa unggahan, atau minta operator menaikkan "
        "SIMPUL_WORKER_JOB_MEMORY_MB.",
        status=500,
    )
    return exc.code, exc.detail


def job_origin(job: MatchJob) -> Origin:
    """A job step: run on the node itself, for the job's owner, recorded under the job's
    id."""
    return Origin(Mechanism(job.mechanism), action=job.service, dataset=job.dataset,
                  request_id=job.id, internal=True)  # fmt: skip


def _call(rt: Runtime, session: Session, job: MatchJob) -> Call:
    """The owner's call as the account stands now (a revoked account raises)."""
    principal = resolve(session, rt, AccountId(job.account_id))
    return new_call(Node(rt), principal, job_origin(job))


def _step_request(job: MatchJob, call: Call) -> AccessRequest:
    return job_request(job, call, input_elements=frozenset(job.options.get("elemen", ())),
                       units=max(job.rows_total, 1))  # fmt: skip


def _recheck(rt: Runtime, session: Session, job: MatchJob) -> Decision | SimpulError:
    """The kernel's decision for the job's owner now. A refusal is recorded in the session
    (the caller commits) and returned, to end the job."""
    try:
        call = _call(rt, session, job)
    except SimpulError as exc:  # the account is gone: no call to record
        return exc
    try:
        return call.authorize(session, _step_request(job, call))
    except Refused as exc:
        write_in_session(session, call)
        return exc


def _matched(
    session: Session, call: Call, job: MatchJob, subjects: tuple[str, ...], summary: dict[str, Any]
) -> None:
    """The job's one disclosure: every person the matching linked."""
    req = _step_request(job, call)
    decision = call.authorize(session, req)
    call.disclose(req, decision, subjects=subjects, result=summary)


def _progress(rt: Runtime, job_id: str, worker: str) -> Callable[[float], None]:
    last = [0.0]
    pause = float(os.environ.get(PAUSE_ENV, "0") or 0)
    ballast = int(os.environ.get(BALLAST_ENV, "0") or 0)
    held: list[bytearray] = []

    def report(fraction: float) -> None:
        if ballast and not held:
            held.append(bytearray(ballast << 20))
        if pause:
            time.sleep(pause)
        now = time.monotonic()
        if now - last[0] < BEAT_SECONDS and fraction < 1.0 and not pause:
            return
        last[0] = now
        with rt.transaction() as s:
            repo = JobRepository(s)
            mine, cancel = repo.beat(
                job_id, worker, rt.clock.now(), round(0.05 + 0.9 * fraction, 4)
            )
            job = repo.get(job_id)
            assert job is not None
            decided = _recheck(rt, s, job) if mine and not cancel else None
        if isinstance(decided, SimpulError):
            raise decided
        if not mine:
            raise Lost
        if cancel:
            raise Cancelled

    return report


def _execute(rt: Runtime, job_id: str, worker: str, matcher: Matcher) -> None:
    """Match the stored list chunk by chunk (memory bounded by the chunk, not the list),
    spooling each chunk's results to a private Arrow file; then, in the one final
    transaction, store them in batches with the counts, the status and the job's record."""
    settings = rt.settings
    with rt.transaction() as s:
        job = JobRepository(s).get(job_id)
        if job is None:
            return
        s.expunge(job)
    with rt.transaction() as s:
        decided = _recheck(rt, s, job)
    if isinstance(decided, SimpulError):
        raise decided
    scope = decided.region_scope
    extra = [*job.output_elements, *(["kode_wilayah"] if scope else [])]
    with rt.transaction() as s:
        table = registry_table(s, settings, job.dataset, extra)
    index = RegistryIndex(table)
    pa.default_memory_pool().release_unused()  # the Parquet decoder's buffers, given back
    opts = MatchOptions(
        threshold=float(job.options.get("ambang", 0.5)),
        accept=float(job.options.get("ambang_terima", MatchOptions.accept)),
    )
    size = max(settings.match_chunk_rows, 1)
    run: Matcher = matcher
    if matcher is match:  # the list's model first, so every chunk scores as one run would
        anchored: list[Anchor] = []
        for part in list_reader(job, settings).chunks(size):
            if gather_anchors(index, part.query(), opts, anchored):
                break
        run = partial(match, model=ListModel(anchored))
    else:  # a stand-in engine (Spark) takes the list whole
        size = settings.max_upload_rows + 1
    report = _progress(rt, job_id, worker)
    spool = input_path(job).with_name("hasil.arrow")
    try:
        found, counts = _match_to_spool(job, settings, index, table, opts, run, report, size,
                                        scope, spool)  # fmt: skip
        _store(rt, job, worker, index, table, spool, found, counts)
    finally:
        spool.unlink(missing_ok=True)
    log.info("pemadanan %s selesai: %s", job_id, counts)
    if counts.get(KEMUNGKINAN_COCOK):
        log.info("pemadanan %s: %d baris menunggu tinjauan", job_id, counts[KEMUNGKINAN_COCOK])


def _match_to_spool(
    job: MatchJob, settings: Any, index: RegistryIndex, table: pa.Table, opts: MatchOptions,
    run: Matcher, report: Callable[[float], None], size: int, scope: tuple[str, ...] | None,
    spool: Path,
) -> tuple[np.ndarray, dict[str, int]]:  # fmt: skip
    """Each chunk matched and written to `spool`; returns every row's registry position
    (-1: none) in list order, and the counts per status."""
    reader = list_reader(job, settings)
    elements = list(dict.fromkeys(reader.mapping.values()))
    schema = pa.schema(
        [("line", pa.int64()), ("status", pa.string()), ("index", pa.int64()),
         ("probability", pa.float64()), ("differing", pa.string()), ("method", pa.string()),
         ("reason", pa.string()), ("kolom", pa.list_(pa.string())),
         ("candidates", pa.string()), *[(f"in_{e}", pa.string()) for e in elements]]
    )  # fmt: skip
    good = max(job.rows_total - job.rows_invalid, 1)
    done = 0
    counts: Counter[str] = Counter()
    found: list[np.ndarray] = []
    fd = os.open(spool, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # personal data
    with os.fdopen(fd, "wb") as fh, pa.ipc.new_file(fh, schema) as out:
        for part in reader.chunks(size):
            if part.rejected:  # rows not matched keep their place in the output
                rej = part.rejected
                counts.update(r.status for r in rej)
                at = {e: i for i, e in reader.mapping.items()}
                out.write_batch(pa.record_batch(
                    [pa.array([r.line for r in rej], pa.int64()),
                     pa.array([r.status for r in rej], pa.string()),
                     pa.array([-1] * len(rej), pa.int64()), pa.nulls(len(rej), pa.float64()),
                     pa.nulls(len(rej), pa.string()), pa.nulls(len(rej), pa.string()),
                     pa.array([r.reason for r in rej], pa.string()),
                     pa.array([r.cells for r in rej], pa.list_(pa.string())),
                     pa.nulls(len(rej), pa.string()),
                     *[pa.array([r.cells[at[e]] if at[e] < len(r.cells) else "" for r in rej],
                                pa.string()) for e in elements]],
                    schema=schema,
                ))  # fmt: skip
            if not part.lines:
                continue
            base, n = done, len(part.lines)

            def step(fraction: float, base: int = base, n: int = n) -> None:
                report(min((base + fraction * n) / good, 0.999))

            result = run(index, part.query(), opts, progress=step)
            if scope:
                _limit_to_scope(result, table, index, scope)
            counts.update(result.status)
            counts.update({f"blok_{k}": v for k, v in result.blocking.items()})
            found.append(np.asarray(result.registry_index, dtype=np.int64))
            out.write_batch(pa.record_batch(
                [pa.array(part.lines, pa.int64()), pa.array(result.status, pa.string()),
                 pa.array(result.registry_index, pa.int64()),
                 pa.array(result.probability, pa.float64()),
                 pa.array([",".join(d) or None for d in result.differing], pa.string()),
                 pa.array([m or None for m in result.method], pa.string()),
                 pa.nulls(n, pa.string()), pa.array(part.raw, pa.list_(pa.string())),
                 pa.array([_shown(result.candidates.get(k)) for k in range(n)], pa.string()),
                 *[pa.array([c.get(e, "") for c in part.cells], pa.string())
                   for e in elements]],
                schema=schema,
            ))  # fmt: skip
            index.forget()
            done += n
    report(1.0)
    all_found = np.concatenate(found) if found else np.zeros(0, np.int64)
    blocks = {k: v for k, v in sorted(counts.items()) if k.startswith("blok_")}
    return all_found, {**{s: counts.get(s, 0) for s in ROW_STATUSES}, **blocks}


def first_seen(found: np.ndarray) -> np.ndarray:
    """The distinct registry positions in `found` (>= 0), in order of first appearance."""
    linked = found[found >= 0]
    values, first = np.unique(linked, return_index=True)
    ordered: np.ndarray = values[np.argsort(first, kind="stable")]
    return ordered


def _store(
    rt: Runtime, job: MatchJob, worker: str, index: RegistryIndex, table: pa.Table,
    spool: Path, found: np.ndarray, counts: dict[str, int],
) -> None:  # fmt: skip
    """The final transaction: the job's record (every person linked), the results read
    back from the spool in batches, the counts and the status — only while this worker
    still holds the job."""
    settings = rt.settings
    subjects = tuple(index.nik.take(pa.array(first_seen(found))).to_pylist())
    summary = {"pekerjaan": job.id, "baris": job.rows_total, **counts,
               "galat": job.rows_invalid}  # fmt: skip
    outputs = [c for c in job.output_elements if c in table.column_names]
    call: Call | None = None
    try:
        with rt.transaction() as s:
            call = _call(rt, s, job)
            execute(s, call, _matched, job, subjects, summary)
            del subjects
            repo = JobRepository(s)
            repo.clear_results(job.id)
            # Read, not memory-mapped: mapped pages of the whole spool would stay resident.
            with pa.OSFile(str(spool)) as source:
                results = pa.ipc.open_file(source)
                for k in range(results.num_record_batches):
                    batch = results.get_batch(k)
                    for start in range(0, batch.num_rows, INSERT_ROWS):
                        rows = _rows(job.id, batch.slice(start, INSERT_ROWS), table, outputs)
                        repo.insert_results(rows)
            seq = None
            for event in call.events:
                seq = record_in_session(s, settings, event, rt.clock)
            call.events.clear()
            done = repo.finish(
                job.id, worker,
                {"status": "selesai", "progress": 1.0, "counts": counts, "audit_seq": seq,
                 "finished_at": rt.clock.now(), "heartbeat_at": rt.clock.now()},
            )  # fmt: skip
            if not done:
                raise Lost  # rolls back: the worker that holds the job writes the results
    except Refused:
        if call is not None:  # the refusal, recorded apart from the rolled-back results
            write_apart(rt, call)
        raise


def _rows(
    job_id: str, batch: pa.RecordBatch, table: pa.Table, outputs: list[str]
) -> list[dict[str, Any]]:
    """Result rows as stored, from a slice of the spool (the granted output read from the
    registry for the matched rows only)."""
    cols = {name: batch.column(name).to_pylist() for name in batch.schema.names}
    inputs = [n for n in batch.schema.names if n.startswith("in_")]
    idx = cols["index"]
    hits = [i for i in idx if i >= 0]
    shown = [json.loads(c) if c else [] for c in cols["candidates"]]
    wanted = sorted({c[0] for row in shown for c in row})
    nik_at = dict(zip(wanted, table.column("nik").take(pa.array(wanted, pa.int64())).to_pylist(),
                      strict=True)) if wanted else {}  # fmt: skip
    taken = table.select(outputs).take(pa.array(hits, pa.int64())) if outputs else None
    data_cols = {c: taken.column(c).to_pylist() for c in outputs} if taken is not None else {}
    rows: list[dict[str, Any]] = []
    h = 0
    for k, i in enumerate(idx):
        data: dict[str, Any] = {}
        nik = None
        if i >= 0:
            data = {c: _jsonable(v[h]) for c, v in data_cols.items()}
            h += 1
        if shown[k]:  # internal: the people a reviewer compares the row with
            data["_kandidat"] = [
                {"nik": nik_at[c], "probabilitas": p, "elemen": dict(marks)}
                for c, p, marks in shown[k]
            ]
        rows.append(
            {
                "job_id": job_id, "line": cols["line"][k], "status": cols["status"][k],
                "nik_cocok": nik, "probability": cols["probability"][k],
                "differing": cols["differing"][k], "method": cols["method"][k],
                "input": {**{n[3:]: cols[n][k] for n in inputs},
                          **_extra(cols["kolom"][k], cols["reason"][k])},
                "data": data,
            }
        )  # fmt: skip
    if hits:
        niks = iter(table.column("nik").take(pa.array(hits, pa.int64())).to_pylist())
        for row, i in zip(rows, idx, strict=True):
            if i >= 0:
                row["nik_cocok"] = next(niks)
    return rows


def _shown(candidates: tuple[Candidate, ...] | None) -> str | None:
    """A row's candidates for the reviewer, as spooled (registry positions)."""
    if not candidates:
        return None
    return json.dumps([[i, p, [list(m) for m in marks]] for i, p, marks in candidates])


def _extra(cells: list[str] | None, reason: str | None) -> dict[str, Any]:
    """The row's own cells, in the list's column order (`_kolom`), and why it was not
    matched (`_alasan`), kept with the row's input."""
    out: dict[str, Any] = {}
    if cells is not None:
        out["_kolom"] = cells
    if reason:
        out["_alasan"] = reason
    return out


def _limit_to_scope(
    result: MatchResult, table: pa.Table, index: RegistryIndex, scope: tuple[str, ...]
) -> None:
    """A region-scoped grant (e.g. PKS 000 for Jawa Barat, "32") discloses no one outside
    its regions: a match there is reported as `tidak_ditemukan`."""
    rows = [k for k, i in enumerate(result.registry_index.tolist()) if i >= 0]
    if not rows:
        return
    at = pa.array(result.registry_index[rows], pa.int64())
    column = "kode_wilayah" if "kode_wilayah" in table.column_names else None
    source = table.column(column) if column else index.nik
    regions = source.take(at).to_pylist()

    def inside(i: int) -> bool:
        got = (table.column(column)[i].as_py() or "") if column else str(index.nik[i])[:6]
        return any(str(got).startswith(p) for p in scope)

    for row, shown in list(result.candidates.items()):  # nobody outside shown to a reviewer
        result.candidates[row] = tuple(c for c in shown if inside(c[0]))
    for k, region in zip(rows, regions, strict=True):
        code = str(region or "") if column else str(region)[:6]
        if not any(code.startswith(p) for p in scope):
            result.candidates.pop(k, None)
            result.status[k] = TIDAK_DITEMUKAN
            result.registry_index[k] = -1
            result.probability[k] = None
            result.differing[k] = ()
            result.method[k] = ""


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def input_path(job: MatchJob) -> Path:
    return Path(job.input_path)
