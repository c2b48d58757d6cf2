"""The demo's weeks of past usage: real service calls at past moments, so the log tells a
true story — refused while the agreements had lapsed, served once the demo extensions took
effect, office rhythm, a chain in time order that verifies. SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from simpul.access import passwords as pw
from simpul.audit import service as audit
from simpul.config import Settings
from simpul.demo.service import build_governance, build_registries
from simpul.demo.usage import simulate_usage
from simpul.kit.clock import FixedClock
from simpul.runtime import Runtime

START = date(2026, 10, 19)  # a Monday, while the four seed agreements had lapsed
END = date(2026, 11, 13)  # the demo extensions take effect on 1 November 2026
EXTENSION = date(2026, 11, 1)
WIB = timedelta(hours=7)


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        pw, "DEFAULT", pw.Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024))
    )


def test_past_usage_tells_the_agreements_story(settings: Settings) -> None:
    clock = FixedClock(datetime.combine(START, datetime.min.time(), tzinfo=UTC))
    rt = Runtime(settings, clock=clock)
    build_registries(rt, 600, 7, say=lambda _m: None)
    build_governance(rt, say=lambda _m: None)
    outcomes = simulate_usage(rt, clock, START, END, scale=12, seed=7, say=lambda _m: None)
    assert outcomes["dilayani"] > 100 and outcomes["ditolak"] > 0

    with rt.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT seq, ts, reason, decision, mechanism, actor FROM audit_record "
                "WHERE service IS NOT NULL ORDER BY seq"
            )
        ).all()
    assert len(rows) == outcomes["dilayani"] + outcomes["ditolak"]
    stamps = [r.ts if isinstance(r.ts, datetime) else datetime.fromisoformat(r.ts) for r in rows]
    stamps = [s if s.tzinfo else s.replace(tzinfo=UTC) for s in stamps]
    assert stamps == sorted(stamps), "the chain grows in time order"
    local_days = [(s + WIB).date() for s in stamps]
    assert min(local_days) >= START and max(local_days) <= END

    before = Counter(r.reason for r, d in zip(rows, local_days, strict=True) if d < EXTENSION)
    after = Counter(r.reason for r, d in zip(rows, local_days, strict=True) if d >= EXTENSION)
    # Before the extensions every call was refused because the agreement had ended …
    assert set(before) == {"perjanjian_berakhir"}
    # … and the offices, refused, tried far less after the first day.
    first_day = sum(1 for d in local_days if d == START)
    assert sum(before.values()) < 4 * first_day
    # After: served, with the odd refusal a real log shows.
    assert after["ok"] > 0.9 * sum(after.values())
    assert {"titik_akses_tidak_sah", "layanan_tidak_diizinkan"} & set(after)
    assert {"web_service", "web_portal", "batch"} <= {r.mechanism for r in rows}

    hours = Counter((s + WIB).hour for s in stamps)
    assert set(hours) <= set(range(8, 16)), "office hours, WIB"
    weekday = Counter(d.weekday() for d, r in zip(local_days, rows, strict=True)
                      if d >= EXTENSION)  # fmt: skip
    assert weekday[5] + weekday[6] < 0.1 * sum(weekday.values())

    result = audit.verify(rt.engine, workers=1)
    assert result.ok, result.detail
    rt.close()


def test_past_usage_is_deterministic_by_seed(settings: Settings) -> None:
    def run() -> Counter[str]:
        clock = FixedClock(datetime.combine(EXTENSION, datetime.min.time(), tzinfo=UTC))
        rt = Runtime(settings, clock=clock)
        try:
            return simulate_usage(
                rt, clock, EXTENSION, EXTENSION + timedelta(days=2), scale=10, seed=5,
                say=lambda _m: None,
            )  # fmt: skip
        finally:
            rt.close()

    clock = FixedClock(datetime.combine(EXTENSION, datetime.min.time(), tzinfo=UTC))
    setup = Runtime(settings, clock=clock)
    build_registries(setup, 300, 3, say=lambda _m: None)
    build_governance(setup, say=lambda _m: None)
    setup.close()
    first, second = run(), run()
    assert first == second and first["dilayani"] > 0
