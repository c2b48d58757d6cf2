"""Read-only audit views: search, chain verification, one person's access history, each
scoped by role (simpul.oversight.reading)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from simpul import kernel
from simpul.agreements.schemas import Mechanism
from simpul.audit import service as audit
from simpul.errors import InvalidInput, SimpulError
from simpul.kernel import Known, Origin
from simpul.kit.ids import new_id
from simpul.kit.masking import mask_nik
from simpul.oversight import reading
from simpul.oversight.api import tree_of
from simpul.portal.repository import AuditQuery, AuditSearchRepository
from simpul.portal.web import (
    check_csrf,
    client_ip,
    error_message,
    form_of,
    lang_of,
    need,
    peer_ip,
    portal_of,
    render,
)
from simpul.registry.identifiers import parse_nik
from simpul.services.api import node_of

router = APIRouter(include_in_schema=False)


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("tanggal_tidak_valid", f"Tanggal tidak valid: {value!r}.") from None


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@router.get("/portal/audit")
def audit_search(request: Request) -> HTMLResponse:
    user = need(request, "audit")
    p = portal_of(request)
    rt = p.runtime
    q = request.query_params
    filters = {
        k: (q.get(k) or "").strip()[:120]
        for k in ("actor", "action", "decision", "agreement_id", "since", "until")
    }
    error = None
    records: list[Any] = []
    with rt.transaction() as session:
        scope = reading.scope_for(session, rt.settings, user.principal, rt.clock.now())
        repo = AuditSearchRepository(session)
        actions = repo.actions()
        try:
            since, until = _day(filters["since"]), _day(filters["until"])
            query = AuditQuery(
                actor=filters["actor"] or None,
                action=filters["action"] or None,
                decision=filters["decision"] or None,
                agreement_id=filters["agreement_id"] or None,
                since=datetime.combine(since, time(), UTC) if since else None,
                until=datetime.combine(until, time(), UTC) + timedelta(days=1) if until else None,
                before_seq=_int(q.get("sebelum")),
            )
            rows = repo.search(
                query,
                institution=scope.institution,
                agreements=scope.agreements,
                unnamed=scope.unnamed,
                limit=p.cfg.audit_page_size,
            )
            records = [_record_view(r) for r in rows]
        except SimpulError as exc:
            error = error_message(lang_of(request), exc)
    older = None
    if len(records) == p.cfg.audit_page_size:
        params = {k: v for k, v in filters.items() if v} | {"sebelum": str(records[-1]["seq"])}
        older = "/portal/audit?" + urlencode(params)
    return render(
        request,
        "audit.html",
        {
            "records": records,
            "filters": filters,
            "actions": actions,
            "older": older,
            "scope": scope.institution,
            "error": error,
        },
        status=422 if error else 200,
    )


def _record_view(r: Any) -> dict[str, Any]:
    detail = json.loads(r.detail) if r.detail else {}
    result = json.loads(r.result) if r.result else {}
    return {
        "seq": r.seq,
        "ts": r.ts,
        "action": r.action,
        "decision": r.decision,
        "reason": r.reason,
        "actor": r.actor,
        "institution": r.institution,
        "agreement": f"{r.agreement_id} v{r.agreement_version}" if r.agreement_id else None,
        "mechanism": r.mechanism,
        "subjects": r.subject_count,
        "summary": ", ".join(f"{k}={v}" for k, v in {**result, **detail}.items()),
        "request_id": r.request_id,
    }


@router.get("/portal/audit/verifikasi")
def audit_verify(request: Request) -> HTMLResponse:
    need(request, "audit_verifikasi")
    rt = portal_of(request).runtime
    result = audit.verify(rt.engine)
    return render(request, "audit_verifikasi.html", {"result": result})


@router.get("/portal/audit/subjek")
def audit_subject_form(request: Request) -> HTMLResponse:
    need(request, "audit_subjek")
    return render(request, "audit_subjek.html", {"nik": "", "history": None, "masked": None})


@router.post("/portal/audit/subjek")
async def audit_subject(request: Request) -> HTMLResponse:
    """A POST, so that the NIK never sits in a URL (history, proxies, access logs)."""
    form = await form_of(request)
    return await run_in_threadpool(_audit_subject, request, form)


def _audit_subject(request: Request, form: dict[str, str]) -> HTMLResponse:
    """The look-up is a kernel call: allowed to provider administrators and auditors, the
    history limited to their scope, and recorded with the person as its subject."""
    user = need(request, "audit_subjek")
    check_csrf(user, form)
    raw = (form.get("nik") or "").strip()[:40]
    ctx: dict[str, Any] = {"nik": raw, "history": None, "masked": None}
    origin = Origin(Mechanism.WEB_PORTAL, action=reading.SUBJECT_HISTORY,
                    source_ip=client_ip(request), peer_ip=peer_ip(request),
                    request_id=new_id("portal-"))  # fmt: skip
    try:
        history, proofs = kernel.run(node_of(request.app.state), Known(user.principal), origin,
                                     reading.subject_history_proven, raw,
                                     tree_of(request.app.state))  # fmt: skip
    except SimpulError as exc:
        ctx["error"] = error_message(lang_of(request), exc)
        return render(request, "audit_subjek.html", ctx, status=exc.status)
    ctx["history"], ctx["proofs"] = history, proofs
    ctx["masked"] = mask_nik(parse_nik(raw).nik)
    return render(request, "audit_subjek.html", ctx)
