"""The governance memo on the web services' read path is exact: a change committed before a
read transaction starts — by a governance action or by hand-written SQL — is seen by that
transaction, and a memoised decision always equals the uncached one. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from simpul.access import service as access
from simpul.access.auth import issue_token, resolve_principal
from simpul.access.policy import AccessRequest, Decision, decide
from simpul.access.schemas import AccountCreate
from simpul.agreements import service as agreements
from simpul.agreements.schemas import Mechanism, Service
from simpul.config import Settings
from simpul.errors import SimpulError
from simpul.governance import actions as governance
from simpul.kit.clock import FixedClock
from simpul.runtime import Runtime

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ADMIN = "dukcapil.admin"
AGREEMENT = "pks-dukcapil-bkn"
REQUEST = AccessRequest(
    dataset="kependudukan",
    service=Service.VERIFIKASI,
    mechanism=Mechanism.WEB_SERVICE,
    input_elements=frozenset({"nik", "nama_lengkap"}),
    source_ip="10.20.0.5",
)


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(settings, clock=FixedClock(NOW))
    with runtime.transaction() as s:
        access._load_seed(s, clock=runtime.clock)
        agreements.load_seed(s, actor=ADMIN, clock=runtime.clock, demo=True)
        access._create_account(
            s,
            AccountCreate.model_validate(
                {"username": "bkn.klien", "institution": "bkn", "role": "data_user",
                 "kind": "client", "agreement_ids": [AGREEMENT]}
            ),
            actor=ADMIN,
            clock=runtime.clock,
        )  # fmt: skip
    yield runtime
    runtime.close()


def _token(rt: Runtime) -> str:
    with rt.transaction() as s:
        secret = governance.reset_secret(
            s, rt.settings, rt.clock, "bkn.klien", actor=ADMIN, reason="uji"
        )
        issued = issue_token(s, "bkn.klien", secret.secret.get_secret_value(), clock=rt.clock)
    return issued.access_token.get_secret_value()


def _cached_decision(rt: Runtime, token: str) -> Decision:
    with rt.read_transaction() as s:
        principal = resolve_principal(s, bearer=token, clock=rt.clock)
        return decide(s, principal, REQUEST, at=rt.clock.now())


def _uncached_decision(rt: Runtime, token: str) -> Decision:
    with rt.transaction() as s:
        principal = resolve_principal(s, bearer=token, clock=rt.clock)
        return decide(s, principal, REQUEST, at=rt.clock.now())


def test_memo_serves_repeated_calls_and_sees_a_suspension_at_once(rt: Runtime) -> None:
    token = _token(rt)
    assert _cached_decision(rt, token).allowed
    misses = rt.governance_cache.misses
    for _ in range(5):
        assert _cached_decision(rt, token).allowed
    assert rt.governance_cache.misses == misses  # served from the memo
    assert rt.governance_cache.hits > 0
    with rt.transaction() as s:
        governance.suspend_agreement(s, rt.settings, rt.clock, AGREEMENT, actor=ADMIN, reason="x")
    refused = _cached_decision(rt, token)
    assert not refused.allowed
    assert refused.reason == "perjanjian_ditangguhkan"


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("UPDATE agreement SET state = 'diakhiri' WHERE id = 'pks-dukcapil-bkn'",
         "perjanjian_diakhiri"),
        ("DELETE FROM account_agreement WHERE agreement_id = 'pks-dukcapil-bkn'",
         "akun_tanpa_perjanjian"),
        ("DELETE FROM agreement_grant WHERE agreement_id = 'pks-dukcapil-bkn'",
         "layanan_tidak_diizinkan"),
    ],
)  # fmt: skip
def test_hand_written_sql_is_seen_too(rt: Runtime, statement: str, reason: str) -> None:
    """The epoch moves by trigger, so no code path can forget to invalidate the memo."""
    token = _token(rt)
    assert _cached_decision(rt, token).allowed
    with rt.transaction() as s:
        s.execute(text(statement))
    decision = _cached_decision(rt, token)
    assert not decision.allowed
    assert decision.reason == reason == _uncached_decision(rt, token).reason


def test_revoked_token_and_account_are_refused_on_the_next_call(rt: Runtime) -> None:
    token = _token(rt)
    assert _cached_decision(rt, token).allowed
    with rt.transaction() as s:
        s.execute(text("UPDATE client_token SET revoked_at = issued_at"))  # a raw revoke
    with pytest.raises(SimpulError) as err, rt.read_transaction() as s:
        resolve_principal(s, bearer=token, clock=rt.clock)
    assert err.value.status == 401
    token = _token(rt)  # a new secret and token work again
    assert _cached_decision(rt, token).allowed
    with rt.transaction() as s:
        governance.revoke_account(s, rt.settings, rt.clock, "bkn.klien", actor=ADMIN, reason="x")
    with pytest.raises(SimpulError) as err, rt.read_transaction() as s:
        resolve_principal(s, bearer=token, clock=rt.clock)
    assert err.value.code in {"akun_dicabut", "kredensial_tidak_valid"}


def test_read_transactions_cannot_write_on_sqlite(rt: Runtime) -> None:
    if not rt.settings.effective_database_url.startswith("sqlite"):
        pytest.skip("query_only is a SQLite setting")
    with pytest.raises(Exception, match="readonly"), rt.read_transaction() as s:
        s.execute(text("UPDATE governance_epoch SET n = n + 1"))


ACTIONS = st.lists(
    st.sampled_from(["suspend", "resume", "unbind", "bind", "cidr_other", "cidr_back", "noop"]),
    min_size=1,
    max_size=6,
)


def _act(rt: Runtime, action: str) -> None:
    with rt.transaction() as s:
        try:
            if action == "suspend":
                governance.suspend_agreement(
                    s, rt.settings, rt.clock, AGREEMENT, actor=ADMIN, reason="uji"
                )
            elif action == "resume":
                governance.resume_agreement(
                    s, rt.settings, rt.clock, AGREEMENT, actor=ADMIN, reason="uji"
                )
            elif action == "unbind":
                s.execute(text("DELETE FROM account_agreement"))
            elif action == "bind":
                s.execute(
                    text(
                        "INSERT INTO account_agreement (account_id, agreement_id, bound_at, "
                        "bound_by) SELECT id, :a, created_at, 'uji' FROM account "
                        "WHERE username = 'bkn.klien' AND NOT EXISTS (SELECT 1 FROM "
                        "account_agreement WHERE agreement_id = :b)"
                    ),
                    {"a": AGREEMENT, "b": AGREEMENT},
                )
            elif action in ("cidr_other", "cidr_back"):
                cidrs = '["192.168.0.0/16"]' if action == "cidr_other" else '["10.20.0.0/24"]'
                s.execute(
                    text("UPDATE institution SET access_cidrs = :c WHERE code = 'bkn'"),
                    {"c": cidrs},
                )
        except SimpulError:
            pass  # e.g. resuming an agreement in force: refused, nothing changed


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(actions=ACTIONS)
def test_memoised_decisions_equal_uncached_ones(rt: Runtime, actions: list[str]) -> None:
    token = _token(rt)
    for action in actions:
        _cached_decision(rt, token)  # warm the memo with the state before the action
        _act(rt, action)
        cached, fresh = _cached_decision(rt, token), _uncached_decision(rt, token)
        assert (cached.allowed, cached.reason) == (fresh.allowed, fresh.reason), action
    _act(rt, "resume")
    _act(rt, "bind")
    _act(rt, "cidr_back")
