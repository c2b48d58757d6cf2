"""Agreement state across nodes (docs/federation.md, "Agreements on both sides").

The provider's node decides every call against its own copy, so a suspension, termination
or addendum there takes effect on the very next call. The recipient's node learns the
provider's state two ways, both over the mutual-TLS listener:

- a notification: the provider's listener watches its agreements and, when the state or
  version of one changes, posts the new state to each other party's node
  (`POST /federasi/v1/perjanjian/pemberitahuan`);
- polling, the fallback: the recipient's listener asks each provider it receives from
  every `federation_refresh_seconds` (`GET /federasi/v1/perjanjian`).

The recipient records what it learned as the provider's state beside its own copy (one
governance action, `perjanjian.status_penyedia`, audited when something changed) and shows
it to its users. Its own copy is never widened by it: the recipient's kernel still decides
on its own copy first, and the provider refuses what its copy no longer allows.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from simpul.agreements import service as agreements
from simpul.config import Settings
from simpul.errors import SimpulError
from simpul.federation.node import exchange
from simpul.kit.clock import Clock

log = logging.getLogger("simpul.federation")
STATE_PATH = "/federasi/v1/perjanjian"
NOTICE_PATH = "/federasi/v1/perjanjian/pemberitahuan"
ACTION = "perjanjian.status_penyedia"


class AgreementState(BaseModel):
    """One agreement as its provider's node holds it."""

    perjanjian: str = Field(max_length=80)
    versi: int = Field(ge=1)
    status: str = Field(max_length=20)
    berakhir: str = Field(max_length=10)


class AgreementStates(BaseModel):
    perjanjian: list[AgreementState] = Field(max_length=1000)


@dataclass(frozen=True)
class Party:
    agreement_id: str
    providers: frozenset[str]
    recipients: frozenset[str]


def _parties(session: Session, at: dt.datetime) -> list[Party]:
    out = []
    for s in agreements.list_agreements(session, at):
        doc = agreements.document_of(agreements.version_in_force(session, s.id, at))
        out.append(
            Party(
                s.id,
                frozenset(g.provider for g in doc.grants),
                frozenset(g.recipient for g in doc.grants),
            )
        )
    return out


def states_for(
    session: Session, local: frozenset[str], member: str, at: dt.datetime
) -> list[AgreementState]:
    """What this node, as provider, tells `member`: each agreement under which this node
    provides to it, its version and effective state in force now."""
    found = []
    for party in _parties(session, at):
        if party.providers & local and member in party.recipients:
            s = agreements.summary(session, party.agreement_id, at)
            found.append(
                AgreementState(
                    perjanjian=s.id,
                    versi=s.version_in_force,
                    status=s.effective_state.value,
                    berakhir=s.ends_on.isoformat(),
                )
            )
    return found


def recipients_of(session: Session, local: frozenset[str], at: dt.datetime) -> set[str]:
    """The members this node provides to (whom it notifies)."""
    return {r for p in _parties(session, at) if p.providers & local for r in p.recipients - local}


def providers_of(session: Session, local: frozenset[str], at: dt.datetime) -> set[str]:
    """The members this node receives from (whom it polls)."""
    return {q for p in _parties(session, at) if p.recipients & local for q in p.providers - local}


def record_provider_states(
    session: Session,
    settings: Settings,
    clock: Clock,
    provider: str,
    states: list[AgreementState],
    local: frozenset[str],
    *,
    via: str,
) -> list[str]:
    """The governance action of the recipient's node: keep what `provider`'s node says of
    the agreements under which it provides to this node; the ids whose state changed,
    each audited (`perjanjian.status_penyedia`). A state for an agreement this node does
    not hold, or of which `provider` is not a provider here, is refused as a whole."""
    from simpul.governance.actions._audit import audit

    now = clock.now()
    known = {p.agreement_id: p for p in _parties(session, now)}
    for state in states:
        party = known.get(state.perjanjian)
        if party is None or provider not in party.providers or not party.recipients & local:
            raise SimpulError(
                "perjanjian_bukan_dari_penyedia",
                f"Node {provider} bukan penyedia perjanjian {state.perjanjian} di node ini.",
                403,
            )
    changed = []
    for state in states:
        if agreements.put_provider_state(session, state.perjanjian, provider, state.status,
                                         state.versi, state.berakhir, now, via):  # fmt: skip
            changed.append(state.perjanjian)
            audit(
                session, settings, clock, ACTION, f"{provider}.node", None,
                agreement_id=state.perjanjian, agreement_version=state.versi,
                detail={"penyedia": provider, "status": state.status, "versi": state.versi,
                        "lewat": via},
            )  # fmt: skip
    return changed


