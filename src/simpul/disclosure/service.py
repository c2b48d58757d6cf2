"""Service functions of the tiered Regsosek access. Each decides against the agreement
(`access.policy.decide`), does only what the grant allows, and appends its audit record
through the caller's `CallContext` (as the web services do). The portal and the API call
these same functions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
from sqlalchemy import select
from sqlalchemy.orm import Session

from simpul.access.policy import AccessRequest, Decision, audit_event, decide
from simpul.agreements import service as agreements
from simpul.agreements.schemas import Service
from simpul.audit.schemas import AuditEvent
from simpul.audit.service import record_in_session
from simpul.config import Settings
from simpul.disclosure.aggregate import TableSpec, build_table
from simpul.disclosure.models import DisclosureSetting
from simpul.disclosure.rules import SdcRules
from simpul.disclosure.schemas import TabelOut
from simpul.disclosure.variables import DATASET, quote
from simpul.errors import NotFound, SimpulError
from simpul.kit.clock import Clock
from simpul.registry.service import snapshot_path
from simpul.services.service import CallContext


@dataclass(frozen=True)
class Allowed:
    decision: Decision
    request: AccessRequest
    started: float


def rules_for(session: Session, agreement_id: str | None) -> SdcRules:
    """The agreement's disclosure settings: ACRO defaults with its overrides."""
    row = session.get(DisclosureSetting, agreement_id) if agreement_id else None
    return SdcRules.model_validate(row.rules if row else {})


def set_rules(
    session: Session,
    settings: Settings,
    agreement_id: str,
    values: dict[str, Any],
    *,
    actor: str,
    reason: str,
    clock: Clock,
) -> SdcRules:
    """Override disclosure settings for one agreement (governance action, audited)."""
    agreements.get_agreement(session, agreement_id)  # NotFound for an unknown agreement
    current = rules_for(session, agreement_id).model_dump(by_alias=True)
    merged = SdcRules.model_validate({**current, **values})
    stored = merged.model_dump(by_alias=True)
    row = session.get(DisclosureSetting, agreement_id)
    if row is None:
        row = DisclosureSetting(agreement_id=agreement_id, rules=stored,
                                updated_at=clock.now(), updated_by=actor)  # fmt: skip
        session.add(row)
    else:
        row.rules, row.updated_at, row.updated_by = stored, clock.now(), actor
    session.flush()
    record_in_session(
        session,
        settings,
        AuditEvent(
            action="disklosur.atur",
            decision="tindakan",
            reason="ok",
            actor=actor,
            agreement_id=agreement_id,
            dataset=DATASET,
            result={k: v for k, v in stored.items() if k in values or k in _aliases(values)},
            detail={"alasan": reason},
        ),
        clock,
    )
    return merged


def _aliases(values: dict[str, Any]) -> set[str]:
    fields = SdcRules.model_fields
    return {fields[k].alias or k for k in values if k in fields}


def guard(
    session: Session,
    ctx: CallContext,
    service: Service,
    elements: frozenset[str] | None,
    *,
    units: int = 1,
    subjects: tuple[str, ...] = (),
    subject_region: str | None = None,
) -> tuple[Allowed | None, Decision | None]:
    """Decide; a refusal is audited here and returned for the caller to raise."""
    req = AccessRequest(
        dataset=DATASET,
        service=service,
        mechanism=ctx.mechanism,
        output_elements=elements,
        subject_region=subject_region,
        source_ip=ctx.source_ip,
        units=units,
    )
    started = time.perf_counter()
    decision = decide(session, ctx.principal, req, at=ctx.clock.now(), quota=ctx.quota)
    if not decision.allowed:
        ctx.record(
            session,
            audit_event(ctx.principal, req, decision, subjects=subjects,
                        request_id=ctx.request_id),
        )  # fmt: skip
        return None, decision
    return Allowed(decision, req, started), None


def record_allowed(
    session: Session,
    ctx: CallContext,
    allowed: Allowed,
    result: dict[str, Any],
    subjects: tuple[str, ...] = (),
) -> None:
    ctx.record(
        session,
        audit_event(
            ctx.principal,
            allowed.request,
            allowed.decision,
            subjects=subjects,
            result=result,
            request_id=ctx.request_id,
            latency_ms=(time.perf_counter() - allowed.started) * 1000,
        ),
    )


