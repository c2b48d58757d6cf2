"""Which service pages the signed-in account is offered: the policy decides, not the role
alone (docs/adr/0030). For every grant a page serves (`nav.Need`) the portal asks
`access.policy.decide` — the very decision the page's form will meet, without taking from
the quota — and offers the page when one is allowed, or refused only for a while (the
agreement is suspended; the browser is outside the access point), so that the page can say
why. A page no grant serves is left out of the menu and the dashboard; opening it anyway
shows that the agreements do not grant it, and a submitted form is still decided and
recorded by the kernel like any other refused call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from simpul.access.policy import AccessRequest, decide
from simpul.access.schemas import Principal, Role
from simpul.agreements import service as agreements
from simpul.agreements.schemas import Grant, Service
from simpul.errors import NotFound
from simpul.portal.nav import PAGES, Need

# Refusals that do not withdraw the page: they pass, and the page explains them.
TEMPORARY = frozenset({"perjanjian_ditangguhkan", "titik_akses_tidak_sah", "kuota_terlampaui"})


def _datasets(session: Session, principal: Principal, service: Service, at: datetime) -> set[str]:
    """Datasets the account's agreements grant its institution `service` on (any state:
    the decision below says whether the grant holds now)."""
    out: set[str] = set()
    for agreement_id in principal.agreement_ids:
        try:
            doc = agreements.document_of(agreements.version_in_force(session, agreement_id, at))
        except (NotFound, LookupError, ValueError):
            continue
        out |= {g.dataset for g in doc.grants
                if g.recipient == principal.institution and g.service is service}  # fmt: skip
    return out


def _holds(session: Session, principal: Principal, need: Need, at: datetime,
           source_ip: str | None) -> bool:  # fmt: skip
    datasets = [need.dataset] if need.dataset else sorted(
        _datasets(session, principal, need.service, at))  # fmt: skip
    for dataset in datasets:
        for mechanism in need.mechanisms:
            req = AccessRequest(dataset, need.service, mechanism, source_ip=source_ip)
            decision = decide(session, principal, req, at=at)
            if decision.allowed or decision.reason in TEMPORARY:
                return True
    return False


def unoffered(session: Session, principal: Principal, at: datetime,
              source_ip: str | None) -> frozenset[str]:  # fmt: skip
    """Keys of the pages the account's role opens but no grant of its agreements serves."""
    out: set[str] = set()
    for page in PAGES.values():
        if (
            page.needs
            and principal.role in page.roles
            and not any(_holds(session, principal, n, at, source_ip) for n in page.needs)
        ):
            out.add(page.key)
    if principal.role is Role.PROVIDER_ADMIN and not agreements.provides(
        session, principal.institution, Service.PENGOLAHAN, at
    ):
        # The review of processing outputs is for a provider of the processing facility.
        out.add("tinjauan")
    return frozenset(out)


@dataclass(frozen=True)
class Basis:
    """A grant a page's service rests on, as its agreement cites it."""

    agreement_id: str
    number: str | None  # the agreement's official number(s)
    title: str
    clause: str
    grant: Grant


def basis(session: Session, principal: Principal, page_key: str, at: datetime) -> list[Basis]:
    """The grants of the account's agreements that the page serves, with their clauses
    from the agreements' YAML (never a fixed citation)."""
    page = PAGES.get(page_key)
    if page is None or not page.needs:
        return []
    out: list[Basis] = []
    for agreement_id in sorted(principal.agreement_ids):
        try:
            s = agreements.summary(session, agreement_id, at)
            doc = agreements.document_of(agreements.version_in_force(session, agreement_id, at))
        except (NotFound, LookupError, ValueError):
            continue
        for g in doc.grants:
            if g.recipient == principal.institution and any(
                g.service is n.service and g.mechanism in n.mechanisms
                and (n.dataset is None or n.dataset == g.dataset) for n in page.needs
            ):  # fmt: skip
                out.append(Basis(agreement_id, s.official_number, s.title, g.clause, g))
    return out
