"""HTTP Basic on the web services: a password verified once is remembered for the current
governance epoch (one keyed hash instead of argon2 per call), and forgotten the moment the
password changes, the account locks or is revoked. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher

from simpul.access import passwords as pw
from simpul.access import service as access
from simpul.access.schemas import AccountCreate, Principal
from simpul.agreements import service as agreements
from simpul.config import Settings
from simpul.errors import SimpulError
from simpul.governance import actions as governance
from simpul.kernel.principals import Basic, basic_principal
from simpul.kit.clock import FixedClock
from simpul.runtime import Runtime


def _basic_principal(rt: Runtime, basic: tuple[str, str]) -> Principal:
    return basic_principal(rt, Basic(*basic))


NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ADMIN = "dukcapil.admin"


class CountingPasswords(pw.Passwords):
    def __init__(self) -> None:
        super().__init__(PasswordHasher(time_cost=1, memory_cost=8 * 1024))
        self.verifications = 0

    def verify(self, stored: str, password: str) -> bool:
        self.verifications += 1
        return super().verify(stored, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingPasswords:
    counting = CountingPasswords()
    monkeypatch.setattr(pw, "DEFAULT", counting)
    return counting


@pytest.fixture
def rt(settings: Settings, hasher: CountingPasswords) -> Iterator[tuple[Runtime, str]]:
    runtime = Runtime(settings, clock=FixedClock(NOW))
    with runtime.transaction() as s:
        access._load_seed(s, clock=runtime.clock)
        agreements.load_seed(s, actor=ADMIN, clock=runtime.clock, demo=True)
        issued = access._create_account(
            s,
            AccountCreate.model_validate(
                {"username": "bkn.pengguna", "institution": "bkn", "role": "data_user",
                 "agreement_ids": ["pks-dukcapil-bkn"]}
            ),
            actor=ADMIN,
            clock=runtime.clock,
        )  # fmt: skip
    yield runtime, issued.secret.get_secret_value()
    runtime.close()


def _code(rt: Runtime, user: str, password: str) -> str:
    with pytest.raises(SimpulError) as err:
        _basic_principal(rt, (user, password))
    assert err.value.status in (401, 429)
    return err.value.code


def test_second_call_skips_argon2(rt: tuple[Runtime, str], hasher: CountingPasswords) -> None:
    runtime, password = rt
    first = _basic_principal(runtime, ("bkn.pengguna", password))
    assert hasher.verifications == 1
    for _ in range(5):
        assert _basic_principal(runtime, ("BKN.Pengguna ", password)) == first
    assert hasher.verifications == 1
    # A wrong password is never "remembered": each attempt is checked and counted.
    assert _code(runtime, "bkn.pengguna", password + "x") == "kredensial_tidak_valid"
    assert hasher.verifications == 2


def test_a_new_password_forgets_the_old_one(rt: tuple[Runtime, str]) -> None:
    runtime, password = rt
    _basic_principal(runtime, ("bkn.pengguna", password))
    with runtime.transaction() as s:
        access._change_password(
            s, "bkn.pengguna", password, "Sandi-Baru-2026!x", clock=runtime.clock
        )
    assert _code(runtime, "bkn.pengguna", password) == "kredensial_tidak_valid"
    assert _basic_principal(runtime, ("bkn.pengguna", "Sandi-Baru-2026!x")).username == (
        "bkn.pengguna"
    )


def test_lock_out_and_revocation_end_a_remembered_password(rt: tuple[Runtime, str]) -> None:
    runtime, password = rt
    _basic_principal(runtime, ("bkn.pengguna", password))
    for _ in range(5):
        _code(runtime, "bkn.pengguna", "salah")
    # Throttled from this source: even the right password is refused until it ends.
    assert _code(runtime, "bkn.pengguna", password) == "percobaan_masuk_dibatasi"
    with runtime.transaction() as s:
        access._unlock_account(s, "bkn.pengguna", actor=ADMIN, reason="uji")
    assert _basic_principal(runtime, ("bkn.pengguna", password)).username == "bkn.pengguna"
    with runtime.transaction() as s:
        governance.revoke_account(
            s, runtime.settings, runtime.clock, "bkn.pengguna", actor=ADMIN, reason="uji"
        )
    assert _code(runtime, "bkn.pengguna", password) == "akun_dicabut"
