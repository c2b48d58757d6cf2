"""Accounts: creation rules, password login, sign-in throttle, revocation, secrets at rest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from simpul.access import auth, service, throttle
from simpul.access import passwords as pw
from simpul.access.models import Account
from simpul.access.schemas import AccountCreate, Role
from simpul.db import transaction
from simpul.errors import SimpulError
from simpul.kit.clock import FixedClock
from tests.access.conftest import ADMIN, T0, MakeAccount


def _login(
    db: sessionmaker[Session], clock: FixedClock, username: str, password: str
) -> str | None:
    """One login as its own request; the error code or None. The unit of work commits even
    on a refusal, as the deny path does for its audit record."""
    with transaction(db) as s:
        try:
            auth.authenticate_password(s, username, password, clock=clock)
        except SimpulError as exc:
            return exc.code
    return None


def test_password_login_with_argon2(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    issued = make_account("siti.bkn", agreement_ids=["pks-003"], full_name="Siti Aminah")
    password = issued.secret.get_secret_value()
    assert issued.generated and str(issued.secret) == "**********"  # never in a repr or log
    with transaction(db) as s:
        p = auth.authenticate_password(s, "Siti.BKN ", password, clock=clock)
    assert (p.username, p.kind, p.role, p.institution) == ("siti.bkn", "user", "data_user", "bkn")
    assert p.agreement_ids == {"pks-003"}
    assert p.access_cidrs == ("10.20.0.0/24",)
    assert _login(db, clock, "siti.bkn", password + "x") == "kredensial_tidak_valid"
    # Unknown user: same code, and the same argon2 work is done (see constant-time test).
    assert _login(db, clock, "tidak.ada", password) == "kredensial_tidak_valid"
    with transaction(db) as s:
        assert service.get_account(s, "siti.bkn").last_login_at == T0


def test_unknown_user_costs_one_argon2_verification(
    db: sessionmaker[Session], clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = pw.Passwords.verify

    def counting(self: pw.Passwords, stored: str, password: str) -> bool:
        calls.append(stored[:9])
        return original(self, stored, password)

    monkeypatch.setattr(pw.Passwords, "verify", counting)
    assert _login(db, clock, "tidak.ada", "Apa-saja-123") == "kredensial_tidak_valid"
    assert calls == ["$argon2id"]


def test_secrets_are_never_stored_in_clear(
    db: sessionmaker[Session], make_account: MakeAccount
) -> None:
    user = make_account("budi.kemensos", institution="kemensos").secret.get_secret_value()
    client = make_account("kemensos-siks", institution="kemensos", kind="client")
    secret = client.secret.get_secret_value()
    with transaction(db) as s:
        stored = {u: h for u, h in s.execute(select(Account.username, Account.secret_hash))}
    assert stored["budi.kemensos"].startswith("$argon2id$")
    assert stored["kemensos-siks"] == "sha256$" + pw.digest(secret)
    for value in stored.values():
        assert user not in value and secret not in value


def _attempt(
    db: sessionmaker[Session], clock: FixedClock, username: str, password: str, source: str
) -> SimpulError | None:
    with transaction(db) as s:
        try:
            auth.authenticate_password(s, username, password, clock=clock, source=source)
        except SimpulError as exc:
            return exc
    return None


def _answer(exc: SimpulError | None) -> tuple[Any, ...] | None:
    return None if exc is None else (exc.status, exc.code, exc.detail, exc.extra)


def test_failures_throttle_only_their_source_and_the_user_elsewhere_gets_in(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    password = make_account("andi.bkn").secret.get_secret_value()
    attacker, home = "203.0.113.9", "10.20.0.5"
    for _ in range(throttle.FREE_FAILURES):
        exc = _attempt(db, clock, "andi.bkn", "Salah-sandi-123", attacker)
        assert exc is not None and exc.code == "kredensial_tidak_valid"
    # Throttled from that source: even the right password is refused there, 30 s first.
    exc = _attempt(db, clock, "andi.bkn", password, attacker)
    assert exc is not None and (exc.status, exc.code) == (429, "percobaan_masuk_dibatasi")
    assert exc.extra["coba_lagi_detik"] == 30
    # The rightful user from their own address is not locked out.
    assert _attempt(db, clock, "andi.bkn", password, home) is None
    clock.advance(throttle.BASE_DELAY)
    # The next failure from the attacker doubles the wait (exponential backoff).
    _attempt(db, clock, "andi.bkn", "Salah-sandi-123", attacker)
    exc = _attempt(db, clock, "andi.bkn", password, attacker)
    assert exc is not None and exc.extra["coba_lagi_detik"] == 60
    clock.advance(timedelta(seconds=60))
    assert _attempt(db, clock, "andi.bkn", password, attacker) is None  # success clears it
    assert _attempt(db, clock, "andi.bkn", "Salah-sandi-123", attacker).code == (  # type: ignore[union-attr]
        "kredensial_tidak_valid"
    )


def test_unknown_wrong_and_throttled_answer_alike(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    make_account("rina.bkn")
    src = "198.51.100.7"
    for name in ("rina.bkn", "tidak.ada"):
        answers = [_answer(_attempt(db, clock, name, "Salah-sandi-123", src)) for _ in range(7)]
        assert (
            answers[: throttle.FREE_FAILURES]
            == [
                (401, "kredensial_tidak_valid", answers[0][2], {})  # type: ignore[index]
            ]
            * throttle.FREE_FAILURES
        )
        assert answers[-1] is not None and answers[-1][:2] == (429, "percobaan_masuk_dibatasi")
    known = [_answer(_attempt(db, clock, "rina.bkn", "x", src)) for _ in range(2)]
    unknown = [_answer(_attempt(db, clock, "tidak.ada", "x", src)) for _ in range(2)]
    assert known == unknown


def test_the_account_wide_ceiling_spares_a_known_source(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(throttle, "ACCOUNT_CEILING", 6)
    password = make_account("tono.bkn").secret.get_secret_value()
    assert _attempt(db, clock, "tono.bkn", password, "10.20.0.5") is None  # a known source
    for i in range(6):  # a guessing attack spread over many sources
        _attempt(db, clock, "tono.bkn", "Salah-sandi-123", f"203.0.113.{i}")
    exc = _attempt(db, clock, "tono.bkn", password, "198.51.100.1")
    assert exc is not None and exc.code == "percobaan_masuk_dibatasi"
    assert _attempt(db, clock, "tono.bkn", password, "10.20.0.5") is None


def test_reset_secret_and_unlock(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    old = make_account("dewi.bkn").secret.get_secret_value()
    with transaction(db) as s:
        new = service._reset_secret(s, "dewi.bkn", actor=ADMIN, reason="lupa", clock=clock)
    assert _login(db, clock, "dewi.bkn", old) == "kredensial_tidak_valid"
    assert _login(db, clock, "dewi.bkn", new.secret.get_secret_value()) is None
    for _ in range(throttle.FREE_FAILURES):
        _login(db, clock, "dewi.bkn", "Salah-sandi-123")
    assert _login(db, clock, "dewi.bkn", new.secret.get_secret_value()) == (
        "percobaan_masuk_dibatasi"
    )
    with transaction(db) as s:
        _, lifted = service._unlock_account(
            s, "dewi.bkn", actor=ADMIN, reason="identitas diperiksa"
        )
    assert lifted == 2  # the source's pair and the account-wide count
    assert _login(db, clock, "dewi.bkn", new.secret.get_secret_value()) is None


def test_change_password_applies_the_policy(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    old = make_account("yusuf.bkn").secret.get_secret_value()
    with transaction(db) as s, pytest.raises(SimpulError) as info:
        service._change_password(s, "yusuf.bkn", old, "pendek", clock=clock)
    assert info.value.code == "kata_sandi_lemah"
    with transaction(db) as s:
        service._change_password(s, "yusuf.bkn", old, "Kopi-Tubruk-2025", clock=clock)
    assert _login(db, clock, "yusuf.bkn", "Kopi-Tubruk-2025") is None
    assert _login(db, clock, "yusuf.bkn", old) == "kredensial_tidak_valid"


def test_rehash_on_login_when_parameters_change(
    db: sessionmaker[Session],
    clock: FixedClock,
    make_account: MakeAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from argon2 import PasswordHasher

    password = make_account("eko.bkn").secret.get_secret_value()
    with transaction(db) as s:
        before = s.execute(select(Account.secret_hash)).scalar_one()
    stronger = pw.Passwords(PasswordHasher(time_cost=2, memory_cost=8 * 1024, parallelism=1))
    monkeypatch.setattr(pw, "DEFAULT", stronger)
    assert _login(db, clock, "eko.bkn", password) is None
    with transaction(db) as s:
        after = s.execute(select(Account.secret_hash)).scalar_one()
    assert after != before and "t=2" in after and "t=1" in before
    assert _login(db, clock, "eko.bkn", password) is None


def test_chosen_password_must_meet_the_policy(make_account: MakeAccount) -> None:
    with pytest.raises(SimpulError) as info:
        make_account("fajar.bkn", password=SecretStr("fajar.bkn-Rahasia"))
    assert info.value.code == "kata_sandi_lemah"
    issued = make_account("fajar.bkn", password=SecretStr("Rahasia-Negara-9"))
    assert not issued.generated


def test_operator_binding_rules(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    make_account("dina.jabar", institution="pemprov-jabar", agreement_ids=["pks-000-jabar"])
    make_account("admin.jabar", institution="pemprov-jabar", role="recipient_admin")
    make_account("dina.bkn", institution="bkn")

    def refused(**kw: object) -> str:
        with pytest.raises(SimpulError) as info:
            make_account("opr.jabar", institution="pemprov-jabar", role="operator", **kw)
        return info.value.code

    assert refused() == "operator_wajib_pengguna_data"
    assert refused(operator_of="tidak.ada") == "pengguna_data_tidak_ditemukan"
    assert refused(operator_of="admin.jabar") == "operator_bukan_untuk_pengguna_data"
    assert refused(operator_of="dina.bkn") == "operator_beda_instansi"
    assert refused(operator_of="dina.jabar", kind="client") == "operator_harus_pengguna"
    assert refused(operator_of="dina.jabar", agreement_ids=["x"]) == "operator_tidak_diikat_pks"
    with pytest.raises(SimpulError) as info:
        make_account("lain.jabar", institution="pemprov-jabar", operator_of="dina.jabar")
    assert info.value.code == "operator_of_hanya_untuk_operator"

    op = make_account(
        "opr.jabar", institution="pemprov-jabar", role="operator", operator_of="dina.jabar"
    )
    assert op.account.operator_of == "dina.jabar"
    password = op.secret.get_secret_value()
    with transaction(db) as s:
        p = auth.authenticate_password(s, "opr.jabar", password, clock=clock)
        # The operator acts under its data user's agreements, read at every call.
        service._bind_agreement(s, "dina.jabar", "pks-000-jabar-adendum-1", actor=ADMIN)
        with pytest.raises(SimpulError) as info:
            service._bind_agreement(s, "opr.jabar", "x", actor=ADMIN)
        assert info.value.code == "operator_tidak_diikat_pks"
    assert p.on_behalf_of == "dina.jabar"
    assert p.agreement_ids == {"pks-000-jabar"}
    with transaction(db) as s:
        p = auth.authenticate_password(s, "opr.jabar", password, clock=clock)
    assert p.agreement_ids == {"pks-000-jabar", "pks-000-jabar-adendum-1"}

    with transaction(db) as s:
        service._revoke_account(s, "dina.jabar", actor=ADMIN, reason="mutasi", clock=clock)
    # Revoking the data user stops its operator on the next call; a new operator is refused.
    assert _login(db, clock, "opr.jabar", password) == "akun_dicabut"
    with pytest.raises(SimpulError) as info:
        make_account(
            "opr2.jabar", institution="pemprov-jabar", role="operator", operator_of="dina.jabar"
        )
    assert info.value.code == "pengguna_data_dicabut"


def test_revocation_is_immediate_for_passwords(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    password = make_account("tono.bkn").secret.get_secret_value()
    assert _login(db, clock, "tono.bkn", password) is None
    with transaction(db) as s:
        revoked = service._revoke_account(s, "tono.bkn", actor=ADMIN, reason="pensiun", clock=clock)
    assert (revoked.status, revoked.revoked_at, revoked.revoke_reason) == ("dicabut", T0, "pensiun")
    assert _login(db, clock, "tono.bkn", password) == "akun_dicabut"
    # A wrong password on a revoked account says nothing about the account's state.
    assert _login(db, clock, "tono.bkn", "Salah-sandi-123") == "kredensial_tidak_valid"
    with transaction(db) as s:
        actions: list[tuple[Callable[[], object], str]] = [
            (
                lambda: service._revoke_account(s, "tono.bkn", actor=ADMIN, reason="x"),
                "akun_sudah_dicabut",
            ),
            # An action on an account already revoked (409), not a revoked caller (401).
            (
                lambda: service._reset_secret(s, "tono.bkn", actor=ADMIN, reason="x"),
                "akun_sudah_dicabut",
            ),
            (
                lambda: service._revoke_account(s, "tono.bkn", actor=ADMIN, reason=""),
                "alasan_wajib",
            ),
        ]
        for action, code in actions:
            with pytest.raises(SimpulError) as info:
                action()
            assert info.value.code == code


def test_create_refusals_and_listing(db: sessionmaker[Session], make_account: MakeAccount) -> None:
    make_account("sari.bkn", agreement_ids=["pks-003", "pks-003", "pks-004"])
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"username": "sari.bkn"}, "user_id_sudah_ada"),
        ({"username": "baru.x", "institution": "tidak-ada"}, "instansi_tidak_ditemukan"),
        (
            {"username": "klien.x", "kind": "client", "password": SecretStr("Rahasia-Negara-9")},
            "rahasia_klien_dibangkitkan",
        ),
    ]
    for kw, code in refusals:
        with pytest.raises(SimpulError) as info:
            make_account(**kw)
        assert info.value.code == code
    with pytest.raises(ValueError, match="User ID"):
        AccountCreate(username="a b", institution="bkn", role=Role.DATA_USER)
    make_account("auditor.hub", institution="dukcapil", role="auditor")
    with transaction(db) as s:
        listed = {a.username: a for a in service.list_accounts(s)}
        bkn_only = service.list_accounts(s, institution="bkn")
        assert service.accounts_for_agreement(s, "pks-004") == ["sari.bkn"]
    assert listed["sari.bkn"].agreement_ids == ["pks-003", "pks-004"]
    assert [a.username for a in bkn_only] == ["sari.bkn"]
    with transaction(db) as s:
        service._unbind_agreement(s, "sari.bkn", "pks-004", actor=ADMIN, reason="PKS berakhir")
        assert service.get_account(s, "sari.bkn").agreement_ids == ["pks-003"]
        with pytest.raises(SimpulError) as info:
            service._unbind_agreement(s, "sari.bkn", "pks-004", actor=ADMIN, reason="lagi")
        assert info.value.code == "ikatan_pks_tidak_ada"
