"""The audit records of decisions, built here from what the policy decided (ADR 0009): the
policy decides, the kernel collects, the audit log says how a decision is written down.

Typed structurally so that the log knows nothing of accounts or agreements: anything with
a username and an institution is a principal here; anything with a service, a mechanism, a
dataset and input elements is a request."""

from __future__ import annotations

from typing import Any, Protocol

from simpul.audit.schemas import AuditEvent


class Principal(Protocol):
    @property
    def username(self) -> str: ...
    @property
    def institution(self) -> str: ...


class Decided(Protocol):
    @property
    def allowed(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def agreement_id(self) -> str | None: ...
    @property
    def agreement_version(self) -> int | None: ...
    @property
    def grant_id(self) -> str | None: ...
    @property
    def output_elements(self) -> frozenset[str]: ...


class _Named(Protocol):
    @property
    def value(self) -> str: ...


class Requested(Protocol):
    @property
    def service(self) -> _Named: ...
    @property
    def mechanism(self) -> _Named: ...
    @property
    def dataset(self) -> str: ...
    @property
    def input_elements(self) -> frozenset[str]: ...
    @property
    def agreement_id(self) -> str | None: ...


def decision_event(
    principal: Principal | None,
    req: Requested,
    decision: Decided,
    *,
    subjects: tuple[str, ...] = (),
    result: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    request_id: str | None = None,
    latency_ms: float | None = None,
) -> AuditEvent:
    """The record of one decision about a registry service, allowed or denied."""
    return AuditEvent(
        action=req.service.value,
        decision="izin" if decision.allowed else "tolak",
        reason=decision.reason,
        actor=principal.username if principal else None,
        institution=principal.institution if principal else None,
        # A request pinned to an agreement names it even when refused before a grant was
        # chosen (suspended, ended): its provider reads the refusal in that agreement's log.
        agreement_id=decision.agreement_id or req.agreement_id,
        agreement_version=decision.agreement_version,
        grant_id=decision.grant_id,
        service=req.service.value,
        mechanism=req.mechanism.value,
        dataset=req.dataset,
        subjects=subjects,
        elements=tuple(sorted(req.input_elements | decision.output_elements)),
        result=result or {},
        detail=detail or {},
        request_id=request_id,
        latency_ms=latency_ms,
    )


def resource_event(
    principal: Principal | None,
    action: str,
    decision: Decided,
    *,
    agreement_id: str | None = None,
    dataset: str | None = None,
    mechanism: str | None = None,
    subjects: tuple[str, ...] = (),
    result: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    request_id: str | None = None,
    latency_ms: float | None = None,
) -> AuditEvent:
    """The record of a decision about something other than a registry service (a party's
    file, a provider's export, a person's history), allowed or denied."""
    return AuditEvent(
        action=action,
        decision="izin" if decision.allowed else "tolak",
        reason=decision.reason,
        actor=principal.username if principal else None,
        institution=principal.institution if principal else None,
        agreement_id=agreement_id,
        agreement_version=decision.agreement_version,
        mechanism=mechanism,
        dataset=dataset,
        subjects=subjects,
        result=result or {},
        detail=detail or {},
        request_id=request_id,
        latency_ms=latency_ms,
    )


def sign_in_throttled_event(
    username: str, source: str, failures: int, until: str, *, scope: str
) -> AuditEvent:
    """A (name, source) pair — or, `scope == 'akun'`, every unknown source of a name —
    blocked after repeated failed sign-ins. Never the password tried."""
    return AuditEvent(
        action="masuk.dibatasi",
        decision="tolak",
        reason="percobaan_masuk_dibatasi",
        detail={"akun": username, "sumber": source, "gagal": failures, "hingga": until,
                "cakupan": scope},
    )  # fmt: skip


def recovery_code_used_event(username: str, institution: str, left: int) -> AuditEvent:
    """A portal sign-in completed with a one-time recovery code instead of a TOTP code
    (the phone may be lost: the account's administrator sees it). Never the code."""
    return AuditEvent(
        action="masuk.kode_pemulihan",
        decision="tindakan",
        reason="kode_pemulihan_dipakai",
        actor=username,
        institution=institution,
        detail={"akun": username, "sisa_kode": left},
    )
