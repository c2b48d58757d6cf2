"""Feedback data through the kernel (upload recorded with the accepted people, a bad row
costing no good one) and its retention: what the node keeps only for the sender goes after
the agreement's `retensi`, what the provider is owed stays (docs/obligations.md)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

from sqlalchemy import select

from simpul.agreements import service as agreements
from simpul.agreements.schemas import Mechanism
from simpul.audit import service as audit
from simpul.audit.models import AuditRecord
from simpul.obligations import feedback, feedback_ops, reports
from simpul.obligations.models import FeedbackRow, FeedbackUpload
from tests.obligations.conftest import World

BKN = "pks-dukcapil-bkn"  # retensi: 7 days


def _upload(world: World, body: str) -> feedback.UploadResult:
    result: feedback.UploadResult = world.call(
        "bkn.klien", Mechanism.WEB_SERVICE, feedback_ops.UPLOAD, feedback_ops.upload, BKN,
        body.encode(),
    )  # fmt: skip
    return result


def _purges(world: World) -> list[AuditRecord]:
    with world.session() as s:
        stmt = select(AuditRecord).where(AuditRecord.action == feedback.PURGE_ACTION)
        return list(s.scalars(stmt))


def test_upload_records_the_accepted_people_and_keeps_every_verdict(world: World) -> None:
    people = world.tables["kependudukan"]
    world.at(date(2024, 10, 1))
    owed = [p["nik"] for p in people[:2]]
    world.verify("bkn.klien", owed)
    stranger = people[50]["nik"]
    nip = world.tables["asn"][0]["nip"]
    result = _upload(
        world,
        "nik,nip,status_kepegawaian,kedudukan_hukum\n"
        f"{owed[0]},{nip},PNS,AKTIF\n{stranger},{nip},PNS,AKTIF\n{owed[1]},{nip},XX,AKTIF\n",
    )
    assert (result.rows_accepted, [(v.line, v.code) for v in result.errors]) == (
        1, [(3, "tidak_terutang"), (4, "nilai_tidak_valid")],
    )  # fmt: skip
    with world.session() as s:
        uploads = [h for h in audit.subject_history(s, world.settings, owed[0])
                   if h.action == feedback_ops.UPLOAD]  # fmt: skip
        assert [(h.actor, h.decision, h.agreement_id) for h in uploads] == [
            ("bkn.klien", "izin", BKN)
        ]
        # The people of rejected rows are no accepted feedback: not its subjects.
        for nik in (stranger, owed[1]):
            actions = {h.action for h in audit.subject_history(s, world.settings, nik)}
            assert feedback_ops.UPLOAD not in actions
    # Sending and receiving feedback is no use of a registry service: the usage report
    # counts the two verifications, not the upload or the provider's download.
    world.call("dukcapil.admin", Mechanism.WEB_SERVICE, feedback_ops.DOWNLOAD,
               feedback_ops.download, BKN)  # fmt: skip
    with world.session() as s:
        u = reports.usage(s, world.settings, world.clock, BKN, 2024, 2)
    assert (u.allowed, u.by_service, u.active_accounts) == (2, {"verifikasi": 2}, 1)
    # A refused sender stores nothing and is recorded: the provider does not send feedback.
    code = world.refused("dukcapil.admin", Mechanism.WEB_SERVICE, feedback_ops.UPLOAD,
                         feedback_ops.upload, BKN, b"nik\n")  # fmt: skip
    assert code == "peran_tidak_berwenang"
    with world.session() as s:
        assert len(feedback.uploads(s, BKN)) == 1
        stmt = select(AuditRecord).where(
            AuditRecord.action == feedback_ops.UPLOAD, AuditRecord.decision == "tolak"
        )
        refusals = s.scalars(stmt).all()
        assert [(r.actor, r.reason, r.agreement_id) for r in refusals] == [
            ("dukcapil.admin", "peran_tidak_berwenang", BKN)
        ]


def test_retention_empties_what_only_the_sender_needed_and_keeps_the_providers_record(
    world: World,
) -> None:
    people = world.tables["kependudukan"]
    world.at(date(2024, 10, 1))
    owed = [p["nik"] for p in people[:2]]
    world.verify("bkn.klien", owed)
    nip = world.tables["asn"][0]["nip"]
    stranger = people[60]["nik"]
    _upload(
        world,
        "nik,nip,status_kepegawaian,kedudukan_hukum\n"
        f"{owed[0]},{nip},PNS,AKTIF\n{stranger},{nip},PNS,AKTIF\n",
    )
    world.at(date(2024, 10, 7))  # six days: within PKS 003's seven
    with world.session() as s:
        assert feedback.purge_expired(s, world.settings, world.clock) == 0
    assert _purges(world) == []
    world.at(date(2024, 10, 9))
    with world.session() as s:
        assert feedback.purge_expired(s, world.settings, world.clock) == 2  # file + one row
    with world.session() as s:
        up = feedback.uploads(s, BKN)[0]
        assert up.content == b"" and len(up.sha256) == 64 and up.rows_total == 2
        rows = {r.line: r for r in s.scalars(select(FeedbackRow).order_by(FeedbackRow.line))}
        assert rows[3].data == {} and rows[3].code == "tidak_terutang"  # verdict kept
        assert "******" in rows[3].detail and stranger not in rows[3].detail
        assert rows[2].accepted and rows[2].data["nik"] == owed[0]  # the provider's record
        doc = agreements.document_of(agreements.get(s, BKN))
        duty = feedback.feedback_duties(doc)[0]
        view = feedback.completeness(s, world.settings, BKN, doc, duty, date(2024, 10, 9))
        assert (view.owed, view.received) == (2, 1)  # the duty stays met for that person
    found = world.call("dukcapil.admin", Mechanism.WEB_SERVICE, feedback_ops.DOWNLOAD,
                       feedback_ops.download, BKN)  # fmt: skip
    got = list(csv.DictReader(io.StringIO(found.text.split("\n", 1)[1])))
    assert [r["nik"] for r in got] == [owed[0]]
    (record,) = _purges(world)
    assert record.decision == "tindakan"
    assert json.loads(record.result) == {"berkas": 1, "baris_ditolak": 1}
    with world.session() as s:  # nothing left to purge: no second record
        assert feedback.purge_expired(s, world.settings, world.clock) == 0
        assert s.scalars(select(FeedbackUpload.content)).one() == b""
    assert len(_purges(world)) == 1
