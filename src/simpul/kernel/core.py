"""The governed unit of work. Every data-bearing operation — a web service, a portal page,
a CLI command, a job step, a file download, an export — is one call of `run` (or, for the
single-item web services answered on the event loop, of `execute` between the same
resolution and the same record writing):

    principal → decision (`Call.authorize`) → service in the call's transaction →
    audit records with the disclosed subjects, durable → answer, or refusal

An operation is a function `op(session, call, *args) -> answer`. It refuses by raising a
`SimpulError`; the kernel records every refusal, validation refusals included, and writes
the records the call collected before the answer or the refusal leaves. An operation that
returns without having recorded a disclosure is refused (`operasi_tanpa_audit`): an answer
that the log does not account for never leaves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from simpul.access import service as access
from simpul.access.quota import QuotaLimiter
from simpul.access.schemas import Principal
from simpul.agreements.schemas import Mechanism
from simpul.audit.schemas import AuditEvent
from simpul.audit.service import AuditWriter, Receipt, append_in_session, record_in_session
from simpul.errors import SimpulError
from simpul.kernel.call import Call, Peers, Refused
from simpul.kernel.principals import (
    AccountName,
    Basic,
    Credential,
    basic_principal,
    remembered,
    resolve,
)
from simpul.kernel.receipts import publish
from simpul.kit.ids import new_id
from simpul.runtime import Runtime

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
Op = Callable[Concatenate[Session, Call, P], T]
log = logging.getLogger("simpul.kernel")


class Unaccounted(SimpulError):
    """An operation returned an answer without recording what it disclosed: a bug, and the
    answer is withheld."""

    def __init__(self, action: str) -> None:
        super().__init__(
            "operasi_tanpa_audit",
            "Jawaban ditahan: operasi tidak mencatat pengungkapannya di log audit.",
            status=500,
        )
        self.action = action


@dataclass(frozen=True)
class Node:
    """What the kernel needs from the process it runs in."""

    runtime: Runtime
    writer: AuditWriter | None = None
    quota: QuotaLimiter | None = None
    peers: Peers | None = None  # the federation (simpul.federation), if this node is in one


@dataclass(frozen=True)
class Origin:
    """Facts of the request that are not its body, as the adapter saw them."""

    mechanism: Mechanism
    # What is asked: the record's action and dataset for a refusal before any decision.
    action: str
    dataset: str | None = None
    source_ip: str | None = None
    request_id: str | None = None
    internal: bool = False  # a command or job on the node itself: no access point
    peer_ip: str | None = None  # the trusted proxy that forwarded `source_ip`, if any
    # Recorded in each record's detail (a federated call: the calling node, its user, why).
    context: dict[str, Any] | None = None


def new_call(
    node: Node,
    principal: Principal,
    origin: Origin,
    *,
    prefetched: dict[tuple[str, str], dict[str, Any] | None] | None = None,
) -> Call:
    rt = node.runtime
    return Call(
        principal=principal,
        mechanism=origin.mechanism,
        source_ip=origin.source_ip,
        request_id=origin.request_id or new_id("req-"),
        settings=rt.settings,
        clock=rt.clock,
        quota=node.quota,
        writer=node.writer,
        internal=origin.internal,
        peer_ip=origin.peer_ip,
        action=origin.action,
        dataset=origin.dataset,
        prefetched=prefetched or {},
        peers=node.peers if node.peers is not None else rt.peers,
        context=dict(origin.context or {}),
    )


def execute(session: Session, call: Call, op: Op[P, T], *args: P.args, **kw: P.kwargs) -> T:
    """The operation inside the call's transaction. On success the call holds at least one
    disclosure record; on any refusal its records are settled (allowances that never
    reached an answer dropped, the refusal itself recorded) and the refusal re-raised."""
    try:
        answer = op(session, call, *args, **kw)
    except SimpulError as exc:
        if _publishes(op) and not isinstance(exc, Refused):
            # Nothing was decided about anyone (no checkpoint yet, a size out of range):
            # recorded, a witness polling a fresh node would feed the log (ADR 0014).
            call.events.clear()
            raise
        settle_refusal(call, exc)
        raise
    except Exception as exc:
        settle_refusal(call, SimpulError("galat_internal", "Galat internal.", status=500))
        log.error("operation %s failed: %s", call.action, type(exc).__name__)
        raise
    if not _publishes(op) and not any(e.decision == "izin" for e in call.events):
        unaccounted = Unaccounted(call.action)
        settle_refusal(call, unaccounted)
        raise unaccounted
    return answer


WRITES = "__simpul_writes__"


def writes(fn: F) -> F:
    """Mark an operation that stores something (an extract, a job, an output): it runs in
    a write transaction, and its records are appended in that same transaction, so the
    stored thing and its record commit together or not at all."""
    setattr(fn, WRITES, True)
    return fn


def _writes(op: object) -> bool:
    return bool(getattr(op, WRITES, False))


PUBLISHES = "__simpul_publishes__"


def publishes(fn: F) -> F:
    """Mark an operation that answers only what the node publishes about its own log
    (signed checkpoints, proofs, cosignatures: no registry-derived data). It is decided as
    any other, and its refusals are recorded; its allowed answers are not, because the log
    would then feed itself: each witness read a record, each record a checkpoint, each
    checkpoint another read (docs/adr/0014). Prometheus counts them instead."""
    setattr(fn, PUBLISHES, True)
    return fn


def _publishes(op: object) -> bool:
    return bool(getattr(op, PUBLISHES, False))


def settle_refusal(call: Call, exc: SimpulError) -> None:
    """After a refusal no data leaves: keep the refusals, and record this one if it was
    not recorded when it was decided (validation refusals, failures after an allowance)."""
    kept = [e for e in call.events if e.decision != "izin"]
    if not (isinstance(exc, Refused) and kept):
        # The people an allowance was about stay named: the attempt is in their history.
        asked = tuple(dict.fromkeys(n for e in call.events if e.decision == "izin"
                                    for n in e.subjects))  # fmt: skip
        kept.append(refusal_event(call, exc, asked))
    call.events[:] = kept


def refusal_event(call: Call, exc: SimpulError, subjects: tuple[str, ...] = ()) -> AuditEvent:
    d = call.last_decision
    return AuditEvent(
        action=call.action,
        decision="tolak",
        reason=exc.code,
        actor=call.principal.username,
        institution=call.principal.institution,
        agreement_id=d.agreement_id if d else None,
        agreement_version=d.agreement_version if d else None,
        grant_id=d.grant_id if d else None,
        service=call.action,
        mechanism=call.mechanism.value,
        dataset=call.dataset,
        subjects=subjects,
        result={"status": exc.status},
        request_id=call.request_id,
        latency_ms=(time.perf_counter() - call.started) * 1000,
    )


def _stamped(call: Call, event: AuditEvent) -> AuditEvent:
    """A call forwarded by a trusted proxy is recorded with both addresses: the client's,
    which the access point was checked against, and the proxy's, which the node saw."""
    if call.peer_ip is None and not call.context:
        return event
    via = {"alamat_asal": call.source_ip, "perantara": call.peer_ip} if call.peer_ip else {}
    return replace(event, detail={**event.detail, **call.context, **via})


