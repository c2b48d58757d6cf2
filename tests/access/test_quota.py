"""Quota windows as a client meets them, on every counter: Redis, the database (SQLite and
PostgreSQL) and the in-process one. A call takes its units from every window or from none;
no window ever lets more than its limit through; a refusal's wait is exactly when the same
call can pass."""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simpul.access.quota import (
    Counter,
    DatabaseCounter,
    MemoryCounter,
    QuotaLimiter,
    QuotaUnavailable,
    RedisCounter,
    largest_call,
)
from simpul.agreements.schemas import Quota
from tests.access.conftest import REDIS_URL
from tests.conftest import build_settings, pg_database

# 08:00:17 UTC: 43 seconds left in the minute, 16 hours in the day.
T0 = datetime(2026, 12, 7, 8, 0, 17, tzinfo=UTC)
_ids = itertools.count()


def quota(per_minute: int | None = None, per_day: int | None = None) -> Quota:
    return Quota.model_validate({"per_menit": per_minute, "per_hari": per_day})


@pytest.fixture(params=["memory", "redis", "sqlite", "postgresql"])
def counter(request: pytest.FixtureRequest, tmp_path: Path, redis_prefix: str) -> Iterator[Counter]:
    kind = request.param
    if kind == "memory":
        yield MemoryCounter()
    elif kind == "redis":
        c = RedisCounter(REDIS_URL, prefix=redis_prefix)
        yield c
        c.close()
    elif kind == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copy(template, tmp_path / "simpul.db")
        db = DatabaseCounter(build_settings(tmp_path))
        yield db
        db.close()
    else:
        with pg_database(request.getfixturevalue("pg_template")) as url:
            db = DatabaseCounter(build_settings(tmp_path, url))
            yield db
            db.close()


def account() -> str:
    return f"akun-{next(_ids)}"


def test_a_window_lets_exactly_its_limit_through_and_a_refusal_costs_nothing(
    counter: Counter,
) -> None:
    limiter, who, q = QuotaLimiter(counter), account(), quota(per_minute=10)
    assert limiter.consume(who, "pks/h1", q, T0, 4) is None
    assert limiter.consume(who, "pks/h1", q, T0, 7) == 43  # 4 + 7 > 10: until 08:01:00
    assert limiter.consume(who, "pks/h1", q, T0, 6) is None  # the refused 7 took nothing
    assert limiter.consume(who, "pks/h1", q, T0, 1) == 43
    # Another grant, another account: counted apart.
    assert limiter.consume(who, "pks/h2", q, T0, 10) is None
    assert limiter.consume(account(), "pks/h1", q, T0, 10) is None
    # The next minute starts empty.
    assert limiter.consume(who, "pks/h1", q, T0 + timedelta(seconds=43), 10) is None


def test_windows_are_taken_all_or_none_and_the_wait_is_for_the_fullest(
    counter: Counter,
) -> None:
    limiter, who = QuotaLimiter(counter), account()
    both = quota(per_minute=10, per_day=15)
    assert limiter.consume(who, "pks/h", both, T0, 10) is None
    assert limiter.consume(who, "pks/h", both, T0 + timedelta(minutes=1), 5) is None
    # The day is full: the wait runs to midnight UTC, not to the minute's end.
    later = T0 + timedelta(minutes=2)
    assert limiter.consume(who, "pks/h", both, later, 1) == (24 - 8) * 3600 - 2 * 60 - 17
    # That refusal added nothing to its minute: the minute alone still has all 10.
    assert limiter.consume(who, "pks/h", quota(per_minute=10), later, 10) is None


def test_the_wait_is_exact_after_it_the_same_call_passes(counter: Counter) -> None:
    limiter, who, q = QuotaLimiter(counter), account(), quota(per_minute=5)
    at = T0 + timedelta(microseconds=400_000)  # 08:00:17.4
    assert limiter.consume(who, "g", q, at, 5) is None
    wait = limiter.consume(who, "g", q, at, 3)
    assert wait == 43  # 42.6 s rounded up to a whole second
    assert limiter.consume(who, "g", q, at + timedelta(seconds=wait - 1), 3) == 1
    assert limiter.consume(who, "g", q, at + timedelta(seconds=wait), 3) is None


def test_the_largest_call_is_the_smallest_window() -> None:
    assert largest_call(quota(per_minute=600, per_day=100_000)) == 600
    assert largest_call(quota(per_day=5_000)) == 5_000
    assert largest_call(quota()) is None


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 50), st.integers(1, 6)),  # (seconds later, units)
        min_size=1,
        max_size=25,
    ),
    per_minute=st.integers(1, 8),
    per_day=st.integers(6, 30),
)
def test_window_accounting_matches_fixed_windows(
    counter: Counter, steps: list[tuple[int, int]], per_minute: int, per_day: int
) -> None:
    """Against a model of clock-aligned windows: the same calls pass, no minute or day
    ever holds more than its limit, and every refusal's wait is the first second at which
    the same call would pass."""
    limiter, who, q = QuotaLimiter(counter), account(), quota(per_minute, per_day)
    used: dict[tuple[str, int], int] = {}

    def fits(at: float, units: int) -> bool:
        return (
            used.get(("m", int(at // 60)), 0) + units <= per_minute
            and used.get(("d", int(at // 86_400)), 0) + units <= per_day
        )

    at = T0.timestamp()
    for later, units in steps:
        at += later
        when = datetime.fromtimestamp(at, UTC)
        units = min(units, per_minute)  # a larger call is refused up front by the policy
        wait = limiter.consume(who, "g", q, when, units)
        if fits(at, units):
            assert wait is None
            used[("m", int(at // 60))] = used.get(("m", int(at // 60)), 0) + units
            used[("d", int(at // 86_400))] = used.get(("d", int(at // 86_400)), 0) + units
        else:
            assert wait is not None
            assert fits(at + wait, units)
            assert wait == 1 or not fits(at + wait - 1, units)
    assert all(n <= (per_minute if kind == "m" else per_day) for (kind, _), n in used.items())


def test_an_unreachable_redis_refuses_at_once_and_is_not_ready() -> None:
    down = RedisCounter("redis://127.0.0.1:9/0", timeout=0.2)  # the discard port: closed
    limiter = QuotaLimiter(down)
    with pytest.raises(QuotaUnavailable):
        limiter.consume("a", "g", quota(per_minute=5), T0)
    started = time.perf_counter()
    with pytest.raises(QuotaUnavailable):  # paused after the failure: no second attempt
        limiter.consume("a", "g", quota(per_minute=5), T0)
    assert time.perf_counter() - started < 0.05
    assert not limiter.ready()
    down.close()
