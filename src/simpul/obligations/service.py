"""Obligation service functions (the CLI, the API and the portal call these).

Each takes the caller's session; nothing commits here. Recording something done (a report,
an evaluation, a notice, an event) is a governance action and is audited in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from simpul.access.schemas import Principal, Role
from simpul.agreements import service as agreements
from simpul.agreements.lifecycle import TERMINAL, local_date
from simpul.agreements.models import AgreementVersion
from simpul.agreements.schemas import AgreementDocument
from simpul.audit.schemas import AuditEvent
from simpul.audit.service import record_in_session
from simpul.config import Settings
from simpul.errors import Conflict, InvalidInput, NotFound
from simpul.kit.clock import Clock
from simpul.obligations import feedback
from simpul.obligations.deadlines import (
    Deadline,
    RecordedEvent,
    Records,
    calendar_deadlines,
)
from simpul.obligations.models import (
    EnforcementRule,
    Evaluation,
    ObligationEvent,
    ObligationFulfilment,
    SemesterReport,
)
from simpul.oversight.reading import hub_wide, party_agreements

EventKind = Literal["keadaan_kahar", "perubahan_alamat"]


def audit_action(
    session: Session,
    settings: Settings,
    clock: Clock,
    action: str,
    actor: str,
    agreement_id: str | None,
    detail: dict[str, Any],
    institution: str | None = None,
) -> int:
    event = AuditEvent(
        action=action,
        decision="tindakan",
        reason="tindakan_kewajiban",
        actor=actor,
        institution=institution,
        agreement_id=agreement_id,
        detail=detail,
    )
    return record_in_session(session, settings, event, clock)


# ---------------------------------------------------------------- reading state


@dataclass(frozen=True)
class AgreementView:
    """The latest version of an agreement with its term, as the deadlines read it."""

    id: str
    doc: AgreementDocument
    starts_on: date
    ends_on: date
    stored_state: str
    effective_state: str
    version: int


def view(session: Session, agreement_id: str, at: datetime) -> AgreementView:
    latest = agreements.get(session, agreement_id)
    s = agreements.summary(session, agreement_id, at)
    return _view(latest, s.stored_state.value, s.effective_state.value)


def _view(row: AgreementVersion, stored: str, effective: str) -> AgreementView:
    return AgreementView(
        row.agreement_id,
        agreements.document_of(row),
        row.starts_on,
        row.ends_on,
        stored,
        effective,
        row.version,
    )


def records_of(session: Session, agreement_id: str) -> Records:
    done: dict[tuple[str, str], date] = {}
    for f in session.scalars(
        select(ObligationFulfilment).where(ObligationFulfilment.agreement_id == agreement_id)
    ):
        done[(f.duty_id, f.period)] = f.fulfilled_on
    for r in session.scalars(
        select(SemesterReport).where(SemesterReport.agreement_id == agreement_id)
    ):
        key = (r.duty_id, f"{r.year}-S{r.semester}")
        done.setdefault(key, local_date(r.submitted_at))
    for e in session.scalars(select(Evaluation).where(Evaluation.agreement_id == agreement_id)):
        key = (e.duty_id, e.period)
        done[key] = min(done.get(key, e.evaluated_on), e.evaluated_on)
    events = tuple(
        RecordedEvent(e.id, e.kind, e.party, e.occurred_on, e.notified_on, e.description)
        for e in session.scalars(
            select(ObligationEvent)
            .where(ObligationEvent.agreement_id == agreement_id)
            .order_by(ObligationEvent.id)
        )
    )
    return Records(done, events)


def agreement_deadlines(
    session: Session, settings: Settings, agreement_id: str, at: datetime
) -> list[Deadline]:
    """Every deadline of one agreement (open and done), by due date."""
    v = view(session, agreement_id, at)
    today = local_date(at)
    out = calendar_deadlines(
        agreement_id, v.doc, v.starts_on, v.ends_on, records_of(session, agreement_id), today
    )
    for duty in feedback.feedback_duties(v.doc):
        c = feedback.completeness(session, settings, agreement_id, v.doc, duty, today)
        if c.owed:
            out.append(feedback.deadline(c, today))
    return sorted(out, key=lambda d: (d.due_on or date.max, d.duty_id, d.period))


def visible_agreements(
    session: Session, principal: Principal, at: datetime, settings: Settings | None = None
) -> list[str]:
    """The agreements a principal sees obligations, reports and records of: a data user or
    operator, those it is bound to; administrators and auditors, every agreement their
    institution is party to; the hub administrator (governance) and a hub-wide auditor
    (`settings.hub_auditors`), all."""
    if principal.role is Role.HUB_ADMIN or hub_wide(settings, principal):
        return sorted(a.id for a in agreements.list_agreements(session, at))
    ids = set(principal.agreement_ids)
    if principal.role in (Role.PROVIDER_ADMIN, Role.RECIPIENT_ADMIN, Role.AUDITOR):
        ids.update(party_agreements(session, principal.institution, at))
    return sorted(ids)


def deadlines(
    session: Session,
    settings: Settings,
    clock: Clock,
    *,
    agreement_ids: Iterable[str] | None = None,
    open_only: bool = False,
    include_ended: bool = False,
    institution: str | None = None,
) -> list[Deadline]:
    """Deadlines across agreements. By default agreements that have ended are left out
    (their duties no longer run); `institution` keeps only duties it owes."""
    at = clock.now()
    ids = (
        list(agreement_ids)
        if agreement_ids is not None
        else [a.id for a in agreements.list_agreements(session, at)]
    )
    out: list[Deadline] = []
    for agreement_id in ids:
        if not include_ended:
            state = agreements.effective_state_of(session, agreement_id, at)
            if state in TERMINAL:
                continue
        for d in agreement_deadlines(session, settings, agreement_id, at):
            if open_only and not d.is_open:
                continue
            if institution is not None and institution not in d.obligors:
                continue
            out.append(d)
    return sorted(out, key=lambda d: (d.due_on or date.max, d.agreement_id, d.duty_id))


def dashboard(
    session: Session, settings: Settings, clock: Clock, principal: Principal
) -> list[Deadline]:
    """For the portal: the open deadlines of the principal's agreements."""
    return deadlines(
        session,
        settings,
        clock,
        agreement_ids=visible_agreements(session, principal, clock.now(), settings),
        open_only=True,
    )


