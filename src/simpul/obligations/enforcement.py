"""Enforcement rules per agreement, run by `simpul obligations enforce` (or a scheduler):

- expiry at the end of the term, with what the PKS says follows (tokens revoked, card
  readers deactivated: `governance.end_effects`);
- termination on a change of a party's nomenclature where the PKS names it as a ground
  (PKS 003 Pasal 6 huruf b), unless an addendum renewed the agreement after the change;
- optional suspension when feedback is overdue for longer than the agreement's grace period.

Each step is a governance action audited in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from simpul.access.models import InstitutionNameHistory
from simpul.access.schemas import NameChange
from simpul.agreements import service as agreements
from simpul.agreements.lifecycle import TERMINAL, State, local_date
from simpul.agreements.schemas import TriggerKind
from simpul.config import Settings
from simpul.governance import actions as governance
from simpul.kit.clock import Clock
from simpul.obligations import feedback, rollups
from simpul.obligations.models import EnforcementRule

SYSTEM = "sistem:kewajiban"


@dataclass
class EnforcementReport:
    expired: list[str] = field(default_factory=list)
    terminated: list[tuple[str, str]] = field(default_factory=list)  # (agreement, reason)
    suspended: list[tuple[str, str]] = field(default_factory=list)
    devices_deactivated: int = 0
    tokens_revoked: int = 0


def run(
    session: Session, settings: Settings, clock: Clock, *, actor: str = SYSTEM
) -> EnforcementReport:
    report = EnforcementReport()
    _expire(session, settings, clock, actor, report)
    _nomenclature(session, settings, clock, actor, report)
    _overdue_feedback(session, settings, clock, actor, report)
    rollups.refresh(session)  # keeps the usage reports' aggregates current (incremental)
    return report


def rename_institution(
    session: Session, settings: Settings, clock: Clock, code: str, new_name: str, *,
    actor: str, reason: str,
) -> tuple[NameChange, EnforcementReport]:  # fmt: skip
    """Record a change of nomenclature and, in the same transaction, end every agreement
    whose PKS names such a change as a ground (PKS 003 Pasal 6 huruf b): access, tokens and
    card readers stop at once instead of at the next `enforce` run."""
    change = governance.rename_institution(
        session, settings, clock, code, new_name, actor=actor, reason=reason
    )
    report = EnforcementReport()
    _nomenclature(session, settings, clock, actor, report)
    return change, report


def _expire(
    session: Session, settings: Settings, clock: Clock, actor: str, report: EnforcementReport
) -> None:
    # The same governance action as `simpul agreement expire`: its record, its end effects.
    done = governance.expire_due(session, settings, clock, actor=actor)
    report.expired.extend(done.agreement_ids)
    report.devices_deactivated += len(done.devices_deactivated)
    report.tokens_revoked += done.tokens_revoked


def nomenclature_changes(
    session: Session, agreement_id: str
) -> list[tuple[str, InstitutionNameHistory]]:
    """(trigger clause, name change) pairs that end the agreement: a change of a named
    party's name after the version in force took effect (an addendum renews the PKS)."""
    latest = agreements.get(session, agreement_id)
    doc = agreements.document_of(latest)
    out: list[tuple[str, InstitutionNameHistory]] = []
    for trigger in doc.triggers:
        if trigger.kind is not TriggerKind.NOMENCLATURE_CHANGE:
            continue
        parties = trigger.party or doc.party_codes
        stmt = (
            select(InstitutionNameHistory)
            .where(InstitutionNameHistory.institution_code.in_(parties))
            .order_by(InstitutionNameHistory.changed_at)
        )
        for change in session.scalars(stmt):
            day = local_date(change.changed_at)
            after = day > latest.effective_from if latest.version > 1 else day >= latest.starts_on
            if after:
                out.append((trigger.clause, change))
    return out


def _nomenclature(
    session: Session, settings: Settings, clock: Clock, actor: str, report: EnforcementReport
) -> None:
    now = clock.now()
    for summary in agreements.list_agreements(session, now):
        if summary.effective_state in TERMINAL:
            continue
        found = nomenclature_changes(session, summary.id)
        if not found:
            continue
        clause, change = found[0]
        reason = (
            f"Perubahan nomenklatur {change.institution_code}: '{change.old_name}' menjadi "
            f"'{change.new_name}' ({clause})"
        )
        ended = governance.terminate_agreement(
            session, settings, clock, summary.id, actor=actor, reason=reason
        )
        report.terminated.append((summary.id, reason))
        report.devices_deactivated += len(ended.devices_deactivated)
        report.tokens_revoked += ended.tokens_revoked


def _overdue_feedback(
    session: Session, settings: Settings, clock: Clock, actor: str, report: EnforcementReport
) -> None:
    now = clock.now()
    today = local_date(now)
    for rule in session.scalars(select(EnforcementRule)).all():
        if rule.suspend_after_days is None:
            continue
        if agreements.effective_state_of(session, rule.agreement_id, now) is not State.BERLAKU:
            continue
        doc = agreements.document_of(agreements.get(session, rule.agreement_id))
        for duty in feedback.feedback_duties(doc):
            late = feedback.overdue(session, settings, rule.agreement_id, doc, duty, today)
            worst = [o for o in late if (today - o.due_on).days > rule.suspend_after_days]
            if not worst:
                continue
            reason = (
                f"Data balikan {duty.id} ({duty.clause}) untuk {len(worst)} subjek melewati "
                f"tenggat lebih dari {rule.suspend_after_days} hari"
            )
            governance.suspend_agreement(
                session, settings, clock, rule.agreement_id, actor=actor, reason=reason
            )
            report.suspended.append((rule.agreement_id, reason))
            break
