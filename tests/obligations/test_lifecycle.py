"""Each seed agreement walked through its life on the injectable clock: signing →
implementation deadline → reports due and overdue → feedback owed and received → renewal
notice → addendum → expiry or termination → access denied, devices deactivated.
SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from simpul.access import service as access
from simpul.access.auth import authenticate_token, issue_token
from simpul.access.models import ClientToken
from simpul.access.schemas import DeviceStatus
from simpul.agreements import service as agreements
from simpul.agreements.lifecycle import State
from simpul.agreements.schemas import Mechanism
from simpul.audit.schemas import AuditEvent
from simpul.audit.service import record_in_session
from simpul.errors import SimpulError
from simpul.governance import actions as governance
from simpul.obligations import enforcement, feedback, feedback_ops, outbox, reports, service
from simpul.obligations.deadlines import Deadline, Status
from simpul.registry.repository import RegistryRepository
from tests.obligations.conftest import World
from tests.obligations.smtp_sink import SmtpSink

BKN = "pks-dukcapil-bkn"
KEMENKOP = "pks-kemenkop-bkn"
JABAR = "pks-bappenas-jabar"
KEMENSOS = "pks-kemensos-bkn"


def open_deadlines(world: World, agreement_id: str) -> list[Deadline]:
    with world.session() as s:
        return service.deadlines(
            s, world.settings, world.clock, agreement_ids=[agreement_id], include_ended=True
        )


def one(items: list[Deadline], duty: str, period: str = "") -> Deadline:
    found = [d for d in items if d.duty_id == duty and d.period == period]
    assert len(found) == 1, (duty, period, items)
    return found[0]


def csv_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def test_pks_003_dukcapil_bkn_life(world: World, tmp_path: Path) -> None:
    people = world.tables["kependudukan"]
    asn_by_nik = {a["nik"]: a for a in world.tables["asn"]}
    # Signing (28 June 2024) → the technical implementation is due within two months.
    world.at(date(2024, 7, 1))
    impl = one(open_deadlines(world, BKN), "implementasi-teknis")
    assert (impl.due_on, impl.status) == (date(2024, 8, 28), Status.AKAN_DATANG)
    world.at(date(2024, 9, 2))
    assert one(open_deadlines(world, BKN), "implementasi-teknis").status is Status.TERLAMBAT
    with world.session() as s:
        service.record_fulfilment(
            s,
            world.settings,
            world.clock,
            BKN,
            "implementasi-teknis",
            fulfilled_on=date(2024, 8, 20),
            note="BA uji koneksi",
            actor="dukcapil.admin",
        )
    assert one(open_deadlines(world, BKN), "implementasi-teknis").status is Status.DIPENUHI

    # Access in October: every NIK accessed is owed feedback within 30 days.
    world.at(date(2024, 10, 1))
    accessed = [p["nik"] for p in people[:6]] + ["3273011302900999"]  # last one not in registry
    assert all(world.verify("bkn.klien", accessed))
    world.at(date(2024, 10, 15))
    fb = one(open_deadlines(world, BKN), "data-balikan-asn")
    assert (fb.outstanding, fb.due_on, fb.status) == (7, date(2024, 10, 31), Status.SEGERA)
    world.at(date(2024, 11, 5))
    assert one(open_deadlines(world, BKN), "data-balikan-asn").status is Status.TERLAMBAT

    # Feedback upload: valid rows accepted, the rest rejected with a reason per row.
    nip = next(iter(asn_by_nik.values()))["nip"]
    header = ["NIK", "NIP", "status_kepegawaian", "kedudukan_hukum"]
    not_accessed = people[50]["nik"]
    content = csv_bytes(
        header,
        [
            [accessed[0], nip, "PNS", "AKTIF"],
            [accessed[1], nip, "PPPK", "AKTIF"],
            [accessed[2], nip, "PNS", "CLTN"],
            [not_accessed, nip, "PNS", "AKTIF"],
            [accessed[3], "12345", "PNS", "AKTIF"],
            ["12AB", nip, "PNS", "AKTIF"],
            [accessed[0], nip, "PNS", "AKTIF"],
        ],
    )
    with world.session() as s:
        result = feedback.upload(
            s,
            world.settings,
            world.clock,
            BKN,
            content,
            filename="balikan.csv",
            actor="bkn.klien",
            institution="bkn",
        )
    assert (result.rows_total, result.rows_accepted, result.rows_rejected) == (7, 3, 4)
    codes = {v.line: v.code for v in result.errors}
    assert codes == {
        5: "tidak_terutang",
        6: "nilai_tidak_valid",
        7: "nik_bukan_angka",
        8: "duplikat_dalam_berkas",
    }
    assert not_accessed not in " ".join(v.detail for v in result.errors)  # masked
    with world.session() as s:
        stored = feedback.uploads(s, BKN)
        assert stored[0].content == content  # the file is kept whole
    found = world.call("dukcapil.admin", Mechanism.WEB_SERVICE, feedback_ops.DOWNLOAD,
                       feedback_ops.download, BKN)  # fmt: skip
    source, text = found.text.split("\n", 1)
    assert source.startswith("# Sumber: Badan Kepegawaian Negara (data balikan)")
    got = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["nik"] for r in got) == sorted(accessed[:3])
    assert {r["kedudukan_hukum"] for r in got} == {"AKTIF", "CLTN"}
    fb = one(open_deadlines(world, BKN), "data-balikan-asn")
    assert fb.outstanding == 4 and fb.status is Status.TERLAMBAT

    # Notifications to the obligor's contact, delivered to a local SMTP sink, once.
    with SmtpSink() as sink:
        with world.session() as s:
            made = outbox.queue(s, world.settings, world.clock)
        assert any("Data balikan" in m.subject and m.institution == "bkn" for m in made)
        with world.session() as s:
            assert outbox.queue(s, world.settings, world.clock) == []
        smtp = outbox.SmtpSettings(host="127.0.0.1", port=sink.port, sender="simpul@hub.example")
        with world.session() as s:
            sent = outbox.deliver(s, smtp, world.clock)
    assert sent.sent == len(made) and sent.failed == 0
    mail = [m for m in sink.messages if "Data balikan" in str(m["Subject"])]
    assert mail and mail[0]["To"] == "kerja-sama@bkn.simpul.example"
    assert "4 subjek" in mail[0].get_payload()

    # Semester report 2024-S2 is overdue in January; submitted with figures from the log.
    world.at(date(2025, 1, 6))
    assert one(open_deadlines(world, BKN), "laporan-semester", "2024-S2").status is Status.TERLAMBAT
    with world.session() as s:
        rep = reports.submit_semester_report(
            s,
            world.settings,
            world.clock,
            BKN,
            2024,
            2,
            narrative="Layanan berjalan.",
            actor="bkn.admin",
            institution="bkn",
        )
    assert rep.figures["diizinkan"] == 7 and rep.figures["per_layanan"] == {"verifikasi": 7}
    done = one(open_deadlines(world, BKN), "laporan-semester", "2024-S2")
    assert done.status is Status.DIPENUHI_TERLAMBAT

    # Addendum extends the term: a further report period appears.
    world.at(date(2026, 5, 1))
    addendum = tmp_path / "adendum.yaml"
    addendum.write_text(
        "adendum: adendum-uji-2027\nperjanjian: pks-dukcapil-bkn\njudul: Adendum uji\n"
        "tanggal_tanda_tangan: 2026-05-01\nversi_dasar: 1\nalasan: Perpanjangan uji.\n"
        "perubahan:\n  jangka_waktu:\n    pasal: Pasal 5\n    berakhir: 2027-06-30\n",
        encoding="utf-8",
    )
    before = {d.period for d in open_deadlines(world, BKN) if d.duty_id == "laporan-semester"}
    with world.session() as s:
        governance.apply_addendum(s, world.settings, world.clock, addendum, actor="hub.admin")
    after = {d.period for d in open_deadlines(world, BKN) if d.duty_id == "laporan-semester"}
    assert after - before == {"2026-S2", "2027-S1"}

    # Change of the recipient's nomenclature (Pasal 6 huruf b) ends it: tokens revoked,
    # card readers deactivated at once, access refused.
    with world.session() as s:
        token = issue_token(s, "bkn.klien", world.secrets["bkn.klien"], clock=world.clock)
    world.at(date(2026, 5, 10))
    with world.session() as s:
        _, rep2 = enforcement.rename_institution(
            s,
            world.settings,
            world.clock,
            "bkn",
            "Badan Kepegawaian dan Aparatur Negara",
            actor="hub.admin",
            reason="Perpres nomenklatur baru",
        )
    # Ended with the rename itself; the next enforcement run finds nothing left to end.
    with world.session() as s:
        assert enforcement.run(s, world.settings, world.clock).terminated == []
    assert [a for a, _ in rep2.terminated] == [BKN]
    assert "Pasal 6 huruf b" in rep2.terminated[0][1]
    assert rep2.devices_deactivated == 1 and rep2.tokens_revoked >= 1
    with world.session() as s:
        assert agreements.get_agreement(s, BKN).state == State.DIAKHIRI.value
        assert access.get_device(s, "KTP-BKN-1").status is DeviceStatus.NONAKTIF
        row = s.scalars(select(ClientToken)).one()
        assert row.revoked_at is not None
        try:
            authenticate_token(s, token.access_token.get_secret_value(), clock=world.clock)
            raise AssertionError("revoked token accepted")
        except SimpulError:
            pass
    assert world.verify("bkn.klien", [people[0]["nik"]]) == [False]
    # Ended agreements no longer show among the running deadlines.
    with world.session() as s:
        running = service.deadlines(s, world.settings, world.clock, open_only=True)
    assert all(d.agreement_id != BKN for d in running)


def test_pks_004_kemenkop_life_feedback_for_found_asn_only_then_expiry(
    world: World, tmp_path: Path
) -> None:
    people = world.tables["kependudukan"]
    asn = world.tables["asn"]
    asn_niks = {a["nik"] for a in asn}
    world.at(date(2022, 10, 20))
    impl = one(open_deadlines(world, KEMENKOP), "implementasi-teknis")
    assert impl.status is Status.TERLAMBAT and impl.due_on == date(2022, 10, 12)
    world.at(date(2023, 3, 1))
    with world.session() as s:  # rows the registry accepted (the load checks TMT dates)
        loaded = RegistryRepository(s).get_many("asn", [a["nik"] for a in asn])
    found = [a["nik"] for a in asn if a["nik"] in loaded][:4]
    assert len(found) == 4
    others = [p["nik"] for p in people if p["nik"] not in asn_niks][:6]
    assert world.check_batch("kemenkop.klien", found + others)
    fb = one(open_deadlines(world, KEMENKOP), "data-balikan-asn")
    assert fb.outstanding == 4  # only confirmed ASN are owed (Pasal 3(2)d)
    by_nik = {a["nik"]: a for a in asn}
    rows = [[n, by_nik[n]["nama_lengkap"], str(by_nik[n]["tanggal_lahir"])] for n in found]
    rows.append([others[0], "X", "1990-01-01"])
    with world.session() as s:
        res = feedback.upload(
            s,
            world.settings,
            world.clock,
            KEMENKOP,
            csv_bytes(["nik", "nama_lengkap", "tanggal_lahir"], rows),
            filename="asn.csv",
            actor="kemenkop.klien",
            institution="kemenkop",
        )
    assert (res.rows_accepted, [v.code for v in res.errors]) == (4, ["tidak_terutang"])
    fb = one(open_deadlines(world, KEMENKOP), "data-balikan-asn")
    assert fb.status is Status.DIPENUHI and fb.outstanding == 0
    # Renewal notice one month before 31 December 2024.
    world.at(date(2024, 11, 15))
    renewal = one(open_deadlines(world, KEMENKOP), "pemberitahuan-perpanjangan", "2024-12-31")
    assert renewal.due_on == date(2024, 11, 30) and renewal.status is Status.SEGERA
    world.at(date(2024, 12, 5))
    renewal = one(open_deadlines(world, KEMENKOP), "pemberitahuan-perpanjangan", "2024-12-31")
    assert renewal.status is Status.TERLAMBAT
    # An addendum extends the term by six months: the renewal notice moves with it.
    addendum = tmp_path / "adendum-004.yaml"
    addendum.write_text(
        "adendum: adendum-uji-2025\nperjanjian: pks-kemenkop-bkn\njudul: Adendum uji\n"
        "tanggal_tanda_tangan: 2024-12-10\nversi_dasar: 1\nalasan: Perpanjangan uji.\n"
        "perubahan:\n  jangka_waktu:\n    pasal: Pasal 7 ayat (1)\n    berakhir: 2025-06-30\n",
        encoding="utf-8",
    )
    with world.session() as s:
        governance.apply_addendum(s, world.settings, world.clock, addendum, actor="hub.admin")
    moved = one(open_deadlines(world, KEMENKOP), "pemberitahuan-perpanjangan", "2025-06-30")
    assert moved.due_on == date(2025, 5, 30) and moved.status is Status.AKAN_DATANG
    world.at(date(2025, 1, 1))
    with world.session() as s:
        assert KEMENKOP not in enforcement.run(s, world.settings, world.clock).expired
    assert world.check_batch("kemenkop.klien", found[:1])
    # Expiry at the end of the term: recorded, tokens revoked, access denied.
    with world.session() as s:
        issue_token(s, "kemenkop.klien", world.secrets["kemenkop.klien"], clock=world.clock)
    world.at(date(2025, 7, 1))
    with world.session() as s:
        rep = enforcement.run(s, world.settings, world.clock)
    assert KEMENKOP in rep.expired and rep.tokens_revoked >= 1
    with world.session() as s:
        assert agreements.get_agreement(s, KEMENKOP).state == State.BERAKHIR.value
    assert not world.check_batch("kemenkop.klien", found[:1])


def test_pks_000_jabar_auto_suspension_on_overdue_feedback_and_expiry(world: World) -> None:
    people = world.tables["regsosek"] or world.tables["kependudukan"]
    world.at(date(2024, 2, 1))
    # BNBA look-ups through the Sepakat portal, as the disclosure service audits them.
    with world.session() as s:
        record_in_session(
            s,
            world.settings,
            AuditEvent(
                action="bnba",
                decision="izin",
                reason="ok",
                actor="jabar.pengguna",
                institution="pemprov-jabar",
                agreement_id=JABAR,
                agreement_version=1,
                grant_id="hibah-bnba-sepakat",
                service="bnba",
                mechanism="web_portal",
                dataset="regsosek",
                subjects=tuple(p["nik"] for p in people[:5]),
                result={"baris": 5},
            ),
            world.clock,
        )
    with world.session() as s:
        service.set_rule(
            s, world.settings, world.clock, JABAR, suspend_after_days=10, actor="bappenas.admin"
        )
    world.at(date(2024, 3, 5))  # due 2 March: late, within grace
    with world.session() as s:
        assert enforcement.run(s, world.settings, world.clock).suspended == []
    world.at(date(2024, 3, 20))
    with world.session() as s:
        rep = enforcement.run(s, world.settings, world.clock)
    assert [a for a, _ in rep.suspended] == [JABAR] and "5 subjek" in rep.suspended[0][1]
    with world.session() as s:
        assert agreements.get_agreement(s, JABAR).state == State.DITANGGUHKAN.value
    # Report June (semester 1) and December (semester 2); renewal notice 30 days ahead.
    items = open_deadlines(world, JABAR)
    assert one(items, "laporan-semester", "2024-S1").due_on == date(2024, 6, 30)
    assert one(items, "pemberitahuan-perpanjangan", "2025-12-14").due_on == date(2025, 11, 14)
    world.at(date(2025, 12, 15))
    with world.session() as s:
        assert JABAR in enforcement.run(s, world.settings, world.clock).expired


def test_pks_001_kemensos_evaluations_twice_a_year_and_expiry(world: World) -> None:
    world.at(date(2023, 12, 1))
    items = open_deadlines(world, KEMENSOS)
    ev = one(items, "pemantauan-evaluasi", "2023-S2")
    assert ev.due_on == date(2024, 1, 31) and ev.obligors == ("kemensos", "bkn")
    ba = one(items, "berita-acara-pemadanan", "2023-S2")
    assert ba.status is Status.AKAN_DATANG
    world.at(date(2024, 1, 10))
    with world.session() as s:
        reports.record_evaluation(
            s,
            world.settings,
            world.clock,
            KEMENSOS,
            period="2023-S2",
            findings=["Integrasi berjalan", "Selisih data 2%"],
            recommendation="perbaiki",
            evaluator="bkn.admin",
        )
    assert one(open_deadlines(world, KEMENSOS), "pemantauan-evaluasi", "2023-S2").status is (
        Status.DIPENUHI
    )
    world.at(date(2026, 3, 10))
    civil = world.tables["asn"][0]["nik"]
    assert world.check_batch("kemensos.klien", [civil])
    renewal = one(open_deadlines(world, KEMENSOS), "pemberitahuan-perpanjangan", "2026-04-02")
    assert renewal.due_on == date(2026, 3, 2) and renewal.status is Status.TERLAMBAT
    world.at(date(2026, 4, 2))  # term: three years from 3 April 2023, through 2 April 2026
    with world.session() as s:
        assert KEMENSOS not in enforcement.run(s, world.settings, world.clock).expired
    world.at(date(2026, 4, 3))
    with world.session() as s:
        assert KEMENSOS in enforcement.run(s, world.settings, world.clock).expired
    assert not world.check_batch("kemensos.klien", [civil])
