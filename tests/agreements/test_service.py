"""Agreement service on SQLite and PostgreSQL: loading, effective state, addenda, governance."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from simpul.agreements import service
from simpul.agreements.lifecycle import State
from simpul.agreements.loader import AgreementFileError
from simpul.db import transaction
from simpul.errors import SimpulError
from simpul.kit.clock import FixedClock
from tests.agreements.helpers import (
    ADDENDUM,
    SEED_IDS,
    TODAY,
    line_of,
    replace_once,
    seed_text,
    today_clock,
    write,
)

ACTOR = "uji:operator"


def _states(sessions: sessionmaker[Session], at: datetime) -> dict[str, State]:
    with transaction(sessions) as s:
        return {a.id: a.effective_state for a in service.list_agreements(s, at)}


def _load_seed(sessions: sessionmaker[Session], *, demo: bool = False) -> None:
    with transaction(sessions) as s:
        service.load_seed(s, actor=ACTOR, clock=today_clock(), demo=demo)


def test_today_the_seeds_have_ended_and_the_demo_addenda_revive_them(
    sessions: sessionmaker[Session],
) -> None:
    _load_seed(sessions)
    assert _states(sessions, TODAY) == dict.fromkeys(SEED_IDS, State.BERAKHIR)
    with transaction(sessions) as s:
        assert (
            service.grants_for(s, "bkn", "kependudukan", "verifikasi", "web_service", TODAY) == []
        )
        assert service.get_agreement(s, "pks-dukcapil-bkn").state == State.BERLAKU.value

    _load_seed(sessions, demo=True)
    assert _states(sessions, TODAY) == dict.fromkeys(SEED_IDS, State.BERLAKU)
    with transaction(sessions) as s:
        rows = {a.id: a for a in service.list_agreements(s, TODAY)}
        assert all(r.version_in_force == 2 and r.demo for r in rows.values())
        assert {r.ends_on.isoformat() for r in rows.values()} == {"2027-12-31"}
        found = service.grants_for(s, "bkn", "kependudukan", "verifikasi", "web_service", TODAY)
        assert [(v.agreement_id, v.version, g.id) for v, g in found] == [
            ("pks-dukcapil-bkn", 2, "hibah-verifikasi-ws")
        ]
        # Two-way exchange: each side receives from the other.
        assert service.grants_for(s, "kemensos", "asn", "cek_status", "batch", TODAY)
        assert service.grants_for(s, "bkn", "dtks", "cek_status", "web_service", TODAY)
        # Nothing granted that the agreement does not name.
        assert service.grants_for(s, "bkn", "kependudukan", "verifikasi", "batch", TODAY) == []
        assert (
            service.grants_for(s, "kemenkop", "kependudukan", "akses_nik", "web_portal", TODAY)
            == []
        )
        # History stays visible: during the lapse version 1 governs and had ended.
        lapse = datetime(2026, 8, 1, tzinfo=UTC)
        assert service.effective_state_of(s, "pks-dukcapil-bkn", lapse) is State.BERAKHIR
        assert (
            service.grants_for(s, "bkn", "kependudukan", "verifikasi", "web_service", lapse) == []
        )
        before = datetime(2025, 1, 1, tzinfo=UTC)
        (old,) = service.grants_for(s, "bkn", "kependudukan", "verifikasi", "web_service", before)
        assert old[0].version == 1
        assert [v.version for v in service.versions(s, "pks-dukcapil-bkn")] == [1, 2]


def test_a_malformed_file_loads_nothing(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", seed_text("pks-kemenkop-bkn"))
    write(
        tmp_path,
        "b.yaml",
        replace_once(seed_text("pks-dukcapil-bkn"), "layanan: verifikasi\n", "layanan: lihat\n"),
    )
    with pytest.raises(AgreementFileError), transaction(sessions) as s:
        service.load_files(s, [tmp_path], actor=ACTOR, clock=today_clock())
    with transaction(sessions) as s:
        assert service.list_agreements(s, TODAY) == []
    # A problem found only while storing (an addendum for an agreement not loaded) comes after
    # the good agreement was written: the caller's transaction rolls it back.
    (tmp_path / "b.yaml").unlink()
    write(
        tmp_path,
        "c.yaml",
        replace_once(ADDENDUM, "perjanjian: pks-dukcapil-bkn", "perjanjian: pks-lain"),
    )
    with pytest.raises(AgreementFileError, match="belum dimuat"), transaction(sessions) as s:
        service.load_files(s, [tmp_path], actor=ACTOR, clock=today_clock())
    with transaction(sessions) as s:
        assert service.list_agreements(s, TODAY) == []


def test_reloading_is_idempotent_and_signed_text_only_changes_by_addendum(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write(tmp_path, "pks.yaml", seed_text("pks-kemenkop-bkn"))
    with transaction(sessions) as s:
        (first,) = service.load_files(s, [path], actor=ACTOR, clock=today_clock())
    with transaction(sessions) as s:
        (again,) = service.load_files(s, [path], actor=ACTOR, clock=today_clock())
    assert (first.outcome, again.outcome) == ("dimuat", "tidak_berubah")
    write(
        tmp_path,
        "pks.yaml",
        replace_once(seed_text("pks-kemenkop-bkn"), "per_menit: 600", "per_menit: 60"),
    )
    with pytest.raises(SimpulError) as info, transaction(sessions) as s:
        service.load_files(s, [path], actor=ACTOR, clock=today_clock())
    assert info.value.code == "perjanjian_sudah_ada"


def test_a_draft_is_replaced_then_signed_and_put_in_force(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    draft = replace_once(seed_text("pks-kemenkop-bkn"), "status_awal: berlaku", "status_awal: draf")
    path = write(tmp_path, "draf.yaml", draft)
    clock = FixedClock(datetime(2022, 9, 1, tzinfo=UTC))
    with transaction(sessions) as s:
        service.load_files(s, [path], actor=ACTOR, clock=clock)
    write(tmp_path, "draf.yaml", replace_once(draft, "per_menit: 600", "per_menit: 60"))
    with transaction(sessions) as s:
        (result,) = service.load_files(s, [path], actor=ACTOR, clock=clock)
        assert result.outcome == "diganti"
        with pytest.raises(SimpulError, match="transisi_tidak_sah"):
            service.activate(
                s, "pks-kemenkop-bkn", actor=ACTOR, reason="belum ditandatangani", clock=clock
            )
    clock.set(datetime(2022, 9, 12, 5, tzinfo=UTC))
    with transaction(sessions) as s:
        service.sign(s, "pks-kemenkop-bkn", actor=ACTOR, reason="ditandatangani", clock=clock)
        service.activate(s, "pks-kemenkop-bkn", actor=ACTOR, reason="mulai berlaku", clock=clock)
    with transaction(sessions) as s:
        summary = service.summary(s, "pks-kemenkop-bkn", clock.now())
        assert summary.effective_state is State.BERLAKU
        (hit,) = service.grants_for(s, "kemenkop", "asn", "cek_status", "web_service", clock.now())
        assert hit[1].quota is not None and hit[1].quota.per_minute == 60
        actions = [e.action for e in service.events(s, "pks-kemenkop-bkn")]
        assert actions == ["muat", "muat", "tandatangani", "berlakukan"]


def test_suspend_resume_terminate_persist_and_take_effect_at_once(
    sessions: sessionmaker[Session],
) -> None:
    _load_seed(sessions, demo=True)
    clock = today_clock()
    aid = "pks-dukcapil-bkn"
    with transaction(sessions) as s:
        service.suspend(s, aid, actor=ACTOR, reason="Dugaan kebocoran data", clock=clock)
    with transaction(sessions) as s:
        assert service.get_agreement(s, aid).state == State.DITANGGUHKAN.value
        assert service.effective_state_of(s, aid, TODAY) is State.DITANGGUHKAN
        assert (
            service.grants_for(s, "bkn", "kependudukan", "verifikasi", "web_service", TODAY) == []
        )
        with pytest.raises(SimpulError) as info:
            service.suspend(s, aid, actor=ACTOR, reason="lagi", clock=clock)
        assert info.value.code == "transisi_tidak_sah"
    with transaction(sessions) as s:
        service.resume(s, aid, actor=ACTOR, reason="Investigasi selesai", clock=clock)
    with transaction(sessions) as s:
        assert service.grants_for(s, "bkn", "kependudukan", "verifikasi", "web_service", TODAY)
        service.terminate(
            s, aid, actor=ACTOR, reason="Perubahan nomenklatur (Pasal 6 huruf b)", clock=clock
        )
    with transaction(sessions) as s:
        assert service.effective_state_of(s, aid, TODAY) is State.DIAKHIRI
        assert (
            service.grants_for(s, "bkn", "kependudukan", "verifikasi", "web_service", TODAY) == []
        )
        events = service.events(s, aid)
        trail = [(e.action, e.from_state, e.to_state, e.actor) for e in events[-3:]]
        assert trail == [
            ("tangguhkan", "berlaku", "ditangguhkan", ACTOR),
            ("pulihkan", "ditangguhkan", "berlaku", ACTOR),
            ("akhiri", "berlaku", "diakhiri", ACTOR),
        ]
        assert events[-1].reason == "Perubahan nomenklatur (Pasal 6 huruf b)"
        for act in (service.resume, service.suspend, service.activate):
            with pytest.raises(SimpulError, match="transisi_tidak_sah"):
                act(s, aid, actor=ACTOR, reason="coba", clock=clock)
        with pytest.raises(SimpulError) as info:
            service.suspend(s, "pks-tidak-ada", actor=ACTOR, reason="x", clock=clock)
        assert info.value.code == "perjanjian_tidak_ditemukan"
        with pytest.raises(SimpulError) as info:
            service.suspend(s, "pks-kemensos-bkn", actor=ACTOR, reason="  ", clock=clock)
        assert info.value.code == "alasan_wajib"


def test_an_ended_term_refuses_actions_and_expire_due_records_it(
    sessions: sessionmaker[Session],
) -> None:
    _load_seed(sessions)
    clock = today_clock()
    with transaction(sessions) as s:
        with pytest.raises(SimpulError) as info:
            service.suspend(s, "pks-kemenkop-bkn", actor=ACTOR, reason="x", clock=clock)
        assert info.value.code == "perjanjian_berakhir"
        assert sorted(service.expire_due(s, clock)) == list(SEED_IDS)
    with transaction(sessions) as s:
        assert {a.stored_state for a in service.list_agreements(s, TODAY)} == {State.BERAKHIR}
        assert service.expire_due(s, clock) == []
        last = service.events(s, "pks-kemenkop-bkn")[-1]
        assert (last.action, last.to_state, last.actor) == ("kedaluwarsa", "berakhir", "sistem")
        assert "2024-12-31" in last.reason
    # Once the end is recorded the agreement is closed: no extension brings it back.
    with pytest.raises(SimpulError) as info, transaction(sessions) as s:
        service.load_seed(s, actor=ACTOR, clock=clock, demo=True)
    assert info.value.code == "adendum_tidak_dapat_diterapkan"


def test_an_addendum_makes_the_next_version_and_keeps_history(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _load_seed(sessions)
    path = write(tmp_path, "adendum.yaml", ADDENDUM)
    clock = FixedClock(datetime(2026, 6, 2, tzinfo=UTC))
    with transaction(sessions) as s:
        result = service.apply_addendum_file(s, path, actor=ACTOR, clock=clock)
        assert (result.version, result.outcome) == (2, "adendum")
    with transaction(sessions) as s:
        again = service.apply_addendum_file(s, path, actor=ACTOR, clock=clock)
        assert (again.version, again.outcome) == (2, "tidak_berubah")
        v1 = service.document_of(service.get(s, "pks-dukcapil-bkn", 1))
        v2 = service.document_of(service.get(s, "pks-dukcapil-bkn"))
        assert v1.grant("hibah-ikd-ws") is not None and v2.grant("hibah-ikd-ws") is None
        assert v2.grant("hibah-verifikasi-ws").quota.per_day == 5  # type: ignore[union-attr]
        assert v1.grant("hibah-verifikasi-ws").quota.per_day == 100000  # type: ignore[union-attr]
        assert v2.ends_on.isoformat() == "2028-06-30" and v1.ends_on.isoformat() == "2026-06-30"
        row = service.get(s, "pks-dukcapil-bkn")
        assert (row.addendum_id, row.effective_from.isoformat()) == ("adendum-uji-1", "2026-06-01")
        assert row.reason == "Perpanjangan dan perubahan hibah untuk pengujian"
        in_june = datetime(2026, 6, 15, tzinfo=UTC)
        in_may = datetime(2026, 5, 15, tzinfo=UTC)
        assert service.grants_for(s, "bkn", "kependudukan", "verifikasi", "batch", in_june)
        assert service.grants_for(s, "bkn", "kependudukan", "verifikasi", "batch", in_may) == []
        assert service.grants_for(s, "bkn", "kependudukan", "akses_nik", "web_service", in_may)
        assert (
            service.grants_for(s, "bkn", "kependudukan", "akses_nik", "web_service", in_june) == []
        )
        # On 2026-11-23 the extended term keeps it in force.
        assert service.effective_state_of(s, "pks-dukcapil-bkn", TODAY) is State.BERLAKU
        assert service.events(s, "pks-dukcapil-bkn")[-1].action == "adendum"
        with pytest.raises(SimpulError) as info:
            service.get(s, "pks-dukcapil-bkn", 3)
        assert info.value.code == "versi_tidak_ditemukan"


ADDENDUM_ERRORS = [
    # (mutation of ADDENDUM, needle on the expected line, key, message part)
    (("hibah_hapus: [hibah-ikd-ws]", "hibah_hapus: [hibah-tidak-ada]"), "hibah_hapus:",
     "perubahan.hibah_hapus[0]", "'hibah-tidak-ada' tidak ada"),
    (("[nik, nama_lengkap, tanggal_lahir]", "[nik, nama]"), "elemen_masukan: [nik, nama]",
     "perubahan.hibah_tambah[0].elemen_masukan[1]", "elemen 'nama' tidak ada"),
    (("kuota: {per_hari: 5}", "kuota: {per_hari: nol}"), "kuota: {per_hari: nol}",
     "perubahan.hibah_ubah[0].kuota.per_hari", "bilangan bulat"),
    (("versi_dasar: 1", "versi_dasar: 3"), "versi_dasar: 3", "versi_dasar", "versi terkini"),
    (("perjanjian: pks-dukcapil-bkn", "perjanjian: pks-lain"), "perjanjian: pks-lain",
     "perjanjian", "belum dimuat"),
    (("    berakhir: 2028-06-30", "    berakhir: 2020-01-01"), "berakhir: 2020-01-01",
     "perubahan.jangka_waktu.berakhir", "sebelum tanggal mulai"),
    (("  hibah_hapus:", "  hibah_buang:"), "hibah_buang:", "perubahan.hibah_buang",
     "kunci tidak dikenal"),
]  # fmt: skip


def test_malformed_addenda_name_key_and_line(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _load_seed(sessions)
    clock = FixedClock(datetime(2026, 6, 2, tzinfo=UTC))
    for (old, new), needle, key, message in ADDENDUM_ERRORS:
        text = replace_once(ADDENDUM, old, new)
        path = write(tmp_path, "adendum.yaml", text)
        with pytest.raises(AgreementFileError) as info, transaction(sessions) as s:
            service.load_files(s, [path], actor=ACTOR, clock=clock)
        rendered = [str(i) for i in info.value.issues]
        expected = f"{path}:{line_of(text, needle)} {key}: "
        assert any(r.startswith(expected) and message in r for r in rendered), (key, rendered)
    with transaction(sessions) as s:
        assert service.get_agreement(s, "pks-dukcapil-bkn").current_version == 1
