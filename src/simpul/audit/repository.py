"""All audit queries.

Two kinds of access live here. `AuditRepository` works inside the caller's session (appends,
checkpoints, look-ups). `LogReader` streams the log for verification and checkpoints straight
from the driver: a million rows through the ORM would cost more than the whole time budget,
and on SQLite a plain read must not take the write lock (the engine begins every SQLAlchemy
transaction with BEGIN IMMEDIATE), so the reader opens its own deferred snapshot.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import queue
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from sqlalchemy import create_engine, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from simpul.audit.models import (
    SUBJECT_GENERATION,
    SUBJECT_PREFIX,
    AuditCheckpoint,
    AuditCosignature,
    AuditHead,
    AuditRecord,
    AuditSubject,
    AuditWitness,
)
from simpul.kit.repository import Repository

# The hashed event columns, in hashing order (after seq and ts).
RECORD_FIELDS = (
    "action",
    "decision",
    "reason",
    "actor",
    "institution",
    "agreement_id",
    "agreement_version",
    "grant_id",
    "service",
    "mechanism",
    "dataset",
    "subject_count",
    "elements",
    "result",
    "detail",
    "request_id",
    "latency_us",
)
RECORD_COLUMNS = ("seq", "ts", *RECORD_FIELDS, "prev_hash", "hash")
SUBJECT_COLUMNS = ("seq", "pos", "subject_hash", "gen")
CHECKPOINT_COLUMNS = (
    "tree_size",
    "ts",
    "root",
    "head_hash",
    "key_id",
    "public_key",
    "signature",
    "frontier",
    "origin",
)
FETCH = 10_000
_PG_TS = "to_char(r.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
_FIELDS_SQL = ", ".join(f"r.{c}" for c in RECORD_FIELDS)
_SQLITE_PARAMS = 32_000  # below SQLITE_MAX_VARIABLE_NUMBER (32766 since SQLite 3.32)

GENESIS = bytes(32)  # prev_hash of record #1, and the head's hash while the log is empty
Row = tuple[Any, ...]
Entry = tuple[Row, tuple[str, ...] | None]  # (record row, its subject hashes or None if broken)


def ts_text(at: datetime) -> str:
    """A timestamp as hashed: UTC text, exactly as SQLAlchemy stores it in SQLite and as
    PostgreSQL's to_char renders it back (see _PG_TS)."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return f"{at:%Y-%m-%d %H:%M:%S.%f}"


def ts_param(dialect: str, text: str) -> str:
    """The value to write for a record's ts: SQLite keeps the exact text; PostgreSQL parses it."""
    return text if dialect == "sqlite" else text + "+00"


def _driver(conn: Connection) -> Any:
    return conn.connection.driver_connection


def lock_head(conn: Connection) -> tuple[int, bytes, int]:
    """The head row (last seq, last hash, subject rows so far), locked until the
    transaction ends (SQLite: BEGIN IMMEDIATE holds it).

    The append path talks to the driver directly: through the ORM, these two statements
    alone cost more than hashing and inserting a whole batch."""
    sql = "SELECT last_seq, last_hash, subjects FROM audit_head WHERE id = 1"
    pg = conn.dialect.name == "postgresql"
    cur = _driver(conn).cursor()
    try:
        cur.execute(sql + " FOR UPDATE" if pg else sql)
        row = cur.fetchone()
    finally:
        cur.close()
    if row is None:
        raise LookupError("audit_head row is missing")
    return int(row[0]), bytes(row[1]), int(row[2])


def set_head(conn: Connection, seq: int, last_hash: bytes, subjects: int) -> None:
    ph = "%s" if conn.dialect.name == "postgresql" else "?"
    cur = _driver(conn).cursor()
    try:
        cur.execute(
            f"UPDATE audit_head SET last_seq = {ph}, last_hash = {ph}, subjects = {ph} "
            "WHERE id = 1",
            (seq, last_hash, subjects),
        )
    finally:
        cur.close()


