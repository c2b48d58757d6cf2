"""Kernel operations of the tiered Regsosek access (`op(session, call, *args)`, run by
`simpul.kernel.run`). Each decides through `call.authorize` against the agreement, does
only what the grant allows, records what it discloses with `call.disclose`, and refuses by
raising. The API, the CLI and the portal run these same operations.

`purge_expired` deletes what the node keeps for a data user (extracts, processing outputs)
once it is older than its agreement's retention (`retensi.hari`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import duckdb
from sqlalchemy import select
from sqlalchemy.orm import Session

from simpul.access.policy import AccessRequest, Decision
from simpul.agreements import service as agreements
from simpul.agreements.schemas import Service
from simpul.audit.schemas import AuditEvent
from simpul.audit.service import record_in_session
from simpul.config import Settings
from simpul.disclosure import store
from simpul.disclosure.aggregate import TableSpec, build_table
from simpul.disclosure.models import DisclosureSetting, ProcessingOutput
from simpul.disclosure.rules import SdcRules
from simpul.disclosure.schemas import TabelOut
from simpul.disclosure.variables import DATASET, quote
from simpul.errors import NotFound, SimpulError
from simpul.kernel import Call
from simpul.kit.clock import Clock, aware
from simpul.registry.service import snapshot_path

log = logging.getLogger("simpul.disclosure")


def access_request(
    call: Call,
    service: Service,
    *,
    output_elements: frozenset[str] | None = None,
    subject_region: str | None = None,
    agreement_id: str | None = None,
) -> AccessRequest:
    """The request a tier decides, as the call came in (the PKS 000 grants name the portal,
    Sepakat, as the mechanism: every adapter calls as `web_portal`)."""
    return AccessRequest(
        dataset=DATASET,
        service=service,
        mechanism=call.mechanism,
        output_elements=output_elements,
        agreement_id=agreement_id,
        subject_region=subject_region,
        source_ip=call.source_ip,
        internal=call.internal,
    )


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


def attribution(session: Session, decision: Decision) -> str:
    """The source line PKS 000 Pasal 7 ayat (2) requires on every use of the data."""
    assert decision.agreement_id is not None and decision.grant is not None
    doc = agreements.document_of(agreements.get(session, decision.agreement_id))
    name = next((p.name for p in doc.parties if p.code == decision.grant.provider),
                decision.grant.provider)  # fmt: skip
    provider = " ".join(name.split())  # one line: it heads CSV files as a comment
    return (
        f"Sumber: Data Registrasi Sosial Ekonomi (Regsosek), {provider}; diolah berdasarkan "
        f"perjanjian {decision.agreement_id} versi {decision.agreement_version} "
        "(Pasal 7 ayat (2))."
    )


def source_comment(source: str) -> str:
    """The source line as the first line of a CSV file (a `#` comment)."""
    return f"# {source}\n"


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


def aggregate(session: Session, call: Call, spec: TableSpec) -> TabelOut:
    """An aggregate table with primary and secondary suppression (PKS 000 Pasal 2 huruf a)."""
    today = call.clock.today()
    req = access_request(
        call, Service.AGREGAT, output_elements=spec.elements(today), subject_region=spec.region
    )
    decision = call.authorize(session, req)
    rules = rules_for(session, decision.agreement_id)
    try:
        with analytics(call.settings) as con:
            table = build_table(con, "regsosek", spec, rules, today, decision.region_scope)
    except SimpulError as exc:
        raise call.refuse_after(req, decision, exc) from None
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
    call.disclose(req, decision, result={
        "dimensi": list(spec.dimensions),
        "tingkat_wilayah": spec.region_level,
        "wilayah": spec.region,
        "sel": table.cells,
        "ditekan_primer": table.suppressed_primary,
        "ditekan_sekunder": table.suppressed_secondary,
    })  # fmt: skip
    return out


RULE_KEYS = {"threshold", "dominance_n", "dominance_k", "p_ratio", "rounding"}


def list_settings(session: Session) -> list[tuple[str, SdcRules]]:
    rows = session.scalars(select(DisclosureSetting).order_by(DisclosureSetting.agreement_id))
    return [(r.agreement_id, SdcRules.model_validate(r.rules)) for r in rows]


# -- retention ------------------------------------------------------------------------------


def purge_expired(session: Session, settings: Settings, clock: Clock) -> int:
    """Delete the extracts (data, metadata and subjects files) and processing outputs older
    than their agreement's retention; one audit record `disklosur.hapus_retensi` with the
    counts when anything was deleted. Returns how many extracts and outputs were deleted.

    An extract whose metadata cannot be read (written before the metadata named its
    agreement) is judged by its file's age against the default retention."""
    now = clock.now()
    days: dict[str | None, int] = {}

    def expired(agreement_id: str | None, created: datetime) -> bool:
        if agreement_id not in days:
            days[agreement_id] = agreements.retention_days(session, agreement_id)
        return created + timedelta(days=days[agreement_id]) <= now

    outputs = [
        row for row in session.scalars(select(ProcessingOutput))
        if expired(row.agreement_id, aware(row.created_at))
    ]  # fmt: skip
    for row in outputs:
        session.delete(row)
    extracts: list[str] = []
    for extract_id, meta, path in store.every(settings):
        if meta is not None:
            old = expired(meta.agreement_id, aware(meta.created_at))
        else:
            made = datetime.fromtimestamp(path.stat().st_mtime, tz=now.tzinfo)
            old = expired(None, made)
        if old:
            extracts.append(extract_id)
    total = len(outputs) + len(extracts)
    if not total:
        return 0
    session.flush()
    record_in_session(
        session,
        settings,
        AuditEvent(
            action="disklosur.hapus_retensi",
            decision="tindakan",
            reason="ok",
            actor=agreements.SYSTEM_ACTOR,
            dataset=DATASET,
            result={"ekstrak": len(extracts), "keluaran": len(outputs), "jumlah": total},
            detail={"perjanjian": sorted(a for a in days if a)},
        ),
        clock,
    )
    # Files last: the rows and the record are in the caller's transaction.
    for extract_id in extracts:
        try:
            store.delete(settings, extract_id)
        except OSError as exc:
            log.error("extract %s could not be deleted: %s", extract_id, type(exc).__name__)
    return total
