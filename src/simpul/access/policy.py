"""The one policy decision every request goes through. Deny by default.

Order (the brief's): credential → account → institution → agreement in force (version,
dates, not suspended) → grant covers (dataset, service, mechanism) → input elements within
the grant → output limited to the grant → region scope → access point (source IP) → device
→ quota → allow. Each refusal carries a stable reason code, an HTTP status and an
Indonesian detail; allow and deny alike are audited by the caller with `audit_event`.

Nothing is cached: every decision reads the current account, agreement and device state,
so a revocation or suspension takes effect on the very next request.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from simpul.access.quota import QuotaLimiter, QuotaUnavailable, largest_call
from simpul.access.schemas import AccountStatus, DeviceStatus, Principal, Role
from simpul.agreements import service as agreements
from simpul.agreements.lifecycle import State
from simpul.agreements.schemas import Grant, Mechanism, Service
from simpul.errors import NotFound

# Who may call data services; administrators and auditors govern and read logs instead.
SERVICE_ROLES = frozenset({Role.OPERATOR, Role.DATA_USER})
# Mechanisms that must come through the recipient's registered access point.
NETWORK_BOUND = frozenset({Mechanism.WEB_SERVICE, Mechanism.CARD_READER, Mechanism.BATCH})


@dataclass(frozen=True)
class AccessRequest:
    dataset: str
    service: Service
    mechanism: Mechanism
    input_elements: frozenset[str] = frozenset()
    # None: the grant's whole output; a set: exactly these (each must be granted).
    output_elements: frozenset[str] | None = None
    agreement_id: str | None = None  # pin one agreement when the caller holds several
    subject_region: str | None = None  # region code of the subject, for scoped grants
    source_ip: str | None = None
    device_serial: str | None = None
    internal: bool = False  # CLI or a job the hub runs: no network access point to check
    units: int = 1  # how many items this request consumes from the quota (batch)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    status: int = 200
    detail: str = ""
    agreement_id: str | None = None
    agreement_version: int | None = None
    grant: Grant | None = None
    output_elements: frozenset[str] = frozenset()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def grant_id(self) -> str | None:
        return self.grant.id if self.grant else None

    @property
    def region_scope(self) -> tuple[str, ...] | None:
        return self.grant.region_scope if self.grant else None


def deny(reason: str, status: int, detail: str, **extra: Any) -> Decision:
    return Decision(False, reason, status, detail, extra=extra)


_STATE_REASONS = {
    State.DITANGGUHKAN: ("perjanjian_ditangguhkan", "Perjanjian sedang ditangguhkan."),
    State.DIAKHIRI: ("perjanjian_diakhiri", "Perjanjian telah diakhiri."),
    State.BERAKHIR: ("perjanjian_berakhir", "Jangka waktu perjanjian telah berakhir."),
    State.DITANDATANGANI: ("perjanjian_belum_berlaku", "Perjanjian belum berlaku."),
    State.DRAF: ("perjanjian_belum_berlaku", "Perjanjian masih draf."),
}
# When several agreements are out of force, report the most telling reason.
_STATE_PRIORITY = [
    State.DITANGGUHKAN,
    State.DIAKHIRI,
    State.BERAKHIR,
    State.DITANDATANGANI,
    State.DRAF,
]


@lru_cache(maxsize=4096)  # parsing networks on every request cost ~100 µs (measured)
def _ip_allowed(source_ip: str, cidrs: tuple[str, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(source_ip)
    except ValueError:
        return False
    return any(addr in ipaddress.ip_network(c) for c in cidrs)


def _outside_access_point(principal: Principal, req: AccessRequest) -> bool:
    """PKS 003 Pasal 2(1)e: one closed-network access point per recipient."""
    if req.mechanism not in NETWORK_BOUND or req.internal or not principal.access_cidrs:
        return False
    return req.source_ip is None or not _ip_allowed(req.source_ip, principal.access_cidrs)


def decide(
    session: Session,
    principal: Principal,
    req: AccessRequest,
    *,
    at: datetime,
    quota: QuotaLimiter | None = None,
) -> Decision:
    """Allow only what the caller's agreement in force grants, and say why otherwise."""
    if principal.status is not AccountStatus.AKTIF:
        return deny("akun_dicabut", 401, "Akun telah dicabut.")
    if principal.role not in SERVICE_ROLES:
        return deny(
            "peran_tidak_berwenang", 403, "Peran akun ini tidak dapat memakai layanan data."
        )
    bound = principal.agreement_ids
    if req.agreement_id is not None:
        if req.agreement_id not in bound:
            return deny(
                "perjanjian_tidak_terikat", 403, "Akun tidak terikat pada perjanjian tersebut."
            )
        bound = frozenset({req.agreement_id})
    if not bound:
        return deny("akun_tanpa_perjanjian", 403, "Akun belum terikat pada perjanjian apa pun.")

    states: dict[str, State] = {}
    for agreement_id in sorted(bound):
        try:
            states[agreement_id] = agreements.effective_state_of(session, agreement_id, at)
        except NotFound:
            continue
    in_force = {a for a, s in states.items() if s is State.BERLAKU}

    candidates = [
        (row, grant)
        for row, grant in agreements.grants_for(
            session, principal.institution, req.dataset, req.service, req.mechanism, at
        )
        if row.agreement_id in in_force
    ]
    if not candidates:
        return _why_no_grant(session, principal, req, states, in_force, at)

    # Among the grants that fit the service, the first that covers the input elements.
    extra_inputs: set[str] = set()
    chosen: tuple[Any, Grant] | None = None
    for row, grant in candidates:
        outside = set(req.input_elements) - set(grant.input_elements)
        if not outside:
            chosen = (row, grant)
            break
        extra_inputs |= outside
    if chosen is None:
        return deny(
            "elemen_di_luar_hibah",
            403,
            "Elemen masukan di luar hak akses: " + ", ".join(sorted(extra_inputs)) + ".",
            elemen=sorted(extra_inputs),
        )
    row, grant = chosen
    granted_out = frozenset(grant.output_elements)
    if req.output_elements is not None:
        outside_out = req.output_elements - granted_out
        if outside_out:
            return deny(
                "elemen_di_luar_hibah",
                403,
                "Elemen keluaran di luar hak akses: " + ", ".join(sorted(outside_out)) + ".",
                elemen=sorted(outside_out),
            )
        granted_out = req.output_elements
    if req.subject_region is not None and not grant.covers_region(req.subject_region):
        return deny("di_luar_cakupan_wilayah", 403, "Data di luar cakupan wilayah perjanjian.")
    if _outside_access_point(principal, req):
        return deny(
            "titik_akses_tidak_sah", 403, "Permintaan tidak berasal dari titik akses terdaftar."
        )
    if req.mechanism is Mechanism.CARD_READER:
        refused = _device_refusal(session, principal, req.device_serial)
        if refused is not None:
            return refused
    if quota is not None and grant.quota is not None:
        refused = _quota_refusal(quota, principal, f"{row.agreement_id}/{grant.id}", grant,
                                 req.units, at)  # fmt: skip
        if refused is not None:
            return refused
    return Decision(
        True,
        "ok",
        200,
        "Diizinkan.",
        agreement_id=row.agreement_id,
        agreement_version=row.version,
        grant=grant,
        output_elements=granted_out,
    )


