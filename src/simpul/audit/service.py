"""The audit log: append (in the caller's transaction, or through a group-commit writer).
The package's facade: how records are hashed lives in `hashing`, verification in
`verification`, a person's history in `history`, checkpoints and proofs in `signing`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import operator
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from simpul.audit import repository as repo
from simpul.audit.hashing import (
    HASH_PREFIX,
    SubjectHasher,
    _payload_chunks,
    _sha256,
    canonical_json,
    entry_hash,
)

# A person's history (and the subject hash it shares) lives in simpul.audit.history; this
# module is the package's facade.
from simpul.audit.history import SubjectAccess, subject_hash, subject_history
from simpul.audit.models import SUBJECT_GENERATION
from simpul.audit.repository import RECORD_FIELDS, Row

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
    trusted_key_ids,
    verify_proof,
)
from simpul.audit.verification import VerifyResult, verify
from simpul.config import Settings
from simpul.errors import InvalidInput, SimpulError
from simpul.kit.clock import Clock
from simpul.kit.masking import mask_niks_in_text

__all__ = [
    "RECORD_FIELDS",
    "AuditWriteError",
    "AuditWriter",
    "Checkpoint",
    "Proof",
    "Receipt",
    "SubjectAccess",
    "SubjectHasher",
    "VerifyResult",
    "canonical_json",
    "checkpoint",
    "entry_hash",
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

DECISIONS = frozenset({"izin", "tolak", "tindakan"})
MAX_TEXT = 2_000
MAX_JSON = 65_536


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