# ---------------------------------------------------------------- recording


def _duty_of(v: AgreementView, duty_id: str) -> Any:
    duty = next((d for d in v.doc.duties if d.id == duty_id), None)
    if duty is None:
        raise NotFound(
            "kewajiban_tidak_ditemukan",
            f"Perjanjian {v.id} tidak memuat kewajiban {duty_id!r}.",
        )
    return duty


def _require(text: str, code: str, what: str) -> str:
    if not text.strip():
        raise InvalidInput(code, f"{what} wajib diisi.")
    return text.strip()


def record_fulfilment(
    session: Session,
    settings: Settings,
    clock: Clock,
    agreement_id: str,
    duty_id: str,
    *,
    period: str = "",
    fulfilled_on: date | None = None,
    note: str,
    actor: str,
) -> ObligationFulfilment:
    """Record a dated duty as done (implementation, renewal notice, berita acara …)."""
    v = view(session, agreement_id, clock.now())
    _duty_of(v, duty_id)
    note = _require(note, "keterangan_wajib", "Keterangan")
    exists = session.scalars(
        select(ObligationFulfilment).where(
            ObligationFulfilment.agreement_id == agreement_id,
            ObligationFulfilment.duty_id == duty_id,
            ObligationFulfilment.period == period,
        )
    ).first()
    if exists is not None:
        raise Conflict(
            "kewajiban_sudah_dipenuhi",
            f"Kewajiban {duty_id} {period} pada {agreement_id} sudah dicatat terpenuhi "
            f"pada {exists.fulfilled_on.isoformat()}.",
        )
    row = ObligationFulfilment(
        agreement_id=agreement_id,
        duty_id=duty_id,
        period=period,
        fulfilled_on=fulfilled_on or local_date(clock.now()),
        note=note,
        recorded_at=clock.now(),
        recorded_by=actor[:120],
    )
    session.add(row)
    session.flush()
    audit_action(
        session,
        settings,
        clock,
        "kewajiban.dipenuhi",
        actor,
        agreement_id,
        {"kewajiban": duty_id, "periode": period, "keterangan": note},
    )
    return row


