"""Every governance action writes exactly one audit record of its own (action name, actor,
decision, reason) in the caller's transaction; rolled back, neither the change nor the
record remains. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session

from simpul.access import service as access
from simpul.access.repository import AccountRepository
from simpul.access.schemas import (
    AccountCreate,
    DeviceIn,
    DeviceStatus,
    InstitutionIn,
    InstitutionUpdate,
)
from simpul.agreements import service as agreements
from simpul.agreements.loader import demo_dir
from simpul.audit import service as audit
from simpul.db import transaction
from simpul.errors import SimpulError
from simpul.governance import actions
from simpul.registry import service as registry
from simpul.registry.repository import RegistryRepository
from tests.governance.conftest import (
    ADMIN,
    DRAFT,
    EXPIRED,
    PASSWORD,
    PEOPLE,
    World,
    dump,
    records,
)
from tests.registry.builders import person, write_csv

Run = Callable[[Session, World], Any]


@dataclass(frozen=True)
class Case:
    action: str  # the audit action name expected
    run: Run
    state: Run  # what the action changes, read back; equal before and after a rollback
    actor: str = ADMIN
    reason: str | None = None  # expected in detail.alasan
    prepare: Run | None = None  # committed before the action is measured
    effects: tuple[str, ...] = ()  # further records an action may write (end effects)


def _w(s: Session, w: World) -> tuple[Session, Any, Any]:
    return s, w.settings, w.clock


def _user(spec: dict[str, Any]) -> Run:
    return lambda s, w: actions.create_account(
        *_w(s, w), AccountCreate.model_validate(spec), actor=ADMIN
    )


def _account_state(username: str) -> Run:
    def read(s: Session, _w: World) -> Any:
        acct = AccountRepository(s).by_username(username)
        if acct is None:
            return None
        bound = AccountRepository(s).agreements([acct.id]).get(acct.id, [])
        return (acct.status, acct.secret_hash, acct.failed_logins, acct.locked_until, bound)

    return read


def _device_state(serial: str) -> Run:
    def read(s: Session, _w: World) -> Any:
        try:
            return access.get_device(s, serial).status
        except SimpulError:
            return None

    return read


def _institutions(s: Session, _w: World) -> Any:
    return [(i.code, i.name, i.address, i.access_cidrs) for i in access.list_institutions(s)]


def _agreement_state(agreement_id: str) -> Run:
    def read(s: Session, _w: World) -> Any:
        try:
            row = agreements.get_agreement(s, agreement_id)
        except SimpulError:
            return None
        return (row.state, row.current_version)

    return read


def _registry_rows(s: Session, _w: World) -> Any:
    return RegistryRepository(s).count("kependudukan")


def _snapshot(_s: Session, w: World) -> Any:
    path = registry.snapshot_path(w.settings, "kependudukan")
    return path.stat().st_mtime_ns if path.exists() else None


def _new_institution_file(w: World) -> Path:
    path = w.files / "instansi.yaml"
    path.write_text(
        "institutions:\n"
        "  - code: bps\n"
        "    name: Badan Pusat Statistik\n"
        "    kind: lembaga\n"
        "    address: Jl. Dr. Sutomo 6-8, Jakarta\n"
        "    contact: {name: Pusdatin, position: Kepala, email: pusdatin@bps.example}\n"
        "    access_cidrs: [10.9.0.0/24]\n",
        encoding="utf-8",
    )
    return path


def _new_registry_file(w: World) -> Path:
    return write_csv(w.files / "tambah.csv", [person(i) for i in range(PEOPLE, PEOPLE + 3)])


def _suspend(s: Session, w: World) -> None:
    agreements.suspend(s, "pks-dukcapil-bkn", actor="uji", reason="uji", clock=w.clock)


def _sign(s: Session, w: World) -> None:
    agreements.load_files(s, [w.files / f"{DRAFT}.yaml"], actor="uji", clock=w.clock)
    agreements.sign(s, DRAFT, actor="uji", reason="uji", clock=w.clock)


def _load_draft(s: Session, w: World) -> None:
    agreements.load_files(s, [w.files / f"{DRAFT}.yaml"], actor="uji", clock=w.clock)


CASES: dict[str, Case] = {
    # -- accounts
    "akun.buat data_user": Case(
        "akun.buat",
        _user(
            {
                "username": "bkn.baru",
                "institution": "bkn",
                "role": "data_user",
                "agreement_ids": ["pks-dukcapil-bkn"],
            }
        ),
        _account_state("bkn.baru"),
    ),
    "akun.buat hub_admin": Case(
        "akun.buat",
        _user({"username": "hub.kedua", "institution": "bappenas", "role": "hub_admin"}),
        _account_state("hub.kedua"),
    ),
    "akun.buat klien": Case(
        "akun.buat",
        _user(
            {"username": "bkn.mesin", "institution": "bkn", "role": "data_user", "kind": "client"}
        ),
        _account_state("bkn.mesin"),
    ),
    "akun.buat operator": Case(
        "akun.buat",
        _user(
            {
                "username": "bkn.operator",
                "institution": "bkn",
                "role": "operator",
                "operator_of": "bkn.pengguna",
            }
        ),
        _account_state("bkn.operator"),
    ),
    "akun.cabut": Case(
        "akun.cabut",
        lambda s, w: actions.revoke_account(*_w(s, w), "bkn.klien", actor=ADMIN, reason="bocor"),
        _account_state("bkn.klien"),
        reason="bocor",
    ),
    "akun.atur_ulang_rahasia": Case(
        "akun.atur_ulang_rahasia",
        lambda s, w: actions.reset_secret(*_w(s, w), "bkn.klien", actor=ADMIN, reason="rotasi"),
        _account_state("bkn.klien"),
        reason="rotasi",
    ),
    "akun.ganti_kata_sandi": Case(
        "akun.ganti_kata_sandi",
        lambda s, w: actions.change_password(
            *_w(s, w), "bkn.pengguna", PASSWORD, "Teh-Manis-Hangat-7"
        ),
        _account_state("bkn.pengguna"),
        actor="bkn.pengguna",
        # A password cannot be changed while locked out: unlock first.
        prepare=lambda s, w: access._unlock_account(s, "bkn.pengguna", actor="uji", reason="uji"),
    ),
    "akun.buka_kunci": Case(
        "akun.buka_kunci",
        lambda s, w: actions.unlock_account(
            *_w(s, w), "bkn.pengguna", actor=ADMIN, reason="identitas diperiksa"
        ),
        _account_state("bkn.pengguna"),
        reason="identitas diperiksa",
    ),
    "akun.ikat_pks": Case(
        "akun.ikat_pks",
        lambda s, w: actions.bind_agreement(
            *_w(s, w), "bkn.klien", "pks-kemensos-bkn", actor=ADMIN, reason="PKS baru"
        ),
        _account_state("bkn.klien"),
        reason="PKS baru",
    ),
    "akun.lepas_pks": Case(
        "akun.lepas_pks",
        lambda s, w: actions.unbind_agreement(
            *_w(s, w), "bkn.klien", "pks-dukcapil-bkn", actor=ADMIN, reason="PKS berakhir"
        ),
        _account_state("bkn.klien"),
        reason="PKS berakhir",
    ),
    # -- devices
    "perangkat.daftar": Case(
        "perangkat.daftar",
        lambda s, w: actions.register_device(
            *_w(s, w), DeviceIn(serial="KTP-3", sam_id="SAM-3", institution="bkn"), actor=ADMIN
        ),
        _device_state("KTP-3"),
    ),
    "perangkat.aktifkan": Case(
        "perangkat.aktifkan",
        lambda s, w: actions.activate_device(*_w(s, w), "KTP-2", actor=ADMIN),
        _device_state("KTP-2"),
    ),
    "perangkat.nonaktifkan": Case(
        "perangkat.nonaktifkan",
        lambda s, w: actions.deactivate_device(*_w(s, w), "KTP-1", actor=ADMIN, reason="rusak"),
        _device_state("KTP-1"),
        reason="rusak",
    ),
    # -- institutions
    "instansi.buat": Case(
        "instansi.buat",
        lambda s, w: actions.create_institution(
            *_w(s, w),
            InstitutionIn.model_validate(
                {
                    "code": "bps",
                    "name": "Badan Pusat Statistik",
                    "kind": "lembaga",
                    "address": "Jakarta",
                    "contact": {"name": "A", "position": "B", "email": "a@bps.example"},
                }
            ),
            actor=ADMIN,
        ),
        _institutions,
    ),
    "instansi.muat": Case(
        "instansi.muat",
        lambda s, w: actions.load_institutions(*_w(s, w), _new_institution_file(w), actor=ADMIN),
        _institutions,
    ),
    "instansi.ubah": Case(
        "instansi.ubah",
        lambda s, w: actions.update_institution(
            *_w(s, w),
            "bkn",
            InstitutionUpdate(address="Jl. Baru 1, Jakarta"),
            actor=ADMIN,
            reason="pindah kantor",
        ),
        _institutions,
        reason="pindah kantor",
    ),
    "instansi.ubah_nama": Case(
        "instansi.ubah_nama",
        lambda s, w: actions.rename_institution(
            *_w(s, w), "kemenkop", "Kementerian UMKM", actor=ADMIN, reason="nomenklatur baru"
        ),
        _institutions,
        reason="nomenklatur baru",
    ),
    # -- agreements
    "perjanjian.muat": Case(
        "perjanjian.muat",
        lambda s, w: actions.load_agreements(*_w(s, w), [w.files / f"{DRAFT}.yaml"], actor=ADMIN),
        _agreement_state(DRAFT),
    ),
    "perjanjian.muat seed": Case(
        "perjanjian.muat",
        lambda s, w: actions.load_seed(*_w(s, w), actor=ADMIN, demo=True),
        _agreement_state(EXPIRED),  # the seed's demo addendum extends it: version 2
    ),
    "perjanjian.tandatangani": Case(
        "perjanjian.tandatangani",
        lambda s, w: actions.sign_agreement(*_w(s, w), DRAFT, actor=ADMIN, reason="diteken"),
        _agreement_state(DRAFT),
        reason="diteken",
        prepare=_load_draft,
    ),
    "perjanjian.berlakukan": Case(
        "perjanjian.berlakukan",
        lambda s, w: actions.activate_agreement(*_w(s, w), DRAFT, actor=ADMIN, reason="mulai"),
        _agreement_state(DRAFT),
        reason="mulai",
        prepare=_sign,
    ),
    "perjanjian.tangguhkan": Case(
        "perjanjian.tangguhkan",
        lambda s, w: actions.suspend_agreement(
            *_w(s, w), "pks-dukcapil-bkn", actor=ADMIN, reason="penyalahgunaan"
        ),
        _agreement_state("pks-dukcapil-bkn"),
        reason="penyalahgunaan",
    ),
    "perjanjian.lanjutkan": Case(
        "perjanjian.lanjutkan",
        lambda s, w: actions.resume_agreement(
            *_w(s, w), "pks-dukcapil-bkn", actor=ADMIN, reason="telah diperbaiki"
        ),
        _agreement_state("pks-dukcapil-bkn"),
        reason="telah diperbaiki",
        prepare=_suspend,
    ),
    "perjanjian.akhiri": Case(
        "perjanjian.akhiri",
        lambda s, w: actions.terminate_agreement(
            *_w(s, w), "pks-dukcapil-bkn", actor=ADMIN, reason="nomenklatur berubah"
        ),
        lambda s, w: (_agreement_state("pks-dukcapil-bkn")(s, w), _device_state("KTP-1")(s, w)),
        reason="nomenklatur berubah",
        effects=("perangkat.nonaktifkan",),  # PKS 003 Pasal 9
    ),
    "perjanjian.kedaluwarsa": Case(
        "perjanjian.kedaluwarsa",
        lambda s, w: actions.expire_due(*_w(s, w), actor=ADMIN),
        _agreement_state(EXPIRED),
        reason="Jangka waktu berakhir pada 2024-12-31",
        effects=("perangkat.nonaktifkan", "token.cabut"),
    ),
    "perjanjian.adendum": Case(
        "perjanjian.adendum",
        lambda s, w: actions.apply_addendum(
            *_w(s, w), demo_dir() / f"{EXPIRED}.adendum-demo.yaml", actor=ADMIN
        ),
        _agreement_state(EXPIRED),
    ),
    # -- registry
    "registri.muat": Case(
        "registri.muat",
        lambda s, w: actions.load_registry(
            *_w(s, w), "kependudukan", _new_registry_file(w), actor=ADMIN, mode="tambah"
        ),
        _registry_rows,
    ),
    "registri.snapshot": Case(
        "registri.snapshot",
        lambda s, w: actions.write_snapshot(*_w(s, w), "kependudukan", actor=ADMIN),
        _snapshot,
    ),
    # `registri.ekspor` is data-bearing, a kernel call: tests/governance/test_registry_export.py
}


class Boom(Exception):
    """Raised after an action, inside its transaction, to roll it back."""


def _prepared(world: World, case: Case) -> tuple[int, Any]:
    if case.prepare is not None:
        with transaction(world.db) as s:
            case.prepare(s, world)
    with world.db() as s:
        return len(records(world.db)), case.state(s, world)


@pytest.mark.parametrize("name", list(CASES))
def test_each_action_writes_exactly_one_record_of_its_own(world: World, name: str) -> None:
    case = CASES[name]
    before, state = _prepared(world, case)
    with transaction(world.db) as s:
        case.run(s, world)
    new = records(world.db)[before:]
    own = [r for r in new if r["action"] == case.action]
    assert len(own) == 1, new
    assert {r["action"] for r in new} - {case.action} <= set(case.effects)
    (rec,) = own
    assert (rec["decision"], rec["actor"]) == ("tindakan", case.actor)
    assert rec["reason"] == "tindakan_tata_kelola"
    assert rec["detail"].get("alasan") == case.reason
    with world.db() as s:
        assert case.state(s, world) != state, "the action changed nothing"
        assert audit.verify(s).ok


def _roll_back(world: World, case: Case) -> None:
    with transaction(world.db) as s:
        case.run(s, world)
        raise Boom


@pytest.mark.parametrize("name", list(CASES))
def test_a_rolled_back_action_leaves_neither_change_nor_record(world: World, name: str) -> None:
    case = CASES[name]
    before, state = _prepared(world, case)
    with pytest.raises(Boom):
        _roll_back(world, case)
    assert len(records(world.db)) == before
    with world.db() as s:
        assert case.state(s, world) == state
    staged = [*world.files.glob(".*tmp-*"), *world.settings.registry_dir.glob(".staging-*")]
    assert not staged, "a staged file was left behind"


@pytest.mark.parametrize(
    "name",
    ["akun.buat hub_admin", "perangkat.daftar", "akun.ikat_pks", "akun.lepas_pks",
     "akun.buka_kunci", "akun.ganti_kata_sandi"],
)  # fmt: skip
def test_regression_actions_that_wrote_no_record_now_write_one(world: World, name: str) -> None:
    """An outside test found these wrote nothing to the log."""
    case = CASES[name]
    before, _ = _prepared(world, case)
    with transaction(world.db) as s:
        case.run(s, world)
    assert [r["action"] for r in records(world.db)[before:]] == [case.action]


def test_no_secret_or_password_reaches_the_log(world: World) -> None:
    with transaction(world.db) as s:
        client = actions.create_account(
            s, world.settings, world.clock,
            AccountCreate.model_validate({"username": "bkn.mesin", "institution": "bkn",
                                          "role": "data_user", "kind": "client"}),
            actor=ADMIN,
        )  # fmt: skip
        user = actions.create_account(
            s, world.settings, world.clock,
            AccountCreate(username="bkn.orang", institution="bkn", role="data_user",
                          password=SecretStr("Rahasia-Sekali-99")),
            actor=ADMIN,
        )  # fmt: skip
        reset = actions.reset_secret(
            s, world.settings, world.clock, "bkn.klien", actor=ADMIN, reason="rotasi"
        )
        access._unlock_account(s, "bkn.pengguna", actor="uji", reason="uji")
        actions.change_password(
            s, world.settings, world.clock, "bkn.pengguna", PASSWORD, "Teh-Manis-Hangat-7"
        )
    log = dump(world.db)
    for secret in (
        client.secret.get_secret_value(),
        "Rahasia-Sekali-99",
        user.secret.get_secret_value(),
        reset.secret.get_secret_value(),
        PASSWORD,
        "Teh-Manis-Hangat-7",
    ):
        assert secret not in log
    created = [r for r in records(world.db) if r["action"] == "akun.buat"]
    assert [r["detail"]["peran"] for r in created] == ["data_user", "data_user"]


def test_termination_deactivates_the_recipients_readers(world: World) -> None:
    with transaction(world.db) as s:
        ended = actions.terminate_agreement(
            s, world.settings, world.clock, "pks-dukcapil-bkn", actor=ADMIN, reason="x"
        )
    # PKS 003 Pasal 9: on termination the recipient's card readers are deactivated.
    assert sorted(d.serial for d in ended.devices_deactivated) == ["KTP-1", "KTP-2"]
    with world.db() as s:
        assert access.get_device(s, "KTP-1").status is DeviceStatus.NONAKTIF
    got = [(r["action"], r["agreement_id"]) for r in records(world.db)]
    assert got == [
        ("perjanjian.akhiri", "pks-dukcapil-bkn"),
        ("perangkat.nonaktifkan", "pks-dukcapil-bkn"),
        ("perangkat.nonaktifkan", "pks-dukcapil-bkn"),
    ]


def test_a_refused_action_leaves_no_record(world: World) -> None:
    with transaction(world.db) as s:
        actions.terminate_agreement(
            s, world.settings, world.clock, "pks-dukcapil-bkn", actor=ADMIN, reason="uji"
        )
    before = len(records(world.db))
    with pytest.raises(SimpulError), transaction(world.db) as s:
        # A terminated agreement cannot be resumed; nothing of the attempt may remain.
        actions.resume_agreement(
            s, world.settings, world.clock, "pks-dukcapil-bkn", actor=ADMIN, reason="coba"
        )
    assert len(records(world.db)) == before
