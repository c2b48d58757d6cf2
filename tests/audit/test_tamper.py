"""Tampering with the stored log, on SQLite and PostgreSQL: every edit, deletion, insertion
and reordering makes `verify` fail and name the first bad record. Each case runs in a
transaction that is rolled back, so all start from the same untouched log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from simpul.audit import merkle, service, signing
from simpul.audit.models import AuditCheckpoint, AuditHead, AuditRecord, AuditSubject
from simpul.audit.repository import RECORD_COLUMNS, LogReader
from simpul.config import Settings
from simpul.db import session_factory
from simpul.kit.clock import FixedClock
from tests.audit import event, tampering

T0 = datetime(2025, 3, 1, 8, 0, 0, 250000, tzinfo=UTC)
RECORDS = 14
CHECKPOINT = 8
TARGETS = (1, CHECKPOINT, RECORDS)  # first, a checkpoint's head, last
record = AuditRecord.__table__
subject = AuditSubject.__table__


@pytest.fixture
def log(settings: Settings, engine: Engine) -> sessionmaker[Session]:
    """14 records with 0–3 subjects each, a signed checkpoint after record 8."""
    clock = FixedClock(T0)
    quiet = {"checkpoint_every": None, "checkpoint_seconds": None}
    with service.AuditWriter(engine, settings, clock, **quiet) as writer:
        for i in range(RECORDS):
            writer.append(event(i, subjects=i % 4))
            clock.advance(timedelta(milliseconds=1500))
            if i + 1 == CHECKPOINT:
                service.checkpoint(engine, settings, clock)
    return session_factory(engine)


def check(session: Session, seq: int | None, reason: str | None = None) -> service.VerifyResult:
    result = service.verify(session)
    assert not result.ok, "tampering went unnoticed"
    assert result.first_bad_seq == seq, result
    if reason is not None:
        assert result.reason_code == reason, result
    return result


def changed(column: str, value: Any) -> Any:
    """A different value of the same type."""
    if column == "ts":
        return value.replace(tzinfo=UTC) + timedelta(seconds=1)
    if isinstance(value, bytes | memoryview):
        raw = bytes(value)
        return bytes([raw[0] ^ 1]) + raw[1:]
    if isinstance(value, int):
        return value + 1
    if value is None:
        return 7 if column in {"agreement_version", "latency_us"} else "x"
    if not value:
        return "x"
    return value[:-1] + ("y" if value[-1] == "x" else "x")  # same length (key_id is 64 chars)


def row_of(session: Session, seq: int) -> dict[str, Any]:
    return dict(session.execute(select(record).where(record.c.seq == seq)).one()._mapping)


def test_untouched_log_verifies(
    log: sessionmaker[Session], engine: Engine, settings: Settings
) -> None:
    result = service.verify(engine, trusted_key_ids=signing.trusted_key_ids(settings))
    assert result.ok and result.records_checked == RECORDS and result.checkpoints_checked == 1
    with tampering(log) as session:
        assert service.verify(session).ok


@pytest.mark.parametrize("column", RECORD_COLUMNS)
def test_editing_any_column_names_the_record(log: sessionmaker[Session], column: str) -> None:
    for target in TARGETS:
        with tampering(log) as session:
            old = row_of(session, target)[column]
            new = 10_000 + target if column == "seq" else changed(column, old)
            session.execute(update(record).where(record.c.seq == target).values({column: new}))
            check(session, target)


@given(data=st.data())
@hsettings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_random_edits_are_named(log: sessionmaker[Session], data: st.DataObject) -> None:
    column = data.draw(st.sampled_from([c for c in RECORD_COLUMNS if c != "seq"]))
    target = data.draw(st.integers(1, RECORDS))
    text_value = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))
    values = {
        "ts": st.datetimes(datetime(2000, 1, 1), datetime(2099, 1, 1), timezones=st.just(UTC)),
        "prev_hash": st.binary(min_size=1, max_size=40),
        "hash": st.binary(min_size=1, max_size=40),
        "agreement_version": st.none() | st.integers(-(2**31), 2**31 - 1),
        "subject_count": st.integers(-(2**31), 2**31 - 1),
        "latency_us": st.none() | st.integers(-(2**63), 2**63 - 1),
    }
    nullable = record.c[column].nullable
    strategy = values.get(column, (st.none() | text_value) if nullable else text_value)
    new = data.draw(strategy)
    with tampering(log) as session:
        old = row_of(session, target)[column]
        if column == "ts":
            assume(new.replace(microsecond=new.microsecond) != old.replace(tzinfo=UTC))
        assume(new != (bytes(old) if isinstance(old, memoryview) else old))
        session.execute(update(record).where(record.c.seq == target).values({column: new}))
        check(session, target)


@pytest.mark.parametrize("target", TARGETS)
def test_deleting_a_record_names_it(log: sessionmaker[Session], target: int) -> None:
    with tampering(log) as session:
        session.execute(delete(record).where(record.c.seq == target))
        check(session, target)
    with tampering(log) as session:  # and its subjects too: still named
        session.execute(delete(subject).where(subject.c.seq == target))
        session.execute(delete(record).where(record.c.seq == target))
        check(session, target)


def shift_up(session: Session, start: int) -> None:
    """Renumber records start.. one up (from the top, to keep seq unique on the way)."""
    for seq in range(RECORDS, start - 1, -1):
        for table in (record, subject):
            session.execute(update(table).where(table.c.seq == seq).values(seq=seq + 1))


def entry(session: Session, seq: int) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    """(seq, canonical ts text, *fields) and subject hashes of a stored record."""
    ((row, subs),) = next(LogReader.of_session(session).entries(seq, seq))
    assert subs is not None
    return row[:-2], subs


@pytest.mark.parametrize("position", [1, 6, RECORDS + 1])
def test_inserting_a_record_names_it(log: sessionmaker[Session], position: int) -> None:
    for forge_hash in (False, True):
        with tampering(log) as session:
            template = row_of(session, 3)
            prev = bytes(row_of(session, position - 1)["hash"]) if position > 1 else bytes(32)
            shift_up(session, position)
            forged = {**template, "seq": position, "actor": "penyusup", "prev_hash": prev}
            session.execute(insert(record).values({**forged, "subject_count": 0}))
            if forge_hash:  # a careful forger chains the new record correctly
                fields, _ = entry(session, position)
                digest = service.entry_hash(prev, fields, ())
                where = record.c.seq == position
                session.execute(update(record).where(where).values(hash=digest))
            reason = "rekaman_tak_terdaftar" if position > RECORDS else None
            if forge_hash and position <= RECORDS:
                reason = "rekaman_disisipkan"
            check(session, position, reason)


@pytest.mark.parametrize(("a", "b"), [(2, 3), (2, 12), (1, RECORDS)])
def test_reordering_records_names_the_first(log: sessionmaker[Session], a: int, b: int) -> None:
    with tampering(log) as session:
        for table in (record, subject):  # swap the two rows' seqs (and so their places)
            session.execute(update(table).where(table.c.seq == a).values(seq=-1))
            session.execute(update(table).where(table.c.seq == b).values(seq=a))
            session.execute(update(table).where(table.c.seq == -1).values(seq=b))
        check(session, a)


def edit_subject(seq: int, pos: int, value: str) -> Any:
    where = (subject.c.seq == seq) & (subject.c.pos == pos)
    return update(subject).where(where).values(subject_hash=value)


def test_subject_rows_are_covered(log: sessionmaker[Session]) -> None:
    two, none = 3, 5  # event(i) has i % 4 subjects; seq = i + 1
    cases = [
        (delete(subject).where(subject.c.seq == two, subject.c.pos == 1), two),
        (insert(subject).values(seq=two, pos=9, subject_hash="ab" * 32), two),
        (insert(subject).values(seq=none, pos=0, subject_hash="ab" * 32), none),
        (edit_subject(two, 0, "cd" * 32), two),
        (insert(subject).values(seq=99, pos=0, subject_hash="ab" * 32), 99),
        (insert(subject).values(seq=0, pos=0, subject_hash="ab" * 32), 0),
    ]
    for stmt, seq in cases:
        with tampering(log) as session:
            session.execute(stmt)
            check(session, seq)
    with tampering(log) as session:  # swap the order of two subjects of one record
        for pos_from, pos_to in ((0, 5), (1, 0), (5, 1)):
            session.execute(
                update(subject)
                .where(subject.c.seq == two, subject.c.pos == pos_from)
                .values(pos=pos_to)
            )
        check(session, two, "hash_tidak_cocok")


def test_head_row_is_covered(log: sessionmaker[Session]) -> None:
    head = AuditHead.__table__
    with tampering(log) as session:
        session.execute(update(head).values(last_seq=RECORDS - 1))
        check(session, RECORDS, "rekaman_tak_terdaftar")
    with tampering(log) as session:
        session.execute(update(head).values(last_hash=b"\x01" * 32))
        check(session, RECORDS, "kepala_tidak_cocok")
    with tampering(log) as session:
        session.execute(delete(head))
        check(session, None, "kepala_tidak_cocok")


# Not `ts`: a C2SP checkpoint signs origin, size and root only; when it was seen is what the
# witnesses' cosignatures say (tests/audit/test_witnessed.py).
@pytest.mark.parametrize(
    "column",
    ["tree_size", "origin", "root", "head_hash", "key_id", "public_key", "signature", "frontier"],
)
def test_checkpoint_edits_are_caught(log: sessionmaker[Session], column: str) -> None:
    table = AuditCheckpoint.__table__
    with tampering(log) as session:
        old = dict(session.execute(select(table)).one()._mapping)[column]
        new = '["00"]' if column == "frontier" else changed(column, old)
        session.execute(update(table).values({column: new}))
        result = service.verify(session)
        assert not result.ok and result.reason_code is not None
        assert result.reason_code.startswith("checkpoint_")
        assert result.bad_checkpoint == (new if column == "tree_size" else CHECKPOINT)


def rewrite_chain(session: Session, seq: int, **changes: Any) -> None:
    """A consistent forgery: change record `seq`, recompute every hash after it and the head."""
    session.execute(update(record).where(record.c.seq == seq).values(changes))
    prev = bytes(row_of(session, seq - 1)["hash"]) if seq > 1 else bytes(32)
    for s in range(seq, RECORDS + 1):
        fields, subs = entry(session, s)
        digest = service.entry_hash(prev, fields, subs)
        session.execute(update(record).where(record.c.seq == s).values(prev_hash=prev, hash=digest))
        prev = digest
    session.execute(update(AuditHead.__table__).values(last_hash=prev))


def test_consistent_rewrite_is_caught_by_the_signed_checkpoint(
    log: sessionmaker[Session], settings: Settings
) -> None:
    with tampering(log) as session:
        rewrite_chain(session, 3, decision="tolak")
        result = check(session, 1, "checkpoint_tidak_cocok")
        assert result.bad_checkpoint == CHECKPOINT
    with tampering(log) as session:  # … and re-signing it needs a key this instance trusts
        rewrite_chain(session, 3, decision="tolak")
        session.execute(delete(AuditCheckpoint.__table__))
        other = settings.model_copy(update={"data_dir": settings.data_dir / "penyusup"})
        forged = signing.load_or_create(signing.key_path(other))
        leaves = [bytes(row_of(session, s)["hash"]) for s in range(1, CHECKPOINT + 1)]
        root = merkle.root(merkle.leaf_hashes(leaves))
        public = signing.public_bytes(forged)
        kid = signing.key_id(public)
        ts = "2025-03-01 09:00:00.000000"
        message = signing.checkpoint_message(CHECKPOINT, root, leaves[-1], ts, kid)
        compact = merkle.CompactRange()
        compact.extend(merkle.leaf_hashes(leaves))
        session.execute(
            insert(AuditCheckpoint.__table__).values(
                tree_size=CHECKPOINT,
                ts=datetime(2025, 3, 1, 9, tzinfo=UTC),
                root=root,
                head_hash=leaves[-1],
                key_id=kid,
                public_key=public,
                signature=forged.sign(message),
                frontier=f'["{compact.nodes[0].hex()}"]',
            )
        )
        assert service.verify(session).ok  # without a trust anchor the forgery holds …
        result = service.verify(session, trusted_key_ids=signing.trusted_key_ids(settings))
        assert not result.ok and result.reason_code == "checkpoint_kunci_tidak_dipercaya"