def insert_entries(conn: Connection, records: Sequence[Row], subjects: Sequence[Row]) -> None:
    """Bulk insert through the driver (executemany / COPY) in the connection's transaction."""
    raw = _driver(conn)
    if conn.dialect.name == "sqlite":
        cur = raw.cursor()
        try:
            _insert_multirow(cur, "audit_record", RECORD_COLUMNS, records)
            _insert_multirow(cur, "audit_subject", SUBJECT_COLUMNS, subjects)
        finally:
            cur.close()
        return
    with raw.cursor() as cur:
        with cur.copy(f"COPY audit_record ({', '.join(RECORD_COLUMNS)}) FROM STDIN") as cp:
            for record in records:
                cp.write_row(record)
        if subjects:
            with cur.copy(f"COPY audit_subject ({', '.join(SUBJECT_COLUMNS)}) FROM STDIN") as cp:
                for subject in subjects:
                    cp.write_row(subject)


@functools.lru_cache(maxsize=64)
def _multirow_sql(table: str, columns: tuple[str, ...], rows: int) -> str:
    one = f"({', '.join('?' * len(columns))})"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * rows)}"


def _insert_multirow(cur: Any, table: str, columns: tuple[str, ...], rows: Sequence[Row]) -> None:
    """Many rows per statement: pysqlite releases and retakes the GIL around every statement
    step, and with many threads waiting to append, each retake is a costly wait."""
    per = _SQLITE_PARAMS // len(columns)
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        cur.execute(_multirow_sql(table, columns, len(chunk)), list(chain.from_iterable(chunk)))


