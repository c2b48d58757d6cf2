"""Governance actions write their own audit record, with the reason, in the same
transaction: both commit or neither does. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from simpul.access import service as access
from simpul.access.schemas import AccountCreate, DeviceIn, DeviceStatus
from simpul.agreements import service as agreements
from simpul.audit import service as audit
from simpul.config import Settings
from simpul.db import transaction
from simpul.errors import SimpulError
from simpul.governance import service as governance
from simpul.kit.clock import FixedClock

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ADMIN = "dukcapil.admin"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def db(sessions: sessionmaker[Session], clock: FixedClock) -> sessionmaker[Session]:
    with transaction(sessions) as s:
        access._load_seed(s, clock=clock)
        agreements.load_seed(s, actor=ADMIN, clock=clock, demo=True)
        access._create_account(
            s,
            AccountCreate.model_validate(
                {"username": "bkn.klien", "institution": "bkn", "role": "data_user",
                 "kind": "client", "agreement_ids": ["pks-dukcapil-bkn"]}
            ),
            actor=ADMIN,
            clock=clock,
        )  # fmt: skip
        access._register_device(
            s, DeviceIn(serial="KTP-1", sam_id="SAM-1", institution="bkn"), actor=ADMIN,
            clock=clock,
        )  # fmt: skip
        access._activate_device(s, "KTP-1", actor=ADMIN, clock=clock)
    return sessions


def records(db: sessionmaker[Session]) -> list[dict[str, object]]:
    with db() as s:
        rows = s.execute(
            text(
                "select action, decision, reason, actor, institution, agreement_id, "
                "agreement_version, detail from audit_record order by seq"
            )
        ).mappings()
        return [{**r, "detail": json.loads(r["detail"])} for r in rows]


def test_each_action_is_audited_with_actor_and_reason(
    db: sessionmaker[Session], settings: Settings, clock: FixedClock
) -> None:
    with transaction(db) as s:
        governance.suspend_agreement(
            s, settings, clock, "pks-dukcapil-bkn", actor=ADMIN, reason="penyalahgunaan"
        )
    with transaction(db) as s:
        governance.resume_agreement(
            s, settings, clock, "pks-dukcapil-bkn", actor=ADMIN, reason="telah diperbaiki"
        )
    with transaction(db) as s:
        governance.revoke_account(s, settings, clock, "bkn.klien", actor=ADMIN, reason="bocor")
    with transaction(db) as s:
        ended = governance.terminate_agreement(
            s, settings, clock, "pks-dukcapil-bkn", actor=ADMIN, reason="nomenklatur berubah"
        )
    # PKS 003 Pasal 9: on termination the recipient's card readers are deactivated.
    assert [d.serial for d in ended.devices_deactivated] == ["KTP-1"]
    with db() as s:
        assert access.get_device(s, "KTP-1").status is DeviceStatus.NONAKTIF

    got = [(r["action"], r["decision"], r["actor"], r["detail"].get("alasan")) for r in records(db)]
    assert got == [
        ("perjanjian.tangguhkan", "tindakan", ADMIN, "penyalahgunaan"),
        ("perjanjian.lanjutkan", "tindakan", ADMIN, "telah diperbaiki"),
        ("akun.cabut", "tindakan", ADMIN, "bocor"),
        ("perjanjian.akhiri", "tindakan", ADMIN, "nomenklatur berubah"),
        ("perangkat.nonaktifkan", "tindakan", ADMIN, "nomenklatur berubah"),
    ]
    first = records(db)[0]
    assert (first["agreement_id"], first["agreement_version"]) == ("pks-dukcapil-bkn", 2)
    with db() as s:
        assert audit.verify(s).ok


def test_a_failed_action_leaves_no_audit_record(
    db: sessionmaker[Session], settings: Settings, clock: FixedClock
) -> None:
    with transaction(db) as s:
        governance.terminate_agreement(
            s, settings, clock, "pks-kemenkop-bkn", actor=ADMIN, reason="uji"
        )
    before = len(records(db))
    with pytest.raises(SimpulError), transaction(db) as s:
        # A terminated agreement cannot be resumed; nothing of the attempt may remain.
        governance.resume_agreement(
            s, settings, clock, "pks-kemenkop-bkn", actor=ADMIN, reason="coba"
        )
    assert len(records(db)) == before
