"""The audit log: append (in the caller's transaction, or through a group-commit writer),
verification and subject history. Checkpoints and proofs live in `signing`.

Entry hash = SHA-256(PREFIX || prev_hash || body), body = the JSON array
[seq, ts, *RECORD_FIELDS, *subject_hashes] with compact separators and ASCII escapes. JSON is
an unambiguous encoding that CPython's C encoder writes in about two microseconds, which is
what lets `verify` re-hash a million rows within its time budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import hmac
import json
import logging
import math
import operator
import os
import pickle
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from simpul.audit import merkle
from simpul.audit import repository as repo

# A person's history (and the subject hash it shares) lives in simpul.audit.history; this
# module is the package's facade.
from simpul.audit.history import SubjectAccess, subject_hash, subject_history
from simpul.audit.models import SUBJECT_GENERATION
from simpul.audit.repository import GENESIS, RECORD_FIELDS, LogReader, Row

# Public for readers that compare against a record's `ts` (the obligations' usage reports
# and rollups): the UTC text a timestamp is hashed as, and stored as on SQLite.
from simpul.audit.repository import ts_text as ts_text
from simpul.audit.schemas import AuditEvent
from simpul.audit.signing import (
    Checkpoint,
    Proof,
    checkpoint,
    inclusion_proof,
    maybe_checkpoint,
    stored_range,
    trusted_key_ids,
    verify_proof,
)
from simpul.config import Settings
from simpul.errors import InvalidInput, SimpulError
from simpul.kit.clock import Clock
from simpul.kit.masking import mask_niks_in_text

__all__ = [
    "AuditWriteError",
    "AuditWriter",
    "Checkpoint",
    "Proof",
    "Receipt",
    "SubjectAccess",
    "VerifyResult",
    "checkpoint",
    "inclusion_proof",
    "maybe_checkpoint",
    "record_in_session",
    "subject_hash",
    "subject_history",
    "trusted_key_ids",
    "verify",
    "verify_proof",
]

log = logging.getLogger("simpul.audit")

HASH_PREFIX = b"simpul.audit.v1\x00"
DECISIONS = frozenset({"izin", "tolak", "tindakan"})
MAX_TEXT = 2_000
MAX_JSON = 65_536
PARALLEL_MIN = 200_000  # below this, starting worker processes costs more than it saves
_COUNT_AT = 2 + RECORD_FIELDS.index("subject_count")  # in a (seq, ts, *fields, …) row
_sha256 = hashlib.sha256


def _unhashable(value: object) -> Any:
    raise TypeError(f"nilai bertipe {type(value).__name__} tidak dapat di-hash")


# C encoders built once: json.dumps rebuilds one on every call (a third of the cost).
_c_make: Any = json.encoder.c_make_encoder  # type: ignore[attr-defined]
_chunks: Any = _c_make(
    None, _unhashable, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, False
)
# result/detail payloads: keys sorted, non-ASCII kept readable, anything odd stringified.
_payload_chunks: Any = _c_make(
    None, str, json.encoder.encode_basestring, None, ":", ",", True, False, False
)


def canonical_json(values: Sequence[Any]) -> str:
    return "".join(_chunks(values, 0))


def entry_hash(prev_hash: bytes, row: Sequence[Any], subjects: Sequence[str]) -> bytes:
    """The chain hash of a record given as (seq, ts text, *RECORD_FIELDS)."""
    body = canonical_json((*row, *subjects)).encode()
    return _sha256(HASH_PREFIX + prev_hash + body).digest()


class SubjectHasher:
    """subject_hash with the key schedule computed once (hashing many NIKs per second)."""

    def __init__(self, key: str) -> None:
        self._base = hmac.new(key.encode(), digestmod="sha256")

    def __call__(self, nik: str) -> str:
        mac = self._base.copy()
        mac.update(nik.strip().encode())
        return mac.hexdigest()


# --- preparing and appending -----------------------------------------------------------------


class Receipt(NamedTuple):
    seq: int
    hash: str  # hex
    ts: str = ""  # the record's time, UTC text as hashed (`ts_text`)


class AuditWriteError(SimpulError):
    """The record could not be made durable: the caller must not answer as if it were."""

    def __init__(self, detail: str) -> None:
        super().__init__("audit_gagal_ditulis", detail, status=503)


# (record fields in RECORD_FIELDS order, subject hashes, canonical JSON of fields + subjects)
Prepared = tuple[tuple[Any, ...], tuple[str, ...], str]
_TEXTS = (
    "action",
    "reason",
    "actor",
    "institution",
    "agreement_id",
    "grant_id",
    "service",
    "mechanism",
    "dataset",
    "request_id",
)
_get_texts = operator.attrgetter(*_TEXTS)


def _bad(detail: str) -> InvalidInput:
    return InvalidInput("peristiwa_audit_tidak_valid", mask_niks_in_text(detail))


def _storable(text: str) -> bool:
    """PostgreSQL text holds neither NUL nor lone surrogates: refuse them here, where only
    this caller fails, not in a batch shared with others."""
    if "\x00" in text:
        return False
    try:
        return text.isascii() or bool(text.encode())
    except UnicodeEncodeError:
        return False


def _texts_ok(values: Sequence[object]) -> bool:
    """All None or str, storable, within MAX_TEXT together (join refuses a non-str)."""
    try:
        joined = "".join([v for v in values if v is not None])  # type: ignore[misc]
    except TypeError:
        return False
    return len(joined) <= MAX_TEXT and _storable(joined)


def _payload(name: str, value: object) -> str:
    if not isinstance(value, dict):
        raise _bad(f"Kolom audit {name} harus berupa objek.")
    if not value:
        return "{}"
    try:
        text = "".join(_payload_chunks(value, 0))
    except (TypeError, ValueError, RecursionError) as exc:
        raise _bad(f"Kolom audit {name} tidak dapat disimpan sebagai JSON.") from exc
    if len(text) > MAX_JSON or not _storable(text):
        raise _bad(f"Kolom audit {name} terlalu besar atau memuat karakter tak sah.")
    # Summaries must never carry a NIK; mask any that slipped in rather than store it.
    return mask_niks_in_text(text) if len(text) >= 16 else text


def prepare(event: AuditEvent, hasher: Callable[[str], str]) -> Prepared:
    """Validate an event and reduce it to stored values (subjects become keyed hashes).

    Runs in the caller's thread, so one bad event fails only its own caller."""
    ev = event
    texts = _get_texts(ev)
    if not _texts_ok(texts):
        bad = next((n for n, v in zip(_TEXTS, texts, strict=True) if not _texts_ok([v])), "")
        raise _bad(f"Kolom teks audit {bad} harus teks tanpa NUL, total paling panjang {MAX_TEXT}.")
    if not ev.action or not ev.reason:
        raise _bad("Kolom audit action dan reason wajib diisi.")
    if ev.decision not in DECISIONS:
        raise _bad("Keputusan audit harus izin, tolak atau tindakan.")
    if None in ev.elements or not _texts_ok(ev.elements):
        raise _bad("Elemen audit harus teks tanpa NUL.")
    version = ev.agreement_version
    if version is not None and type(version) is not int:
        raise _bad("Versi perjanjian harus bilangan bulat.")
    latency = ev.latency_ms
    if latency is not None and not (
        type(latency) in (int, float) and math.isfinite(latency) and latency >= 0
    ):
        raise _bad("Latensi harus angka tak negatif.")
    if not all(type(nik) is str and nik.strip() for nik in ev.subjects):
        raise _bad("Subjek audit harus NIK berupa teks.")
    try:
        subs = tuple(map(hasher, ev.subjects))
    except UnicodeEncodeError:
        raise _bad("Subjek audit bukan teks Unicode yang sah.") from None
    elements = canonical_json(list(ev.elements)) if ev.elements else "[]"
    result, detail = _payload("result", ev.result), _payload("detail", ev.detail)
    latency_us = None if latency is None else round(latency * 1000)
    fields = (
        ev.action,
        ev.decision,
        ev.reason,
        ev.actor,
        ev.institution,
        ev.agreement_id,
        version,
        ev.grant_id,
        ev.service,
        ev.mechanism,
        ev.dataset,
        len(subs),
        elements,
        result,
        detail,
        ev.request_id,
        latency_us,
    )
    return fields, subs, canonical_json((*fields, *subs))


