"""All agreement queries. The session (and so the transaction) is the caller's."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select

from simpul.agreements.models import (
    Agreement,
    AgreementEvent,
    AgreementGrant,
    AgreementProviderState,
    AgreementVersion,
)
from simpul.agreements.schemas import AgreementDocument
from simpul.kit.repository import Repository


class AgreementRepository(Repository):
    def get(self, agreement_id: str, *, for_update: bool = False) -> Agreement | None:
        stmt = select(Agreement).where(Agreement.id == agreement_id)
        if for_update:
            # Serialise governance actions on one agreement (PostgreSQL row lock; SQLite
            # already serialises writers with BEGIN IMMEDIATE).
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def all(self) -> Sequence[Agreement]:
        return self.session.scalars(select(Agreement).order_by(Agreement.id)).all()

    def in_states(self, states: Sequence[str]) -> Sequence[Agreement]:
        stmt = select(Agreement).where(Agreement.state.in_(states)).order_by(Agreement.id)
        return self.session.scalars(stmt).all()

    def add(self, agreement: Agreement) -> None:
        self.session.add(agreement)
        self.session.flush()

    def version(self, agreement_id: str, version: int) -> AgreementVersion | None:
        return self.session.get(AgreementVersion, (agreement_id, version))

    def versions(self, agreement_id: str) -> Sequence[AgreementVersion]:
        stmt = (
            select(AgreementVersion)
            .where(AgreementVersion.agreement_id == agreement_id)
            .order_by(AgreementVersion.version)
        )
        return self.session.scalars(stmt).all()

    def versions_of(self, agreement_ids: Sequence[str]) -> dict[str, list[AgreementVersion]]:
        out: dict[str, list[AgreementVersion]] = {a: [] for a in agreement_ids}
        if not agreement_ids:
            return out
        stmt = (
            select(AgreementVersion)
            .where(AgreementVersion.agreement_id.in_(agreement_ids))
            .order_by(AgreementVersion.agreement_id, AgreementVersion.version)
        )
        for row in self.session.scalars(stmt):
            out[row.agreement_id].append(row)
        return out

    def add_version(self, row: AgreementVersion, document: AgreementDocument) -> None:
        """Store a version and index its grants."""
        self.session.add(row)
        self.session.flush()
        self._index_grants(row, document)

    def replace_version(self, row: AgreementVersion, document: AgreementDocument) -> None:
        """Re-index a version whose document was replaced (drafts only)."""
        self.session.execute(
            delete(AgreementGrant).where(
                AgreementGrant.agreement_id == row.agreement_id,
                AgreementGrant.version == row.version,
            )
        )
        self.session.flush()
        self._index_grants(row, document)

    def _index_grants(self, row: AgreementVersion, document: AgreementDocument) -> None:
        rows = [
            {
                "agreement_id": row.agreement_id,
                "version": row.version,
                "grant_id": g.id,
                "provider": g.provider,
                "recipient": g.recipient,
                "dataset": g.dataset,
                "service": g.service.value,
                "mechanism": g.mechanism.value,
            }
            for g in document.grants
        ]
        if rows:
            self.session.execute(insert(AgreementGrant), rows)

    def addendum_version(self, agreement_id: str, addendum_id: str) -> AgreementVersion | None:
        stmt = select(AgreementVersion).where(
            AgreementVersion.agreement_id == agreement_id,
            AgreementVersion.addendum_id == addendum_id,
        )
        return self.session.scalars(stmt).one_or_none()

    def add_event(self, event: AgreementEvent) -> None:
        self.session.add(event)
        self.session.flush()

    def events(self, agreement_id: str) -> Sequence[AgreementEvent]:
        stmt = (
            select(AgreementEvent)
            .where(AgreementEvent.agreement_id == agreement_id)
            .order_by(AgreementEvent.id)
        )
        return self.session.scalars(stmt).all()

    def grant_candidates(
        self, recipient: str, dataset: str, service: str, mechanism: str, stored_state: str
    ) -> Sequence[tuple[str, int, str]]:
        """(agreement, version, grant) triples matching a request, any version."""
        stmt = (
            select(AgreementGrant.agreement_id, AgreementGrant.version, AgreementGrant.grant_id)
            .join(Agreement, Agreement.id == AgreementGrant.agreement_id)
            .where(
                AgreementGrant.recipient == recipient,
                AgreementGrant.dataset == dataset,
                AgreementGrant.service == service,
                AgreementGrant.mechanism == mechanism,
                Agreement.state == stored_state,
            )
            .order_by(AgreementGrant.agreement_id, AgreementGrant.version)
        )
        return [(a, v, g) for a, v, g in self.session.execute(stmt)]

    def provider_state(self, agreement_id: str, provider: str) -> AgreementProviderState | None:
        return self.session.get(AgreementProviderState, (agreement_id, provider))

    def add_provider_state(self, row: AgreementProviderState) -> None:
        self.session.add(row)
        self.session.flush()

    def provider_states(self, ids: Sequence[str]) -> Sequence[AgreementProviderState]:
        stmt = select(AgreementProviderState).where(AgreementProviderState.agreement_id.in_(ids))
        return self.session.scalars(stmt.order_by(AgreementProviderState.agreement_id)).all()
