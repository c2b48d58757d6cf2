"""Read-only audit views: search, chain verification, one person's access history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from simpul.access.schemas import Role
from simpul.audit import service as audit
from simpul.errors import InvalidInput, SimpulError
from simpul.kit.masking import mask_nik
from simpul.portal.context import visible_agreements
from simpul.portal.repository import AuditQuery, AuditSearchRepository
from simpul.portal.web import (
    User,
    check_csrf,
    error_message,
    form_of,
    lang_of,
    need,
    portal_of,
    render,
)
from simpul.registry.datasets import builtin_datasets
from simpul.registry.identifiers import parse_nik

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Scope:
    """What part of the log a reader sees. `institution` None: all of it (the hub)."""

    institution: str | None
    agreements: frozenset[str] = frozenset()
    datasets: frozenset[str] = frozenset()

    def covers(self, institution: str | None, agreement: str | None, dataset: str | None) -> bool:
        return (
            self.institution is None
            or institution == self.institution
            or (agreement is not None and agreement in self.agreements)
            or (dataset is not None and dataset in self.datasets)
        )


def _scope(session: Session, user: User, at: datetime) -> Scope:
    """Hub: the whole log. Others: their institution's records, their agreements', and
    those about the datasets their institution provides."""
    if user.role is Role.HUB_ADMIN:
        return Scope(None)
    own = user.principal.institution
    return Scope(
        own,
        frozenset(s.id for s in visible_agreements(session, user, at)),
        frozenset(code for code, ds in builtin_datasets().items() if ds.provider == own),
    )


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
        scope = _scope(session, user, rt.clock.now())
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
                datasets=scope.datasets,
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
    user = need(request, "audit_subjek")
    check_csrf(user, form)
    rt = portal_of(request).runtime
    raw = (form.get("nik") or "").strip()[:40]
    ctx: dict[str, Any] = {"nik": raw, "history": None, "masked": None}
    info = parse_nik(raw)
    if not info.valid:
        ctx["error"] = info.errors[0].detail
        return render(request, "audit_subjek.html", ctx, status=422)
    with rt.transaction() as session:
        scope = _scope(session, user, rt.clock.now())
        history = audit.subject_history(session, rt.settings, info.nik)
    history = [h for h in history if scope.covers(h.institution, h.agreement_id, h.dataset)]
    ctx["history"] = history
    ctx["masked"] = mask_nik(info.nik)
    return render(request, "audit_subjek.html", ctx)
