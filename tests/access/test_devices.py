"""KTP-el card readers: terdaftar → aktif ⇄ nonaktif; all off on termination (PKS 003 Ps 9)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from simpul.access import service
from simpul.access.schemas import DeviceIn
from simpul.db import transaction
from simpul.errors import SimpulError
from simpul.kit.clock import FixedClock
from tests.access.conftest import ADMIN, T0


def _register(
    db: sessionmaker[Session], clock: FixedClock, serial: str, sam: str, inst: str = "bkn"
) -> None:
    with transaction(db) as s:
        dev = service._register_device(
            s, DeviceIn(serial=serial, sam_id=sam, institution=inst), actor=ADMIN, clock=clock
        )
    assert dev.status == "terdaftar" and dev.registered_at == T0


def test_device_lifecycle(db: sessionmaker[Session], clock: FixedClock) -> None:
    _register(db, clock, "CR-0001", "SAM-A1")
    with transaction(db) as s, pytest.raises(SimpulError) as info:
        service._deactivate_device(s, "CR-0001", actor=ADMIN, reason="", clock=clock)
    assert info.value.code == "alasan_wajib"

    clock.advance(timedelta(days=1))
    with transaction(db) as s:
        on = service._activate_device(s, "CR-0001", actor="dukcapil:teknisi", clock=clock)
    assert (on.status, on.activated_at, on.activated_by) == (
        "aktif",
        T0 + timedelta(days=1),
        "dukcapil:teknisi",
    )
    with transaction(db) as s, pytest.raises(SimpulError) as info:
        service._activate_device(s, "CR-0001", actor=ADMIN, clock=clock)
    assert info.value.code == "perangkat_sudah_aktif"

    clock.advance(timedelta(days=1))
    with transaction(db) as s:
        off = service._deactivate_device(s, "CR-0001", actor=ADMIN, reason="rusak", clock=clock)
    assert (off.status, off.deactivated_at, off.deactivation_reason) == (
        "nonaktif",
        T0 + timedelta(days=2),
        "rusak",
    )
    with transaction(db) as s, pytest.raises(SimpulError) as info:
        service._deactivate_device(s, "CR-0001", actor=ADMIN, reason="lagi", clock=clock)
    assert info.value.code == "perangkat_sudah_nonaktif"

    with transaction(db) as s:
        again = service._activate_device(s, "CR-0001", actor=ADMIN, clock=clock)
        assert service.get_device(s, "CR-0001").status == "aktif"
    assert again.status == "aktif"


def test_register_refusals(db: sessionmaker[Session], clock: FixedClock) -> None:
    _register(db, clock, "CR-0001", "SAM-A1")
    for serial, sam, inst, code in [
        ("CR-0001", "SAM-B2", "bkn", "perangkat_sudah_terdaftar"),
        ("CR-0002", "SAM-A1", "bkn", "sam_sudah_terdaftar"),
        ("CR-0003", "SAM-C3", "tidak-ada", "instansi_tidak_ditemukan"),
    ]:
        with transaction(db) as s, pytest.raises(SimpulError) as info:
            service._register_device(
                s, DeviceIn(serial=serial, sam_id=sam, institution=inst), actor=ADMIN, clock=clock
            )
        assert info.value.code == code
    with transaction(db) as s, pytest.raises(SimpulError) as info:
        service._activate_device(s, "CR-9999", actor=ADMIN, clock=clock)
    assert info.value.code == "perangkat_tidak_ditemukan"


def test_termination_deactivates_every_reader_of_the_institution(
    db: sessionmaker[Session], clock: FixedClock
) -> None:
    for n in range(3):
        _register(db, clock, f"CR-BKN-{n}", f"SAM-BKN-{n}")
    _register(db, clock, "CR-KEMENSOS-1", "SAM-KS-1", inst="kemensos")
    with transaction(db) as s:
        service._activate_device(s, "CR-BKN-0", actor=ADMIN, clock=clock)
        service._activate_device(s, "CR-BKN-1", actor=ADMIN, clock=clock)
        service._deactivate_device(s, "CR-BKN-1", actor=ADMIN, reason="rusak", clock=clock)
        service._activate_device(s, "CR-KEMENSOS-1", actor=ADMIN, clock=clock)
    clock.advance(timedelta(days=7))
    with transaction(db) as s:
        changed = service._deactivate_all_for_institution(
            s, "bkn", actor=ADMIN, reason="PKS 003 berakhir (Pasal 9)", clock=clock
        )
    # The active one and the registered one; the reader already off keeps its own record.
    assert sorted(d.serial for d in changed) == ["CR-BKN-0", "CR-BKN-2"]
    with transaction(db) as s:
        devices = {d.serial: d for d in service.list_devices(s)}
        assert [d.serial for d in service.list_devices(s, institution="bkn")] == [
            "CR-BKN-0",
            "CR-BKN-1",
            "CR-BKN-2",
        ]
    assert {devices[f"CR-BKN-{n}"].status for n in range(3)} == {"nonaktif"}
    assert devices["CR-BKN-1"].deactivation_reason == "rusak"
    assert devices["CR-BKN-0"].deactivated_at == T0 + timedelta(days=7)
    assert devices["CR-KEMENSOS-1"].status == "aktif"
    with transaction(db) as s:
        assert service._deactivate_all_for_institution(s, "bkn", actor=ADMIN, reason="x") == []
