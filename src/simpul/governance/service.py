"""Governance actions over agreements, accounts, devices and institutions.

Each takes the caller's session (the command or request owns the transaction), calls the
capability's own service function, and appends an audit record of kind `tindakan` with the
actor and reason through `audit.record_in_session`: they commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from simpul.access import service as access
from simpul.access.repository import AccountRepository, TokenRepository
from simpul.access.schemas import AccountOut, DeviceOut, IssuedSecret, NameChange
from simpul.agreements import service as agreements
from simpul.agreements.models import Agreement
from simpul.agreements.schemas import EndEffectKind
from simpul.audit.schemas import AuditEvent
from simpul.audit.service import record_in_session
from simpul.config import Settings
from simpul.kit.clock import Clock

REASON = "tindakan_tata_kelola"


def _audit(
    session: Session,
    settings: Settings,
    clock: Clock,
    action: str,
    actor: str,
    reason: str | None,
    **fields: Any,
) -> int:
    detail = {"alasan": reason} if reason else {}
    detail.update(fields.pop("detail", {}))
    event = AuditEvent(
        action=action, decision="tindakan", reason=REASON, actor=actor, detail=detail, **fields
    )
    return record_in_session(session, settings, event, clock)


def _agreement_action(
    verb: str,
    action: str,
    session: Session,
    settings: Settings,
    clock: Clock,
    agreement_id: str,
    actor: str,
    reason: str,
) -> Agreement:
    fn = {
        "sign": agreements.sign,
        "activate": agreements.activate,
        "suspend": agreements.suspend,
        "resume": agreements.resume,
        "terminate": agreements.terminate,
    }[verb]
    agreement = fn(session, agreement_id, actor=actor, reason=reason, clock=clock)
    _audit(
        session,
        settings,
        clock,
        action,
        actor,
        reason,
        agreement_id=agreement_id,
        agreement_version=agreement.current_version,
        detail={"status": agreement.state},
    )
    return agreement


def sign_agreement(
    session: Session, settings: Settings, clock: Clock, agreement_id: str, *, actor: str,
    reason: str,
) -> Agreement:  # fmt: skip
    return _agreement_action(
        "sign", "perjanjian.tandatangani", session, settings, clock, agreement_id, actor, reason
    )


def activate_agreement(
    session: Session, settings: Settings, clock: Clock, agreement_id: str, *, actor: str,
    reason: str,
) -> Agreement:  # fmt: skip
    return _agreement_action(
        "activate", "perjanjian.berlakukan", session, settings, clock, agreement_id, actor, reason
    )


def suspend_agreement(
    session: Session, settings: Settings, clock: Clock, agreement_id: str, *, actor: str,
    reason: str,
) -> Agreement:  # fmt: skip
    """Close access at once (PKS 000 Pasal 6(1)c): every path refuses the next request."""
    return _agreement_action(
        "suspend", "perjanjian.tangguhkan", session, settings, clock, agreement_id, actor, reason
    )


def resume_agreement(
    session: Session, settings: Settings, clock: Clock, agreement_id: str, *, actor: str,
    reason: str,
) -> Agreement:  # fmt: skip
    return _agreement_action(
        "resume", "perjanjian.lanjutkan", session, settings, clock, agreement_id, actor, reason
    )


@dataclass(frozen=True)
class Termination:
    agreement: Agreement
    devices_deactivated: list[DeviceOut]
    tokens_revoked: int = 0


def terminate_agreement(
    session: Session, settings: Settings, clock: Clock, agreement_id: str, *, actor: str,
    reason: str,
) -> Termination:  # fmt: skip
    """End the agreement and carry out what the PKS says follows (PKS 003 Pasal 9: the
    recipient's card readers are deactivated)."""
    agreement = _agreement_action(
        "terminate", "perjanjian.akhiri", session, settings, clock, agreement_id, actor, reason
    )
    changed, revoked = end_effects(
        session, settings, clock, agreement_id, actor=actor, reason=reason
    )
    return Termination(agreement, changed, revoked)


def end_effects(
    session: Session, settings: Settings, clock: Clock, agreement_id: str, *, actor: str,
    reason: str,
) -> tuple[list[DeviceOut], int]:  # fmt: skip
    """What follows the end of an agreement (termination or expiry), at once: the client
    tokens of the accounts bound to it are revoked (the policy already refuses them; a
    revoked token cannot be replayed even if the agreement were wrongly revived), and where
    the PKS says so (PKS 003 Pasal 9) the recipient's card readers are deactivated.
    Returns the devices deactivated and the number of tokens revoked."""
    revoked = 0
    for username in access.accounts_for_agreement(session, agreement_id):
        acct = AccountRepository(session).by_username(username)
        if acct is not None:
            revoked += TokenRepository(session).revoke_all_for_account(acct.id, clock.now())
    if revoked:
        _audit(
            session, settings, clock, "token.cabut", actor, reason, agreement_id=agreement_id,
            detail={"token_dicabut": revoked, "sebab": "berakhirnya_perjanjian"},
        )  # fmt: skip
    doc = agreements.document_of(agreements.get(session, agreement_id))
    changed: list[DeviceOut] = []
    if any(e.kind is EndEffectKind.DEACTIVATE_DEVICES for e in doc.end_effects):
        recipients = sorted({g.recipient for g in doc.grants})
        for institution in recipients:
            devices = access.deactivate_all_for_institution(
                session,
                institution,
                actor=actor,
                reason=f"Perjanjian {agreement_id} berakhir: {reason}",
                clock=clock,
            )
            for dev in devices:
                _audit(
                    session, settings, clock, "perangkat.nonaktifkan", actor, reason,
                    institution=institution, agreement_id=agreement_id,
                    detail={"perangkat": dev.serial, "sebab": "pengakhiran_perjanjian"},
                )  # fmt: skip
            changed.extend(devices)
    return changed, revoked


def apply_addendum(
    session: Session, settings: Settings, clock: Clock, path: Path, *, actor: str
) -> list[agreements.LoadResult]:
    """An addendum makes version N+1; the audit record names the new version."""
    results = agreements.load_files(session, [path], actor=actor, clock=clock)
    for r in results:
        if r.outcome == "adendum":
            _audit(
                session, settings, clock, "perjanjian.adendum", actor, None,
                agreement_id=r.agreement_id, agreement_version=r.version,
                detail={"adendum": r.addendum_id, "berkas": r.source},
            )  # fmt: skip
    return results


def revoke_account(
    session: Session, settings: Settings, clock: Clock, username: str, *, actor: str,
    reason: str,
) -> AccountOut:  # fmt: skip
    acct = access.revoke_account(session, username, actor=actor, reason=reason, clock=clock)
    _audit(
        session, settings, clock, "akun.cabut", actor, reason,
        institution=acct.institution, detail={"akun": acct.username},
    )  # fmt: skip
    return acct


def reset_secret(
    session: Session, settings: Settings, clock: Clock, username: str, *, actor: str,
    reason: str,
) -> IssuedSecret:  # fmt: skip
    issued = access.reset_secret(session, username, actor=actor, reason=reason, clock=clock)
    _audit(
        session, settings, clock, "akun.atur_ulang_rahasia", actor, reason,
        institution=issued.account.institution, detail={"akun": issued.account.username},
    )  # fmt: skip
    return issued


def activate_device(
    session: Session, settings: Settings, clock: Clock, serial: str, *, actor: str
) -> DeviceOut:
    dev = access.activate_device(session, serial, actor=actor, clock=clock)
    _audit(
        session, settings, clock, "perangkat.aktifkan", actor, None,
        institution=dev.institution, detail={"perangkat": dev.serial},
    )  # fmt: skip
    return dev


def deactivate_device(
    session: Session, settings: Settings, clock: Clock, serial: str, *, actor: str,
    reason: str,
) -> DeviceOut:  # fmt: skip
    dev = access.deactivate_device(session, serial, actor=actor, reason=reason, clock=clock)
    _audit(
        session, settings, clock, "perangkat.nonaktifkan", actor, reason,
        institution=dev.institution, detail={"perangkat": dev.serial},
    )  # fmt: skip
    return dev


def rename_institution(
    session: Session, settings: Settings, clock: Clock, code: str, new_name: str, *,
    actor: str, reason: str,
) -> NameChange:  # fmt: skip
    """A change of nomenclature is recorded; PKS 003 Pasal 6 lets it end the agreement
    (enforcement rules per agreement are part of the obligations capability)."""
    change = access.rename_institution(
        session, code, new_name, actor=actor, reason=reason, clock=clock
    )
    _audit(
        session, settings, clock, "instansi.ubah_nama", actor, reason, institution=code,
        detail={"nama_lama": change.old_name, "nama_baru": change.new_name},
    )  # fmt: skip
    return change
