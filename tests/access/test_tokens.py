"""Machine clients: client credentials → short-lived opaque bearer tokens; the hot path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from simpul.access import auth, service
from simpul.access import passwords as pw
from simpul.access.models import ClientToken
from simpul.config import Settings
from simpul.db import make_engine, session_factory, transaction
from simpul.errors import SimpulError
from simpul.kit.clock import FixedClock
from tests.access.conftest import ADMIN, T0, MakeAccount


def _client(make_account: MakeAccount, name: str = "bkn-siasn") -> str:
    return make_account(name, kind="client", agreement_ids=["pks-003"]).secret.get_secret_value()


def _issue(db: sessionmaker[Session], clock: FixedClock, client_id: str, secret: str) -> str:
    with transaction(db) as s:
        return auth.issue_token(s, client_id, secret, clock=clock).access_token.get_secret_value()


def _call(db: sessionmaker[Session], clock: FixedClock, token: str) -> str | None:
    """One API request authenticating with `token`: the error code, or None when allowed."""
    with transaction(db) as s:
        try:
            auth.resolve_principal(s, bearer=token, clock=clock)
        except SimpulError as exc:
            code, status = exc.code, exc.status
        else:
            return None
    assert status == 401
    return code


def test_issue_authenticate_and_expire(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    secret = _client(make_account)
    with transaction(db) as s:
        issued = auth.issue_token(s, "bkn-siasn", secret, clock=clock)
    assert issued.token_type == "Bearer"
    assert issued.expires_in == int(auth.TOKEN_TTL.total_seconds())
    assert issued.expires_at == T0 + auth.TOKEN_TTL
    token = issued.access_token.get_secret_value()
    with transaction(db) as s:
        p = auth.resolve_principal(s, bearer=token, clock=clock)
    assert (p.username, p.kind, p.role, p.institution) == (
        "bkn-siasn",
        "client",
        "data_user",
        "bkn",
    )
    assert p.agreement_ids == {"pks-003"} and p.access_cidrs == ("10.20.0.0/24",)
    assert p.token_expires_at == T0 + auth.TOKEN_TTL
    clock.advance(auth.TOKEN_TTL - timedelta(microseconds=1))
    assert _call(db, clock, token) is None
    clock.advance(timedelta(microseconds=1))
    assert _call(db, clock, token) == "token_kedaluwarsa"


def test_tokens_are_stored_only_as_sha256(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    secret = _client(make_account)
    token = _issue(db, clock, "bkn-siasn", secret)
    with transaction(db) as s:
        rows = s.execute(select(ClientToken)).scalars().all()
    assert [r.token_hash for r in rows] == [pw.digest(token)]
    stored = " ".join(str(v) for r in rows for v in vars(r).values())
    assert token not in stored and token.removeprefix("spl_at_") not in stored


def test_wrong_or_foreign_credentials_get_no_token(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    secret = _client(make_account)
    user_password = make_account("siti.bkn").secret.get_secret_value()
    for client_id, attempt in [
        ("bkn-siasn", secret[:-1] + ("A" if secret[-1] != "A" else "B")),
        ("tidak-ada", secret),
        ("siti.bkn", user_password),  # a user is not a machine client
        ("bkn-siasn", ""),
        ("\x00", secret),  # found by schemathesis: PostgreSQL refused the NUL with a 500
        ("bkn-siasn\x00", secret),
        ("\ud800", secret),
    ]:
        with transaction(db) as s, pytest.raises(SimpulError) as info:
            auth.issue_token(s, client_id, attempt, clock=clock)
        assert info.value.code == "kredensial_tidak_valid"
    with transaction(db) as s, pytest.raises(SimpulError) as info:
        auth.issue_token(s, "bkn-siasn", secret, clock=clock, ttl=timedelta(days=2))
    assert info.value.code == "masa_berlaku_tidak_valid"


def test_revoking_a_client_kills_its_tokens_on_the_very_next_call(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    secret = _client(make_account)
    tokens = [_issue(db, clock, "bkn-siasn", secret) for _ in range(3)]
    assert all(_call(db, clock, t) is None for t in tokens)
    with transaction(db) as s:
        service._revoke_account(s, "bkn-siasn", actor=ADMIN, reason="kebocoran", clock=clock)
        # Within the same unit of work too: nothing is cached.
        with pytest.raises(SimpulError) as info:
            auth.resolve_principal(s, bearer=tokens[0], clock=clock)
        assert info.value.code == "akun_dicabut"
    assert [_call(db, clock, t) for t in tokens] == ["akun_dicabut"] * 3
    with transaction(db) as s:
        live = s.execute(select(ClientToken).where(ClientToken.revoked_at.is_(None))).all()
    assert live == []
    with transaction(db) as s, pytest.raises(SimpulError) as info:
        auth.issue_token(s, "bkn-siasn", secret, clock=clock)
    assert info.value.code == "akun_dicabut"


def test_revocation_is_seen_by_another_node(
    settings: Settings, db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    """Two API nodes (two engines, two pools): a revoke on one is refused on the other."""
    token = _issue(db, clock, "bkn-siasn", _client(make_account))
    other: Engine = make_engine(settings)
    try:
        node_b = session_factory(other)
        assert _call(node_b, clock, token) is None
        with transaction(db) as s:
            service._revoke_account(s, "bkn-siasn", actor=ADMIN, reason="uji", clock=clock)
        assert _call(node_b, clock, token) == "akun_dicabut"
    finally:
        other.dispose()


def test_single_token_revocation_and_secret_reset(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    secret = _client(make_account)
    keep, drop = _issue(db, clock, "bkn-siasn", secret), _issue(db, clock, "bkn-siasn", secret)
    with transaction(db) as s:
        assert auth.revoke_token(s, drop, clock=clock)
        assert not auth.revoke_token(s, drop, clock=clock)
        assert not auth.revoke_token(s, "spl_at_tidak-pernah-ada", clock=clock)
    assert (_call(db, clock, keep), _call(db, clock, drop)) == (None, "kredensial_tidak_valid")
    with transaction(db) as s:
        new = service._reset_secret(s, "bkn-siasn", actor=ADMIN, reason="rotasi", clock=clock)
    new_secret = new.secret.get_secret_value()
    # A reset secret may be the leaked one: every token from before stops working.
    assert _call(db, clock, keep) == "kredensial_tidak_valid"
    with transaction(db) as s, pytest.raises(SimpulError):
        auth.issue_token(s, "bkn-siasn", secret, clock=clock)
    assert _call(db, clock, _issue(db, clock, "bkn-siasn", new_secret)) is None


def test_basic_auth_accepts_client_credentials_without_lockout(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    secret = _client(make_account)
    for _ in range(7):
        with transaction(db) as s, pytest.raises(SimpulError):
            auth.resolve_principal(s, basic=("bkn-siasn", "salah"), clock=clock)
    with transaction(db) as s:
        p = auth.resolve_principal(s, basic=("bkn-siasn", secret), clock=clock)
    assert p.kind == "client"
    for name in ("bkn-siasn\x00", "\ud800"):
        with transaction(db) as s, pytest.raises(SimpulError) as info:
            auth.resolve_principal(s, basic=(name, secret), clock=clock)
        assert info.value.code == "kredensial_tidak_valid"


def test_missing_or_double_credentials(db: sessionmaker[Session], clock: FixedClock) -> None:
    with transaction(db) as s:
        for kw, code in [
            ({}, "kredensial_tidak_ada"),
            ({"bearer": "a", "basic": ("b", "c")}, "kredensial_tidak_valid"),
            ({"bearer": ""}, "kredensial_tidak_valid"),
            ({"bearer": "x" * 5000}, "kredensial_tidak_valid"),
        ]:
            with pytest.raises(SimpulError) as info:
                auth.resolve_principal(s, clock=clock, **kw)  # type: ignore[arg-type]
            assert (info.value.code, info.value.status) == (code, 401)


def test_hot_path_is_one_query(
    engine: Engine, db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    _client(make_account, "bkn-lain")
    issued = make_account("bkn-siasn", kind="client", agreement_ids=["pks-003", "pks-004"])
    token = _issue(db, clock, "bkn-siasn", issued.secret.get_secret_value())
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    with transaction(db) as s:
        event.listen(engine, "before_cursor_execute", count)
        try:
            p = auth.authenticate_token(s, token, clock=clock)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert p.username == "bkn-siasn" and p.agreement_ids == {"pks-003", "pks-004"}
    assert len(statements) == 1


def test_purge_expired_tokens(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> None:
    secret = _client(make_account)
    old = _issue(db, clock, "bkn-siasn", secret)
    clock.advance(timedelta(days=2))
    fresh = _issue(db, clock, "bkn-siasn", secret)
    with transaction(db) as s:
        assert auth.purge_expired_tokens(s, clock=clock) == 1
    assert (_call(db, clock, old), _call(db, clock, fresh)) == ("kredensial_tidak_valid", None)


@pytest.fixture
def issued_tokens(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount
) -> set[str]:
    secret = _client(make_account)
    return {_issue(db, clock, "bkn-siasn", secret) for _ in range(3)}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.one_of(
        st.text(max_size=80),
        st.binary(min_size=32, max_size=32).map(lambda b: "spl_at_" + b.hex()),
        st.from_regex(r"spl_at_[A-Za-z0-9_-]{43}", fullmatch=True),
    )
)
def test_a_token_never_issued_never_authenticates(
    db: sessionmaker[Session], clock: FixedClock, issued_tokens: set[str], candidate: str
) -> None:
    if candidate in issued_tokens:
        return
    # Tamper with real tokens too: one changed character is a different token.
    for token in (candidate, next(iter(issued_tokens))[:-1] + (candidate[:1] or "~")):
        if token in issued_tokens:
            continue
        assert _call(db, clock, token) == "kredensial_tidak_valid"
