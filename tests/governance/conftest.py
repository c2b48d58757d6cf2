"""A small governed world for the governance-action tests, built with the capabilities'
internal functions so that it holds no audit record: every record a test sees is its own."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from simpul.access import passwords as pw
from simpul.access import service as access
from simpul.access.models import Account
from simpul.access.repository import AccountRepository
from simpul.access.schemas import AccountCreate, DeviceIn
from simpul.agreements import service as agreements
from simpul.agreements.loader import demo_dir, seed_dir
from simpul.config import Settings
from simpul.db import transaction
from simpul.kit.clock import FixedClock
from simpul.registry import service as registry
from tests.agreements.helpers import replace_once, seed_text, write
from tests.registry.builders import person, write_csv

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ADMIN = "dukcapil.admin"
PASSWORD = "Kopi-Tubruk-2025"  # bkn.pengguna's password
PEOPLE = 5  # kendudukan rows loaded into the world
# The Kemenkop PKS keeps its expired term (its demo addendum is left for the addendum test).
EXPIRED = "pks-kemenkop-bkn"
DRAFT = "pks-uji-draf"


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        pw, "DEFAULT", pw.Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024))
    )


@dataclass
class World:
    db: sessionmaker[Session]
    settings: Settings
    clock: FixedClock
    files: Path  # a folder with the draft agreement, the unapplied addendum, a registry CSV


def _account(s: Session, clock: FixedClock, **spec: Any) -> str:
    issued = access._create_account(s, AccountCreate.model_validate(spec), actor="uji", clock=clock)
    return issued.secret.get_secret_value()


@pytest.fixture
def world(sessions: sessionmaker[Session], settings: Settings, tmp_path: Path) -> World:
    clock = FixedClock(NOW)
    files = tmp_path / "berkas"
    files.mkdir()
    draft = seed_text("pks-kemenkop-bkn")
    for old, new in (
        ("id: pks-kemenkop-bkn", f"id: {DRAFT}"),
        ("status_awal: berlaku", "status_awal: draf"),
        ("berakhir: 2024-12-31", "berakhir: 2028-12-31"),
    ):
        draft = replace_once(draft, old, new)
    write(files, f"{DRAFT}.yaml", draft)
    addenda = [p for p in sorted(demo_dir().glob("*.yaml")) if not p.name.startswith(EXPIRED)]
    people = write_csv(files / "kependudukan.csv", [person(i) for i in range(PEOPLE)])
    with transaction(sessions) as s:
        access._load_seed(s, clock=clock)
        agreements.load_files(s, [seed_dir(), *addenda], actor="uji", clock=clock)
        _account(s, clock, username="bkn.klien", institution="bkn", role="data_user",
                 kind="client", agreement_ids=["pks-dukcapil-bkn"])  # fmt: skip
        _account(s, clock, username="bkn.pengguna", institution="bkn", role="data_user",
                 password=PASSWORD, agreement_ids=["pks-dukcapil-bkn"])  # fmt: skip
        _account(s, clock, username=ADMIN, institution="dukcapil", role="provider_admin")
        _account(s, clock, username="bkn.admin", institution="bkn", role="provider_admin")
        _account(s, clock, username="bkn.admin-penerima", institution="bkn",
                 role="recipient_admin")  # fmt: skip
        _account(s, clock, username="dukcapil.auditor", institution="dukcapil", role="auditor")
        _account(s, clock, username="hub.admin", institution="bappenas", role="hub_admin")
        access._register_device(
            s, DeviceIn(serial="KTP-1", sam_id="SAM-1", institution="bkn"), actor="uji",
            clock=clock,
        )  # fmt: skip
        access._activate_device(s, "KTP-1", actor="uji", clock=clock)
        access._register_device(
            s, DeviceIn(serial="KTP-2", sam_id="SAM-2", institution="bkn"), actor="uji",
            clock=clock,
        )  # fmt: skip
    with transaction(sessions) as s:
        # A locked account, for unlock.
        acct = AccountRepository(s).by_username("bkn.pengguna")
        assert isinstance(acct, Account)
        acct.failed_logins = 5
        acct.locked_until = NOW + timedelta(minutes=15)
        registry.load_registry(s, settings, "kependudukan", people, clock)
    return World(sessions, settings, clock, files)


def records(db: sessionmaker[Session]) -> list[dict[str, Any]]:
    """Every audit record, oldest first, with its detail and result decoded."""
    with db() as s:
        rows = s.execute(
            text(
                "select seq, action, decision, reason, actor, institution, agreement_id, "
                "agreement_version, dataset, subject_count, result, detail from audit_record "
                "order by seq"
            )
        ).mappings()
        return [
            {**r, "detail": json.loads(r["detail"]), "result": json.loads(r["result"])}
            for r in rows
        ]


def dump(db: sessionmaker[Session]) -> str:
    """The whole log as text, to look for what must never be in it."""
    with db() as s:
        rows = s.execute(text("select * from audit_record")).all()
    return " ".join(str(v) for r in rows for v in r)
