"""Agreement service: load, query, govern (lifecycle actions) and amend agreements.

Every function takes the caller's Session; nothing here commits. Governance actions are one
function each and take `actor` and `reason`, so an audit record can be written alongside.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session

from simpul.agreements.checks import DocumentInvalid, Issue, apply_changes
from simpul.agreements.lifecycle import (
    TERMINAL,
    Action,
    State,
    Term,
    effective_state,
    local_date,
    term_in_force,
    transition,
)
from simpul.agreements.loader import (
    LoadedAddendum,
    LoadedAgreement,
    demo_dir,
    parse_addendum,
    read_documents,
    read_yaml,
    seed_dir,
)
from simpul.agreements.models import (
    Agreement,
    AgreementEvent,
    AgreementProviderState,
    AgreementVersion,
)
from simpul.agreements.repository import AgreementRepository
from simpul.agreements.schemas import (
    DEFAULT_RETENTION_DAYS,
    AgreementDocument,
    Grant,
    Mechanism,
    Service,
)
from simpul.errors import Conflict, InvalidInput, NotFound
from simpul.kit.clock import Clock
from simpul.kit.memo import memoized

SYSTEM_ACTOR = "sistem"
LOAD_ACTION = "muat"
ADDENDUM_ACTION = "adendum"

Outcome = Literal["dimuat", "diganti", "tidak_berubah", "adendum"]


@dataclass(frozen=True)
class LoadResult:
    agreement_id: str
    version: int
    outcome: Outcome
    source: str
    addendum_id: str | None = None


@dataclass(frozen=True)
class AgreementSummary:
    id: str
    title: str
    parties: tuple[str, ...]
    current_version: int
    version_in_force: int
    stored_state: State
    effective_state: State
    starts_on: date
    ends_on: date  # of the version in force
    demo: bool  # the version in force comes from a demo addendum
    # The parties' own document numbers, as the signed text gives them ("Nomor … dan Nomor
    # …"); empty for a template without numbers. How people name the agreement.
    numbers: tuple[str, ...] = ()

    @property
    def official_number(self) -> str | None:
        return " dan ".join(self.numbers) if self.numbers else None


# ---------------------------------------------------------------- documents of versions

# Parsed documents by content hash: a version's document never changes once stored, and the
# policy decision reads one on every request.
_PARSED: dict[str, AgreementDocument] = {}
_PARSED_MAX = 4096


def _document_hash(data: dict[str, object]) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def document_of(row: AgreementVersion) -> AgreementDocument:
    """The validated document of a stored version."""
    doc = _PARSED.get(row.document_sha256)
    if doc is None:
        doc = AgreementDocument.model_validate(row.document)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[row.document_sha256] = doc
    return doc


def term_of(row: AgreementVersion) -> Term:
    return Term(row.starts_on, row.ends_on, row.effective_from, row.version)


def _row_in_force(rows: Sequence[AgreementVersion], at: datetime) -> AgreementVersion:
    chosen = term_in_force([term_of(r) for r in rows], at)
    return next(r for r in rows if r.version == chosen.version)


# ---------------------------------------------------------------- loading


def load_files(
    session: Session, paths: Iterable[Path], *, actor: str, clock: Clock
) -> list[LoadResult]:
    """Load agreement and addendum files (or folders of them), all or nothing.

    Every file is parsed and checked before anything is written; agreements are stored
    before addenda so that a folder may hold both. Re-loading an unchanged file is a no-op.
    """
    agreements, addenda = read_documents(paths)
    results = [_store_agreement(session, item, actor=actor, clock=clock) for item in agreements]
    for item in sorted(addenda, key=lambda a: (a.document.takes_effect, a.document.id)):
        results.append(apply_addendum(session, item, actor=actor, clock=clock))
    return results


def load_seed(
    session: Session, *, actor: str, clock: Clock, demo: bool = False
) -> list[LoadResult]:
    """The four shipped PKS, and with `demo` the demo extension addenda."""
    paths = [seed_dir(), *([demo_dir()] if demo else [])]
    return load_files(session, paths, actor=actor, clock=clock)


def _version_row(
    doc: AgreementDocument, version: int, sha256: str, source: str, now: datetime
) -> AgreementVersion:
    data = doc.to_data()
    return AgreementVersion(
        agreement_id=doc.id,
        version=version,
        document=data,
        sha256=sha256,
        document_sha256=_document_hash(data),
        source=source[-500:],
        loaded_at=now,
        starts_on=doc.starts_on,
        ends_on=doc.ends_on,
        effective_from=doc.starts_on,
        demo=False,
    )


def _store_agreement(
    session: Session, item: LoadedAgreement, *, actor: str, clock: Clock
) -> LoadResult:
    repo = AgreementRepository(session)
    doc, source = item.document, item.source
    now = clock.now()
    existing = repo.get(doc.id, for_update=True)
    if existing is None:
        state = State(doc.starting_state)
        repo.add(
            Agreement(
                id=doc.id,
                title=doc.title,
                current_version=1,
                state=state.value,
                state_changed_at=now,
                created_at=now,
            )
        )
        repo.add_version(_version_row(doc, 1, source.sha256, str(source.path), now), doc)
        _record(
            repo, doc.id, 1, LOAD_ACTION, None, state, actor, f"Dimuat dari {source.path.name}", now
        )
        return LoadResult(doc.id, 1, "dimuat", str(source.path))
    first = repo.version(doc.id, 1)
    assert first is not None
    if first.document == doc.to_data():
        return LoadResult(doc.id, existing.current_version, "tidak_berubah", str(source.path))
    if existing.state == State.DRAF.value and existing.current_version == 1:
        # A draft is still being written: its text may be replaced; anything signed may not.
        fresh = _version_row(doc, 1, source.sha256, str(source.path), now)
        for column in (
            "document",
            "sha256",
            "document_sha256",
            "source",
            "loaded_at",
            "starts_on",
            "ends_on",
            "effective_from",
        ):
            setattr(first, column, getattr(fresh, column))
        existing.title = doc.title
        repo.replace_version(first, doc)
        _record(
            repo,
            doc.id,
            1,
            LOAD_ACTION,
            State.DRAF,
            State.DRAF,
            actor,
            f"Draf diganti dari {source.path.name}",
            now,
        )
        return LoadResult(doc.id, 1, "diganti", str(source.path))
    raise Conflict(
        "perjanjian_sudah_ada",
        f"Perjanjian {doc.id} sudah dimuat dengan isi berbeda ({source.path}); perjanjian "
        "yang sudah ditandatangani hanya dapat diubah melalui adendum.",
        agreement_id=doc.id,
    )


def apply_addendum_file(session: Session, path: Path, *, actor: str, clock: Clock) -> LoadResult:
    return apply_addendum(session, parse_addendum(read_yaml(path)), actor=actor, clock=clock)


def apply_addendum(
    session: Session, item: LoadedAddendum, *, actor: str, clock: Clock
) -> LoadResult:
    """Make version N+1 from the current version and the addendum's changes.

    Allowed while the agreement is signed, in force or suspended, including when its end date
    has passed but the expiry is not yet recorded (an extension); never once it has ended.
    """
    add, source = item.document, item.source
    repo = AgreementRepository(session)
    agreement = repo.get(add.agreement_id, for_update=True)
    if agreement is None:
        issue = Issue(("perjanjian",), f"perjanjian {add.agreement_id!r} belum dimuat")
        raise source.error(DocumentInvalid([issue]))
    done = repo.addendum_version(agreement.id, add.id)
    if done is not None:
        if done.sha256 == source.sha256:
            return LoadResult(agreement.id, done.version, "tidak_berubah", str(source.path), add.id)
        raise Conflict(
            "adendum_sudah_ada",
            f"Adendum {add.id} sudah diterapkan pada {agreement.id} (versi {done.version}) "
            "dengan isi berbeda.",
        )
    state = State(agreement.state)
    if state in TERMINAL or state is State.DRAF:
        raise Conflict(
            "adendum_tidak_dapat_diterapkan",
            f"Perjanjian {agreement.id} berstatus '{state.value}'; adendum hanya untuk "
            "perjanjian yang ditandatangani, berlaku atau ditangguhkan.",
        )
    if add.base_version is not None and add.base_version != agreement.current_version:
        issue = Issue(
            ("versi_dasar",),
            f"adendum dibuat atas versi {add.base_version}, sedangkan versi terkini "
            f"{agreement.id} adalah {agreement.current_version}",
        )
        raise source.error(DocumentInvalid([issue]))
    base_row = repo.version(agreement.id, agreement.current_version)
    assert base_row is not None
    try:
        doc = apply_changes(document_of(base_row), base_row.effective_from, add)
    except DocumentInvalid as exc:
        raise source.error(exc) from None
    now = clock.now()
    version = agreement.current_version + 1
    row = _version_row(doc, version, source.sha256, str(source.path), now)
    row.effective_from = add.takes_effect
    row.addendum_id = add.id
    row.reason = add.reason
    row.demo = add.demo
    repo.add_version(row, doc)
    agreement.current_version = version
    agreement.title = doc.title
    _record(
        repo,
        agreement.id,
        version,
        ADDENDUM_ACTION,
        state,
        state,
        actor,
        f"{add.id}: {add.reason}",
        now,
    )
    return LoadResult(agreement.id, version, "adendum", str(source.path), add.id)


# ---------------------------------------------------------------- queries


def get_agreement(session: Session, agreement_id: str) -> Agreement:
    found = AgreementRepository(session).get(agreement_id)
    if found is None:
        raise NotFound(
            "perjanjian_tidak_ditemukan", f"Perjanjian {agreement_id!r} tidak ditemukan."
        )
    return found


def get(session: Session, agreement_id: str, version: int | None = None) -> AgreementVersion:
    """A version of an agreement (default: the latest)."""
    agreement = get_agreement(session, agreement_id)
    number = version if version is not None else agreement.current_version
    row = AgreementRepository(session).version(agreement_id, number)
    if row is None:
        raise NotFound(
            "versi_tidak_ditemukan",
            f"Perjanjian {agreement_id} tidak memiliki versi {number} "
            f"(versi 1–{agreement.current_version}).",
        )
    return row


def versions(session: Session, agreement_id: str) -> list[AgreementVersion]:
    get_agreement(session, agreement_id)
    return list(AgreementRepository(session).versions(agreement_id))


def events(session: Session, agreement_id: str) -> list[AgreementEvent]:
    get_agreement(session, agreement_id)
    return list(AgreementRepository(session).events(agreement_id))


def version_in_force(session: Session, agreement_id: str, at: datetime) -> AgreementVersion:
    """The version that governs `at` (addenda take over from their effective date)."""
    return _row_in_force(versions(session, agreement_id), at)


def _summary(
    agreement: Agreement, rows: Sequence[AgreementVersion], at: datetime
) -> AgreementSummary:
    row = _row_in_force(rows, at)
    stored = State(agreement.state)
    latest = document_of(rows[-1])
    return AgreementSummary(
        id=agreement.id,
        title=agreement.title,
        parties=latest.party_codes,
        current_version=agreement.current_version,
        version_in_force=row.version,
        stored_state=stored,
        effective_state=effective_state(stored, term_of(row), at),
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        demo=row.demo,
        numbers=tuple(p.number for p in latest.parties if p.number),
    )


def _agreement_with_versions(
    session: Session, agreement_id: str
) -> tuple[Agreement, tuple[AgreementVersion, ...]]:
    agreement = get_agreement(session, agreement_id)
    return agreement, tuple(AgreementRepository(session).versions(agreement_id))


def summary(session: Session, agreement_id: str, at: datetime) -> AgreementSummary:
    # Memoised per governance epoch on the web services' read path (simpul.kit.memo);
    # a summary depends on `at` only through its local date.
    def load() -> AgreementSummary:
        agreement, rows = _agreement_with_versions(session, agreement_id)
        return _summary(agreement, rows, at)

    return memoized(session, ("summary", agreement_id, local_date(at)), load)


def list_agreements(session: Session, at: datetime) -> list[AgreementSummary]:
    repo = AgreementRepository(session)
    agreements = repo.all()
    rows = repo.versions_of([a.id for a in agreements])
    return [_summary(a, rows[a.id], at) for a in agreements]


def retention_days(session: Session, agreement_id: str | None) -> int:
    """How long the node keeps an output made under `agreement_id`: its latest version's
    `retensi.hari`, or the default for no agreement or one no longer known."""
    if not agreement_id:
        return DEFAULT_RETENTION_DAYS
    try:
        return document_of(get(session, agreement_id)).retention_days
    except NotFound:
        return DEFAULT_RETENTION_DAYS


def provides(session: Session, institution: str, service: Service, at: datetime) -> bool:
    """Does `institution` provide `service` under the version in force of any agreement
    (whatever that agreement's state)? What a provider's pages may offer it."""
    for s in list_agreements(session, at):
        doc = document_of(version_in_force(session, s.id, at))
        if any(g.provider == institution and g.service is service for g in doc.grants):
            return True
    return False


def effective_state_of(session: Session, agreement_id: str, at: datetime) -> State:
    return summary(session, agreement_id, at).effective_state


def grants_for(
    session: Session,
    recipient_institution: str,
    dataset: str,
    service: Service | str,
    mechanism: Mechanism | str,
    at: datetime,
) -> list[tuple[AgreementVersion, Grant]]:
    """Grants covering (recipient, dataset, service, mechanism) in agreements in force at `at`.

    Deny by default: an agreement counts only if it is stored as `berlaku` and, by the dates of
    the version governing `at`, in force; the grant must be in that very version.
    """
    key = ("grants", recipient_institution, dataset, str(service), str(mechanism), local_date(at))

    def load() -> tuple[tuple[AgreementVersion, Grant], ...]:
        return tuple(_grants_for(session, recipient_institution, dataset, service, mechanism, at))

    # Memoised per governance epoch and local date on the web services' read path.
    return list(memoized(session, key, load))


def _grants_for(
    session: Session,
    recipient_institution: str,
    dataset: str,
    service: Service | str,
    mechanism: Mechanism | str,
    at: datetime,
) -> list[tuple[AgreementVersion, Grant]]:
    wanted, versions_by_agreement = _grant_rows(
        session, recipient_institution, dataset, service, mechanism
    )
    out: list[tuple[AgreementVersion, Grant]] = []
    for agreement_id, rows in versions_by_agreement.items():
        row = _row_in_force(rows, at)
        if effective_state(State.BERLAKU, term_of(row), at) is not State.BERLAKU:
            continue
        doc = document_of(row)
        for version, grant_id in sorted(wanted[agreement_id]):
            grant = doc.grant(grant_id) if version == row.version else None
            if grant is not None:
                out.append((row, grant))
    return out


def _grant_rows(
    session: Session,
    recipient_institution: str,
    dataset: str,
    service: Service | str,
    mechanism: Mechanism | str,
) -> tuple[dict[str, set[tuple[int, str]]], dict[str, list[AgreementVersion]]]:
    """The stored side of `grants_for`: candidate grants and their agreements' versions."""
    repo = AgreementRepository(session)
    candidates = repo.grant_candidates(
        recipient_institution, dataset, str(service), str(mechanism), State.BERLAKU.value
    )
    wanted: dict[str, set[tuple[int, str]]] = {}
    for agreement_id, version, grant_id in candidates:
        wanted.setdefault(agreement_id, set()).add((version, grant_id))
    return wanted, (repo.versions_of(sorted(wanted)) if wanted else {})


# ---------------------------------------------------------------- governance


def _record(
    repo: AgreementRepository,
    agreement_id: str,
    version: int,
    action: str,
    from_state: State | None,
    to_state: State,
    actor: str,
    reason: str,
    at: datetime,
) -> None:
    repo.add_event(
        AgreementEvent(
            agreement_id=agreement_id,
            version=version,
            action=action,
            from_state=from_state.value if from_state else None,
            to_state=to_state.value,
            actor=actor[:120],
            reason=reason,
            at=at,
        )
    )


def _act(
    session: Session, agreement_id: str, action: Action, actor: str, reason: str, clock: Clock
) -> Agreement:
    if not reason.strip():
        raise InvalidInput("alasan_wajib", "Alasan tindakan wajib diisi.")
    if not actor.strip():
        raise InvalidInput("pelaku_wajib", "Pelaku tindakan wajib diisi.")
    repo = AgreementRepository(session)
    agreement = repo.get(agreement_id, for_update=True)
    if agreement is None:
        raise NotFound(
            "perjanjian_tidak_ditemukan", f"Perjanjian {agreement_id!r} tidak ditemukan."
        )
    now = clock.now()
    stored = State(agreement.state)
    row = _row_in_force(repo.versions(agreement_id), now)
    if (
        action is not Action.EXPIRE
        and stored not in TERMINAL
        and effective_state(stored, term_of(row), now) is State.BERAKHIR
    ):
        raise Conflict(
            "perjanjian_berakhir",
            f"Jangka waktu perjanjian {agreement_id} berakhir pada {row.ends_on.isoformat()}; "
            f"tindakan '{action.value}' tidak dapat dilakukan (perpanjang dengan adendum).",
        )
    new = transition(stored, action)
    agreement.state = new.value
    agreement.state_changed_at = now
    _record(
        repo,
        agreement_id,
        agreement.current_version,
        action.value,
        stored,
        new,
        actor,
        reason.strip(),
        now,
    )
    return agreement


def sign(
    session: Session, agreement_id: str, *, actor: str, reason: str, clock: Clock
) -> Agreement:
    """draf → ditandatangani."""
    return _act(session, agreement_id, Action.SIGN, actor, reason, clock)


def activate(
    session: Session, agreement_id: str, *, actor: str, reason: str, clock: Clock
) -> Agreement:
    """ditandatangani → berlaku."""
    return _act(session, agreement_id, Action.ACTIVATE, actor, reason, clock)


def suspend(
    session: Session, agreement_id: str, *, actor: str, reason: str, clock: Clock
) -> Agreement:
    """berlaku → ditangguhkan: every grant stops at the next request."""
    return _act(session, agreement_id, Action.SUSPEND, actor, reason, clock)


def resume(
    session: Session, agreement_id: str, *, actor: str, reason: str, clock: Clock
) -> Agreement:
    """ditangguhkan → berlaku."""
    return _act(session, agreement_id, Action.RESUME, actor, reason, clock)


def terminate(
    session: Session, agreement_id: str, *, actor: str, reason: str, clock: Clock
) -> Agreement:
    """→ diakhiri (early termination; final)."""
    return _act(session, agreement_id, Action.TERMINATE, actor, reason, clock)


def expire_due(session: Session, clock: Clock, *, actor: str = SYSTEM_ACTOR) -> list[str]:
    """Record `berakhir` for every agreement whose term has run out; returns their ids."""
    repo = AgreementRepository(session)
    now = clock.now()
    live = [s.value for s in (State.DITANDATANGANI, State.BERLAKU, State.DITANGGUHKAN)]
    agreements = repo.in_states(live)
    rows = repo.versions_of([a.id for a in agreements])
    expired: list[str] = []
    for agreement in agreements:
        row = _row_in_force(rows[agreement.id], now)
        if effective_state(State(agreement.state), term_of(row), now) is State.BERAKHIR:
            reason = f"Jangka waktu berakhir pada {row.ends_on.isoformat()}"
            _act(session, agreement.id, Action.EXPIRE, actor, reason, clock)
            expired.append(agreement.id)
    return expired


# ---------------------------------------------------------------- the provider's own node


def put_provider_state(
    session: Session, agreement_id: str, provider: str, status: str, version: int,
    ends_on: str, at: datetime, via: str,
) -> bool:  # fmt: skip
    """Keep what `provider`'s node says of the agreement; True when it differs from the
    last it said (simpul.federation.agreements)."""
    repo = AgreementRepository(session)
    found = repo.provider_state(agreement_id, provider)
    if found is not None and (found.status, found.version, found.ends_on) == (
        status, version, ends_on,
    ):  # fmt: skip
        return False
    if found is None:
        repo.add_provider_state(AgreementProviderState(
            agreement_id=agreement_id, provider=provider, status=status, version=version,
            ends_on=ends_on, learned_at=at, via=via,
        ))  # fmt: skip
        return True
    found.status, found.version, found.ends_on = status, version, ends_on
    found.learned_at, found.via = at, via
    session.flush()
    return True


def provider_states(session: Session, ids: Sequence[str]) -> dict[str, AgreementProviderState]:
    """Agreement id → what its provider's node last said of it (agreements with one
    provider node; the demo's and the seed's all have one)."""
    return {row.agreement_id: row for row in AgreementRepository(session).provider_states(ids)}
