"""The deadlines engine on the seed PKS texts: dates as the PKS set them, at any day."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from simpul.agreements.loader import read_documents, seed_dir
from simpul.agreements.schemas import AgreementDocument
from simpul.obligations.deadlines import (
    Deadline,
    RecordedEvent,
    Records,
    Status,
    calendar_deadlines,
    periods,
    status_of,
)


def seed(agreement_id: str) -> AgreementDocument:
    docs, _ = read_documents([seed_dir()])
    return next(d.document for d in docs if d.document.id == agreement_id)


def compute(agreement_id: str, today: date, records: Records | None = None) -> list[Deadline]:
    doc = seed(agreement_id)
    return calendar_deadlines(
        agreement_id, doc, doc.starts_on, doc.ends_on, records or Records(), today
    )


def by(items: list[Deadline], duty: str) -> list[Deadline]:
    return [d for d in items if d.duty_id == duty]


def test_pks_003_implementation_two_months_after_signing_and_semester_reports() -> None:
    items = compute("pks-dukcapil-bkn", date(2024, 7, 10))
    impl = by(items, "implementasi-teknis")
    assert [(d.due_on, d.status) for d in impl] == [(date(2024, 8, 28), Status.AKAN_DATANG)]
    reports = by(items, "laporan-semester")
    # Signed 28 June 2024: no report is due two days later; the last closes with the term.
    assert [(d.period, d.due_on) for d in reports] == [
        ("2024-S2", date(2024, 12, 31)),
        ("2025-S1", date(2025, 6, 30)),
        ("2025-S2", date(2025, 12, 31)),
        ("2026-S1", date(2026, 6, 30)),
    ]
    assert {d.obligors for d in reports} == {("bkn",)} and reports[0].to == "dukcapil"
    evals = by(items, "evaluasi-semester")
    assert evals[0].period == "2024-S2" and evals[0].due_on == date(2025, 1, 31)
    assert not by(items, "pemberitahuan-perpanjangan")  # PKS 003 sets none


def test_pks_000_reports_in_june_and_december_and_renewal_notice_30_days() -> None:
    items = compute("pks-bappenas-jabar", date(2025, 11, 1))
    reports = by(items, "laporan-semester")
    assert [(d.period, d.due_on) for d in reports] == [
        ("2024-S1", date(2024, 6, 30)),
        ("2024-S2", date(2024, 12, 31)),
        ("2025-S1", date(2025, 6, 30)),
        ("2025-S2", date(2025, 12, 14)),  # term ends 14 Dec
    ]
    assert [d.status for d in reports] == [Status.TERLAMBAT] * 3 + [Status.AKAN_DATANG]
    renewal = by(items, "pemberitahuan-perpanjangan")
    assert [(d.due_on, d.status) for d in renewal] == [(date(2025, 11, 14), Status.SEGERA)]


def test_pks_004_one_month_implementation_and_yearly_evaluation() -> None:
    items = compute("pks-kemenkop-bkn", date(2022, 9, 20))
    impl = by(items, "implementasi-teknis")[0]
    assert impl.due_on == date(2022, 10, 12) and impl.obligors == ("kemenkop", "bkn")
    assert impl.status is Status.SEGERA
    renewal = by(items, "pemberitahuan-perpanjangan")[0]
    assert renewal.due_on == date(2024, 11, 30)
    evals = by(items, "pemantauan-evaluasi")
    assert [(d.period, d.due_on) for d in evals] == [
        ("2022", date(2023, 1, 31)),
        ("2023", date(2024, 1, 31)),
        ("2024", date(2025, 1, 31)),
    ]


def test_force_majeure_and_address_change_windows_from_recorded_events() -> None:
    events = (
        RecordedEvent(1, "keadaan_kahar", "pemprov-jabar", date(2024, 3, 1), None, "banjir"),
        RecordedEvent(
            2, "perubahan_alamat", "bappenas", date(2024, 5, 20), date(2024, 5, 15), "pindah kantor"
        ),
    )
    items = compute("pks-bappenas-jabar", date(2024, 3, 5), Records({}, events))
    fm = by(items, "pemberitahuan-keadaan-kahar")[0]
    assert (fm.due_on, fm.status, fm.obligors) == (
        date(2024, 3, 8),
        Status.SEGERA,
        ("pemprov-jabar",),
    )
    addr = by(items, "pemberitahuan-perubahan-alamat")[0]
    # Notified 15 May for a change on 20 May: five days, not the seven Pasal 13 requires.
    assert addr.due_on == date(2024, 5, 13) and addr.status is Status.DIPENUHI_TERLAMBAT
    # PKS 004 allows 14 days.
    items = compute("pks-kemenkop-bkn", date(2023, 1, 2), Records({}, events[:1]))
    assert by(items, "pemberitahuan-keadaan-kahar")[0].due_on == date(2024, 3, 15)


def test_recorded_fulfilment_closes_a_deadline() -> None:
    done = Records({("implementasi-teknis", ""): date(2024, 8, 1)})
    impl = by(compute("pks-dukcapil-bkn", date(2024, 9, 1), done), "implementasi-teknis")[0]
    assert impl.status is Status.DIPENUHI and impl.fulfilled_on == date(2024, 8, 1)
    late = by(compute("pks-dukcapil-bkn", date(2024, 9, 1)), "implementasi-teknis")[0]
    assert late.status is Status.TERLAMBAT


@given(st.dates(date(2020, 1, 1), date(2030, 1, 1)), st.integers(-400, 400))
def test_unfulfilled_deadline_is_late_exactly_after_its_day(due: date, offset: int) -> None:
    today = due + timedelta(days=offset)
    status = status_of(due, None, today)
    assert (status is Status.TERLAMBAT) == (offset > 0)
    assert (status is Status.SEGERA) == (-30 <= offset <= 0)


@given(st.dates(date(2020, 1, 1), date(2028, 1, 1)), st.integers(60, 2000))
def test_periods_tile_the_term_without_gaps(start: date, length: int) -> None:
    end = start + timedelta(days=length)
    found = periods([6, 12], start, end)
    for a, b in itertools.pairwise(found):
        assert b.starts_on == a.ends_on + timedelta(days=1)
    assert all(p.starts_on <= end and p.ends_on >= start for p in found)
    assert found and found[-1].ends_on >= end
