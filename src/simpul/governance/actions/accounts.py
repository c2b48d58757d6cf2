"""Account actions: create, revoke, reset a secret, change a password, unlock, bind and
unbind an agreement, and a second factor's activation, recovery codes and reset. Each
records who did it; no record ever holds a secret, password or code."""

from __future__ import annotations

from sqlalchemy.orm import Session

from simpul.access import passwords as pw
from simpul.access import service as access
from simpul.access import totp
from simpul.access.schemas import AccountCreate, AccountOut, IssuedSecret
from simpul.config import Settings
from simpul.errors import Conflict, SimpulError
from simpul.governance.actions._audit import audit
from simpul.kit.clock import Clock


def create_account(
    session: Session, settings: Settings, clock: Clock, data: AccountCreate, *, actor: str,
    passwords: pw.Passwords | None = None,
) -> IssuedSecret:  # fmt: skip
    """A user or machine client of any role (hub_admin included); the secret is shown once
    to the caller and appears nowhere in the log."""
    issued = access._create_account(session, data, actor=actor, clock=clock, passwords=passwords)
    a = issued.account
    audit(
        session, settings, clock, "akun.buat", actor, None, institution=a.institution,
        detail={"akun": a.username, "jenis": a.kind.value, "peran": a.role.value,
                "operator_untuk": a.operator_of, "pks": list(a.agreement_ids)},
    )  # fmt: skip
    return issued


def revoke_account(
    session: Session, settings: Settings, clock: Clock, username: str, *, actor: str,
    reason: str,
) -> AccountOut:  # fmt: skip
    acct = access._revoke_account(session, username, actor=actor, reason=reason, clock=clock)
    audit(
        session, settings, clock, "akun.cabut", actor, reason,
        institution=acct.institution, detail={"akun": acct.username},
    )  # fmt: skip
    return acct


def reset_secret(
    session: Session, settings: Settings, clock: Clock, username: str, *, actor: str,
    reason: str, passwords: pw.Passwords | None = None,
) -> IssuedSecret:  # fmt: skip
    issued = access._reset_secret(
        session, username, actor=actor, reason=reason, clock=clock, passwords=passwords
    )
    audit(
        session, settings, clock, "akun.atur_ulang_rahasia", actor, reason,
        institution=issued.account.institution, detail={"akun": issued.account.username},
    )  # fmt: skip
    return issued


def change_password(
    session: Session, settings: Settings, clock: Clock, username: str, current: str, new: str,
    *, actor: str | None = None, passwords: pw.Passwords | None = None,
) -> AccountOut:  # fmt: skip
    """The user's own change (PKS 003 Pasal 2(1)f); the actor is the user unless named."""
    acct = access._change_password(
        session, username, current, new, clock=clock, passwords=passwords
    )
    audit(
        session, settings, clock, "akun.ganti_kata_sandi", actor or acct.username, None,
        institution=acct.institution, detail={"akun": acct.username},
    )  # fmt: skip
    return acct


def unlock_account(
    session: Session, settings: Settings, clock: Clock, username: str, *, actor: str,
    reason: str, source: str | None = None,
) -> AccountOut:  # fmt: skip
    """Lift the sign-in throttle of an account (every source, or one source address)."""
    acct, lifted = access._unlock_account(
        session, username, actor=actor, reason=reason, source=source
    )
    audit(
        session, settings, clock, "akun.buka_kunci", actor, reason,
        institution=acct.institution,
        detail={"akun": acct.username, "sumber": source or "semua", "dibuka": lifted},
    )  # fmt: skip
    return acct


def bind_agreement(
    session: Session, settings: Settings, clock: Clock, username: str, agreement_id: str, *,
    actor: str, reason: str | None = None,
) -> AccountOut:  # fmt: skip
    acct = access._bind_agreement(session, username, agreement_id, actor=actor, clock=clock)
    audit(
        session, settings, clock, "akun.ikat_pks", actor, reason, institution=acct.institution,
        agreement_id=agreement_id.strip(), detail={"akun": acct.username},
    )  # fmt: skip
    return acct


def unbind_agreement(
    session: Session, settings: Settings, clock: Clock, username: str, agreement_id: str, *,
    actor: str, reason: str,
) -> AccountOut:  # fmt: skip
    acct = access._unbind_agreement(session, username, agreement_id, actor=actor, reason=reason)
    audit(
        session, settings, clock, "akun.lepas_pks", actor, reason, institution=acct.institution,
        agreement_id=agreement_id, detail={"akun": acct.username},
    )  # fmt: skip
    return acct


def confirm_second_factor(
    session: Session, settings: Settings, clock: Clock, username: str, code: str, *,
    actor: str | None = None,
) -> list[str]:  # fmt: skip
    """Activate the account's begun TOTP enrolment with its first code (simpul.access.totp);
    returns the recovery codes, shown once and never recorded."""
    acct = access.get_account(session, username)
    codes = totp.confirm(session, settings, acct.id, code, clock=clock)
    audit(
        session, settings, clock, "akun.faktor_kedua_aktif", actor or acct.username, None,
        institution=acct.institution, detail={"akun": acct.username, "kode_pemulihan": len(codes)},
    )  # fmt: skip
    return codes


def renew_recovery_codes(
    session: Session, settings: Settings, clock: Clock, username: str, code: str, *,
    actor: str | None = None,
) -> list[str]:  # fmt: skip
    """A new set of recovery codes for the user's own active second factor, against a
    current code (a stolen session alone cannot mint codes); every earlier code stops."""
    acct = access.get_account(session, username)
    if totp.check(session, settings, acct.id, code, clock=clock, recovery=False) is None:
        raise SimpulError(
            "kode_faktor_kedua_salah", "Kode faktor kedua salah atau sudah dipakai.", status=401
        )
    codes = totp.new_recovery_codes(session, acct.id, clock=clock)
    audit(
        session, settings, clock, "akun.kode_pemulihan_baru", actor or acct.username, None,
        institution=acct.institution, detail={"akun": acct.username, "kode_pemulihan": len(codes)},
    )  # fmt: skip
    return codes


def reset_second_factor(
    session: Session, settings: Settings, clock: Clock, username: str, *, actor: str,
    reason: str,
) -> AccountOut:  # fmt: skip
    """An administrator removes a user's second factor (a lost phone, after the user's
    identity was checked); the user enrols again at the next sign-in."""
    access._require_reason(reason)
    acct = access.get_account(session, username)
    if not totp.reset(session, acct.id):
        raise Conflict(
            "faktor_kedua_tidak_ada", f"Akun {acct.username!r} tidak memiliki faktor kedua."
        )
    audit(
        session, settings, clock, "akun.faktor_kedua_atur_ulang", actor, reason,
        institution=acct.institution, detail={"akun": acct.username},
    )  # fmt: skip
    return access.get_account(session, username)
