"""The governed call: who is asking, through which mechanism, and what the call has decided
and disclosed so far.

A service function receives a `Call` and may do exactly two governed things with it:
`authorize` (the policy decision; a refusal is recorded and raised) and `disclose` (the
audit record of what an allowed call reveals, with its subjects). It never writes the audit
log itself: the kernel (`simpul.kernel.core`) writes the records the call collected, inside
the call's transaction or through the group-commit writer, before the answer leaves, and
refuses to answer a call that disclosed nothing it recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from simpul.access.policy import (
    AccessRequest,
    Decision,
    PartyRequest,
    ProviderRequest,
    decide,
    decide_party,
    decide_provider,
)
from simpul.access.quota import QuotaLimiter
from simpul.access.schemas import Principal
from simpul.agreements.schemas import Mechanism
from simpul.audit.events import decision_event, resource_event
from simpul.audit.schemas import AuditEvent
from simpul.audit.service import AuditWriter, Receipt
from simpul.config import Settings
from simpul.errors import SimpulError
from simpul.kit.clock import Clock
from simpul.registry import service as registry


class Refused(SimpulError):
    """A refusal the call has already recorded (the policy said no, or an allowed request
    could not be answered): the kernel raises it after the record is durable."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason, decision.detail, status=decision.status, **decision.extra)
        self.decision = decision


@dataclass(frozen=True)
class RemoteAnswer:
    """A provider node's answer to a forwarded call: its JSON body, and what the recipient's
    record keeps of the exchange (the provider, its request id and its signed receipt)."""

    answer: Any
    detail: dict[str, Any]


class Remote(Protocol):
    """A provider's node, for a dataset this node does not hold (simpul.federation)."""

    def ask(self, call: Call, path: str, body: dict[str, Any]) -> RemoteAnswer: ...


class Peers(Protocol):
    """The federation as the kernel sees it: which datasets are served by another node."""

    def remote(self, dataset: str) -> Remote | None: ...


