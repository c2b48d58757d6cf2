"""The audit log on SQLite and PostgreSQL: appends, group commit, checkpoints, proofs,
subject history, and the guarantees around them."""

from __future__ import annotations

import asyncio
import itertools
import stat
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from simpul.audit import service, signing
from simpul.audit.schemas import AuditEvent
from simpul.config import Settings
from simpul.db import transaction
from simpul.errors import InvalidInput, NotFound
from simpul.kit.clock import FixedClock, SystemClock
from tests.audit import NIKS, event, rows

T0 = datetime(2025, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
QUIET: dict[str, Any] = {"checkpoint_every": None, "checkpoint_seconds": None}


def test_records_chain_in_session_and_verify(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    clock = FixedClock(T0)
    with transaction(sessions) as session:
        seqs = [service.record_in_session(session, settings, event(i), clock) for i in range(3)]
    assert seqs == [1, 2, 3]
    with transaction(sessions) as session:  # rolled back with the caller's work
        service.record_in_session(session, settings, event(9), clock)
        session.rollback()
    stored = rows(engine, "SELECT seq, prev_hash, hash FROM audit_record ORDER BY seq")
    assert [r[0] for r in stored] == [1, 2, 3]
    assert bytes(stored[0][1]) == bytes(32)
    assert all(bytes(b[1]) == bytes(a[2]) for a, b in itertools.pairwise(stored))
    assert rows(engine, "SELECT last_seq FROM audit_head") == [(3,)]
    result = service.verify(engine)
    assert result.ok and result.records_checked == 3 and result.first_bad_seq is None


def test_empty_log_verifies(engine: Engine) -> None:
    result = service.verify(engine)
    assert result.ok and result.records_checked == 0


def test_hash_is_the_documented_canonical_encoding(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """An outside auditor can recompute a hash from the row alone (docstring of service)."""
    with transaction(sessions) as session:
        service.record_in_session(session, settings, event(1, subjects=2), FixedClock(T0))
    (row,) = rows(engine, "SELECT * FROM audit_record")
    record = dict(zip(service.repo.RECORD_COLUMNS, row, strict=False))
    subjects = [r[0] for r in rows(engine, "SELECT subject_hash FROM audit_subject ORDER BY pos")]
    fields = (1, "2025-03-01 08:00:00.123456", *(record[c] for c in service.RECORD_FIELDS))
    assert service.entry_hash(bytes(32), fields, subjects) == bytes(record["hash"])


def test_no_clear_nik_anywhere(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    nik = NIKS[7]
    leaky = AuditEvent(
        action="verifikasi",
        decision="tolak",
        reason="elemen_di_luar_hibah",
        subjects=(nik,),
        result={"catatan": f"permintaan untuk {nik}"},
    )
    with transaction(sessions) as session:
        service.record_in_session(session, settings, leaky, FixedClock(T0))
    dump = repr(rows(engine, "SELECT * FROM audit_record"))
    dump += repr(rows(engine, "SELECT * FROM audit_subject"))
    assert nik not in dump
    assert nik[:6] + "******" + nik[12:] in dump  # masked in the summary
    key = settings.require_secret("audit_hmac_key")
    assert rows(engine, "SELECT subject_hash FROM audit_subject") == [
        (service.subject_hash(key, nik),)
    ]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"decision": "mungkin"}, "Keputusan"),
        ({"action": ""}, "wajib"),
        ({"actor": "a\x00b"}, "actor"),
        ({"institution": "x" * 3000}, "institution"),
        ({"service": "\ud800"}, "service"),
        ({"agreement_version": "2"}, "Versi"),
        ({"agreement_version": True}, "Versi"),
        ({"latency_ms": float("nan")}, "Latensi"),
        ({"subjects": ("",)}, "Subjek"),
        ({"result": {"x": float("inf")}}, "result"),
        ({"elements": ("nama", None)}, "Elemen"),
    ],
)
def test_bad_events_fail_alone(change: dict[str, Any], fragment: str) -> None:
    base = event(1).__dict__ | change
    with pytest.raises(InvalidInput, match=fragment) as info:
        service.prepare(AuditEvent(**base), service.SubjectHasher("k"))
    assert info.value.code == "peristiwa_audit_tidak_valid"