def record_event(
    session: Session,
    settings: Settings,
    clock: Clock,
    agreement_id: str,
    kind: EventKind,
    *,
    party: str,
    occurred_on: date,
    description: str,
    actor: str,
    notified_on: date | None = None,
) -> ObligationEvent:
    """A force-majeure event (start date) or an address change (date it takes effect)."""
    v = view(session, agreement_id, clock.now())
    if kind not in ("keadaan_kahar", "perubahan_alamat"):
        raise InvalidInput(
            "jenis_peristiwa_tidak_dikenal", f"Jenis peristiwa {kind!r} tidak dikenal."
        )
    if party not in v.doc.party_codes:
        raise InvalidInput("bukan_pihak", f"{party} bukan pihak dalam {agreement_id}.")
    row = ObligationEvent(
        agreement_id=agreement_id,
        kind=kind,
        party=party,
        occurred_on=occurred_on,
        notified_on=notified_on,
        description=_require(description, "uraian_wajib", "Uraian"),
        recorded_at=clock.now(),
        recorded_by=actor[:120],
    )
    session.add(row)
    session.flush()
    audit_action(
        session,
        settings,
        clock,
        f"kewajiban.peristiwa.{kind}",
        actor,
        agreement_id,
        {"pihak": party, "tanggal": occurred_on.isoformat(), "uraian": description},
    )
    return row


def record_notice(
    session: Session,
    settings: Settings,
    clock: Clock,
    event_id: int,
    *,
    notified_on: date,
    actor: str,
) -> ObligationEvent:
    row = session.get(ObligationEvent, event_id)
    if row is None:
        raise NotFound("peristiwa_tidak_ditemukan", f"Peristiwa {event_id} tidak ditemukan.")
    row.notified_on = notified_on
    session.flush()
    audit_action(
        session,
        settings,
        clock,
        "kewajiban.pemberitahuan",
        actor,
        row.agreement_id,
        {"peristiwa": event_id, "diberitahukan": notified_on.isoformat()},
    )
    return row


def set_rule(
    session: Session,
    settings: Settings,
    clock: Clock,
    agreement_id: str,
    *,
    suspend_after_days: int | None,
    actor: str,
) -> EnforcementRule:
    """Auto-suspension when feedback is overdue by more than `suspend_after_days` (None: off)."""
    agreements.get_agreement(session, agreement_id)
    if suspend_after_days is not None and suspend_after_days < 0:
        raise InvalidInput("masa_tenggang_tidak_sah", "Masa tenggang tidak boleh negatif.")
    rule = session.get(EnforcementRule, agreement_id)
    if rule is None:
        rule = EnforcementRule(agreement_id=agreement_id)
        session.add(rule)
    rule.suspend_after_days = suspend_after_days
    rule.updated_at = clock.now()
    rule.updated_by = actor[:120]
    session.flush()
    audit_action(
        session,
        settings,
        clock,
        "kewajiban.aturan",
        actor,
        agreement_id,
        {"tangguhkan_setelah_hari": suspend_after_days},
    )
    return rule


def rules(session: Session) -> Sequence[EnforcementRule]:
    return session.scalars(select(EnforcementRule).order_by(EnforcementRule.agreement_id)).all()