def _angka(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _quota_refusal(
    quota: QuotaLimiter,
    principal: Principal,
    grant_key: str,
    grant: Grant,
    units: int,
    at: datetime,
) -> Decision | None:
    """Take the call's units from the grant's quota (a batch counts its items). A call
    larger than a window can never pass and is refused as such (413), not told to retry;
    a refused call's `coba_lagi_detik` is when the same call can pass."""
    assert grant.quota is not None
    largest = largest_call(grant.quota)
    if largest is not None and units > largest:
        per = "menit" if largest == grant.quota.per_minute else "hari"
        return deny(
            "batch_melebihi_kuota",
            413,
            f"Satu panggilan memuat {_angka(units)} butir, sedangkan kuota hibah ini "
            f"{_angka(largest)} butir per {per}: kirim paling banyak {_angka(largest)} butir "
            "per panggilan.",
            butir=units,
            batas_butir=largest,
        )
    try:
        wait = quota.consume(principal.account_id, grant_key, grant.quota, at, units)
    except QuotaUnavailable as exc:
        return deny(exc.code, exc.status, exc.detail)
    if wait is None:
        return None
    return deny(
        "kuota_terlampaui",
        429,
        f"Kuota permintaan perjanjian terlampaui; coba lagi dalam {_angka(wait)} detik.",
        coba_lagi_detik=wait,
    )


def _why_no_grant(
    session: Session,
    principal: Principal,
    req: AccessRequest,
    states: dict[str, State],
    in_force: set[str],
    at: datetime,
) -> Decision:
    """No grant fits: say whether the agreement is out of force or the right is missing."""
    # An agreement out of force that would grant this service explains the refusal best.
    out_of_force = [a for a, st in states.items() if st is not State.BERLAKU]
    holding = {
        states[a]
        for a in out_of_force
        if any(
            g.recipient == principal.institution
            and g.dataset == req.dataset
            and g.service is req.service
            for g in agreements.document_of(agreements.get(session, a)).grants
        )
    }
    pool = holding or (set(states.values()) if not in_force else set())
    for state in _STATE_PRIORITY:
        if state in pool:
            reason, detail = _STATE_REASONS[state]
            return deny(reason, 403, detail)
    if not in_force:
        return deny("perjanjian_tidak_ada", 403, "Perjanjian akun tidak ditemukan.")
    other_mechanisms = [
        m
        for m in Mechanism
        if m is not req.mechanism
        and any(
            row.agreement_id in in_force
            for row, _ in agreements.grants_for(
                session, principal.institution, req.dataset, req.service, m, at
            )
        )
    ]
    if other_mechanisms:
        return deny(
            "mekanisme_tidak_diizinkan",
            403,
            f"Layanan ini hanya melalui: {', '.join(m.value for m in other_mechanisms)}.",
        )
    return deny(
        "layanan_tidak_diizinkan",
        403,
        f"Perjanjian tidak memberi layanan {req.service.value} atas dataset {req.dataset}.",
    )


class Side(StrEnum):
    """Which party to an agreement a stored resource belongs to."""

    PROVIDER = "penyedia"  # feedback data returned to it, outputs it reviews
    RECIPIENT = "penerima"
    ANY = "pihak"  # either party (an auditor reading the agreement's records)


@dataclass(frozen=True)
class PartyRequest:
    """Access to something the node keeps under one agreement for one of its parties (not
    a registry service): feedback files, processing outputs under review, the agreement's
    audit records. Allowed for the given roles of an institution on that side of the
    agreement, while the agreement is in force (unless `in_force_only` is off: an auditor
    may read the records of an agreement that has ended)."""

    resource: str  # the record's action, e.g. "data_balikan.unduh"
    agreement_id: str
    roles: frozenset[Role]
    side: Side = Side.ANY
    dataset: str | None = None
    in_force_only: bool = True


def decide_party(
    session: Session, principal: Principal, req: PartyRequest, *, at: datetime
) -> Decision:
    """Allow a party's role to reach what the node keeps for it under one agreement."""
    if principal.status is not AccountStatus.AKTIF:
        return deny("akun_dicabut", 401, "Akun telah dicabut.")
    if principal.role not in req.roles:
        return deny("peran_tidak_berwenang", 403, "Peran akun ini tidak berwenang atas data ini.")
    try:
        row = agreements.get(session, req.agreement_id)
    except NotFound:
        return deny("perjanjian_tidak_ada", 403, "Perjanjian tidak ditemukan.")
    doc = agreements.document_of(row)
    providers = {g.provider for g in doc.grants}
    recipients = {g.recipient for g in doc.grants}
    sides = {
        Side.PROVIDER: providers,
        Side.RECIPIENT: recipients,
        Side.ANY: set(doc.party_codes) | providers | recipients,
    }
    if principal.institution not in sides[req.side]:
        return deny("bukan_pihak_perjanjian", 403, "Instansi akun bukan pihak perjanjian tersebut.")
    if req.in_force_only:
        state = agreements.effective_state_of(session, req.agreement_id, at)
        if state is not State.BERLAKU:
            reason, detail = _STATE_REASONS[state]
            return deny(reason, 403, detail)
    return Decision(True, "ok", 200, "Diizinkan.", agreement_id=req.agreement_id,
                    agreement_version=row.version)  # fmt: skip


@dataclass(frozen=True)
class ProviderRequest:
    """A provider's own registry as a whole (an export): only the given roles of the
    institution that provides `dataset`. No recipient, auditor or hub administrator: a
    whole registry leaves the node's controls."""

    resource: str  # the record's action, e.g. "registri.ekspor"
    dataset: str
    provider: str  # the institution providing the dataset
    roles: frozenset[Role] = frozenset({Role.PROVIDER_ADMIN})


def decide_provider(principal: Principal, req: ProviderRequest) -> Decision:
    if principal.status is not AccountStatus.AKTIF:
        return deny("akun_dicabut", 401, "Akun telah dicabut.")
    if principal.role not in req.roles:
        return deny(
            "peran_tidak_berwenang", 403,
            f"{req.resource} atas registri {req.dataset} hanya oleh admin penyedia "
            f"(provider_admin) {req.provider}; akun {principal.username} berperan "
            f"{principal.role.value}.",
        )  # fmt: skip
    if principal.institution != req.provider:
        return deny(
            "bukan_penyedia", 403,
            f"Registri {req.dataset} disediakan oleh {req.provider}, bukan "
            f"{principal.institution}.",
        )  # fmt: skip
    return Decision(True, "ok", 200, "Diizinkan.")


def _device_refusal(session: Session, principal: Principal, serial: str | None) -> Decision | None:
    from simpul.access import service as access

    if not serial:
        return deny("perangkat_wajib", 403, "Permintaan pembaca KTP-el wajib menyebut perangkat.")
    try:
        device = access.get_device(session, serial)
    except NotFound:
        return deny("perangkat_tidak_dikenal", 403, "Perangkat pembaca KTP-el tidak terdaftar.")
    if device.institution != principal.institution or device.status is not DeviceStatus.AKTIF:
        return deny("perangkat_tidak_aktif", 403, "Perangkat pembaca KTP-el tidak aktif.")
    return None
