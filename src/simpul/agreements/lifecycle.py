"""Agreement lifecycle: stored states, allowed transitions and the state in effect at a moment.

The stored state is what people decided (signed, suspended, terminated …). The *effective*
state also reads the calendar: a `berlaku` agreement before its start is not yet in force and
after its end date is `berakhir`, whether or not anyone has recorded the expiry yet.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum

from simpul.errors import Conflict

# Agreements name calendar days in Jakarta: "sampai dengan tanggal 30 Juni 2026" ends at
# midnight WIB. Indonesia has no daylight saving time, so a fixed offset is exact.
WIB = timezone(timedelta(hours=7), "WIB")


class State(StrEnum):
    DRAF = "draf"
    DITANDATANGANI = "ditandatangani"
    BERLAKU = "berlaku"
    DITANGGUHKAN = "ditangguhkan"
    BERAKHIR = "berakhir"  # the term ran out
    DIAKHIRI = "diakhiri"  # ended early (termination)


class Action(StrEnum):
    SIGN = "tandatangani"
    ACTIVATE = "berlakukan"
    SUSPEND = "tangguhkan"
    RESUME = "pulihkan"
    EXPIRE = "kedaluwarsa"
    TERMINATE = "akhiri"


TERMINAL = frozenset({State.BERAKHIR, State.DIAKHIRI})
# States a loaded document may start in (status_awal); later ones only come from actions.
INITIAL = (State.DRAF, State.DITANDATANGANI, State.BERLAKU)

TRANSITIONS: dict[tuple[State, Action], State] = {
    (State.DRAF, Action.SIGN): State.DITANDATANGANI,
    (State.DITANDATANGANI, Action.ACTIVATE): State.BERLAKU,
    (State.BERLAKU, Action.SUSPEND): State.DITANGGUHKAN,
    (State.DITANGGUHKAN, Action.RESUME): State.BERLAKU,
    (State.DITANDATANGANI, Action.EXPIRE): State.BERAKHIR,
    (State.BERLAKU, Action.EXPIRE): State.BERAKHIR,
    (State.DITANGGUHKAN, Action.EXPIRE): State.BERAKHIR,
    (State.DITANDATANGANI, Action.TERMINATE): State.DIAKHIRI,
    (State.BERLAKU, Action.TERMINATE): State.DIAKHIRI,
    (State.DITANGGUHKAN, Action.TERMINATE): State.DIAKHIRI,
}


def allowed_actions(state: State) -> list[Action]:
    return [action for (src, action) in TRANSITIONS if src is state]


def transition(state: State, action: Action) -> State:
    """The state after `action`, or a Conflict naming what is allowed from `state`."""
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        allowed = ", ".join(a.value for a in allowed_actions(state)) or "tidak ada"
        raise Conflict(
            "transisi_tidak_sah",
            f"Tindakan '{action.value}' tidak dapat dilakukan pada perjanjian berstatus "
            f"'{state.value}'. Tindakan yang sah: {allowed}.",
            state=state.value,
            action=action.value,
        ) from None


def local_date(at: datetime) -> date:
    """The calendar date in Jakarta at `at` (a naive datetime is taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(WIB).date()


def add_period(start: date, amount: int, unit: str) -> date:
    """`start` moved by a whole number of days, months or years (month end clamps)."""
    if unit == "hari":
        return start + timedelta(days=amount)
    months = amount * 12 if unit == "tahun" else amount
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def end_of_term(start: date, amount: int, unit: str) -> date:
    """Last day in force of a term of `amount unit` counted from `start` (inclusive).

    "3 (tiga) tahun terhitung sejak ditandatangani" on 3 April 2023 runs through 2 April 2026.
    """
    return add_period(start, amount, unit) - timedelta(days=1)


@dataclass(frozen=True)
class Term:
    """The dates of one agreement version that decide whether it is in force."""

    starts_on: date
    ends_on: date
    effective_from: date  # when this version (an addendum) takes over from the previous one
    version: int = 1


def effective_state(stored: State, term: Term, at: datetime) -> State:
    """The state in effect at `at`: the stored state read against the term's dates.

    A `berlaku` agreement before its start is only `ditandatangani`; once its end date has
    passed a `berlaku` or `ditangguhkan` (or never activated) agreement is `berakhir`.
    """
    if stored in TERMINAL or stored is State.DRAF:
        return stored
    today = local_date(at)
    if today > term.ends_on:
        return State.BERAKHIR
    if stored is State.BERLAKU and today < term.starts_on:
        return State.DITANDATANGANI
    return stored


def term_in_force(terms: Sequence[Term], at: datetime) -> Term:
    """The version governing `at`: the latest whose effective date has come (else the first).

    An extension signed after a lapse therefore does not rewrite the past: before its
    effective date the previous version, with its earlier end, still decides.
    """
    if not terms:
        raise ValueError("an agreement has at least one version")
    ordered = sorted(terms, key=lambda t: t.version)
    today = local_date(at)
    current = ordered[0]
    for term in ordered[1:]:
        if term.effective_from <= today:
            current = term
    return current