def _kept(call: Call, event: AuditEvent, receipt: Receipt) -> None:
    """The receipt of an allowed record is the call's to hand on (simpul.kernel.receipts)."""
    if event.decision == "izin":
        call.receipts.append(receipt)


def write_in_session(session: Session, call: Call) -> None:
    """The call's records inside its own (write) transaction: they commit with it. Their
    receipts are handed on (`publish`) only once that transaction has committed."""
    for event in call.events:
        _kept(call, event, append_in_session(session, call.settings, _stamped(call, event),
                                             call.clock))  # fmt: skip
    call.events.clear()


def write_apart(rt: Runtime, call: Call) -> None:
    """The call's records after its transaction: through the group-commit writer, or in a
    transaction of their own (a refusal whose service work was rolled back). Returns only
    once they are durable."""
    if not call.events:
        return
    if call.writer is not None:
        while call.events:
            event = call.events.pop(0)
            _kept(call, event, call.writer.append(_stamped(call, event)))
    else:
        with rt.transaction() as session:
            write_in_session(session, call)
    publish(call)


async def write_apart_async(call: Call) -> None:
    """`write_apart` for the event loop (group-commit writer only)."""
    assert call.writer is not None
    while call.events:
        event = call.events.pop(0)
        _kept(call, event, await call.writer.append_async(_stamped(call, event)))
    publish(call)


