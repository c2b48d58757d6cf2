"""A small synthetic world with the four seed PKS (no demo addenda), accounts and a card
reader, on SQLite and PostgreSQL; helpers to access data through the real services."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from argon2 import PasswordHasher

from simpul import kernel
from simpul.access import passwords as pw
from simpul.access import service as access
from simpul.access.schemas import AccountCreate, DeviceIn
from simpul.agreements import service as agreements
from simpul.agreements.lifecycle import WIB
from simpul.agreements.schemas import Mechanism
from simpul.config import Settings
from simpul.errors import SimpulError
from simpul.kernel import AccountName, Node, Origin
from simpul.kit.clock import FixedClock
from simpul.registry import service as registry
from simpul.registry.synth import generate_world
from simpul.runtime import Runtime
from simpul.services import batch, service
from simpul.services.schemas import CekStatusIn

ADMIN = "hub.admin"
IP = {
    "dukcapil": "10.10.0.5",
    "bkn": "10.20.0.5",
    "kemenkop": "10.40.0.5",
    "kemensos": "10.30.0.5",
    "pemprov-jabar": "10.50.0.5",
}
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "obligations"


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), WIB).astimezone(UTC)


@pytest.fixture(scope="module")
def world_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_world(1_500, 11, tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def tables(world_files: dict[str, Path]) -> dict[str, list[dict[str, Any]]]:
    return {k: pq.read_table(v).to_pylist() for k, v in world_files.items()}


@dataclass
class World:
    rt: Runtime
    clock: FixedClock
    settings: Settings
    tables: dict[str, list[dict[str, Any]]]
    secrets: dict[str, str]

    def at(self, day: date) -> None:
        self.clock.set(noon(day))

    def session(self) -> Any:
        return self.rt.transaction()

    def call(self, username: str, mechanism: Mechanism, action: str, op: Any, *args: Any) -> Any:
        """One operation through the kernel as `username`, from its institution's access
        point; a refusal is raised (already recorded)."""
        with self.session() as s:
            institution = access.get_account(s, username).institution
        origin = Origin(mechanism, action=action, source_ip=IP[institution], request_id="t")
        return kernel.run(Node(self.rt), AccountName(username), origin, op, *args)

    def refused(self, username: str, mechanism: Mechanism, action: str, op: Any, *args: Any) -> str:
        """The code of a refusal the call must meet."""
        try:
            self.call(username, mechanism, action, op, *args)
        except SimpulError as exc:
            return exc.code
        raise AssertionError("the call was allowed")

    def verify(self, username: str, niks: list[str]) -> list[bool]:
        """Element verification by web service (PKS 003); True where allowed."""
        out = []
        for nik in niks:
            try:
                self.call(username, Mechanism.WEB_SERVICE, "verifikasi", service.verify_elements,
                          "kependudukan", nik, {"nama_lengkap": "NAMA UJI"})  # fmt: skip
            except SimpulError:
                out.append(False)
            else:
                out.append(True)
        return out

    def check_batch(self, username: str, niks: list[str]) -> bool:
        try:
            self.call(username, Mechanism.BATCH, "cek_status", batch.check_status_batch, "asn",
                      [CekStatusIn(nik=n) for n in niks])  # fmt: skip
        except SimpulError:
            return False
        return True


@pytest.fixture
def world(
    settings: Settings,
    world_files: dict[str, Path],
    tables: dict[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    monkeypatch.setattr(
        pw, "DEFAULT", pw.Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024))
    )
    clock = FixedClock(noon(date(2022, 9, 1)))
    rt = Runtime(settings, clock=clock)
    for code, path in world_files.items():
        with rt.transaction() as s:
            registry.load_registry(s, settings, code, path, clock)
    with rt.transaction() as s:
        access._load_seed(s, clock=clock)
        agreements.load_seed(s, actor=ADMIN, clock=clock)
        specs: list[dict[str, Any]] = [
            {"username": "hub.admin", "institution": "bappenas", "role": "hub_admin"},
            {
                "username": "bkn.klien",
                "institution": "bkn",
                "role": "data_user",
                "kind": "client",
                "agreement_ids": ["pks-dukcapil-bkn"],
            },
            {
                "username": "kemenkop.klien",
                "institution": "kemenkop",
                "role": "data_user",
                "kind": "client",
                "agreement_ids": ["pks-kemenkop-bkn"],
            },
            {
                "username": "jabar.pengguna",
                "institution": "pemprov-jabar",
                "role": "data_user",
                "full_name": "Dewi Lestari",
                "agreement_ids": ["pks-bappenas-jabar"],
            },
            {
                "username": "jabar.operator",
                "institution": "pemprov-jabar",
                "role": "operator",
                "full_name": "Budi Santoso",
                "operator_of": "jabar.pengguna",
            },
            {
                "username": "kemensos.klien",
                "institution": "kemensos",
                "role": "data_user",
                "kind": "client",
                "agreement_ids": ["pks-kemensos-bkn"],
            },
            {"username": "dukcapil.admin", "institution": "dukcapil", "role": "provider_admin"},
        ]
        secrets: dict[str, str] = {}
        for spec in specs:
            issued = access._create_account(
                s, AccountCreate.model_validate(spec), actor=ADMIN, clock=clock
            )
            secrets[spec["username"]] = issued.secret.get_secret_value()
        access._register_device(
            s,
            DeviceIn(serial="KTP-BKN-1", sam_id="SAM-1", institution="bkn"),
            actor=ADMIN,
            clock=clock,
        )
        access._activate_device(s, "KTP-BKN-1", actor=ADMIN, clock=clock)
    yield World(rt, clock, settings, tables, secrets)
    rt.close()


def days(n: int) -> timedelta:
    return timedelta(days=n)
