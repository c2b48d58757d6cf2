"""An injectable clock, so lifecycle and deadline logic can be tested at any date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol


def aware(value: datetime) -> datetime:
    """A stored timestamp as an aware one: SQLite returns naive datetimes for timezone-aware
    columns, and every timestamp the node stores is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Clock(Protocol):
    def now(self) -> datetime: ...

    def today(self) -> date: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().date()


class FixedClock:
    """A clock that stands still until told to move (tests, simulations)."""

    def __init__(self, at: datetime) -> None:
        self._at = at if at.tzinfo else at.replace(tzinfo=UTC)

    def now(self) -> datetime:
        return self._at

    def today(self) -> date:
        return self._at.date()

    def set(self, at: datetime) -> None:
        self._at = at if at.tzinfo else at.replace(tzinfo=UTC)

    def advance(self, delta: timedelta) -> None:
        self._at += delta
