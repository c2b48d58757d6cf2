"""The lifecycle state machine and the effective state at a moment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simpul.agreements.lifecycle import (
    INITIAL,
    TERMINAL,
    TRANSITIONS,
    WIB,
    Action,
    State,
    Term,
    add_period,
    effective_state,
    end_of_term,
    term_in_force,
    transition,
)
from simpul.errors import SimpulError


@pytest.mark.parametrize(
    ("state", "action", "expected"),
    [
        (State.DRAF, Action.SIGN, State.DITANDATANGANI),
        (State.DITANDATANGANI, Action.ACTIVATE, State.BERLAKU),
        (State.BERLAKU, Action.SUSPEND, State.DITANGGUHKAN),
        (State.DITANGGUHKAN, Action.RESUME, State.BERLAKU),
        (State.BERLAKU, Action.EXPIRE, State.BERAKHIR),
        (State.DITANGGUHKAN, Action.TERMINATE, State.DIAKHIRI),
        (State.BERLAKU, Action.TERMINATE, State.DIAKHIRI),
    ],
)
def test_allowed_transitions(state: State, action: Action, expected: State) -> None:
    assert transition(state, action) is expected


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (State.DRAF, Action.ACTIVATE),  # must be signed first
        (State.DRAF, Action.TERMINATE),
        (State.BERLAKU, Action.RESUME),
        (State.BERLAKU, Action.SIGN),
        (State.DITANGGUHKAN, Action.SUSPEND),
        (State.BERAKHIR, Action.RESUME),
        (State.DIAKHIRI, Action.ACTIVATE),
        (State.DIAKHIRI, Action.TERMINATE),
    ],
)
def test_forbidden_transitions_raise_a_coded_conflict(state: State, action: Action) -> None:
    with pytest.raises(SimpulError) as info:
        transition(state, action)
    assert info.value.code == "transisi_tidak_sah"
    assert info.value.status == 409
    assert state.value in info.value.detail


@given(start=st.sampled_from(INITIAL), actions=st.lists(st.sampled_from(Action), max_size=30))
def test_no_sequence_of_actions_leaves_the_machine_or_revives_an_ended_agreement(
    start: State, actions: list[Action]
) -> None:
    state, ended = start, False
    for action in actions:
        if (state, action) in TRANSITIONS:
            state = transition(state, action)
        else:
            with pytest.raises(SimpulError, match="transisi_tidak_sah"):
                transition(state, action)
        assert state in State
        if ended:
            assert state in TERMINAL  # berakhir/diakhiri never return to berlaku (or anything)
        ended = ended or state in TERMINAL


TERM = Term(
    starts_on=date(2024, 6, 28), ends_on=date(2026, 6, 30), effective_from=date(2024, 6, 28)
)


def _wib(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=WIB)


def test_effective_state_reads_the_calendar_in_jakarta() -> None:
    assert effective_state(State.BERLAKU, TERM, _wib(2025, 1, 1)) is State.BERLAKU
    # The last day is in force until midnight WIB (17:00 UTC).
    assert effective_state(State.BERLAKU, TERM, _wib(2026, 6, 30, 23, 59)) is State.BERLAKU
    assert effective_state(State.BERLAKU, TERM, _wib(2026, 7, 1, 0, 0)) is State.BERAKHIR
    assert (
        effective_state(State.BERLAKU, TERM, datetime(2026, 6, 30, 17, tzinfo=UTC))
        is State.BERAKHIR
    )
    # Before its start a `berlaku` agreement is not in force.
    assert effective_state(State.BERLAKU, TERM, _wib(2024, 6, 27)) is State.DITANDATANGANI
    assert effective_state(State.DITANGGUHKAN, TERM, _wib(2027, 1, 1)) is State.BERAKHIR
    assert effective_state(State.DIAKHIRI, TERM, _wib(2025, 1, 1)) is State.DIAKHIRI
    assert effective_state(State.DRAF, TERM, _wib(2030, 1, 1)) is State.DRAF


def test_term_lengths_count_from_the_signing_day() -> None:
    assert end_of_term(date(2023, 4, 3), 3, "tahun") == date(2026, 4, 2)
    assert end_of_term(date(2023, 12, 15), 2, "tahun") == date(2025, 12, 14)
    assert add_period(date(2024, 6, 28), 2, "bulan") == date(2024, 8, 28)
    assert add_period(date(2024, 1, 31), 1, "bulan") == date(2024, 2, 29)  # month end clamps
    assert add_period(date(2024, 2, 29), 1, "tahun") == date(2025, 2, 28)


def test_an_addendum_governs_only_from_its_effective_date() -> None:
    original = Term(date(2024, 6, 28), date(2026, 6, 30), date(2024, 6, 28), version=1)
    extended = Term(date(2024, 6, 28), date(2027, 12, 31), date(2026, 11, 1), version=2)
    lapse = _wib(2026, 8, 1)
    assert term_in_force([original, extended], lapse) is original
    assert effective_state(State.BERLAKU, original, lapse) is State.BERAKHIR
    later = _wib(2026, 11, 23)
    assert term_in_force([extended, original], later) is extended
    assert effective_state(State.BERLAKU, extended, later) is State.BERLAKU


dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))
moments = st.datetimes(
    min_value=datetime(1999, 1, 1), max_value=datetime(2092, 1, 1), timezones=st.just(UTC)
)


@given(stored=st.sampled_from(State), start=dates, length=st.integers(0, 4000), at=moments)
def test_effective_state_is_never_in_force_outside_its_term(
    stored: State, start: date, length: int, at: datetime
) -> None:
    term = Term(start, start + timedelta(days=length), start)
    state = effective_state(stored, term, at)
    assert state in State
    if state is State.BERLAKU:
        assert stored is State.BERLAKU
        assert start <= at.astimezone(WIB).date() <= term.ends_on
    if stored in TERMINAL:
        assert state is stored


@given(start=dates, amount=st.integers(1, 60), unit=st.sampled_from(["hari", "bulan", "tahun"]))
def test_a_term_always_ends_on_or_after_it_starts(start: date, amount: int, unit: str) -> None:
    assert end_of_term(start, amount, unit) >= start