def refuse_after(
    session: Session, ctx: CallContext, allowed: Allowed, exc: SimpulError
) -> Decision:
    """An allowed request that cannot be answered (a table that cannot be protected, a
    query the sandbox refuses): audited with the refusal's code, returned to be raised."""
    record_allowed(session, ctx, allowed, {"ditolak": exc.code})
    d = allowed.decision
    return Decision(False, exc.code, exc.status, exc.detail, agreement_id=d.agreement_id,
                    agreement_version=d.agreement_version, extra=dict(exc.extra))  # fmt: skip


def attribution(session: Session, decision: Decision) -> str:
    """The source line PKS 000 Pasal 7 ayat (2) requires on every use of the data."""
    assert decision.agreement_id is not None and decision.grant is not None
    doc = agreements.document_of(agreements.get(session, decision.agreement_id))
    provider = next((p.name for p in doc.parties if p.code == decision.grant.provider),
                    decision.grant.provider)  # fmt: skip
    return (
        f"Sumber: Data Registrasi Sosial Ekonomi (Regsosek), {provider}; diolah berdasarkan "
        f"perjanjian {decision.agreement_id} versi {decision.agreement_version} "
        "(Pasal 7 ayat (2))."
    )


def snapshot(settings: Settings) -> str:
    path = snapshot_path(settings, DATASET)
    if not path.exists():
        raise NotFound(
            "snapshot_tidak_ada",
            "Snapshot Regsosek belum dibuat; muat registri lalu tulis snapshot-nya.",
        )
    return str(path)


@contextmanager
def analytics(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with the snapshot as view `regsosek`."""
    con = duckdb.connect(config={"threads": 2})
    # SESSION scope said explicitly: a bare SET was once taken as global under parallel
    # requests ("Could not set option ... as a global option").
    con.execute("SET SESSION enable_progress_bar = false")
    try:
        con.execute(
            f"CREATE VIEW regsosek AS SELECT * FROM read_parquet({quote(snapshot(settings))})"
        )
        yield con
    finally:
        con.close()


def aggregate(
    session: Session, ctx: CallContext, spec: TableSpec
) -> tuple[TabelOut | None, Decision | None]:
    """An aggregate table with primary and secondary suppression (PKS 000 Pasal 2 huruf a)."""
    today = ctx.clock.today()
    allowed, refused = guard(
        session, ctx, Service.AGREGAT, spec.elements(today), subject_region=spec.region
    )
    if allowed is None:
        return None, refused
    decision = allowed.decision
    rules = rules_for(session, decision.agreement_id)
    try:
        with analytics(ctx.settings) as con:
            table = build_table(con, "regsosek", spec, rules, today, decision.region_scope)
    except SimpulError as exc:
        return None, refuse_after(session, ctx, allowed, exc)
    out = TabelOut(
        dimensi=list(spec.dimensions),
        tingkat_wilayah=spec.region_level,
        wilayah=spec.region,
        variabel=spec.variable,
        baris=table.rows,
        sel=table.cells,
        ditekan_primer=table.suppressed_primary,
        ditekan_sekunder=table.suppressed_secondary,
        aturan=rules.model_dump(by_alias=True, include=RULE_KEYS),
        sumber=attribution(session, decision),
    )
    record_allowed(
        session,
        ctx,
        allowed,
        {
            "dimensi": list(spec.dimensions),
            "tingkat_wilayah": spec.region_level,
            "wilayah": spec.region,
            "sel": table.cells,
            "ditekan_primer": table.suppressed_primary,
            "ditekan_sekunder": table.suppressed_secondary,
        },
    )
    return out, None


RULE_KEYS = {"threshold", "dominance_n", "dominance_k", "p_ratio", "rounding"}


def now(ctx: CallContext) -> datetime:
    return ctx.clock.now()


def list_settings(session: Session) -> list[tuple[str, SdcRules]]:
    rows = session.scalars(select(DisclosureSetting).order_by(DisclosureSetting.agreement_id))
    return [(r.agreement_id, SdcRules.model_validate(r.rules)) for r in rows]