@dataclass
class Call:
    """Everything about one governed call that is not its body.

    `events` collects the call's audit records in order; the kernel writes them. `action`
    and `dataset` name the operation for a record of a refusal that happened before any
    decision (a NIK of 15 digits, an unknown dataset)."""

    principal: Principal
    mechanism: Mechanism
    source_ip: str | None
    request_id: str
    settings: Settings
    clock: Clock
    quota: QuotaLimiter | None = None
    writer: AuditWriter | None = None
    # A command or job run on the node itself: no network access point to check.
    internal: bool = False
    # The trusted proxy that forwarded `source_ip` (simpul.kit.proxies), if any.
    peer_ip: str | None = None
    action: str = ""
    dataset: str | None = None
    # (dataset, NIK) → record (None: not in the registry), already read by the fast path
    # in the statement that read the governance epoch (see `simpul.services.hot`).
    prefetched: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)
    events: list[AuditEvent] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    # The last decision taken, for a refusal raised after it (its agreement is recorded).
    last_decision: Decision | None = None
    # The receipts of the allowed records written for the call (simpul.kernel.receipts),
    # and how many of them the kernel has handed on once durable.
    receipts: list[Receipt] = field(default_factory=list)
    published: int = 0
    # The federation: a dataset of another node is answered by that node (`remote`).
    peers: Peers | None = None
    # Facts recorded in the detail of each of the call's records: for a call from another
    # node, who asked there and why (simpul.federation.server).
    context: dict[str, Any] = field(default_factory=dict)

    def remote(self, dataset: str) -> Remote | None:
        """The provider node that answers for `dataset`, or None when this node holds it."""
        return self.peers.remote(dataset) if self.peers is not None else None

    def stored(self, session: Session, dataset: str, nik: str) -> dict[str, Any] | None:
        """The registry record of `nik`, as prefetched or read now."""
        try:
            return self.prefetched[(dataset, nik)]
        except KeyError:
            return registry.get(session, dataset, nik)

    def authorize(
        self, session: Session, req: AccessRequest, subjects: tuple[str, ...] = ()
    ) -> Decision:
        """The policy decision for `req`. A refusal is recorded (with the subjects asked
        about) and raised as `Refused`; an allowance is returned for `disclose`."""
        decision = decide(session, self.principal, req, at=self.clock.now(), quota=self.quota)
        self.last_decision = decision
        if not decision.allowed:
            self.events.append(
                decision_event(self.principal, req, decision, subjects=subjects,
                               request_id=self.request_id, latency_ms=self._elapsed())
            )  # fmt: skip
            raise Refused(decision)
        return decision

    def authorize_party(
        self, session: Session, req: PartyRequest, subjects: tuple[str, ...] = ()
    ) -> Decision:
        """The decision for something kept under one agreement for a party (see
        `access.policy.PartyRequest`); a refusal is recorded and raised as `Refused`."""
        decision = decide_party(session, self.principal, req, at=self.clock.now())
        self.last_decision = decision
        if not decision.allowed:
            self.events.append(
                self._party(req, decision, subjects=subjects)
            )  # fmt: skip
            raise Refused(decision)
        return decision

    def disclose_party(
        self,
        req: PartyRequest,
        decision: Decision,
        *,
        subjects: tuple[str, ...] = (),
        result: dict[str, Any] | None = None,
    ) -> None:
        """Record what an allowed party access reveals (every person it names)."""
        assert decision.allowed, "disclose_party() needs an allowed decision"
        self.events.append(
            self._party(req, decision, subjects=subjects, result=result)
        )  # fmt: skip

    def authorize_provider(self, req: ProviderRequest) -> Decision:
        """The decision for a provider's whole registry (`access.policy.ProviderRequest`);
        a refusal is recorded and raised as `Refused`."""
        decision = decide_provider(self.principal, req)
        self.last_decision = decision
        if not decision.allowed:
            self.events.append(
                resource_event(self.principal, req.resource, decision, dataset=req.dataset,
                               mechanism=self.mechanism.value, request_id=self.request_id,
                               latency_ms=self._elapsed())
            )  # fmt: skip
            raise Refused(decision)
        return decision

    def disclose_provider(
        self,
        req: ProviderRequest,
        decision: Decision,
        *,
        subjects: tuple[str, ...] = (),
        result: dict[str, Any] | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record what a provider's export revealed: every person in it."""
        assert decision.allowed, "disclose_provider() needs an allowed decision"
        self.events.append(
            resource_event(self.principal, req.resource, decision, dataset=req.dataset,
                           mechanism=self.mechanism.value, subjects=subjects, result=result,
                           detail=detail, request_id=self.request_id,
                           latency_ms=self._elapsed())
        )  # fmt: skip

    def disclose(
        self,
        req: AccessRequest,
        decision: Decision,
        *,
        subjects: tuple[str, ...] = (),
        result: dict[str, Any] | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record what an allowed call reveals: every subject it names, and a summary of
        the answer (never a stored value)."""
        assert decision.allowed, "disclose() needs an allowed decision"
        self.events.append(
            decision_event(self.principal, req, decision, subjects=subjects, result=result,
                           detail=detail, request_id=self.request_id,
                           latency_ms=self._elapsed())
        )  # fmt: skip

    def refuse_after(
        self,
        req: AccessRequest,
        decision: Decision,
        exc: SimpulError,
        subjects: tuple[str, ...] = (),
    ) -> Refused:
        """An allowed request that cannot be answered (a table that cannot be protected, a
        query the sandbox refuses): recorded with the refusal's code, returned to raise."""
        refused = Decision(False, exc.code, exc.status, exc.detail,
                           agreement_id=decision.agreement_id,
                           agreement_version=decision.agreement_version,
                           grant=decision.grant, extra=dict(exc.extra))  # fmt: skip
        self.events.append(
            decision_event(self.principal, req, refused, subjects=subjects,
                           result={"ditolak": exc.code}, request_id=self.request_id,
                           latency_ms=self._elapsed())
        )  # fmt: skip
        return Refused(refused)

    def record(self, session: Session, event: AuditEvent) -> None:
        """A record the operation built itself (a refusal it decided, a reviewer's step);
        the kernel writes it with the rest."""
        self.events.append(event)

    def _party(self, req: PartyRequest, decision: Decision, **kw: Any) -> AuditEvent:
        return resource_event(self.principal, req.resource, decision,
                              agreement_id=req.agreement_id, dataset=req.dataset,
                              mechanism=self.mechanism.value, request_id=self.request_id,
                              latency_ms=self._elapsed(), **kw)  # fmt: skip

    def _elapsed(self) -> float:
        return (time.perf_counter() - self.started) * 1000
