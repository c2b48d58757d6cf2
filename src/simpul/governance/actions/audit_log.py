"""Governance of the log's witnesses and keys (docs/audit.md): who may cosign this node's
checkpoints, and the checkpoint key's rotation. Each is audited in its own transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from simpul.access import service as access
from simpul.access.schemas import AccountKind, Role
from simpul.audit import signing, witnessed
from simpul.audit.models import AuditWitness
from simpul.config import Settings
from simpul.errors import InvalidInput
from simpul.governance.actions._audit import audit
from simpul.kit.clock import Clock


def register_witness(
    session: Session, settings: Settings, clock: Clock, name: str, verifier_key: str,
    account: str, *, actor: str,
) -> AuditWitness:  # fmt: skip
    """Accept cosignatures from witness `name` (its cosignature/v1 verifier key), handed
    in by the machine client `account`, which must have the witness role."""
    acct = access.get_account(session, account)
    if acct.role is not Role.WITNESS or acct.kind is not AccountKind.CLIENT:
        raise InvalidInput(
            "akun_bukan_saksi", f"Akun {account!r} bukan klien mesin berperan saksi."
        )
    witness = witnessed.add_witness(
        session, clock.now(), name, verifier_key, acct.username, acct.institution
    )
    audit(
        session, settings, clock, "audit.saksi_didaftarkan", actor, None,
        institution=acct.institution,
        detail={"saksi": name, "akun": acct.username, "kunci": verifier_key.strip()},
    )  # fmt: skip
    return witness


def remove_witness(
    session: Session, settings: Settings, clock: Clock, name: str, *, actor: str, reason: str
) -> AuditWitness:
    access._require_reason(reason)
    witness = witnessed.remove_witness(session, clock.now(), name)
    audit(
        session, settings, clock, "audit.saksi_dicabut", actor, reason,
        institution=witness.institution, detail={"saksi": name},
    )  # fmt: skip
    return witness


def rotate_checkpoint_key(
    session: Session, settings: Settings, clock: Clock, *, actor: str, reason: str
) -> tuple[str, str]:
    """A new checkpoint key; the old public key stays trusted for what it signed. The
    record names both key ids: a witness that sees the new key knows it was announced."""
    access._require_reason(reason)
    old, new = signing.rotate_key(settings)
    audit(
        session, settings, clock, "audit.kunci_checkpoint_diganti", actor, reason,
        detail={"kunci_lama": old, "kunci_baru": new},
    )  # fmt: skip
    return old, new