BIG_RECORD = 10_000  # subjects from which a record's hash input is not copied whole


class _SubjectRows(Sequence[Row]):
    """The subject rows (seq, position, hash, generation) of a batch of records, made as
    they are read: a record naming a million people needs no million-tuple list."""

    def __init__(self) -> None:
        self._parts: list[tuple[int, tuple[str, ...], int, int]] = []  # seq, subs, ordinal, start
        self._n = 0

    def add(self, seq: int, subs: tuple[str, ...], ordinal: int) -> None:
        self._parts.append((seq, subs, ordinal, self._n))
        self._n += len(subs)

    def __len__(self) -> int:
        return self._n

    def _rows(self, lo: int, hi: int) -> list[Row]:
        out: list[Row] = []
        for seq, subs, ordinal, start in self._parts:
            a, b = max(lo - start, 0), min(hi - start, len(subs))
            # Generation of each row by its ordinal in the log (ADR 0008).
            gen = SUBJECT_GENERATION
            out.extend([(seq, pos, subs[pos], (ordinal + pos) // gen) for pos in range(a, b)])
        return out

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            lo, hi, step = k.indices(self._n)
            rows = self._rows(lo, hi) if lo < hi else []
            return rows if step == 1 else rows[::step]
        if k < 0:
            k += self._n
        if not 0 <= k < self._n:
            raise IndexError(k)
        return self._rows(k, k + 1)[0]

    def __iter__(self) -> Iterator[Row]:
        for seq, subs, ordinal, _start in self._parts:
            for pos, s in enumerate(subs):
                yield (seq, pos, s, (ordinal + pos) // SUBJECT_GENERATION)


def append_prepared(conn: Connection, items: Sequence[Prepared], clock: Clock) -> list[Receipt]:
    """Chain and insert records in the connection's transaction, under the head-row lock."""
    last_seq, prev, ordinal = repo.lock_head(conn)
    # One timestamp per batch, taken under the lock, so ts never decreases along seq.
    stamp = ts_text(clock.now())
    ts_value = repo.ts_param(conn.dialect.name, stamp)
    lead = f',"{stamp}",'  # the stamp holds only digits and separators: no JSON escaping
    records: list[Row] = []
    subjects = _SubjectRows()
    receipts: list[Receipt] = []
    seq = last_seq
    for fields, subs, tail in items:
        seq += 1
        # Same bytes as canonical_json((seq, stamp, *fields, *subs)), without re-encoding.
        if len(subs) < BIG_RECORD:
            digest = _sha256(HASH_PREFIX + prev + f"[{seq}{lead}{tail[1:]}".encode()).digest()
        else:  # one record naming many people (a matching job): no copy of its long text
            h = _sha256(HASH_PREFIX + prev + f"[{seq}{lead}".encode())
            h.update(memoryview(tail.encode())[1:])
            digest = h.digest()
        records.append((seq, ts_value, *fields, prev, digest))
        if subs:
            subjects.add(seq, subs, ordinal)
            ordinal += len(subs)
        receipts.append(Receipt(seq, digest.hex(), stamp))
        prev = digest
    repo.insert_entries(conn, records, subjects)
    repo.set_head(conn, seq, prev, ordinal)
    return receipts


def append_in_session(
    session: Session, settings: Settings, event: AuditEvent, clock: Clock
) -> Receipt:
    """Append one record inside the caller's transaction; it commits with the caller's work.

    This locks the log's head row until that transaction ends: call it last, just before
    commit, and never while waiting on an AuditWriter in the same thread."""
    item = prepare(event, SubjectHasher(settings.require_secret("audit_hmac_key")))
    return append_prepared(session.connection(), [item], clock)[0]


def record_in_session(session: Session, settings: Settings, event: AuditEvent, clock: Clock) -> int:
    return append_in_session(session, settings, event, clock).seq  # the record's seq


# --- group commit ----------------------------------------------------------------------------


class _Batch:
    __slots__ = ("error", "futures", "gate", "items", "receipts")

    def __init__(self) -> None:
        self.items: list[Prepared] = []
        # Held until the batch is settled; each released caller lets the next one through.
        # A bare lock wakes callers with far less overhead than an Event per batch.
        self.gate = threading.Lock()
        self.gate.acquire()
        self.futures: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[Receipt], int]] = []
        self.receipts: list[Receipt] = []
        self.error: BaseException | None = None

    def wait(self) -> None:
        self.gate.acquire()
        self.gate.release()

    def outcome(self, index: int) -> Receipt:
        if self.error is not None:
            name = type(self.error).__name__
            raise AuditWriteError(f"Rekaman audit tidak tersimpan ({name}).") from self.error
        return self.receipts[index]

    def settle(self) -> None:
        self.gate.release()
        loops: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Receipt], int]]] = {}
        for loop, future, index in self.futures:
            loops.setdefault(loop, []).append((future, index))
        for loop, waiting in loops.items():  # one wake-up per event loop, not per caller
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                loop.call_soon_threadsafe(self._resolve, waiting)

    def _resolve(self, waiting: list[tuple[asyncio.Future[Receipt], int]]) -> None:
        for future, index in waiting:
            if future.done():  # the caller was cancelled; its record stands regardless
                continue
            try:
                future.set_result(self.outcome(index))
            except AuditWriteError as exc:
                future.set_exception(exc)