class WriterTurn:
    """Queue the writers of one SQLite file across processes with an OS file lock.

    SQLite's busy handler polls with sleeps of 1 to 100 ms, so processes contending for the
    write lock mostly sleep; a blocking flock hands over as soon as the holder commits.
    PostgreSQL needs nothing here: its row lock on the head already queues waiters."""

    def __init__(self, engine: Engine) -> None:
        self._fd: int | None = None
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        if database and database != ":memory:" and not database.startswith("file:"):
            self._fd = os.open(f"{database}.audit-lock", os.O_RDWR | os.O_CREAT, 0o600)

    def __enter__(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class AuditRepository(Repository):
    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def latest_checkpoint(self, upto: int | None = None) -> AuditCheckpoint | None:
        stmt = select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1)
        if upto is not None:
            stmt = stmt.where(AuditCheckpoint.tree_size <= upto)
        return self.session.execute(stmt).scalar_one_or_none()

    def add_checkpoint(self, values: dict[str, Any]) -> bool:
        """Insert a checkpoint; False when another process already wrote this tree size."""
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        stmt = insert(AuditCheckpoint).values(**values).on_conflict_do_nothing()
        return bool(getattr(self.session.execute(stmt), "rowcount", 0) == 1)

    def checkpoint_at(self, tree_size: int) -> AuditCheckpoint | None:
        return self.session.get(AuditCheckpoint, tree_size)

    def latest_cosigned(self) -> AuditCheckpoint | None:
        """The largest checkpoint that at least one cosignature is stored beside."""
        sizes = select(AuditCosignature.tree_size)
        stmt = (
            select(AuditCheckpoint)
            .where(AuditCheckpoint.tree_size.in_(sizes))
            .order_by(AuditCheckpoint.tree_size.desc())
            .limit(1)
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def cosignatures(self, tree_size: int) -> list[AuditCosignature]:
        stmt = select(AuditCosignature).where(AuditCosignature.tree_size == tree_size)
        return list(self.session.execute(stmt.order_by(AuditCosignature.witness)).scalars())

    def add_cosignature(self, values: dict[str, Any]) -> None:
        """Keep a witness's newest cosignature of a checkpoint (a repeat replaces it)."""
        found = self.session.get(AuditCosignature, (values["tree_size"], values["witness"]))
        if found is None:
            self.session.add(AuditCosignature(**values))
        else:
            for name, value in values.items():
                setattr(found, name, value)
        self.session.flush()

    def witnesses(self, *, current: bool = True) -> list[AuditWitness]:
        stmt = select(AuditWitness).order_by(AuditWitness.name)
        if current:
            stmt = stmt.where(AuditWitness.removed_at.is_(None))
        return list(self.session.execute(stmt).scalars())

    def witness(self, name: str) -> AuditWitness | None:
        return self.session.get(AuditWitness, name)

    def add_witness(self, witness: AuditWitness) -> None:
        self.session.add(witness)
        self.session.flush()

    def hash_range(self, lo: int, hi: int) -> list[tuple[int, bytes]]:
        """(seq, hash) for lo <= seq <= hi, in order."""
        stmt = (
            select(AuditRecord.seq, AuditRecord.hash)
            .where(AuditRecord.seq >= lo, AuditRecord.seq <= hi)
            .order_by(AuditRecord.seq)
            .execution_options(yield_per=FETCH)
        )
        return [(int(seq), bytes(digest)) for seq, digest in self.session.execute(stmt)]

    def record(self, seq: int) -> AuditRecord | None:
        return self.session.get(AuditRecord, seq)

    def subjects_of(self, seq: int) -> list[str]:
        return list(
            self.session.execute(
                select(AuditSubject.subject_hash)
                .where(AuditSubject.seq == seq)
                .order_by(AuditSubject.pos)
            ).scalars()
        )

    def records_for_subject(self, subject_hash: str) -> list[AuditRecord]:
        return [record for record, _ in self.records_for_subject_at(subject_hash)]

    def records_for_subject_at(self, subject_hash: str) -> list[tuple[AuditRecord, int]]:
        """The records naming one subject, oldest first, each with the subject's position
        in it (the first position a record names the subject at)."""
        # One index seek per generation on (gen, prefix); whole hashes are compared here:
        # with a condition on the full hash SQLite's planner (without statistics) scans the
        # table instead.
        total = self.session.execute(select(AuditHead.subjects)).scalar_one_or_none() or 0
        last_gen = max(total - 1, 0) // SUBJECT_GENERATION
        prefix = func.substr(AuditSubject.subject_hash, 1, SUBJECT_PREFIX)
        positions: dict[int, int] = {}
        for start in range(0, last_gen + 1, 1_000):
            gens = list(range(start, min(start + 1_000, last_gen + 1)))
            found = self.session.execute(
                select(AuditSubject.seq, AuditSubject.pos, AuditSubject.subject_hash).where(
                    AuditSubject.gen.in_(gens), prefix == subject_hash[:SUBJECT_PREFIX]
                )
            )
            for seq, pos, full in found:
                if full == subject_hash:
                    positions[seq] = min(pos, positions.get(seq, pos))
        seqs = sorted(positions)
        records: list[tuple[AuditRecord, int]] = []
        for start in range(0, len(seqs), 5_000):
            chunk = seqs[start : start + 5_000]
            stmt = select(AuditRecord).where(AuditRecord.seq.in_(chunk)).order_by(AuditRecord.seq)
            records.extend((r, positions[r.seq]) for r in self.session.execute(stmt).scalars())
        return records

    def hashes(self, upto: int) -> Iterator[tuple[int, bytes]]:
        """(seq, hash) for records 1..upto in order, streamed."""
        result = self.session.execute(
            select(AuditRecord.seq, AuditRecord.hash)
            .where(AuditRecord.seq >= 1, AuditRecord.seq <= upto)
            .order_by(AuditRecord.seq)
            .execution_options(yield_per=FETCH)
        )
        for seq, digest in result:
            yield int(seq), bytes(digest)


class LogReader:
    """Streams the log through a DBAPI connection, inside one transaction."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect
        self._pg = dialect == "postgresql"
        self._ph = "%s" if self._pg else "?"
        self._cursors = 0

    @classmethod
    @contextmanager
    def snapshot(cls, engine: Engine, import_snapshot: str | None = None) -> Iterator[LogReader]:
        """A read-only snapshot that does not block writers (SQLite: deferred BEGIN in WAL;
        PostgreSQL: REPEATABLE READ, optionally importing another transaction's snapshot)."""
        fairy = engine.raw_connection()
        conn: Any = fairy.driver_connection
        dialect = engine.dialect.name
        try:
            if dialect == "sqlite":
                conn.isolation_level = None
                conn.execute("BEGIN")
            else:
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                if import_snapshot:
                    conn.execute(f"SET TRANSACTION SNAPSHOT '{import_snapshot}'")
            yield cls(conn, dialect)
        finally:
            try:
                if dialect == "sqlite":
                    conn.execute("ROLLBACK")
                else:
                    conn.rollback()
            finally:
                fairy.close()

    @classmethod
    @contextmanager
    def from_url(cls, url: str, import_snapshot: str | None = None) -> Iterator[LogReader]:
        """For a worker process: its own short-lived engine on the same database."""
        engine = create_engine(url, poolclass=NullPool)
        try:
            with cls.snapshot(engine, import_snapshot) as reader:
                yield reader
        finally:
            engine.dispose()

    @classmethod
    def of_session(cls, session: Session) -> LogReader:
        """Read through the session's own connection and transaction (sees its changes)."""
        conn = session.connection()
        return cls(conn.connection.driver_connection, conn.dialect.name)

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            row = cur.fetchone()
        finally:
            cur.close()
        return tuple(row) if row is not None else None

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            rows = cur.fetchall()
        finally:
            cur.close()
        return [tuple(r) for r in rows]

    @contextmanager
    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[Any]:
        """A cursor that fetches in batches (PostgreSQL: a server-side cursor)."""
        if self._pg:
            self._cursors += 1
            cur = self.conn.cursor(name=f"audit_scan_{self._cursors}", binary=True)
        else:
            cur = self.conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            yield cur
        finally:
            cur.close()

    def export_snapshot(self) -> str | None:
        if not self._pg:
            return None
        row = self._one("SELECT pg_export_snapshot()")
        return str(row[0]) if row else None

    def head(self) -> tuple[int, bytes] | None:
        row = self._one("SELECT last_seq, last_hash FROM audit_head WHERE id = 1")
        return (int(row[0]), bytes(row[1])) if row else None

    def head_rows(self) -> int:
        row = self._one("SELECT count(*) FROM audit_head")
        return int(row[0]) if row else 0

    def checkpoints(self) -> list[Row]:
        ts = "to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')" if self._pg else "ts"
        cols = ", ".join(ts if c == "ts" else c for c in CHECKPOINT_COLUMNS)
        return self._all(f"SELECT {cols} FROM audit_checkpoint ORDER BY tree_size")

    def cosignatures(self) -> list[Row]:
        """(tree_size, witness, timestamp, line) of every stored cosignature."""
        return self._all(
            "SELECT tree_size, witness, timestamp, line FROM audit_cosignature "
            "ORDER BY tree_size, witness"
        )

    def witnesses(self) -> list[Row]:
        """(name, verifier_key, removed) of every witness the node has registered."""
        return self._all(
            "SELECT name, verifier_key, removed_at IS NOT NULL FROM audit_witness ORDER BY name"
        )

    def record_ts(self, seq: int) -> datetime | None:
        """When record `seq` was appended (UTC), if it exists."""
        row = self._one(f"SELECT ts FROM audit_record WHERE seq = {self._ph}", (seq,))
        if row is None or row[0] is None:
            return None
        value = row[0]
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def first_record_outside(self, last_seq: int) -> int | None:
        """The lowest seq of a record that lies outside 1..last_seq, if any."""
        ph = self._ph
        row = self._one(
            f"SELECT min(seq) FROM audit_record WHERE seq < 1 OR seq > {ph}", (last_seq,)
        )
        return None if row is None or row[0] is None else row[0]

    def first_orphan_subject(self, last_seq: int) -> int | None:
        ph = self._ph
        row = self._one(
            f"SELECT min(seq) FROM audit_subject WHERE seq < 1 OR seq > {ph}", (last_seq,)
        )
        return None if row is None or row[0] is None else row[0]

    def hashes_at(self, seqs: Sequence[int]) -> dict[int, bytes]:
        if not seqs:
            return {}
        marks = ", ".join([self._ph] * len(seqs))
        rows = self._all(f"SELECT seq, hash FROM audit_record WHERE seq IN ({marks})", seqs)
        return {int(s): bytes(h) for s, h in rows}

    def links(self, lo: int, hi: int) -> Iterator[list[Row]]:
        """Batches of (seq, prev_hash, hash) for lo <= seq <= hi, in order."""
        ph = self._ph
        sql = (
            "SELECT seq, prev_hash, hash FROM audit_record "
            f"WHERE seq >= {ph} AND seq <= {ph} ORDER BY seq"
        )
        with self._stream(sql, (lo, hi)) as cur:
            while batch := cur.fetchmany(FETCH):
                yield batch

    def entries(self, lo: int, hi: int) -> Iterator[list[Entry]]:
        """Batches of (record row, subject hashes) for lo <= seq <= hi, in seq order.

        The record row is (seq, ts text, *RECORD_FIELDS, prev_hash, hash), with ts as the
        exact UTC text that was hashed. Subjects are None when their rows cannot be matched
        to the record unambiguously (the record is then reported as broken).
        """
        ts = _PG_TS if self._pg else "r.ts"
        ph = self._ph
        rec_sql = (
            f"SELECT r.seq, {ts}, {_FIELDS_SQL}, r.prev_hash, r.hash FROM audit_record r "
            f"WHERE r.seq >= {ph} AND r.seq <= {ph} ORDER BY r.seq"
        )
        sub_sql = (
            "SELECT seq, subject_hash FROM audit_subject "
            f"WHERE seq >= {ph} AND seq <= {ph} ORDER BY seq, pos"
        )
        # Two plain index scans merged here: grouping subjects per record on a PostgreSQL
        # server measured twice as costly as both scans together.
        with self._stream(rec_sql, (lo, hi)) as rec, self._stream(sub_sql, (lo, hi)) as sub:
            records, subjects = _batches(rec, self._pg), _batches(sub, self._pg)
            try:
                yield from _merge(records, subjects)
            finally:  # stop any prefetching thread before its cursor closes
                records.close()
                subjects.close()


def _merge(records: Iterator[list[Row]], subjects: Iterator[list[Row]]) -> Iterator[list[Entry]]:
    """Attach to each record (by seq) its subject rows; both streams are in seq order."""
    pending: list[Row] = next(subjects, [])
    i = 0
    for batch in records:
        out: list[Entry] = []
        for row in batch:
            seq = row[0]
            subs: list[str] = []
            broken = False
            while True:
                if i == len(pending):
                    pending, i = next(subjects, []), 0
                    if not pending:
                        break
                s_seq, s_hash = pending[i]
                if s_seq == seq:
                    subs.append(s_hash)
                elif s_seq < seq:
                    broken = True  # a subject row whose record is not here
                else:
                    break
                i += 1
            out.append((row, None if broken else tuple(subs)))
        yield out


def _batches(cur: Any, prefetch: bool) -> Generator[list[Row], None, None]:
    if prefetch:
        yield from _prefetched(cur)
        return
    while batch := cur.fetchmany(FETCH):
        yield batch


def _prefetched(cur: Any, depth: int = 2) -> Iterator[list[Row]]:
    """Fetch the next batch on a helper thread while the caller hashes this one: the driver
    waits on the server without the GIL, so the server's work overlaps with ours."""
    batches: queue.Queue[list[Row] | BaseException | None] = queue.Queue(depth)
    stop = threading.Event()

    def pump() -> None:
        try:
            while not stop.is_set() and (batch := cur.fetchmany(FETCH)):
                batches.put(batch)
            batches.put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            batches.put(exc)

    worker = threading.Thread(target=pump, name="audit-prefetch", daemon=True)
    worker.start()
    try:
        while (item := batches.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a pump waiting on a full queue, then let it end
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.05)
        worker.join()
