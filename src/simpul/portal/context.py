"""What the signed-in user's institution may see: agreements it is party to, the grants it
receives, and the service call frame shared by every data page (same as the API's)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy.orm import Session

from simpul import kernel
from simpul.access.quota import QuotaLimiter
from simpul.access.schemas import Role
from simpul.agreements import service as agreements
from simpul.agreements.schemas import Grant, Mechanism, Service
from simpul.errors import SimpulError
from simpul.kernel import Known, Node, Origin
from simpul.kit.ids import new_id
from simpul.portal.web import User, client_ip, error_message, lang_of, peer_ip, portal_of

R = TypeVar("R")

# The portal's mechanism per service. PKS 003 Pasal 2(1)c grants look-up by NIK "melalui
# web portal"; verification and status checks are granted as web services, and the portal
# form is an interactive client of that same web service (same grant, quota, access-point
# check and audit record; the request id starts with "portal-"). See docs/portal.md.
MECHANISM: dict[Service, Mechanism] = {
    Service.AKSES_NIK: Mechanism.WEB_PORTAL,
    Service.VERIFIKASI: Mechanism.WEB_SERVICE,
    Service.CEK_STATUS: Mechanism.WEB_SERVICE,
    Service.VERIFIKASI_WAJAH: Mechanism.WEB_SERVICE,  # PKS 003 Pasal 2(1)b, the same way
    # PKS 000 Pasal 2: aggregate, micro, BNBA and the processing facility through the
    # portal (Sepakat), as simpul.disclosure.api decides them.
    Service.AGREGAT: Mechanism.WEB_PORTAL,
    Service.MIKRO: Mechanism.WEB_PORTAL,
    Service.BNBA: Mechanism.WEB_PORTAL,
    Service.PENGOLAHAN: Mechanism.WEB_PORTAL,
}


# The tiered services read Regsosek; the others take the dataset as their first argument.
_DISCLOSURE = frozenset({Service.AGREGAT, Service.MIKRO, Service.BNBA, Service.PENGOLAHAN})
_DISCLOSURE_DATASET = "regsosek"


def visible_agreements(
    session: Session, user: User, at: datetime
) -> list[agreements.AgreementSummary]:
    """Hub: all. Service roles: those bound to the account. Others: those their
    institution is party to."""
    every = agreements.list_agreements(session, at)
    if user.role is Role.HUB_ADMIN:
        return every
    if user.role in (Role.OPERATOR, Role.DATA_USER):
        return [s for s in every if s.id in user.principal.agreement_ids]
    return [s for s in every if user.principal.institution in s.parties]


def can_see_agreement(session: Session, user: User, agreement_id: str, at: datetime) -> bool:
    return any(s.id == agreement_id for s in visible_agreements(session, user, at))


def can_govern_agreement(session: Session, user: User, agreement_id: str, at: datetime) -> bool:
    """Suspend/resume: the hub, or an administrator of a party that provides under it."""
    if user.role is Role.HUB_ADMIN:
        return True
    if user.role is not Role.PROVIDER_ADMIN:
        return False
    row = agreements.version_in_force(session, agreement_id, at)
    doc = agreements.document_of(row)
    return any(g.provider == user.principal.institution for g in doc.grants)


@dataclass(frozen=True)
class Granted:
    agreement: agreements.AgreementSummary
    grant: Grant


def granted(session: Session, user: User, at: datetime) -> list[Granted]:
    """Grants the user's institution receives in the user's agreements (version in force)."""
    out: list[Granted] = []
    for summary in visible_agreements(session, user, at):
        doc = agreements.document_of(agreements.version_in_force(session, summary.id, at))
        out.extend(
            Granted(summary, g) for g in doc.grants if g.recipient == user.principal.institution
        )
    return out


@dataclass(frozen=True)
class Outcome:
    answer: Any | None
    error: str | None
    code: str | None
    request_id: str
    status: int = 200


def call(
    request: Request,
    user: User,
    service: Service,
    fn: Callable[..., Any],
    *args: Any,
) -> Outcome:
    """One service call exactly as the API makes it, through the kernel: its transaction,
    its audit records durable, then the answer or a refusal in the reader's language.
    Every refusal — a NIK of 15 digits included — has the record the page cites."""
    p = portal_of(request)
    state = request.app.state
    quota = getattr(state, "quota", None)
    assert quota is None or isinstance(quota, QuotaLimiter)
    node = Node(p.runtime, writer=getattr(state, "audit_writer", None), quota=quota)
    origin = Origin(
        mechanism=MECHANISM[service],
        action=service.value,
        dataset=_DISCLOSURE_DATASET if service in _DISCLOSURE else str(args[0]),
        source_ip=client_ip(request),
        peer_ip=peer_ip(request),
        request_id=new_id("portal-"),
    )
    request_id = origin.request_id or ""
    lang = lang_of(request)
    try:
        answer = kernel.run(node, Known(user.principal), origin, fn, *args)
    except SimpulError as exc:
        return Outcome(None, error_message(lang, exc), exc.code, request_id, exc.status)
    return Outcome(answer, None, None, request_id)
