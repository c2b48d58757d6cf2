"""Who signs in to the portal with a second factor, and what a password alone opens.

An account must have one when its role is in `second_factor_roles` (the administrators
and auditors: they manage agreements and accounts, or read the log of who saw whom), or
when any agreement it acts under grants its institution a service in
`second_factor_services` (look-up by NIK, BNBA, microdata: personal data on screen). An
operator acts under its data user's agreements, so it follows them. An account that has
enrolled is asked for its code whether it must or not.

After a correct password the session is `pending`: "kode" when a code is due, "daftar" when
the account must enrol first. Machine clients never sign in here (docs/adr/0012)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from simpul.access import totp
from simpul.access.schemas import Principal
from simpul.agreements import service as agreements
from simpul.errors import SimpulError
from simpul.portal.settings import PortalSettings

CODE_DUE = "kode"
ENROL_DUE = "daftar"


def required(session: Session, principal: Principal, at: datetime, cfg: PortalSettings) -> bool:
    if principal.role.value in cfg.second_factor_roles:
        return True
    wanted = set(cfg.second_factor_services)
    for agreement_id in sorted(principal.agreement_ids):
        try:
            doc = agreements.document_of(agreements.version_in_force(session, agreement_id, at))
        except SimpulError:  # an agreement not (or no longer) on record grants nothing
            continue
        if any(g.recipient == principal.institution and g.service.value in wanted
               for g in doc.grants):  # fmt: skip
            return True
    return False


def due(session: Session, principal: Principal, at: datetime, cfg: PortalSettings) -> str | None:
    """What a correct password still leaves to do: a code, an enrolment, or nothing."""
    if totp.status(session, principal.account_id) is totp.Status.AKTIF:
        return CODE_DUE
    return ENROL_DUE if required(session, principal, at, cfg) else None
