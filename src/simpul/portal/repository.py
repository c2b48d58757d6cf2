"""All portal queries: sessions, and the auditor's search over the audit log."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select

from simpul.audit.models import AuditRecord
from simpul.kit.repository import Repository
from simpul.portal.models import PortalSession


class SessionRepository(Repository):
    def get(self, id_hash: str) -> PortalSession | None:
        return self.session.get(PortalSession, id_hash)

    def add(self, row: PortalSession) -> None:
        self.session.add(row)
        self.session.flush()


@dataclass(frozen=True)
class AuditQuery:
    actor: str | None = None
    action: str | None = None
    decision: str | None = None
    agreement_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_seq: int | None = None  # paging: records older than this


class AuditSearchRepository(Repository):
    def search(
        self,
        query: AuditQuery,
        *,
        institution: str | None,
        agreements: Collection[str] | None,
        datasets: Collection[str] = (),
        unnamed: Collection[tuple[str, str]] = (),
        limit: int,
    ) -> Sequence[AuditRecord]:
        """Newest first. `institution`/`agreements` None: the whole log (hub); otherwise
        records by that institution, under one of those agreements, about one of those
        datasets, or naming no agreement by one of the `unnamed` (institution, dataset)
        pairs (a refusal before any agreement was chosen, by a counterpart of the reader)."""
        stmt = select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(limit)
        if institution is not None:
            scope = [AuditRecord.institution == institution]
            if agreements:
                scope.append(AuditRecord.agreement_id.in_(sorted(agreements)))
            if datasets:
                scope.append(AuditRecord.dataset.in_(sorted(datasets)))
            for inst, dataset in sorted(unnamed):  # records naming no agreement, by pair
                scope.append(and_(AuditRecord.agreement_id.is_(None),
                                  AuditRecord.institution == inst,
                                  AuditRecord.dataset == dataset))  # fmt: skip
            stmt = stmt.where(or_(*scope))
        if query.actor:
            stmt = stmt.where(AuditRecord.actor == query.actor)
        if query.action:
            stmt = stmt.where(AuditRecord.action == query.action)
        if query.decision:
            stmt = stmt.where(AuditRecord.decision == query.decision)
        if query.agreement_id:
            stmt = stmt.where(AuditRecord.agreement_id == query.agreement_id)
        if query.since is not None:
            stmt = stmt.where(AuditRecord.ts >= self._ts(query.since))
        if query.until is not None:
            stmt = stmt.where(AuditRecord.ts < self._ts(query.until))
        if query.before_seq is not None:
            stmt = stmt.where(AuditRecord.seq < query.before_seq)
        return self.session.execute(stmt).scalars().all()

    def _ts(self, at: datetime) -> datetime:
        # SQLite holds the audit timestamp as naive UTC text (see audit.repository.ts_text).
        at = at.astimezone(UTC)
        return at.replace(tzinfo=None) if self.session.get_bind().dialect.name == "sqlite" else at

    def actions(self) -> list[str]:
        return sorted(self.session.execute(select(AuditRecord.action).distinct()).scalars())