def test_log_tables_refuse_update_and_delete(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        service.record_in_session(session, settings, event(1), FixedClock(T0))
    for sql in (
        "UPDATE audit_record SET actor = 'x'",
        "DELETE FROM audit_record",
        "DELETE FROM audit_subject",
        "UPDATE audit_subject SET subject_hash = 'x'",
    ):
        with pytest.raises(DBAPIError, match="hanya boleh ditambah"), engine.begin() as conn:
            conn.execute(text(sql))
    assert service.verify(engine).ok


def test_writer_many_threads_contiguous_and_verifiable(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    receipts: list[service.Receipt] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        for i in range(25):
            receipt = writer.append(event(k * 100 + i, subjects=i % 3))
            with lock:
                receipts.append(receipt)

    with service.AuditWriter(
        engine, settings, SystemClock(), batch_max=16, checkpoint_every=60
    ) as writer:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(r.seq for r in receipts) == list(range(1, 201))
    stored = dict(rows(engine, "SELECT seq, hash FROM audit_record"))
    assert all(bytes(stored[r.seq]).hex() == r.hash for r in receipts)
    result = service.verify(engine, trusted_key_ids=signing.trusted_key_ids(settings))
    assert result.ok and result.records_checked == 200
    assert result.checkpoints_checked >= 1  # the writer signed some on its own


def test_failed_batch_raises_to_its_callers_and_later_ones_commit(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = service.append_prepared
    calls = {"n": 0}

    def flaky(conn: Any, items: Any, clock: Any) -> list[service.Receipt]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(conn, items, clock)

    monkeypatch.setattr(service, "append_prepared", flaky)
    with service.AuditWriter(engine, settings, SystemClock(), **QUIET) as writer:
        assert writer.append(event(1)).seq == 1
        with pytest.raises(service.AuditWriteError) as info:
            writer.append(event(2))
        assert info.value.code == "audit_gagal_ditulis"
        assert writer.append(event(3)).seq == 2  # nothing skipped, nothing reordered
    assert service.verify(engine).ok
    with pytest.raises(service.AuditWriteError):
        writer.append(event(4))  # closed


def test_checkpoints_key_and_schedule(settings: Settings, engine: Engine) -> None:
    clock = FixedClock(T0)
    assert service.checkpoint(engine, settings, clock) is None  # empty log
    with service.AuditWriter(engine, settings, clock, **QUIET) as writer:
        for i in range(5):
            writer.append(event(i))
    key_file = settings.data_dir / signing.KEY_FILE
    first = service.maybe_checkpoint(engine, settings, clock, every_records=100, every_seconds=60)
    assert first is not None and first.tree_size == 5  # no checkpoint yet: due at once
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.problem({signing.key_id(bytes.fromhex(first.public_key))}) is None
    with service.AuditWriter(engine, settings, clock, **QUIET) as writer:
        for i in range(3):
            writer.append(event(i))
    kw = {"every_records": 3, "every_seconds": None}
    assert service.maybe_checkpoint(engine, settings, clock, **kw) is not None  # 3 new records
    assert service.maybe_checkpoint(engine, settings, clock, **kw) is None  # nothing new
    with service.AuditWriter(engine, settings, clock, **QUIET) as writer:
        writer.append(event(9))
    kw = {"every_records": 100, "every_seconds": 60}
    assert service.maybe_checkpoint(engine, settings, clock, **kw) is None  # too soon
    clock.advance(timedelta(seconds=61))
    latest = service.maybe_checkpoint(engine, settings, clock, **kw)
    assert latest is not None and latest.tree_size == 9
    assert service.checkpoint(engine, settings, clock) == latest  # nothing added since
    result = service.verify(engine, trusted_key_ids=signing.trusted_key_ids(settings))
    assert result.ok and result.checkpoints_checked == 3


def test_subject_history_and_inclusion_proof(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    clock = FixedClock(T0)
    with service.AuditWriter(engine, settings, clock, **QUIET) as writer:
        for i in range(12):
            writer.append(event(i, subjects=2, decision="tolak" if i == 4 else "izin"))
    with transaction(sessions) as session, pytest.raises(NotFound):
        service.inclusion_proof(session, 3)  # no checkpoint yet
    service.checkpoint(engine, settings, clock)
    with transaction(sessions) as session:
        history = service.subject_history(session, settings, NIKS[5])
        # event(i) with 2 subjects covers NIKS[i] and NIKS[i+1]: NIKS[5] is in events 4 and 5.
        assert [h.seq for h in history] == [5, 6]
        assert history[0].decision == "tolak" and history[0].ts == T0
        assert history[0].agreement_id == "pks-003" and history[0].agreement_version == 2
        assert history[1].agreement_id is None and history[0].elements == ["nama_lengkap"]
        assert history[1].elements == ["nama_lengkap", "tanggal_lahir"]
        assert service.subject_history(session, settings, " " + NIKS[5] + " ") == history
        assert service.subject_history(session, settings, "0000000000000000") == []
        trusted = signing.trusted_key_ids(settings)
        for seq in (1, 7, 12):
            proof = service.inclusion_proof(session, seq)
            assert proof.tree_size == 12 and service.verify_proof(proof, trusted)
        forged = proof.__class__(**{**proof.__dict__, "entry_hash": "00" * 32})
        assert not service.verify_proof(forged)
        assert not service.verify_proof(proof, trusted_key_ids={"someone-else"})
        with pytest.raises(NotFound):
            service.inclusion_proof(session, 13)


def test_parallel_verify_matches_single_process(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    clock = FixedClock(T0)
    with service.AuditWriter(engine, settings, clock, **QUIET) as writer:
        for i in range(40):
            writer.append(event(i, subjects=i % 3))
            if i in (9, 30):
                service.checkpoint(engine, settings, clock)
    single = service.verify(engine, workers=1)
    split = service.verify(engine, workers=3)
    assert single.ok and split.ok and split.records_checked == 40
    assert split.checkpoints_checked == single.checkpoints_checked == 2
    # An edit far from the first range is found by a worker process and named.
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            conn.execute(text("DROP TRIGGER audit_record_no_update"))
        conn.execute(text("UPDATE audit_record SET reason = 'diubah' WHERE seq = 33"))
    broken = service.verify(engine, workers=3)
    assert not broken.ok and broken.first_bad_seq == 33
    assert broken.reason_code == "hash_tidak_cocok"


def test_async_callers_share_batches_with_threads(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = service.append_prepared
    fail_next = {"on": False}

    def flaky(conn: Any, items: Any, clock: Any) -> list[service.Receipt]:
        if fail_next["on"]:
            fail_next["on"] = False
            raise RuntimeError("connection lost")
        return real(conn, items, clock)

    monkeypatch.setattr(service, "append_prepared", flaky)
    with service.AuditWriter(engine, settings, SystemClock(), **QUIET) as writer:

        async def run() -> list[service.Receipt]:
            tasks = [writer.append_async(event(i, subjects=1)) for i in range(60)]
            thread = threading.Thread(target=lambda: [writer.append(event(i)) for i in range(20)])
            thread.start()
            receipts = await asyncio.gather(*tasks)
            thread.join()
            fail_next["on"] = True
            with pytest.raises(service.AuditWriteError):
                await writer.append_async(event(99))
            return receipts

        receipts = asyncio.run(run())
    assert len({r.seq for r in receipts}) == 60
    assert rows(engine, "SELECT count(*) FROM audit_record") == [(80,)]
    assert service.verify(engine).ok
