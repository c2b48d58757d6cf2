"""TOTP codes (simpul.access.totp) as the verifier sees them, on both backends: a code is
good one step either side of now and never again once used, a recovery code once; the
secret is unreadable under another instance key; the CLI resets a lost factor."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import typer
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import SecretStr
from typer.testing import CliRunner

from simpul.access import totp
from simpul.access.schemas import AccountCreate
from simpul.commands.access import account_app
from simpul.config import Settings
from simpul.errors import SimpulError
from simpul.governance import actions
from simpul.kit.clock import FixedClock
from simpul.runtime import Runtime

T0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


@pytest.fixture
def enrolled(settings: Settings) -> tuple[Runtime, str, str, list[str]]:
    """A runtime whose clock stands at T0, one user enrolled at T0: (rt, id, secret, codes)."""
    rt = Runtime(settings, clock=FixedClock(T0))
    with rt.transaction() as s:
        actions.load_institutions(s, settings, rt.clock, actor="uji")
        data = AccountCreate(username="bkn.admin", institution="bkn", role="provider_admin",
                             password="Rahasia-1234")  # fmt: skip
        issued = actions.create_account(s, settings, rt.clock, data, actor="uji")
        account = issued.account
        enrolment = totp.begin(s, settings, account.id, account.username, "bkn", clock=rt.clock)
        code = totp.current_code(enrolment.secret, T0.timestamp())
        codes = actions.confirm_second_factor(s, settings, rt.clock, "bkn.admin", code)
    return rt, account.id, enrolment.secret, codes


@hsettings(max_examples=25, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(offsets=st.lists(st.integers(min_value=-3, max_value=3), min_size=1, max_size=6))
def test_a_code_is_good_one_step_either_side_and_only_once(
    enrolled: tuple[Runtime, str, str, list[str]], offsets: list[int]
) -> None:
    rt, account_id, secret, _ = enrolled
    clock = rt.clock
    assert isinstance(clock, FixedClock)
    # Each example starts a minute later than the last, past every step it used.
    with rt.transaction() as s:
        from simpul.access.repository import SecondFactorRepository

        row = SecondFactorRepository(s).get(account_id)
        assert row is not None
        start = (row.last_step + 5) * totp.INTERVAL
    clock.set(datetime.fromtimestamp(start, UTC))
    now_step = start // totp.INTERVAL
    used: set[int] = set()
    highest = 0
    for off in offsets:
        step = now_step + off
        code = totp.current_code(secret, step * totp.INTERVAL)
        with rt.transaction() as s:
            got = totp.check(s, rt.settings, account_id, code, clock=clock)
        # Good when within the drift, not used, and later than any step used before.
        expect = abs(off) <= totp.DRIFT_STEPS and step not in used and step > highest
        assert (got is totp.Used.TOTP) == expect, (off, used)
        if got is not None:
            used.add(step)
            highest = step


def test_recovery_codes_are_single_use_and_wrong_input_is_refused(
    enrolled: tuple[Runtime, str, str, list[str]],
) -> None:
    rt, account_id, _, codes = enrolled
    assert len(codes) == 10
    with rt.transaction() as s:
        for wrong in ("", "12345", "abcdefghij", "x" * 5000, codes[0] + "x"):
            assert totp.check(s, rt.settings, account_id, wrong, clock=rt.clock) is None
        assert (
            totp.check(s, rt.settings, account_id, codes[0], clock=rt.clock) is totp.Used.PEMULIHAN
        )
        assert totp.check(s, rt.settings, account_id, codes[0], clock=rt.clock) is None
        assert totp.codes_left(s, account_id) == 9
        # Not when recovery codes are not accepted (minting new codes needs the app).
        assert totp.check(s, rt.settings, account_id, codes[1], clock=rt.clock,
                          recovery=False) is None  # fmt: skip


def test_the_secret_needs_the_instance_key(enrolled: tuple[Runtime, str, str, list[str]]) -> None:
    rt, account_id, secret, _ = enrolled
    other = rt.settings.model_copy(update={"secret_key": SecretStr("kunci-instans-lain")})
    rt.clock.advance(timedelta(seconds=60))  # type: ignore[attr-defined]
    code = totp.current_code(secret, rt.clock.now().timestamp())
    with rt.transaction() as s, pytest.raises(SimpulError) as err:
        totp.check(s, other, account_id, code, clock=rt.clock)
    assert err.value.code == "faktor_kedua_tidak_terbaca"


def test_an_active_factor_is_not_replaced_without_a_reset(
    enrolled: tuple[Runtime, str, str, list[str]],
) -> None:
    rt, account_id, _, _ = enrolled
    with rt.transaction() as s, pytest.raises(SimpulError) as err:
        totp.begin(s, rt.settings, account_id, "bkn.admin", "bkn", clock=rt.clock)
    assert err.value.code == "faktor_kedua_sudah_aktif"


def test_the_cli_resets_a_lost_factor_and_records_why(
    enrolled: tuple[Runtime, str, str, list[str]],
) -> None:
    rt, account_id, _, _ = enrolled
    root = typer.Typer(pretty_exceptions_enable=False)

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = Runtime(rt.settings)
        ctx.call_on_close(ctx.obj.close)

    root.add_typer(account_app, name="account")
    runner = CliRunner()
    listed = runner.invoke(root, ["account", "list", "--json"])
    assert [a["second_factor"] for a in json.loads(listed.stdout)] == [True]
    done = runner.invoke(root, ["account", "reset-second-factor", "bkn.admin",
                                "--reason", "ponsel hilang"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "diatur ulang" in done.stdout
    with rt.transaction() as s:
        assert totp.status(s, account_id) is totp.Status.TIDAK_ADA
        assert totp.codes_left(s, account_id) == 0
    again = runner.invoke(root, ["account", "reset-second-factor", "bkn.admin",
                                 "--reason", "lagi"])  # fmt: skip
    assert isinstance(again.exception, SimpulError)
    assert again.exception.code == "faktor_kedua_tidak_ada"
    # Only for the demo world: no credentials file here.
    demo = runner.invoke(root, ["account", "demo-code", "bkn.admin"])
    assert isinstance(demo.exception, SimpulError) and demo.exception.code == "bukan_dunia_demo"
