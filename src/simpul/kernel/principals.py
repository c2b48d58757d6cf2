"""Who is calling: the credential an adapter read, resolved to a principal by the kernel.

HTTP Basic is resolved before the call's unit of work: argon2 runs only for a password not
yet verified in this governance epoch, and a failed password is counted and committed in a
transaction of its own, with the audit record of any throttle it starts (that is what makes
the per-(account, source) throttle work: simpul.access.throttle)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from simpul.access import totp
from simpul.access.auth import (
    OnThrottled,
    account_principal,
    principal_for_account,
    remember_password,
    remembered_password,
    resolve_principal,
    verify_password,
    verify_second_factor,
)
from simpul.access.schemas import Principal
from simpul.access.throttle import ANY_SOURCE, Throttled
from simpul.audit.events import recovery_code_used_event, sign_in_throttled_event
from simpul.audit.service import record_in_session
from simpul.errors import SimpulError
from simpul.runtime import Runtime


@dataclass(frozen=True)
class Bearer:
    token: str


@dataclass(frozen=True)
class Basic:
    username: str
    password: str


@dataclass(frozen=True)
class AccountName:
    """An account named on the node itself (a CLI `--akun`): the shell is the credential."""

    username: str


@dataclass(frozen=True)
class AccountId:
    """The owner of work that runs later (a matching job re-checks its owner as it runs)."""

    account_id: str


@dataclass(frozen=True)
class Known:
    """A principal the adapter resolved this request (a portal session read it now)."""

    principal: Principal


Credential = Bearer | Basic | AccountName | AccountId | Known


def audit_throttles(session: Session, rt: Runtime) -> OnThrottled:
    """Each sign-in block that begins, recorded in the session that counts the failure (it
    commits with the count, or not at all)."""

    def record(t: Throttled) -> None:
        scope = "akun" if t.source == ANY_SOURCE else "sumber"
        ev = sign_in_throttled_event(
            t.username, t.source, t.failures, t.until.isoformat(), scope=scope
        )
        record_in_session(session, rt.settings, ev, rt.clock)

    return record


def second_factor(
    session: Session, rt: Runtime, principal: Principal, code: str, *, source: str | None
) -> totp.Used:
    """The portal sign-in's second step (`verify_second_factor`), with the audit records of
    a throttle it starts and of a recovery code spent, in the caller's session."""
    used = verify_second_factor(
        session, rt.settings, principal, code, clock=rt.clock, source=source,
        on_throttled=audit_throttles(session, rt),
    )  # fmt: skip
    if used is totp.Used.PEMULIHAN:
        left = totp.codes_left(session, principal.account_id)
        ev = recovery_code_used_event(principal.username, principal.institution, left)
        record_in_session(session, rt.settings, ev, rt.clock)
    return used


def resolve(
    session: Session, rt: Runtime, who: Credential, *, source: str | None = None
) -> Principal:
    """The principal as the account stands now, inside the call's unit of work."""
    if isinstance(who, Known):
        return who.principal
    if isinstance(who, Bearer):
        return resolve_principal(session, bearer=who.token, clock=rt.clock)
    if isinstance(who, Basic):
        return resolve_principal(
            session, basic=(who.username, who.password), clock=rt.clock, source=source,
            on_throttled=audit_throttles(session, rt),
        )  # fmt: skip
    if isinstance(who, AccountId):
        return principal_for_account(session, who.account_id)
    return account_principal(session, who.username)


def remembered(
    session: Session, rt: Runtime, who: Credential, *, source: str | None = None
) -> Principal | None:
    """The principal without argon2: None for an HTTP Basic password not yet verified in
    this governance epoch from this source (then `basic_principal` runs, off the loop)."""
    if isinstance(who, Basic):
        return remembered_password(
            session, who.username, who.password, clock=rt.clock, source=source
        )
    return resolve(session, rt, who, source=source)


def basic_principal(rt: Runtime, who: Basic, *, source: str | None = None) -> Principal:
    """HTTP Basic: a password this process verified in the current governance epoch is
    known at the cost of one keyed hash; otherwise argon2 runs, failures are counted (and
    committed) and a success is remembered."""
    with rt.read_transaction() as session:
        known = remembered_password(
            session, who.username, who.password, clock=rt.clock, source=source
        )
    if known is not None:
        return known
    session = rt.sessions()
    try:
        principal, verified = verify_password(
            session, who.username, who.password, clock=rt.clock, source=source,
            on_throttled=audit_throttles(session, rt),
        )  # fmt: skip
        session.commit()
    except SimpulError:
        session.commit()
        raise
    finally:
        session.close()
    with rt.read_transaction() as session:
        remember_password(
            session, who.username, who.password, verified, clock=rt.clock, source=source
        )
    return principal
