"""The deadlines engine: every dated duty of an agreement, computed from the agreement's
text, its term and what has been recorded as done, read against a given day.

Pure functions over plain values; `service.py` gathers the values from the database.
Dates are calendar days in Jakarta (the clock's instant is read through `local_date`).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from simpul.agreements.lifecycle import add_period
from simpul.agreements.schemas import (
    AddressChangeDuty,
    AgreementDocument,
    EvaluationDuty,
    ForceMajeureDuty,
    ImplementationDuty,
    MinutesDuty,
    RenewalNoticeDuty,
    SemesterReportDuty,
)

# A deadline this close (days) is reported as "segera" and notified.
WARN_DAYS = 30


class Status(StrEnum):
    DIPENUHI = "dipenuhi"
    DIPENUHI_TERLAMBAT = "dipenuhi_terlambat"
    TERLAMBAT = "terlambat"
    SEGERA = "segera"
    AKAN_DATANG = "akan_datang"
    TANPA_TENGGAT = "tanpa_tenggat"


OPEN = frozenset({Status.TERLAMBAT, Status.SEGERA, Status.AKAN_DATANG, Status.TANPA_TENGGAT})

KIND_LABEL = {
    "implementasi_teknis": "Implementasi teknis",
    "pemberitahuan_perpanjangan": "Pemberitahuan perpanjangan/pengakhiran",
    "laporan_semester": "Laporan semester",
    "evaluasi": "Evaluasi",
    "berita_acara": "Berita acara",
    "data_balikan": "Data balikan",
    "keadaan_kahar": "Pemberitahuan keadaan kahar",
    "perubahan_alamat": "Pemberitahuan perubahan alamat",
}


@dataclass(frozen=True)
class Deadline:
    agreement_id: str
    duty_id: str
    kind: str
    clause: str
    obligors: tuple[str, ...]
    to: str | None
    period: str  # "" for one-off duties
    due_on: date | None
    status: Status
    fulfilled_on: date | None = None
    outstanding: int | None = None  # feedback: subjects still owed
    note: str = ""

    @property
    def label(self) -> str:
        base = KIND_LABEL.get(self.kind, self.kind)
        return f"{base} {self.period}".strip() if self.period else base

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def key(self) -> str:
        return f"{self.agreement_id}|{self.duty_id}|{self.period}"


@dataclass(frozen=True)
class RecordedEvent:
    id: int
    kind: str  # keadaan_kahar | perubahan_alamat
    party: str
    occurred_on: date
    notified_on: date | None
    description: str


@dataclass(frozen=True)
class Records:
    """What has been recorded as done, keyed (duty_id, period) → date done."""

    fulfilled: Mapping[tuple[str, str], date] = field(default_factory=dict)
    events: tuple[RecordedEvent, ...] = ()


def status_of(due_on: date | None, fulfilled_on: date | None, today: date) -> Status:
    if fulfilled_on is not None:
        if due_on is not None and fulfilled_on > due_on:
            return Status.DIPENUHI_TERLAMBAT
        return Status.DIPENUHI
    if due_on is None:
        return Status.TANPA_TENGGAT
    if today > due_on:
        return Status.TERLAMBAT
    if (due_on - today).days <= WARN_DAYS:
        return Status.SEGERA
    return Status.AKAN_DATANG


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


@dataclass(frozen=True)
class Period:
    label: str
    starts_on: date
    ends_on: date


def periods(due_months: Iterable[int], starts_on: date, ends_on: date) -> list[Period]:
    """Reporting periods closing at each due month (e.g. [6, 12] → semesters), for the
    years the term covers. A period counts if it ends at least a month after the term
    starts (no report is due days after signing) and begins before the term ends."""
    months = sorted(set(due_months))
    out: list[Period] = []
    first_useful = add_period(starts_on, 1, "bulan")
    for year in range(starts_on.year, ends_on.year + 1):
        prev_end = date(year - 1, months[-1], 1)
        prev_end = month_end(prev_end.year, prev_end.month)
        for index, month in enumerate(months):
            end = month_end(year, month)
            start = prev_end + timedelta(days=1)
            prev_end = end
            if end < first_useful or start > ends_on:
                continue
            label = _period_label(year, index, len(months))
            out.append(Period(label, start, end))
    return out


def _period_label(year: int, index: int, count: int) -> str:
    if count == 1:
        return str(year)
    if count == 2:
        return f"{year}-S{index + 1}"
    return f"{year}-P{index + 1}"


def evaluation_months(per_year: int) -> list[int]:
    step = max(1, 12 // per_year)
    return list(range(step, 13, step))


def semester_of(period: str) -> tuple[int, int] | None:
    """ "2026-S1" → (2026, 1)."""
    year, _, part = period.partition("-S")
    if part in ("1", "2") and year.isdigit():
        return int(year), int(part)
    return None


def calendar_deadlines(
    agreement_id: str,
    doc: AgreementDocument,
    starts_on: date,
    ends_on: date,
    records: Records,
    today: date,
) -> list[Deadline]:
    """Every dated duty except feedback (which depends on the access log)."""
    out: list[Deadline] = []
    done = records.fulfilled
    signed = doc.signed_on or starts_on

    def add(
        duty_id: str,
        kind: str,
        clause: str,
        by: tuple[str, ...],
        to: str | None,
        period: str,
        due: date | None,
        fulfilled: date | None,
        note: str = "",
    ) -> None:
        out.append(
            Deadline(
                agreement_id,
                duty_id,
                kind,
                clause,
                by,
                to,
                period,
                due,
                status_of(due, fulfilled, today),
                fulfilled,
                None,
                note,
            )
        )

    for duty in doc.duties:
        if isinstance(duty, ImplementationDuty):
            due = add_period(signed, duty.due.amount, duty.due.unit)
            add(duty.id, duty.kind, duty.clause, duty.by, duty.to, "", due, done.get((duty.id, "")))
        elif isinstance(duty, RenewalNoticeDuty):
            amount = duty.due.amount
            due = (
                ends_on - timedelta(days=amount)
                if duty.due.unit == "hari"
                else add_period(ends_on, -amount * (12 if duty.due.unit == "tahun" else 1), "bulan")
            )
            period = ends_on.isoformat()
            add(
                duty.id,
                duty.kind,
                duty.clause,
                duty.by,
                duty.to,
                period,
                due,
                done.get((duty.id, period)),
                f"berakhir {period}",
            )
        elif isinstance(duty, SemesterReportDuty):
            for p in periods(duty.due_months, starts_on, ends_on):
                due = min(p.ends_on, ends_on)
                add(
                    duty.id,
                    duty.kind,
                    duty.clause,
                    duty.by,
                    duty.to,
                    p.label,
                    due,
                    done.get((duty.id, p.label)),
                )
        elif isinstance(duty, EvaluationDuty | MinutesDuty):
            if duty.per_year is None:
                add(
                    duty.id,
                    duty.kind,
                    duty.clause,
                    duty.by,
                    duty.to,
                    "",
                    None,
                    done.get((duty.id, "")),
                )
                continue
            for p in periods(evaluation_months(duty.per_year), starts_on, ends_on):
                # Evaluated on the period's reports: due a month after the period closes.
                due = month_end(*_next_month(p.ends_on))
                add(
                    duty.id,
                    duty.kind,
                    duty.clause,
                    duty.by,
                    duty.to,
                    p.label,
                    due,
                    done.get((duty.id, p.label)),
                )
        elif isinstance(duty, ForceMajeureDuty | AddressChangeDuty):
            # Force majeure: notice within N days after the event; an address change:
            # notice N days before it takes effect.
            kind, sign = (
                ("keadaan_kahar", 1)
                if isinstance(duty, ForceMajeureDuty)
                else ("perubahan_alamat", -1)
            )
            for ev in records.events:
                if ev.kind != kind:
                    continue
                due = ev.occurred_on + sign * timedelta(days=duty.days)
                add(
                    duty.id,
                    duty.kind,
                    duty.clause,
                    (ev.party,),
                    None,
                    f"peristiwa-{ev.id}",
                    due,
                    ev.notified_on,
                    ev.description,
                )
    return out


def _next_month(day: date) -> tuple[int, int]:
    return (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