class StateSync:
    """The listener's two threads: notify recipients of changes (provider side), poll
    providers (recipient side). Each round is bounded by the client's timeout."""

    def __init__(
        self,
        transaction: Callable[[], Any],
        settings: Settings,
        clock: Clock,
        federation: Any,
        *,
        watch_seconds: float = 1.0,
    ) -> None:
        self._transaction, self._settings, self._clock = transaction, settings, clock
        self._fed = federation
        self._watch = watch_seconds
        self._poll = max(1.0, settings.federation_refresh_seconds)
        self._stop = threading.Event()
        self._told: dict[str, list[AgreementState]] = {}  # member → what it last accepted
        self._threads = [
            threading.Thread(target=self._loop, args=(self._watch, self.notify_round),
                             name="federasi-pemberitahuan", daemon=True),
            threading.Thread(target=self._loop, args=(self._poll, self.poll_round),
                             name="federasi-tanya-perjanjian", daemon=True),
        ]  # fmt: skip

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=self._settings.federation_timeout_seconds + 5)

    def _loop(self, every: float, work: Callable[[], None]) -> None:
        while not self._stop.is_set():
            try:
                work()
            except Exception as exc:  # a round that fails is tried again next time
                log.warning("federation agreement sync: %s", type(exc).__name__)
            self._stop.wait(every)

    def notify_round(self) -> int:
        """Post to each recipient whose states differ from what it last accepted."""
        local, now, sent = self._fed.local, self._clock.now(), 0
        with self._transaction() as session:
            wanted = {m: states_for(session, local, m, now)
                      for m in recipients_of(session, local, now)}  # fmt: skip
        directory = self._fed.directory().directory
        for member, states in sorted(wanted.items()):
            peer = directory.member(member)
            if peer is None or not states or self._told.get(member) == states:
                continue
            body = AgreementStates(perjanjian=states).model_dump_json().encode()
            try:
                answer = self._fed.client(peer).post(
                    NOTICE_PATH, content=body, headers={"Content-Type": "application/json"}
                )
            except httpx.HTTPError as exc:
                log.info("notice to %s not delivered: %s", member, type(exc).__name__)
                continue
            if answer.status_code == 200:
                self._told[member] = states
                sent += 1
            else:
                log.warning("notice to %s refused: HTTP %d", member, answer.status_code)
        return sent

    def poll_round(self) -> int:
        """Ask each provider for its states; record them. The number of changes."""
        local, now, changed = self._fed.local, self._clock.now(), 0
        with self._transaction() as session:
            providers = providers_of(session, local, now)
        directory = self._fed.directory().directory
        for provider in sorted(providers):
            peer = directory.member(provider)
            if peer is None:
                continue
            try:
                answer, pin = exchange(self._fed.client(peer), "GET", STATE_PATH)
                answer.raise_for_status()
                if pin not in peer.sertifikat:  # only the provider's own node is believed
                    log.warning("states of %s came over another certificate", provider)
                    continue
                states = AgreementStates.model_validate_json(answer.content).perjanjian
            except (httpx.HTTPError, ValueError) as exc:
                log.info("states of %s not read: %s", provider, type(exc).__name__)
                continue
            if not states:
                continue
            with self._transaction() as session:
                changed += len(record_provider_states(
                    session, self._settings, self._clock, provider, states, local, via="tanya"
                ))  # fmt: skip
        return changed