def run(
    node: Node,
    who: Credential,
    origin: Origin,
    op: Op[P, T],
    *args: P.args,
    **kw: P.kwargs,
) -> T:
    """One governed operation, start to end: see the module's docstring.

    With the group-commit writer the service runs in a read transaction and the records
    are appended right after it; without one they are appended inside its transaction."""
    rt = node.runtime
    principal: Principal | None = None
    if isinstance(who, Basic):
        principal = basic_principal(rt, who, source=origin.source_ip)
    elif isinstance(who, AccountName):
        principal = _named_principal(rt, who, origin)
    in_session = node.writer is None or _writes(op)
    unit = rt.transaction if in_session else rt.read_transaction
    call: Call | None = None
    refused: SimpulError | None = None
    try:
        with unit() as session:
            if principal is None:
                principal = resolve(session, rt, who, source=origin.source_ip)
            call = new_call(node, principal, origin)
            try:
                answer = execute(session, call, op, *args, **kw)
            except SimpulError as exc:
                if in_session:
                    raise
                # A read transaction ends normally (as in `run_async`): its rollback would
                # expire the governance memo's rows loaded in it for the calls that follow.
                refused = exc
            else:
                if in_session:
                    write_in_session(session, call)
    except Exception:
        if call is not None:  # a credential refused before a call existed is not a call
            del call.receipts[call.published :]  # rolled back: nothing to vouch for
            write_apart(rt, call)
        raise
    write_apart(rt, call)
    publish(call)  # the records written in the call's transaction, now committed
    if refused is not None:
        raise refused
    return answer


def _named_principal(rt: Runtime, who: AccountName, origin: Origin) -> Principal:
    """The principal of an account named on the node itself (a CLI `--akun`). An unknown
    or revoked one is refused with a record: whoever holds the shell tried, and the log
    says so (a bad credential from the network is counted, not recorded: ADR 0009)."""
    try:
        with rt.read_transaction() as session:
            return resolve(session, rt, who)
    except SimpulError as exc:
        _record_unresolved(rt, who, origin, exc)
        raise


def _record_unresolved(rt: Runtime, who: AccountName, origin: Origin, exc: SimpulError) -> None:
    name = who.username.strip().lower()[:100]
    with rt.transaction() as session:
        event = AuditEvent(
            action=origin.action, decision="tolak", reason=exc.code, actor=name,
            institution=access.account_institution(session, name), service=origin.action,
            mechanism=origin.mechanism.value, dataset=origin.dataset,
            result={"status": exc.status}, request_id=origin.request_id,
        )  # fmt: skip
        record_in_session(session, rt.settings, event, rt.clock)


async def run_async(
    node: Node,
    who: Credential,
    origin: Origin,
    op: Op[P, T],
    *args: P.args,
    **kw: P.kwargs,
) -> T:
    """`run` for a bounded call on the event loop (a single-item web service: the
    governance memo and one primary-key read). The records are awaited through the
    group-commit writer — one wake-up per group commit instead of a thread per call.
    Whatever can take long runs in the thread pool as `run`: argon2 for an HTTP Basic
    password not yet verified in this governance epoch, and the whole call when there is
    no group-commit writer (the records are then written in the call's transaction)."""
    rt = node.runtime
    peers = node.peers if node.peers is not None else rt.peers
    # A call another node answers waits on the network: not on the event loop.
    remote = (
        peers is not None
        and origin.dataset is not None
        and (peers.remote(origin.dataset) is not None)
    )
    if node.writer is None or _writes(op) or remote:
        return await run_in_threadpool(lambda: run(node, who, origin, op, *args, **kw))
    call: Call | None = None
    with rt.read_transaction() as session:
        principal = remembered(session, rt, who, source=origin.source_ip)
        if principal is not None:
            call = new_call(node, principal, origin)
            try:
                answer = execute(session, call, op, *args, **kw)
            except Exception as exc:  # recorded by `execute`; raised once durable
                refused: Exception | None = exc
            else:
                refused = None
    if call is None:  # a password not yet verified in this epoch: argon2, off the loop
        return await run_in_threadpool(lambda: run(node, who, origin, op, *args, **kw))
    await write_apart_async(call)  # durable before the answer, allowed or refused
    if refused is not None:
        raise refused
    return answer
