"""Card-reader actions (PKS 003 Pasal 2(1)g-h): register, activate, deactivate."""

from __future__ import annotations

from sqlalchemy.orm import Session

from simpul.access import service as access
from simpul.access.schemas import DeviceIn, DeviceOut
from simpul.config import Settings
from simpul.governance.actions._audit import audit
from simpul.kit.clock import Clock


def register_device(
    session: Session, settings: Settings, clock: Clock, data: DeviceIn, *, actor: str
) -> DeviceOut:
    dev = access._register_device(session, data, actor=actor, clock=clock)
    audit(
        session, settings, clock, "perangkat.daftar", actor, None, institution=dev.institution,
        detail={"perangkat": dev.serial, "sam": dev.sam_id},
    )  # fmt: skip
    return dev


def activate_device(
    session: Session, settings: Settings, clock: Clock, serial: str, *, actor: str,
    reason: str | None = None,
) -> DeviceOut:  # fmt: skip
    dev = access._activate_device(session, serial, actor=actor, clock=clock)
    audit(
        session, settings, clock, "perangkat.aktifkan", actor, reason,
        institution=dev.institution, detail={"perangkat": dev.serial},
    )  # fmt: skip
    return dev


def deactivate_device(
    session: Session, settings: Settings, clock: Clock, serial: str, *, actor: str,
    reason: str,
) -> DeviceOut:  # fmt: skip
    dev = access._deactivate_device(session, serial, actor=actor, reason=reason, clock=clock)
    audit(
        session, settings, clock, "perangkat.nonaktifkan", actor, reason,
        institution=dev.institution, detail={"perangkat": dev.serial},
    )  # fmt: skip
    return dev
