"""Subject rows placed by generation (ADR 0008): each row's `gen` is its ordinal in the log
divided by the generation size, the head counts the rows, and a person's history is found
in every generation, including rows written before the generations existed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from simpul.audit import repository, service
from simpul.config import Settings
from simpul.db import make_engine, run_migrations, session_factory, transaction
from simpul.kit.clock import FixedClock
from tests.audit import NIKS, event, rows
from tests.conftest import build_settings, pg_database

T0 = datetime(2025, 3, 1, 8, 0, 0, tzinfo=UTC)
QUIET: dict[str, Any] = {"checkpoint_every": None, "checkpoint_seconds": None}
SMALL = 4  # rows per generation in these tests, so that a few records span many


@pytest.fixture
def small_generations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "SUBJECT_GENERATION", SMALL)
    monkeypatch.setattr(repository, "SUBJECT_GENERATION", SMALL)


def expected_history(events: list[tuple[int, tuple[str, ...]]], nik: str) -> list[int]:
    return [seq for seq, subjects in events if nik in subjects]


@pytest.mark.usefixtures("small_generations")
def test_rows_carry_their_generation_and_history_spans_all(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    clock = FixedClock(T0)
    written: list[tuple[int, tuple[str, ...]]] = []
    # Mixed sizes: single calls, a batch that crosses several generations at once.
    sizes = [1, 3, 1, 7, 2, 1, 11, 1, 5]
    with service.AuditWriter(engine, settings, clock, **QUIET) as writer:
        for i, n in enumerate(sizes):
            ev = event(i, subjects=n)
            receipt = writer.append(ev)
            written.append((receipt.seq, ev.subjects))
    with transaction(sessions) as session:  # and inside a caller's transaction
        ev = event(40, subjects=6)
        written.append((service.record_in_session(session, settings, ev, clock), ev.subjects))
    stored = rows(engine, "SELECT seq, pos, gen FROM audit_subject ORDER BY seq, pos")
    assert [gen for _, _, gen in stored] == [k // SMALL for k in range(len(stored))]
    assert len({gen for _, _, gen in stored}) >= 8
    assert rows(engine, "SELECT subjects FROM audit_head") == [(sum(sizes) + 6,)]
    with transaction(sessions) as session:
        for nik in NIKS[:20]:
            found = [h.seq for h in service.subject_history(session, settings, nik)]
            assert found == expected_history(written, nik), nik
    assert service.verify(engine).ok  # placement is outside the chain: it still verifies


@pytest.fixture
def empty_database(backend: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a database with no schema at all (migrations run by the test)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if backend == "sqlite":
        yield build_settings(data_dir)
        return
    with pg_database() as url:
        yield build_settings(data_dir, url)


@pytest.mark.usefixtures("small_generations")
def test_upgrade_keeps_older_subjects_searchable(empty_database: Settings) -> None:
    settings = empty_database
    engine = make_engine(settings)
    try:
        run_migrations(engine, "0005")  # the schema before generations
        key = settings.require_secret("audit_hmac_key")
        old = [service.subject_hash(key, nik) for nik in (NIKS[1], NIKS[2], NIKS[3])]
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_record (seq, ts, action, decision, reason, "
                    "subject_count, elements, result, detail, prev_hash, hash) VALUES "
                    "(1, :ts, 'verifikasi', 'izin', 'ok', 3, '[]', '{}', '{}', :z, :z)"
                ),
                {"ts": T0, "z": bytes(32)},
            )
            for pos, digest in enumerate(old):
                conn.execute(
                    text("INSERT INTO audit_subject (seq, pos, subject_hash) VALUES (1, :p, :h)"),
                    {"p": pos, "h": digest},
                )
            conn.execute(text("UPDATE audit_head SET last_seq = 1"))
        run_migrations(engine)
        assert rows(engine, "SELECT subjects FROM audit_head") == [(3,)]
        assert rows(engine, "SELECT DISTINCT gen FROM audit_subject") == [(0,)]
        with service.AuditWriter(engine, settings, FixedClock(T0), **QUIET) as writer:
            for _ in range(3):  # ordinals 3.. : generations 0, 1, 2, …
                writer.append(event(1, subjects=3))
        assert rows(engine, "SELECT max(gen) FROM audit_subject") == [(2,)]
        with transaction(session_factory(engine)) as session:
            history = service.subject_history(session, settings, NIKS[2])
        assert [h.seq for h in history] == [1, 2, 3, 4]
    finally:
        engine.dispose()


def test_a_record_naming_many_people_is_chained_and_verifies(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """A matching job's one record names everyone it linked (issue 17: tens of thousands
    and more); its hash is taken without copying its text and its rows made as inserted."""
    from dataclasses import replace

    clock = FixedClock(T0)
    many = tuple(f"3201{k:012d}" for k in range(service.BIG_RECORD + 2_500))
    with transaction(sessions) as session:
        service.record_in_session(session, settings, event(1, subjects=2), clock)
        seq = service.record_in_session(session, settings, replace(event(2), subjects=many),
                                        clock)  # fmt: skip
        service.record_in_session(session, settings, event(3, subjects=1), clock)
    stored = rows(engine, f"SELECT pos FROM audit_subject WHERE seq = {seq} ORDER BY pos")
    assert [p for (p,) in stored] == list(range(len(many)))
    with transaction(sessions) as session:
        assert [h.seq for h in service.subject_history(session, settings, many[-1])] == [seq]
    assert service.verify(engine).ok
