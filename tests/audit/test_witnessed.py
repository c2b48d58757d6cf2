"""The witnessed log end to end, on SQLite and PostgreSQL: the node publishes C2SP checkpoints
and proofs over HTTP (decided by role), a witness follows it, refuses a shrunk or forked log,
cosigns otherwise, and the node keeps the cosignatures; `audit verify` given the witness's
state catches every rewrite that the node's own checks cannot (docs/audit.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from simpul.access.schemas import AccountCreate, AccountKind
from simpul.app import create_app
from simpul.audit import anchor, merkle, note, service, signing
from simpul.audit import witness as w
from simpul.audit.models import (
    AuditCheckpoint,
    AuditCosignature,
    AuditHead,
    AuditRecord,
    AuditSubject,
)
from simpul.config import Settings
from simpul.governance import actions
from simpul.kit.clock import FixedClock
from simpul.runtime import Runtime
from tests.audit import event
from tests.audit.test_tamper import entry

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
LAG = 300.0


@dataclass
class World:
    rt: Runtime
    clock: FixedClock
    client: TestClient
    state: w.WitnessState
    node: w.NodeClient
    origin: str
    creds: dict[str, Any]

    def append(self, n: int) -> None:
        with self.rt.transaction() as s:
            for i in range(n):
                service.record_in_session(s, self.rt.settings, event(i, i % 3), self.clock)
        signing.checkpoint(self.rt.engine, self.rt.settings, self.clock)

    def round(self) -> int | None:
        return w.run_round(self.state, self.origin, self.node, w.Metrics())

    def verify(self, **kw: Any) -> service.VerifyResult:
        held = anchor.from_witness(self.state.folder, self.origin)
        return anchor.verify(
            self.rt.engine, trusted_key_ids=signing.trusted_key_ids(self.rt.settings),
            anchor=held, lag_seconds=LAG, now=self.clock.now(), workers=1, **kw,
        )  # fmt: skip


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> Iterator[World]:
    settings = settings.model_copy(update={"audit_origin": "simpul.uji/dukcapil"})
    clock = FixedClock(T0)
    rt = Runtime(settings, clock=clock)
    creds: dict[str, Any] = {}
    with rt.transaction() as s:
        actions.load_institutions(s, settings, clock, actor="uji")
        for username, role, kind in (
            ("bkn.saksi", "saksi", AccountKind.CLIENT),
            ("bkn.klien.uji", "data_user", AccountKind.CLIENT),
        ):
            data = AccountCreate(username=username, institution="bkn", role=role, kind=kind)
            issued = actions.create_account(s, settings, clock, data, actor="uji")
            creds[username] = {"id": issued.account.username,
                               "secret": issued.secret.get_secret_value()}  # fmt: skip
    state = w.WitnessState.create(tmp_path / "saksi", "saksi.bkn.uji")
    with rt.transaction() as s:
        actions.register_witness(s, settings, clock, state.name, state.verifier_key,
                                 "bkn.saksi", actor="uji")  # fmt: skip
    app = create_app(settings, rt)
    with TestClient(app) as client:
        origin = signing.log_origin(settings)
        state.follow(origin, signing.log_verifier_key(settings), "http://testserver")
        node = w.NodeClient("http://testserver", creds["bkn.saksi"]["id"],
                            creds["bkn.saksi"]["secret"], http=client)  # fmt: skip
        world = World(rt, clock, client, state, node, origin, creds)
        world.append(9)
        yield world
    rt.close()


def _token(world: World, username: str) -> dict[str, str]:
    c = world.creds[username]
    got = world.client.post(
        "/api/v1/token", data={"client_id": c["id"], "client_secret": c["secret"]}
    )
    return {"Authorization": f"Bearer {got.json()['access_token']}"}


def test_the_node_publishes_a_c2sp_checkpoint_that_the_witness_cosigns(world: World) -> None:
    headers = _token(world, "bkn.saksi")
    got = world.client.get("/api/v1/audit/checkpoint", headers=headers)
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/plain")
    parsed = note.parse_note(got.text)
    body = note.parse_checkpoint(parsed.text)
    with world.rt.read_transaction() as s:
        records = s.scalar(select(func.count()).select_from(AuditRecord))
    # Reading the checkpoint and fetching a token added no record (ADR 0014).
    assert (body.origin, body.size) == ("simpul.uji/dukcapil", records)
    assert note.verify_note(
        parsed, note.parse_verifier_key(signing.log_verifier_key(world.rt.settings))
    )

    assert world.round() == body.size  # first sight: nothing to be consistent with yet
    world.append(5)
    size = world.round()
    assert size == body.size + 5
    # The node now publishes the witness's cosignature beside its own signature.
    published = note.parse_note(world.client.get("/api/v1/audit/checkpoint", headers=headers).text)
    names = [sig.name for sig in published.signatures]
    assert names == ["simpul.uji/dukcapil", "saksi.bkn.uji"]
    witness_key = note.parse_verifier_key(world.state.verifier_key)
    stamp = note.verify_cosignature(published.text, published.signatures[1], witness_key)
    assert stamp is not None and abs(stamp - datetime.now(UTC).timestamp()) < 60
    assert world.round() is None  # nothing new: no second cosignature
    assert world.verify().ok


def test_consistency_and_inclusion_proofs_verify_over_http(world: World) -> None:
    headers = _token(world, "bkn.saksi")
    first = note.parse_checkpoint(
        note.parse_note(world.client.get("/api/v1/audit/checkpoint", headers=headers).text).text
    )
    world.append(23)
    got = world.client.get("/api/v1/audit/bukti-konsistensi", headers=headers,
                           params={"lama": first.size}).json()  # fmt: skip
    new = note.parse_checkpoint(got["checkpoint"])
    proof = [__import__("base64").b64decode(h) for h in got["bukti"]]
    assert merkle.verify_consistency(first.size, new.size, first.root, new.root, proof)
    for seq in (1, first.size, new.size):
        inc = world.client.get("/api/v1/audit/bukti-inklusi", headers=headers,
                               params={"seq": seq}).json()  # fmt: skip
        leaf = merkle.leaf_hash(bytes.fromhex(inc["hash_entri"]))
        path = [__import__("base64").b64decode(h) for h in inc["jalur"]]
        assert merkle.verify_inclusion(
            inc["indeks_daun"], inc["ukuran_pohon"], leaf, path, new.root
        )
    too_big = world.client.get("/api/v1/audit/bukti-konsistensi", headers=headers,
                               params={"lama": new.size + 1})  # fmt: skip
    assert too_big.status_code == 422
    assert too_big.json()["code"] == "ukuran_pohon_tidak_valid"
    # Neither the reads nor a size out of range left a record: nothing was decided about
    # anyone, and a witness's polling must not feed the log (ADR 0014).
    with world.rt.read_transaction() as s:
        assert s.scalar(select(func.max(AuditRecord.seq))) == new.size


def test_only_witnesses_auditors_and_admins_read_it_and_refusals_are_recorded(world: World) -> None:
    headers = _token(world, "bkn.klien.uji")
    with world.rt.read_transaction() as s:
        before = s.scalar(select(func.count()).select_from(AuditRecord))
    got = world.client.get("/api/v1/audit/checkpoint", headers=headers)
    assert got.status_code == 403 and got.json()["code"] == "peran_tidak_berwenang"
    assert world.client.get("/api/v1/audit/checkpoint").status_code == 401
    cosign = world.client.post("/api/v1/audit/kosignatur", headers=headers,
                               json={"ukuran_pohon": 1, "baris": "x"})  # fmt: skip
    assert cosign.status_code == 403
    with world.rt.read_transaction() as s:
        refused = s.scalars(select(AuditRecord).where(AuditRecord.seq > before)).all()
    assert [(r.action, r.decision, r.reason) for r in refused] == [
        ("audit.publikasi", "tolak", "peran_tidak_berwenang"),
        ("audit.kosignatur", "tolak", "peran_tidak_berwenang"),
    ]


def test_a_forged_cosignature_is_refused(world: World) -> None:
    headers = _token(world, "bkn.saksi")
    text = note.parse_note(world.client.get("/api/v1/audit/checkpoint", headers=headers).text).text
    size = note.parse_checkpoint(text).size
    other = w.WitnessState.create(world.state.folder.parent / "lain", "saksi.bkn.uji")
    forged = note.cosign(text, "saksi.bkn.uji", other.key, int(T0.timestamp()))
    got = world.client.post("/api/v1/audit/kosignatur", headers=headers,
                            json={"ukuran_pohon": size, "baris": forged})  # fmt: skip
    assert got.status_code == 422 and got.json()["code"] == "kosignatur_tidak_sah"


def _refused(world: World, reason: str) -> None:
    with pytest.raises(w.WitnessError) as caught:
        world.round()
    assert caught.value.reason == reason
    assert world.state.alerts()[-1][2] == reason


@contextmanager
def forged(world: World) -> Iterator[Session]:
    """A committed change with the append-only triggers off: what an operator with full
    access to the database can do."""
    session = world.rt.sessions()
    try:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for table in ("audit_record", "audit_subject", "audit_checkpoint"):
                for verb in ("update", "delete"):
                    session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))
        yield session
        session.commit()
    finally:
        session.close()


def rechain(session: Session, start: int) -> None:
    """Recompute every hash from record `start` on, and the head: a consistent rewrite."""
    last = session.scalar(select(func.max(AuditRecord.seq))) or 0
    prev = bytes(session.get(AuditRecord, start - 1).hash) if start > 1 else bytes(32)  # type: ignore[union-attr]
    for seq in range(start, last + 1):
        fields, subs = entry(session, seq)
        digest = service.entry_hash(prev, fields, subs)
        session.execute(update(AuditRecord).where(AuditRecord.seq == seq)
                        .values(prev_hash=prev, hash=digest))  # fmt: skip
        prev = digest
    subjects = session.scalar(select(func.count()).select_from(AuditSubject))
    session.execute(update(AuditHead).values(last_seq=last, last_hash=prev, subjects=subjects))


def resign(session: Session) -> None:
    """Drop every checkpoint and cosignature; the node signs the rewritten log afresh."""
    session.execute(delete(AuditCosignature))
    session.execute(delete(AuditCheckpoint))


def test_the_witness_refuses_a_shrunk_or_forked_log(world: World) -> None:
    world.round()
    cosigned = world.state.followed(world.origin)
    assert cosigned is not None and cosigned.size > 0
    # A fork: the same size with another root, re-signed by the node's own key (the operator
    # holds it), as it would look after the log was rewritten.
    with forged(world) as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 2).values(actor="pemalsu"))
        rechain(s, 2)
        resign(s)
    signing.checkpoint(world.rt.engine, world.rt.settings, world.clock)
    _refused(world, "log_bercabang")
    # Longer, but not an extension of what was cosigned: no consistency proof holds.
    world.append(3)
    _refused(world, "bukti_konsistensi_gagal")
    # Shrunk: the node shows a smaller log.
    with forged(world) as s:
        cut = cosigned.size - 2
        s.execute(delete(AuditSubject).where(AuditSubject.seq > cut))
        s.execute(delete(AuditRecord).where(AuditRecord.seq > cut))
        rechain(s, cut)
        resign(s)
    signing.checkpoint(world.rt.engine, world.rt.settings, world.clock)
    _refused(world, "log_menyusut")
    assert world.state.followed(world.origin) == cosigned  # nothing cosigned meanwhile


def _edit(world: World, s: Session) -> None:
    s.execute(update(AuditRecord).where(AuditRecord.seq == 4).values(actor="pemalsu"))


def _edit_rechained(world: World, s: Session) -> None:
    _edit(world, s)
    rechain(s, 4)
    resign(s)


def _delete(world: World, s: Session) -> None:
    s.execute(delete(AuditSubject).where(AuditSubject.seq == 5))
    s.execute(delete(AuditRecord).where(AuditRecord.seq == 5))
    last = s.scalar(select(func.max(AuditRecord.seq))) or 0
    for seq in range(6, last + 1):  # close the gap, then make the chain whole again
        s.execute(update(AuditSubject).where(AuditSubject.seq == seq).values(seq=seq - 1))
        s.execute(update(AuditRecord).where(AuditRecord.seq == seq).values(seq=seq - 1))
    rechain(s, 5)
    resign(s)


def _insert(world: World, s: Session) -> None:
    last = s.scalar(select(func.max(AuditRecord.seq))) or 0
    for seq in range(last, 3, -1):  # open a gap at #4 (from the top: seq is the key)
        s.execute(update(AuditSubject).where(AuditSubject.seq == seq).values(seq=seq + 1))
        s.execute(update(AuditRecord).where(AuditRecord.seq == seq).values(seq=seq + 1))
    template = dict(
        s.execute(select(AuditRecord.__table__).where(AuditRecord.seq == 3)).one()._mapping
    )
    s.execute(insert(AuditRecord.__table__).values({**template, "seq": 4, "subject_count": 0}))
    rechain(s, 4)
    resign(s)


def _reorder(world: World, s: Session) -> None:
    table = AuditRecord.__table__
    a, b = (dict(s.execute(select(table).where(table.c.seq == n)).one()._mapping) for n in (3, 4))
    keep = ("seq", "prev_hash", "hash")
    s.execute(delete(AuditSubject).where(AuditSubject.seq.in_((3, 4))))
    for target, source in ((3, b), (4, a)):
        values = {k: v for k, v in source.items() if k not in keep} | {"subject_count": 0}
        s.execute(update(AuditRecord).where(AuditRecord.seq == target).values(values))
    rechain(s, 3)
    resign(s)


def _cut_tail(world: World, s: Session) -> None:
    s.execute(delete(AuditSubject).where(AuditSubject.seq > 6))
    s.execute(delete(AuditRecord).where(AuditRecord.seq > 6))


def _cut_tail_rewrite_head(world: World, s: Session) -> None:
    _cut_tail(world, s)
    rechain(s, 6)
    resign(s)


def _delete_cosigned_checkpoint(world: World, s: Session) -> None:
    held = world.state.followed(world.origin)
    assert held is not None
    s.execute(delete(AuditCosignature).where(AuditCosignature.tree_size == held.size))
    s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.tree_size == held.size))


def _delete_all_checkpoints(world: World, s: Session) -> None:
    s.execute(delete(AuditCosignature))
    s.execute(delete(AuditCheckpoint))


def _replace_log(world: World, s: Session) -> None:
    """A different log of the same length, consistent in itself, signed afresh."""
    s.execute(update(AuditRecord).values(reason="ganti"))
    rechain(s, 1)
    resign(s)


TAMPERING = {
    "edit": (_edit, "hash_tidak_cocok"),
    "edit_rechained": (_edit_rechained, "log_tidak_konsisten_dengan_saksi"),
    "delete": (_delete, "log_lebih_pendek_dari_saksi"),
    "insert": (_insert, "log_tidak_konsisten_dengan_saksi"),
    "reorder": (_reorder, "log_tidak_konsisten_dengan_saksi"),
    "cut_tail": (_cut_tail, "rekaman_hilang"),
    "cut_tail_head_rewritten": (_cut_tail_rewrite_head, "log_lebih_pendek_dari_saksi"),
    "delete_cosigned_checkpoint": (_delete_cosigned_checkpoint, "checkpoint_saksi_hilang"),
    "delete_all_checkpoints": (_delete_all_checkpoints, "checkpoint_saksi_hilang"),
    "replace_log": (_replace_log, "log_tidak_konsisten_dengan_saksi"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_verify_against_the_witness_catches_every_rewrite(world: World, case: str) -> None:
    world.append(6)
    assert world.round() is not None
    assert world.verify().ok
    change, expected = TAMPERING[case]
    with forged(world) as s:
        change(world, s)
    # The node re-signs whatever it now holds (its key is in the operator's hands too),
    # except where the point is that checkpoints are gone: re-signing the same log gives
    # back the very same checkpoint (Ed25519 is deterministic), nothing to detect.
    if "checkpoint" not in case:
        signing.checkpoint(world.rt.engine, world.rt.settings, world.clock)
    result = world.verify()
    assert not result.ok, case
    assert result.reason_code == expected, (case, result)
    assert result.witness == world.state.name
    # The node's own checks alone pass every consistent rewrite: the witness is what
    # catches them.
    alone = service.verify(
        world.rt.engine, trusted_key_ids=signing.trusted_key_ids(world.rt.settings)
    )
    if expected not in ("hash_tidak_cocok", "rekaman_hilang"):
        assert alone.ok, (case, alone)


def test_restoring_an_older_backup_is_caught(world: World, tmp_path: Path) -> None:
    """The database as it was before the last rounds, the witness as it is now."""
    world.round()
    backup = _snapshot(world)
    world.append(8)
    assert world.round() is not None
    _restore(world, backup)
    result = world.verify()
    assert not result.ok and result.reason_code == "log_lebih_pendek_dari_saksi"


def _snapshot(world: World) -> dict[str, list[dict[str, Any]]]:
    with world.rt.read_transaction() as s:
        return {t.name: [dict(r._mapping) for r in s.execute(select(t))]
                for t in (AuditRecord.__table__, AuditSubject.__table__, AuditHead.__table__,
                          AuditCheckpoint.__table__, AuditCosignature.__table__)}  # fmt: skip


def _restore(world: World, backup: dict[str, list[dict[str, Any]]]) -> None:
    with forged(world) as s:
        for table in (AuditCosignature, AuditCheckpoint, AuditSubject, AuditRecord, AuditHead):
            s.execute(delete(table))
        for table in (AuditHead, AuditRecord, AuditSubject, AuditCheckpoint, AuditCosignature):
            rows = backup[table.__tablename__]
            if rows:
                s.execute(insert(table.__table__), rows)


def test_records_no_witness_cosigned_in_time_fail_verify(world: World) -> None:
    world.round()
    assert world.verify().ok
    world.append(4)  # the witness stops here
    world.clock.advance(timedelta(seconds=LAG + 1))
    result = world.verify()
    assert not result.ok and result.reason_code == "rekaman_tanpa_kosignatur"
    assert world.round() is not None  # the witness catches up: vouched for again
    assert world.verify().ok


def test_a_tampered_stored_cosignature_fails_verify(world: World) -> None:
    world.round()
    with forged(world) as s:
        row = s.scalars(select(AuditCosignature)).one()
        sig = note.parse_signature_lines(row.line)[0]
        raw = bytearray(sig.raw)
        raw[-1] ^= 1
        row.line = note.NoteSignature(sig.name, sig.key_hash, bytes(raw)).line
    result = world.verify()
    assert not result.ok and result.reason_code == "kosignatur_tidak_sah"


def test_a_persons_history_comes_with_proofs_against_the_cosigned_checkpoint(
    world: World,
) -> None:
    import base64

    from tests.audit import NIKS

    with world.rt.transaction() as s:
        data = AccountCreate(username="dukcapil.auditor", institution="dukcapil", role="auditor",
                             password="Rahasia-Uji-1234")  # fmt: skip
        actions.create_account(s, world.rt.settings, world.clock, data, actor="uji")
    world.rt.settings.hub_auditors.append("dukcapil.auditor")  # sees the whole log
    signing.checkpoint(world.rt.engine, world.rt.settings, world.clock)
    world.round()
    world.append(3)  # newer than what the witness cosigned
    auth = ("dukcapil.auditor", "Rahasia-Uji-1234")
    got = world.client.post("/api/v1/audit/riwayat-subjek", auth=auth, json={"nik": NIKS[1]})
    assert got.status_code == 200, got.text
    entries = got.json()
    assert len(entries) >= 2
    cosigned = world.state.followed(world.origin)
    assert cosigned is not None
    for item in entries:
        proof = item["bukti"]
        if item["seq"] > cosigned.size:
            assert proof is None or proof["saksi"] == []
            continue
        assert proof["terverifikasi"] and proof["saksi"] == [world.state.name]
        body = note.parse_checkpoint(proof["checkpoint"])
        assert (body.size, body.root) == (cosigned.size, cosigned.root)
        path = [base64.b64decode(h) for h in proof["jalur"]]
        leaf = bytes.fromhex(proof["hash_daun"])
        assert merkle.verify_inclusion(item["seq"] - 1, body.size, leaf, path, body.root)
        assert not merkle.verify_inclusion(item["seq"], body.size, leaf, path, body.root)
    # The look-up itself is in the person's history from now on.
    again = world.client.post("/api/v1/audit/riwayat-subjek", auth=auth, json={"nik": NIKS[1]})
    assert again.json()[-1]["tindakan"] == "audit.riwayat_subjek"


def test_a_rotated_checkpoint_key_is_announced_repinned_and_old_checkpoints_still_verify(
    world: World,
) -> None:
    assert world.round() is not None
    settings = world.rt.settings
    old_key = signing.log_verifier_key(settings)
    with world.rt.transaction() as s:
        old, new = actions.rotate_checkpoint_key(s, settings, world.clock, actor="uji",
                                                 reason="Rotasi tahunan")  # fmt: skip
    assert old != new and signing.log_verifier_key(settings) != old_key
    retired = settings.data_dir / signing.RETIRED_FILE
    assert retired.stat().st_mode & 0o777 == 0o600
    assert old_key in retired.read_text()
    world.append(4)  # signed by the new key
    # The witness pinned the old key: it refuses until its operator accepts the new one.
    _refused(world, "tanda_tangan_log_tidak_sah")
    world.state.follow(world.origin, signing.log_verifier_key(settings), "http://testserver",
                       replace_key=True)  # fmt: skip
    assert world.round() is not None  # still consistent with what it cosigned before
    result = world.verify()
    assert result.ok and result.checkpoints_checked >= 2, result
    with world.rt.read_transaction() as s:
        rotated = s.scalars(select(AuditRecord).where(
            AuditRecord.action == "audit.kunci_checkpoint_diganti")).one()  # fmt: skip
    assert old in rotated.detail and new in rotated.detail