class AuditWriter:
    """Group commit: callers block in `append` until their record's batch has committed.

    One background thread commits batches in arrival order, one transaction each; a failed
    batch raises to every caller in it and nothing after it is lost or reordered. Several
    processes may each run a writer on the same database: the head row serialises them.
    A second thread signs checkpoints every `checkpoint_every` records or
    `checkpoint_seconds` seconds (None disables either trigger).
    """

    def __init__(
        self,
        source: Engine | sessionmaker[Session],
        settings: Settings,
        clock: Clock,
        *,
        batch_max: int = 2_000,
        linger_ms: float = 0.0,
        checkpoint_every: int | None = 10_000,
        checkpoint_seconds: float | None = 60.0,
    ) -> None:
        engine = source if isinstance(source, Engine) else source.kw.get("bind")
        if not isinstance(engine, Engine):
            raise ValueError("AuditWriter needs an engine or sessions bound to one")
        self._engine, self._settings, self._clock = engine, settings, clock
        self._hasher = SubjectHasher(settings.require_secret("audit_hmac_key"))
        self._batch_max = max(1, batch_max)
        self._linger = max(0.0, linger_ms) / 1000
        self._conn: Connection | None = None  # the writer thread's own, kept between batches
        self._turn = repo.WriterTurn(engine)
        self._cv = threading.Condition(threading.Lock())
        self._open = _Batch()
        self._sealed: deque[_Batch] = deque()
        self._closed = self._idle = False
        self._cp_every, self._cp_seconds = checkpoint_every, checkpoint_seconds
        self._cp_wake, self._cp_stop = threading.Event(), threading.Event()
        self._since_cp = 0
        self._threads = [threading.Thread(target=self._run, name="audit-writer", daemon=True)]
        if checkpoint_every or checkpoint_seconds:
            self._threads.append(
                threading.Thread(target=self._checkpoints, name="audit-checkpoint", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def append(self, event: AuditEvent) -> Receipt:
        """Record an event; returns once it is durable. Raises AuditWriteError otherwise."""
        batch, index = self._enqueue(prepare(event, self._hasher), None)
        batch.wait()
        return batch.outcome(index)

    async def append_async(self, event: AuditEvent) -> Receipt:
        """`append` for coroutines: awaits durability without holding a thread. Waking a
        future costs a fraction of waking a thread, so an asyncio server appends faster."""
        future: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._enqueue(prepare(event, self._hasher), future)
        return await future

    def _enqueue(
        self, item: Prepared, future: asyncio.Future[Receipt] | None
    ) -> tuple[_Batch, int]:
        with self._cv:
            if self._closed:
                raise AuditWriteError("Penulis audit sudah ditutup.")
            batch = self._open
            index = len(batch.items)
            batch.items.append(item)
            if future is not None:
                batch.futures.append((future.get_loop(), future, index))
            if index + 1 >= self._batch_max:
                self._sealed.append(batch)
                self._open = _Batch()
            if self._idle:
                self._cv.notify()
        return batch, index

    def _take(self) -> _Batch | None:
        with self._cv:
            while not self._sealed and not self._open.items:
                if self._closed:
                    return None
                self._idle = True
                self._cv.wait()
                self._idle = False
            waiting = len(self._open.items)
            if not self._sealed and self._linger and 2 <= waiting < self._batch_max:
                # Others are appending at once (as PostgreSQL's commit_siblings asks): let
                # more of them join this commit. Each commit costs an fsync and wakes every
                # waiting thread and event loop, so under load fewer, larger commits save
                # more CPU than the wait costs in latency; a lone caller never waits.
                self._cv.wait(self._linger)
            if self._sealed:
                return self._sealed.popleft()
            batch, self._open = self._open, _Batch()
            return batch

    def _commit(self, items: list[Prepared]) -> list[Receipt]:
        conn, self._conn = self._conn or self._engine.connect(), None
        try:
            with self._turn, conn.begin():
                receipts = append_prepared(conn, items, self._clock)
        except BaseException:
            conn.invalidate()  # the connection may be what failed: never reuse it
            conn.close()
            raise
        self._conn = conn
        return receipts

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            try:
                batch.receipts = self._commit(batch.items)
            except BaseException as exc:  # every caller of the batch must hear of it
                batch.error = exc
                log.error("audit batch of %d failed: %s", len(batch.items), type(exc).__name__)
            finally:
                batch.settle()
            if batch.error is None and self._cp_every:
                self._since_cp += len(batch.items)
                if self._since_cp >= self._cp_every:
                    self._since_cp = 0
                    self._cp_wake.set()
        if self._conn is not None:
            self._conn.close()
        self._turn.close()

    def _checkpoints(self) -> None:
        poll = max(0.05, min((self._cp_seconds or 60.0) / 4, 5.0))
        while not self._cp_stop.is_set():
            self._cp_wake.wait(poll)
            self._cp_wake.clear()
            if self._cp_stop.is_set():
                return
            try:
                every, seconds = self._cp_every, self._cp_seconds
                args = (self._engine, self._settings, self._clock)
                maybe_checkpoint(*args, every_records=every, every_seconds=seconds)
            except Exception as exc:  # keep appending; `verify` reports what is wrong
                log.error("audit checkpoint failed: %s", mask_niks_in_text(str(exc)))

    def close(self) -> None:
        """Commit everything already accepted, then stop the background threads."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._threads[0].join()
        self._cp_stop.set()
        self._cp_wake.set()
        for thread in self._threads[1:]:
            thread.join()

    def __enter__(self) -> AuditWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records_checked: int
    first_bad_seq: int | None = None
    reason_code: str | None = None
    detail: str | None = None
    checkpoints_checked: int = 0
    bad_checkpoint: int | None = None  # tree size of the checkpoint at fault, if any
    problems: int = 0  # distinct problems found (only the first is described)
    # Merkle roots (hex) of the log at the sizes asked for (`roots_at`), as re-hashed.
    roots: dict[int, str] = field(default_factory=dict)
    witness: str | None = None  # the witness whose checkpoint was the anchor, if any


@dataclass
class _RangeReport:
    lo: int
    hi: int
    checked: int = 0
    first_prev: bytes | None = None
    last_hash: bytes | None = None
    problem: tuple[int, str, str] | None = None  # (seq, reason code, detail)
    pieces: list[tuple[int, list[tuple[int, bytes]]]] = field(default_factory=list)


_CHANGED = "prev_hash tidak sama dengan hash rekaman sebelumnya (diubah, dihapus atau ditukar)."


def _scan_range(
    reader: LogReader, lo: int, hi: int, cuts: Sequence[int], expect_prev: bytes | None
) -> _RangeReport:
    # Millions of short-lived row tuples would trigger the cycle collector over and over,
    # for a tenth of the run time; none of them form cycles.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _scan(reader, lo, hi, cuts, expect_prev)
    finally:
        if enabled:
            gc.enable()


def _scan(
    reader: LogReader, lo: int, hi: int, cuts: Sequence[int], expect_prev: bytes | None
) -> _RangeReport:
    """Re-hash records lo..hi (the hot loop: keep it lean); collect Merkle subtree roots up to
    the last cut. `expect_prev` None trusts the first row's prev_hash (checked by the caller)."""
    report = _RangeReport(lo, hi)
    leaf_until, leaves = (cuts[-1] if cuts else 0), []
    join, sha, encode, prefix = "".join, _sha256, _chunks, HASH_PREFIX
    prev, last_prev, expect = expect_prev, None, lo

    def fail(seq: int, reason: str, detail: str) -> _RangeReport:
        report.problem, report.checked = (seq, reason, detail), seq - lo
        return report

    for batch in reader.entries(lo, hi):
        for row, subs in batch:
            seq, stored_prev = row[0], row[-2]
            if seq != expect:
                return fail(expect, "urutan_terputus", f"Rekaman #{expect} hilang (lalu #{seq}).")
            if prev is None:
                if not isinstance(stored_prev, bytes) or len(stored_prev) != 32:
                    return fail(seq, "rantai_terputus", "prev_hash tidak sah.")
                prev = report.first_prev = stored_prev
            if subs is None or len(subs) != row[_COUNT_AT]:
                return fail(seq, "subjek_tidak_cocok", "Baris subjek tidak sesuai rekaman.")
            if stored_prev != prev:
                if stored_prev == last_prev:  # two records claim the same predecessor
                    return fail(seq - 1, "rekaman_disisipkan", f"Rekaman #{seq - 1} disisipkan.")
                return fail(seq, "rantai_terputus", _CHANGED)
            try:
                text = join(encode(row[:-2] + subs, 0))
            except (TypeError, ValueError):
                return fail(seq, "nilai_tidak_valid", "Ada kolom bernilai tidak sah.")
            digest = sha(prefix + prev + text.encode()).digest()
            if digest != row[-1]:
                return fail(seq, "hash_tidak_cocok", "Isi rekaman tidak cocok dengan hash-nya.")
            if seq <= leaf_until:
                leaves.append(sha(b"\x00" + digest).digest())
            last_prev, prev, expect = prev, digest, expect + 1
    if expect != hi + 1:
        return fail(expect, "rekaman_hilang", f"Rekaman #{expect} hilang.")
    report.checked, report.last_hash = hi - lo + 1, prev
    report.pieces = merkle.range_pieces(lo - 1, leaves, cuts) if cuts else []
    return report


def _range_worker() -> None:
    """Entry point of a verification worker process: arguments in on stdin, report out on
    stdout (both pickled; the parent process is the only party on either end)."""
    url, snapshot, lo, hi, cuts = pickle.loads(sys.stdin.buffer.read())  # noqa: S301
    with LogReader.from_url(url, snapshot) as reader:
        report = _scan_range(reader, lo, hi, cuts, None)
    sys.stdout.buffer.write(pickle.dumps(report))


def _start_worker(args: tuple[Any, ...]) -> subprocess.Popen[bytes]:
    # A fresh interpreter rather than multiprocessing: no fork of a threaded process, and no
    # re-import of the caller's __main__ (which spawn requires to be import-safe).
    src = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    code = "from simpul.audit.service import _range_worker; _range_worker()"
    pipe = subprocess.PIPE
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=pipe, stdout=pipe, env=env)  # noqa: S603
    assert proc.stdin is not None
    proc.stdin.write(pickle.dumps(args))
    proc.stdin.close()
    return proc


def _finish_worker(proc: subprocess.Popen[bytes]) -> _RangeReport:
    assert proc.stdout is not None
    out = proc.stdout.read()
    report = pickle.loads(out) if proc.wait() == 0 else None  # noqa: S301
    if not isinstance(report, _RangeReport):
        raise SimpulError("verifikasi_audit_gagal", "Proses pemeriksa log audit gagal.", 500)
    return report


def _run_ranges(
    reader: LogReader, engine: Engine | None, bounds: list[tuple[int, int]], sizes: list[int]
) -> list[_RangeReport]:
    def cuts(lo: int, hi: int) -> list[int]:
        # Checkpoint sizes in the range, and its end when a later checkpoint needs its leaves.
        inside = [s for s in sizes if lo <= s <= hi]
        return [*inside, hi] if sizes and sizes[-1] > hi and hi not in inside else inside

    if engine is None or len(bounds) < 2:
        return [_scan_range(reader, lo, hi, cuts(lo, hi), GENESIS) for lo, hi in bounds]
    url = engine.url.render_as_string(hide_password=False)
    snapshot = reader.export_snapshot()  # PostgreSQL: every worker reads the same snapshot
    procs = [_start_worker((url, snapshot, lo, hi, cuts(lo, hi))) for lo, hi in bounds[1:]]
    try:
        first = _scan_range(reader, *bounds[0], cuts(*bounds[0]), GENESIS)
        return [first, *(_finish_worker(proc) for proc in procs)]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def verify(
    source: Engine | Session,
    *,
    trusted_key_ids: Collection[str] | None = None,
    workers: int | None = None,
    roots_at: Collection[int] = (),
) -> VerifyResult:
    """Check the whole log: every record's hash, seq contiguity from 1, prev_hash links, the
    head row, subject rows, and every checkpoint's key, signature, root and head hash.

    With an Engine the check reads one snapshot without blocking writers, and large logs are
    split across `workers` processes (default: one per CPU, up to 4, from PARALLEL_MIN
    records). With a Session it runs in that session's transaction and sees its changes.
    """
    if isinstance(source, Session):
        return _verify(LogReader.of_session(source), None, trusted_key_ids, 1, roots_at)
    with LogReader.snapshot(source) as reader:
        return _verify(reader, source, trusted_key_ids, workers, roots_at)


Problem = tuple[int, int, str, str, int | None]  # (rank, seq, reason, detail, checkpoint)


def _verify(
    reader: LogReader,
    engine: Engine | None,
    trusted: Collection[str] | None,
    workers: int | None,
    roots_at: Collection[int] = (),
) -> VerifyResult:
    head = reader.head()
    if head is None or reader.head_rows() != 1:
        return VerifyResult(False, 0, None, "kepala_tidak_cocok", "Baris kepala log tidak sah.")
    size, head_hash = head
    # Rank 0: a precisely located record problem; rank 1: a checkpoint that cannot vouch.
    problems: list[Problem] = []
    good: dict[int, Checkpoint] = {}
    for row in reader.checkpoints():
        cp = Checkpoint.from_row(row)
        reason = cp.problem(trusted)
        if reason is None and stored_range(cp, row[7]) is None:
            reason = "checkpoint_frontier_tidak_cocok"
        if reason is not None:
            problems.append((1, cp.tree_size, reason, "Checkpoint tidak sah.", cp.tree_size))
        elif cp.tree_size > size:
            gone = f"Checkpoint #{cp.tree_size} mencakup rekaman yang tidak ada lagi."
            problems.append((0, size + 1, "rekaman_hilang", gone, cp.tree_size))
        elif cp.tree_size >= 1:
            good[cp.tree_size] = cp
    if (outside := reader.first_record_outside(size)) is not None:
        extra = f"Rekaman di luar urutan 1..{size} yang tercatat di kepala log."
        problems.append((0, _as_seq(outside), "rekaman_tak_terdaftar", extra, None))
    if (orphan := reader.first_orphan_subject(size)) is not None:
        orphaned = "Ada baris subjek tanpa rekaman."
        problems.append((0, _as_seq(orphan), "subjek_tidak_cocok", orphaned, None))
    if engine is None:
        parts = 1
    elif workers is None:
        parts = min(os.cpu_count() or 1, 4) if size >= PARALLEL_MIN else 1
    else:
        parts = workers
    wanted = {s for s in roots_at if 1 <= s <= size}
    reports = _run_ranges(reader, engine, _split(size, parts), sorted(set(good) | wanted))
    for before, rep in zip([None, *reports], reports, strict=False):
        if rep.problem is not None:
            problems.append((0, *rep.problem, None))
        elif before is not None and before.problem is None and rep.first_prev != before.last_hash:
            problems.append((0, rep.lo, "rantai_terputus", _CHANGED, None))
    tail = reports[-1].last_hash if reports else GENESIS
    # (With records beyond the head, that is the finding; the head hash then lags too.)
    if outside is None and all(rep.problem is None for rep in reports) and tail != head_hash:
        stale = "Hash di kepala log tidak sama dengan rekaman terakhir."
        problems.append((0, size, "kepala_tidak_cocok", stale, None))
    roots: dict[int, str] = dict.fromkeys(wanted, "")
    checked_cps = _check_roots(reader, reports, good, problems, roots)
    roots = {k: v for k, v in roots.items() if v}
    checked = sum(rep.checked for rep in reports)
    if not problems:
        return VerifyResult(True, checked, checkpoints_checked=checked_cps, roots=roots)
    _, seq, reason, detail, cp_size = min(problems, key=lambda p: (p[0], p[1]))
    return VerifyResult(
        False, checked, seq, reason, detail, checked_cps, cp_size, len(problems), roots
    )


def _as_seq(value: object) -> int:
    return int(value) if isinstance(value, int | float) else -1


def _split(total: int, parts: int) -> list[tuple[int, int]]:
    if total < 1:
        return []
    step = -(-total // max(1, min(parts, total)))
    return [(lo, min(lo + step - 1, total)) for lo in range(1, total + 1, step)]


def _check_roots(
    reader: LogReader,
    reports: list[_RangeReport],
    good: dict[int, Checkpoint],
    out: list[Problem],
    roots: dict[int, str],
) -> int:
    """Stitch the ranges' subtree roots in order and compare each checkpoint's signed root."""
    compact = merkle.CompactRange()
    stored = reader.hashes_at(sorted(good))
    checked, previous = 0, 0
    for rep in reports:
        if rep.problem is not None:
            break
        for cut, blocks in rep.pieces:
            for height, node in blocks:
                compact.push(node, height)
            if cut in roots:
                roots[cut] = compact.root().hex()
            cp = good.get(cut)
            if cp is None:  # a range boundary or an asked-for size, not a checkpoint
                continue
            if compact.root().hex() != cp.root or stored.get(cut, b"").hex() != cp.head_hash:
                what = f"Rekaman #{previous + 1}–#{cut} berbeda dari yang ditandatangani."
                out.append((1, previous + 1, "checkpoint_tidak_cocok", what, cut))
            checked, previous = checked + 1, cut
    return checked
