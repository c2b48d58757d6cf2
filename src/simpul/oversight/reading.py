"""Reading the audit log by role: which records a reader sees, and one person's access
history as a governed, recorded call.

Scope (docs/governance.md, "Roles and resources"): the hub administrator (a governance
view) and an auditor named in `Settings.hub_auditors` read the whole log; a provider
administrator or an auditor reads the records of the agreements its institution is party
to, the records of its own institution's accounts, and the refusals naming no agreement
that its counterparts met on the datasets it provides to them. A person's history reveals who
looked at that person: only provider administrators and auditors may ask, within the same
scope, and every look-up (allowed or refused) is itself a record with the person as its
subject, so it shows in that person's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from simpul.access.policy import deny
from simpul.access.schemas import Principal, Role
from simpul.agreements import service as agreements
from simpul.audit import service as audit
from simpul.audit import signing, witnessed
from simpul.audit.schemas import AuditEvent
from simpul.audit.tree import TreeCache
from simpul.audit.witnessed import EntryProof
from simpul.config import Settings
from simpul.errors import InvalidInput
from simpul.kernel import Call, Refused
from simpul.registry.identifiers import parse_nik

SUBJECT_HISTORY = "audit.riwayat_subjek"
HISTORY_ROLES = frozenset({Role.PROVIDER_ADMIN, Role.AUDITOR})


def hub_wide(settings: Settings | None, principal: Principal) -> bool:
    """An auditor named in `Settings.hub_auditors` reads every agreement's records. Only by
    explicit configuration: no role is hub-wide by itself."""
    if settings is None or principal.role is not Role.AUDITOR:
        return False
    return principal.username in {u.strip().lower() for u in settings.hub_auditors}


def party_agreements(session: Session, institution: str, at: datetime) -> list[str]:
    """The agreements that name `institution` among their parties."""
    return sorted(a.id for a in agreements.list_agreements(session, at) if institution in a.parties)


@dataclass(frozen=True)
class Scope:
    """What part of the log a reader sees. `institution` None: all of it.

    `unnamed`: (institution, dataset) pairs whose records naming no agreement the reader
    sees too — a refusal decided before any agreement was chosen (the one it would have
    fallen under was suspended, say) by an institution that receives that dataset from the
    reader's institution under one of their agreements."""

    institution: str | None
    agreements: frozenset[str] = frozenset()
    unnamed: frozenset[tuple[str, str]] = frozenset()

    def covers(
        self, institution: str | None, agreement: str | None, dataset: str | None = None
    ) -> bool:
        return (
            self.institution is None
            or institution == self.institution
            or (agreement is not None and agreement in self.agreements)
            or (
                agreement is None
                and institution is not None
                and dataset is not None
                and (institution, dataset) in self.unnamed
            )
        )


def scope_for(session: Session, settings: Settings, principal: Principal, at: datetime) -> Scope:
    """The hub administrator and a hub-wide auditor: the whole log. Everyone else: the
    records of its institution and of the agreements its institution is party to."""
    if principal.role is Role.HUB_ADMIN or hub_wide(settings, principal):
        return Scope(None)
    own = principal.institution
    ids = party_agreements(session, own, at)
    unnamed = {
        (g.recipient, g.dataset)
        for agreement_id in ids
        for g in agreements.document_of(agreements.get(session, agreement_id)).grants
        if g.provider == own
    }
    return Scope(own, frozenset(ids), frozenset(unnamed))


def subject_history(session: Session, call: Call, nik: str) -> list[audit.SubjectAccess]:
    """Kernel operation: one person's access history (UU PDP Pasal 32) as far as the
    caller's scope reaches; recorded as `audit.riwayat_subjek` with the person as subject
    and the number of records shown."""
    info = parse_nik(nik)
    if not info.valid:  # recorded by the kernel with the code; no subject to name
        raise InvalidInput(info.errors[0].code, info.errors[0].detail)
    who = call.principal
    if who.role not in HISTORY_ROLES:
        refused = deny(
            "peran_tidak_berwenang",
            403,
            "Riwayat akses seseorang hanya untuk admin penyedia dan auditor.",
        )
        call.record(session, _event(call, refused.reason, info.nik, {"status": 403}))
        raise Refused(refused)
    scope = scope_for(session, call.settings, who, call.clock.now())
    shown = [
        h
        for h in audit.subject_history(session, call.settings, info.nik)
        if scope.covers(h.institution, h.agreement_id, h.dataset)
    ]
    call.record(
        session,
        _event(call, "ok", info.nik, {"rekaman": len(shown)},
               detail={"cakupan": "seluruh_log" if scope.institution is None else "pihak"}),
    )  # fmt: skip
    return shown


def _event(
    call: Call, reason: str, nik: str, result: dict[str, int], detail: dict[str, str] | None = None
) -> AuditEvent:
    return AuditEvent(
        action=SUBJECT_HISTORY,
        decision="izin" if reason == "ok" else "tolak",
        reason=reason,
        actor=call.principal.username,
        institution=call.principal.institution,
        service=SUBJECT_HISTORY,
        mechanism=call.mechanism.value,
        subjects=(nik,),
        result=dict(result),
        request_id=call.request_id,
        latency_ms=call._elapsed(),
        detail=detail or {},
    )


def subject_history_proven(
    session: Session, call: Call, nik: str, cache: TreeCache
) -> tuple[list[audit.SubjectAccess], dict[int, EntryProof]]:
    """Kernel operation: `subject_history`, each entry with its inclusion proof against the
    latest checkpoint a witness cosigned (or, for entries newer than that, the latest one),
    verified here (docs/audit.md)."""
    shown = subject_history(session, call, nik)
    trusted = signing.trusted_key_ids(call.settings)
    return shown, witnessed.prove_entries(session, cache, [h.seq for h in shown], trusted)
