"""Agreement actions: load (files or the seed), sign, activate, suspend, resume, terminate,
apply an addendum; and what follows the end of an agreement (`end_effects`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from simpul.access import service as access
from simpul.access.schemas import DeviceOut
from simpul.agreements import service as agreements
from simpul.agreements.loader import demo_dir, seed_dir
from simpul.agreements.models import Agreement
from simpul.agreements.schemas import EndEffectKind
from simpul.config import Settings
from simpul.governance.actions._audit import audit
from simpul.kit.clock import Clock

Transition = Callable[..., Agreement]


def load_agreements(
    session: Session, settings: Settings, clock: Clock, paths: Sequence[Path], *, actor: str
) -> list[agreements.LoadResult]:
    """Agreement and addendum files (or folders), all or nothing; one record lists what
    each file did, re-loads of unchanged files included."""
    results = agreements.load_files(session, paths, actor=actor, clock=clock)
    ids = sorted({r.agreement_id for r in results})
    audit(
        session, settings, clock, "perjanjian.muat", actor, None,
        detail={"berkas": [str(p) for p in paths],
                "hasil": [{"pks": r.agreement_id, "versi": r.version, "hasil": r.outcome,
                           "adendum": r.addendum_id} for r in results],
                "pks": ids},
    )  # fmt: skip
    return results


def load_seed(
    session: Session, settings: Settings, clock: Clock, *, actor: str, demo: bool = False
) -> list[agreements.LoadResult]:
    """The four shipped PKS, and with `demo` the demo extension addenda."""
    paths = [seed_dir(), *([demo_dir()] if demo else [])]
    return load_agreements(session, settings, clock, paths, actor=actor)


def _transition(
    fn: Transition, action: str, session: Session, settings: Settings, clock: Clock,
    agreement_id: str, actor: str, reason: str,
) -> Agreement:  # fmt: skip
    agreement = fn(session, agreement_id, actor=actor, reason=reason, clock=clock)
    audit(
        session, settings, clock, action, actor, reason, agreement_id=agreement_id,
        agreement_version=agreement.current_version, detail={"status": agreement.state},
    )  # fmt: skip
    return agreement


def sign_agreement(
    session: Session, settings: Settings, clock: Clock, agreement_id: str, *, actor: str,
    reason: str,
) -> Agreement:  # fmt: skip
    return _transition(
        agreements.sign, "perjanjian.tandatangani", session, settings, clock, agreement_id,
        actor, reason,
    )  # fmt: skip


def activate_agreement(
    session: Session, settings: Settings, clock: Clock, agreement_id: str, *, actor: str,
    reason: str,
) -> Agreement:  # fmt: skip
    return _transition(
        agreements.activate, "perjanjian.berlakukan", session, settings, clock, agreement_id,
        actor, reason,
    )  # fmt: skip


def suspend_agreement(
    session: Session, settings: Settings, clock: Clock, agreement_id: str, *, actor: str,
    reason: str,
) -> Agreement:  # fmt: skip
    """Close access at once (PKS 000 Pasal 6(1)c): every path refuses the next request."""
    return _transition(
        agreements.suspend, "perjanjian.tangguhkan", session, settings, clock, agreement_id,
        actor, reason,
    )  # fmt: skip


def resume_agreement(
    session: Session, settings: Settings, clock: Clock, agreement_id: str, *, actor: str,
    reason: str,
) -> Agreement:  # fmt: skip
    return _transition(
        agreements.resume, "perjanjian.lanjutkan", session, settings, clock, agreement_id,
        actor, reason,
    )  # fmt: skip


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
    agreement = _transition(
        agreements.terminate, "perjanjian.akhiri", session, settings, clock, agreement_id,
        actor, reason,
    )  # fmt: skip
    changed, revoked = end_effects(
        session, settings, clock, agreement_id, actor=actor, reason=reason
    )
    return Termination(agreement, changed, revoked)


@dataclass(frozen=True)
class Expiry:
    agreement_ids: list[str]
    devices_deactivated: list[DeviceOut]
    tokens_revoked: int = 0


def expire_due(session: Session, settings: Settings, clock: Clock, *, actor: str) -> Expiry:
    """Record `berakhir` for every agreement whose term has run out, each with its record
    and what the PKS says follows (`end_effects`), as `simpul obligations enforce` does."""
    ids = agreements.expire_due(session, clock, actor=actor)
    devices: list[DeviceOut] = []
    tokens = 0
    for agreement_id in ids:
        row = agreements.get(session, agreement_id)
        reason = f"Jangka waktu berakhir pada {row.ends_on.isoformat()}"
        audit(
            session, settings, clock, "perjanjian.kedaluwarsa", actor, reason,
            agreement_id=agreement_id, agreement_version=row.version,
            detail={"status": "berakhir"},
        )  # fmt: skip
        changed, revoked = end_effects(
            session, settings, clock, agreement_id, actor=actor, reason=reason
        )
        devices.extend(changed)
        tokens += revoked
    return Expiry(ids, devices, tokens)


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
        revoked += access._revoke_account_tokens(session, username, clock.now())
    if revoked:
        audit(
            session, settings, clock, "token.cabut", actor, reason, agreement_id=agreement_id,
            detail={"token_dicabut": revoked, "sebab": "berakhirnya_perjanjian"},
        )  # fmt: skip
    doc = agreements.document_of(agreements.get(session, agreement_id))
    changed: list[DeviceOut] = []
    if any(e.kind is EndEffectKind.DEACTIVATE_DEVICES for e in doc.end_effects):
        recipients = sorted({g.recipient for g in doc.grants})
        for institution in recipients:
            devices = access._deactivate_all_for_institution(
                session,
                institution,
                actor=actor,
                reason=f"Perjanjian {agreement_id} berakhir: {reason}",
                clock=clock,
            )
            for dev in devices:
                audit(
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
            audit(
                session, settings, clock, "perjanjian.adendum", actor, None,
                agreement_id=r.agreement_id, agreement_version=r.version,
                detail={"adendum": r.addendum_id, "berkas": r.source},
            )  # fmt: skip
    return results
