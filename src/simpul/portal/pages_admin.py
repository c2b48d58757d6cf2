"""Administrators' pages: agreements (list, detail, suspend/resume), accounts and card
readers. Reads go to the capabilities' services; every change is a governance action
(`simpul.governance.actions`), audited in the same transaction."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from simpul.access import service as access
from simpul.access.schemas import AccountCreate, DeviceIn, DeviceOut, Role
from simpul.agreements import service as agreements
from simpul.errors import InvalidInput, SimpulError
from simpul.governance import actions
from simpul.obligations import service as obligations
from simpul.portal import i18n
from simpul.portal.context import can_govern_agreement, can_see_agreement, visible_agreements
from simpul.portal.web import (
    User,
    check_csrf,
    error_message,
    form_of,
    lang_of,
    need,
    portal_of,
    redirect,
    render,
)
from simpul.registry.datasets import get_dataset

router = APIRouter(include_in_schema=False)


def _not_found(request: Request) -> HTMLResponse:
    return render(
        request,
        "pesan.html",
        {"title_key": "notfound.title", "body_key": "notfound.title"},
        status=404,
    )


# -- agreements ---------------------------------------------------------------------------


@router.get("/portal/perjanjian")
def agreement_list(request: Request) -> HTMLResponse:
    user = need(request, "perjanjian")
    rt = portal_of(request).runtime
    with rt.transaction() as session:
        shown = visible_agreements(session, user, rt.clock.now())
    today = rt.clock.today()
    rows = [{"s": s, "days_left": (s.ends_on - today).days} for s in shown]
    return render(request, "perjanjian.html", {"agreements": rows})


def _detail_context(session: Session, user: User, agreement_id: str, request: Request) -> Any:
    rt = portal_of(request).runtime
    now = rt.clock.now()
    summary = agreements.summary(session, agreement_id, now)
    in_force = agreements.version_in_force(session, agreement_id, now)
    doc = agreements.document_of(in_force)
    return {
        "s": summary,
        "doc": doc,
        "versions": agreements.versions(session, agreement_id),
        "events": agreements.events(session, agreement_id),
        "accounts": access.accounts_for_agreement(session, agreement_id),
        "can_govern": can_govern_agreement(session, user, agreement_id, now),
        "days_left": (summary.ends_on - rt.clock.today()).days,
        "deadlines": obligations.agreement_deadlines(session, rt.settings, agreement_id, now),
        "semester": (rt.clock.today().year, 1 if rt.clock.today().month <= 6 else 2),
        "grounds": [g.clause for g in doc.suspension_grounds()],
        "elements": {
            g.id: (_elements(g.dataset, g.input_elements), _elements(g.dataset, g.output_elements))
            for g in doc.grants
        },
    }


def _elements(dataset: str, names: tuple[str, ...]) -> list[str]:
    """A grant's elements as the registry definition names them; a profile (a named set of
    elements, e.g. the 13 of the web portal) as its elements."""
    try:
        ds = get_dataset(dataset)
    except SimpulError:
        return list(names)
    known = {e.name: e.label for e in ds.elements}
    known["anggota_keluarga"] = "Anggota keluarga dalam satu KK"
    out: list[str] = []
    for name in names:
        for member in ds.profiles.get(name, (name,)):
            label = known.get(member, member)
            if label not in out:
                out.append(label)
    return out


@router.get("/portal/perjanjian/{agreement_id}")
def agreement_detail(request: Request, agreement_id: str) -> HTMLResponse:
    user = need(request, "perjanjian_detail")
    rt = portal_of(request).runtime
    with rt.transaction() as session:
        if not can_see_agreement(session, user, agreement_id, rt.clock.now()):
            return _not_found(request)
        ctx = _detail_context(session, user, agreement_id, request)
    return render(request, "perjanjian_detail.html", ctx)


# Actions that close something at once ask first: a second page names the consequence and
# asks for the reason; the POST acts only with that page's `konfirmasi=ya` (docs/adr/0030).
CONFIRMED = frozenset({"tangguhkan"})


def _closing(
    session: Session, agreement_id: str, at: Any, lang: str
) -> tuple[list[str], list[str]]:
    """What suspending closes: the grants of the version in force, as people name them,
    and the recipients who lose them."""
    doc = agreements.document_of(agreements.version_in_force(session, agreement_id, at))
    names = {i.code: i.name for i in access.list_institutions(session)}
    items = [
        f"{i18n.label(lang, 'svc.name', g.service)} ({i18n.label(lang, 'mech', g.mechanism)}, "
        f"{i18n.label(lang, 'dataset', g.dataset)}) — {names.get(g.recipient, g.recipient)}"
        for g in doc.grants
    ]
    recipients = sorted({names.get(g.recipient, g.recipient) for g in doc.grants})
    return items, recipients


@router.get("/portal/perjanjian/{agreement_id}/konfirmasi/{verb}")
def agreement_confirm(request: Request, agreement_id: str, verb: str) -> HTMLResponse:
    """The second step of a suspension: its consequence, named, and the reason asked."""
    user = need(request, "perjanjian_tindakan")
    if verb not in CONFIRMED:
        return _not_found(request)
    rt = portal_of(request).runtime
    lang = lang_of(request)
    now = rt.clock.now()
    with rt.read_transaction() as session:
        if not can_see_agreement(session, user, agreement_id, now) or not can_govern_agreement(
            session, user, agreement_id, now
        ):
            return _not_found(request)
        s = agreements.summary(session, agreement_id, now)
        items, recipients = _closing(session, agreement_id, now, lang)
        bound = access.accounts_for_agreement(session, agreement_id)
        grounds = agreements.document_of(
            agreements.version_in_force(session, agreement_id, now)
        ).suspension_grounds()
    name = i18n.translate(lang, "agr.pks_number", number=s.official_number) if (
        s.official_number) else s.title  # fmt: skip
    notes = [i18n.translate(lang, "confirm.accounts", n=i18n.number(lang, len(bound)))]
    if grounds:
        notes.append(i18n.translate(lang, "agr.suspend_basis",
                                    clauses="; ".join(g.clause for g in grounds)))  # fmt: skip
    return render(request, "konfirmasi.html", {
        "title": i18n.translate(lang, f"confirm.title.{verb}", agreement=name),
        "consequence": i18n.translate(lang, f"confirm.consequence.{verb}",
                                      n=i18n.number(lang, len(items)),
                                      recipients=", ".join(recipients)),
        "items": items,
        "notes": notes,
        "action": f"/portal/perjanjian/{agreement_id}/{verb}",
        "confirm_label": i18n.translate(lang, f"confirm.do.{verb}"),
        "back": f"/portal/perjanjian/{agreement_id}",
    })  # fmt: skip


@router.post("/portal/perjanjian/{agreement_id}/{verb}")
async def agreement_action(request: Request, agreement_id: str, verb: str) -> Response:
    form = await form_of(request)
    return await run_in_threadpool(_agreement_action, request, agreement_id, verb, form)


ACTIONS = {
    "tangguhkan": (actions.suspend_agreement, "agr.suspended_ok"),
    "lanjutkan": (actions.resume_agreement, "agr.resumed_ok"),
}


def _agreement_action(
    request: Request, agreement_id: str, verb: str, form: dict[str, str]
) -> Response:
    user = need(request, "perjanjian_tindakan")
    check_csrf(user, form)
    if verb not in ACTIONS:
        return _not_found(request)
    if verb in CONFIRMED and form.get("konfirmasi") != "ya":
        return redirect(f"/portal/perjanjian/{agreement_id}/konfirmasi/{verb}")
    fn, ok = ACTIONS[verb]
    rt = portal_of(request).runtime
    now = rt.clock.now()
    try:
        with rt.transaction() as session:
            if not can_see_agreement(session, user, agreement_id, now):
                return _not_found(request)
            if not can_govern_agreement(session, user, agreement_id, now):
                raise SimpulError(
                    "bukan_penyedia",
                    "Hanya penyedia data atau admin hub yang dapat "
                    "menangguhkan atau melanjutkan perjanjian ini.",
                    status=403,
                )
            fn(
                session,
                rt.settings,
                rt.clock,
                agreement_id,
                actor=user.actor,
                reason=form.get("reason", ""),
            )
    except SimpulError as exc:
        with rt.transaction() as session:
            ctx = _detail_context(session, user, agreement_id, request)
        ctx["error"] = error_message(lang_of(request), exc)
        return render(request, "perjanjian_detail.html", ctx, status=exc.status)
    return redirect(f"/portal/perjanjian/{agreement_id}", ok)


# -- accounts -----------------------------------------------------------------------------

# Roles each administrator may create (PKS 003 Pasal 2(1)f: the recipient manages its own
# User IDs; PKS 000 Pasal 3: data users and their operators).
CREATABLE = {
    Role.HUB_ADMIN: list(Role),
    Role.PROVIDER_ADMIN: [Role.PROVIDER_ADMIN, Role.AUDITOR],
    Role.RECIPIENT_ADMIN: [Role.DATA_USER, Role.OPERATOR, Role.RECIPIENT_ADMIN],
}


def _scope(user: User) -> str | None:
    """The institution an administrator manages; None for the hub (all)."""
    return None if user.role is Role.HUB_ADMIN else user.principal.institution


def _accounts_context(session: Session, user: User, request: Request) -> dict[str, Any]:
    rt = portal_of(request).runtime
    scope = _scope(user)
    accounts = access.list_accounts(session, institution=scope)
    now = rt.clock.now()
    receiving = [
        s.id
        for s in visible_agreements(session, user, now)
        if scope is None
        or any(
            g.recipient == scope
            for g in agreements.document_of(agreements.version_in_force(session, s.id, now)).grants
        )
    ]
    institutions = [i.code for i in access.list_institutions(session)] if scope is None else []
    return {
        "accounts": accounts,
        "roles": CREATABLE[user.role],
        "agreement_ids": receiving,
        "data_users": [
            a.username for a in accounts if a.role is Role.DATA_USER and a.kind.value == "user"
        ],
        "institutions": institutions,
        "now": rt.clock.now(),
        "issued": None,
    }


@router.get("/portal/akun")
def account_list(request: Request) -> HTMLResponse:
    user = need(request, "akun")
    rt = portal_of(request).runtime
    with rt.transaction() as session:
        ctx = _accounts_context(session, user, request)
    return render(request, "akun.html", ctx)


@router.post("/portal/akun")
async def account_create(request: Request) -> Response:
    form = await request.form()
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    chosen = [v for v in form.getlist("agreement_ids") if isinstance(v, str)]
    return await run_in_threadpool(_account_create, request, fields, chosen)


def _account_create(request: Request, form: dict[str, str], chosen: list[str]) -> Response:
    user = need(request, "akun")
    check_csrf(user, form)
    rt = portal_of(request).runtime
    lang = lang_of(request)
    issued = None
    error = None
    status = 200
    try:
        role = Role(form.get("role", ""))
        if role not in CREATABLE[user.role]:
            raise InvalidInput(
                "peran_tidak_boleh", "Anda tidak dapat membuat akun dengan peran ini."
            )
        institution = _scope(user) or form.get("institution", "")
        with rt.transaction() as session:
            allowed = _accounts_context(session, user, request)["agreement_ids"]
            if any(a not in allowed for a in chosen):
                raise InvalidInput("pks_tidak_boleh", "Perjanjian di luar cakupan Anda.")
            data = AccountCreate(
                username=form.get("username", ""),
                institution=institution,
                role=role,
                full_name=form.get("full_name") or None,
                agreement_ids=chosen if role is Role.DATA_USER else [],
                operator_of=(form.get("operator_of") or None) if role is Role.OPERATOR else None,
            )
            issued = actions.create_account(session, rt.settings, rt.clock, data, actor=user.actor)
    except ValueError as exc:  # a bad role value or a schema violation
        status = 422
        error = _validation_text(exc)
    except SimpulError as exc:
        status = exc.status
        error = error_message(lang, exc)
    with rt.transaction() as session:
        ctx = _accounts_context(session, user, request)
    ctx["error"] = error
    if issued is not None:
        ctx["issued"] = {
            "text": i18n.translate(lang, "acct.created_ok", username=issued.account.username),
            "secret": issued.secret.get_secret_value(),
        }
    return render(request, "akun.html", ctx, status=status)


def _validation_text(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(str(e["msg"]) for e in exc.errors())
    return "Peran tidak dikenal."


@router.get("/portal/akun/{username}/konfirmasi/{verb}")
def account_confirm(request: Request, username: str, verb: str) -> HTMLResponse:
    """The second step of a revocation: who loses access, and the reason asked."""
    user = need(request, "akun")
    if verb != "cabut":
        return _not_found(request)
    rt = portal_of(request).runtime
    lang = lang_of(request)
    with rt.read_transaction() as session:
        try:
            target = access.get_account(session, username)
        except SimpulError:
            return _not_found(request)
        scope = _scope(user)
        if scope is not None and target.institution != scope:
            return _not_found(request)
        same = access.list_accounts(session, institution=target.institution)
        operators = [a.username for a in same
                     if a.operator_of == username and a.status.value == "aktif"]  # fmt: skip
        inst = access.institution_name(session, target.institution) or target.institution
    notes = [i18n.translate(lang, "confirm.operators", names=", ".join(operators))] if (
        operators) else []  # fmt: skip
    return render(request, "konfirmasi.html", {
        "title": i18n.translate(lang, "confirm.title.cabut", username=username),
        "consequence": i18n.translate(lang, "confirm.consequence.cabut", username=username,
                                      role=i18n.translate(lang, f"role.{target.role.value}"),
                                      institution=inst),
        "items": [],
        "notes": notes,
        "action": f"/portal/akun/{username}/cabut",
        "confirm_label": i18n.translate(lang, "confirm.do.cabut"),
        "back": "/portal/akun",
    })  # fmt: skip


@router.post("/portal/akun/{username}/{verb}")
async def account_action(request: Request, username: str, verb: str) -> Response:
    form = await form_of(request)
    return await run_in_threadpool(_account_action, request, username, verb, form)


def _account_action(request: Request, username: str, verb: str, form: dict[str, str]) -> Response:
    user = need(request, "akun")
    check_csrf(user, form)
    if verb == "cabut" and form.get("konfirmasi") != "ya":
        return redirect(f"/portal/akun/{username}/konfirmasi/cabut")
    rt = portal_of(request).runtime
    lang = lang_of(request)
    issued = None
    done = "acct.revoked_ok"
    try:
        with rt.transaction() as session:
            target = access.get_account(session, username)
            scope = _scope(user)
            if scope is not None and target.institution != scope:
                raise SimpulError("di_luar_instansi", "Akun instansi lain.", status=403)
            if verb == "cabut":
                actions.revoke_account(
                    session,
                    rt.settings,
                    rt.clock,
                    username,
                    actor=user.actor,
                    reason=form.get("reason", ""),
                )
            elif verb == "atur-ulang-faktor-kedua":
                actions.reset_second_factor(
                    session, rt.settings, rt.clock, username, actor=user.actor,
                    reason=form.get("reason", ""),
                )  # fmt: skip
                done = "acct.second_factor_reset_ok"
            elif verb == "atur-ulang":
                issued = actions.reset_secret(
                    session,
                    rt.settings,
                    rt.clock,
                    username,
                    actor=user.actor,
                    reason=form.get("reason", ""),
                )
            else:
                return _not_found(request)
    except SimpulError as exc:
        with rt.transaction() as session:
            ctx = _accounts_context(session, user, request)
        ctx["error"] = error_message(lang, exc)
        return render(request, "akun.html", ctx, status=exc.status)
    if issued is None:
        return redirect("/portal/akun", done)
    with rt.transaction() as session:
        ctx = _accounts_context(session, user, request)
    ctx["issued"] = {
        "text": i18n.translate(lang, "acct.reset_ok", username=issued.account.username),
        "secret": issued.secret.get_secret_value(),
    }
    return render(request, "akun.html", ctx)


# -- card readers -------------------------------------------------------------------------


def _device_institutions(session: Session, user: User, request: Request) -> list[str] | None:
    """None: all (hub). A provider administrator also manages the readers of the recipients
    of its agreements (PKS 003 Pasal 2(1)g-h: the provider personalises and activates SAM)."""
    if user.role is Role.HUB_ADMIN:
        return None
    own = user.principal.institution
    if user.role is Role.RECIPIENT_ADMIN:
        return [own]
    rt = portal_of(request).runtime
    now = rt.clock.now()
    found = {own}
    for s in visible_agreements(session, user, now):
        doc = agreements.document_of(agreements.version_in_force(session, s.id, now))
        found |= {g.recipient for g in doc.grants if g.provider == own}
    return sorted(found)


def _devices_context(session: Session, user: User, request: Request) -> dict[str, Any]:
    scope = _device_institutions(session, user, request)
    devices: list[DeviceOut] = access.list_devices(session)
    if scope is not None:
        devices = [d for d in devices if d.institution in scope]
    options = scope if scope is not None else [i.code for i in access.list_institutions(session)]
    return {
        "devices": devices,
        "institutions": options,
        "can_activate": user.role in (Role.HUB_ADMIN, Role.PROVIDER_ADMIN),
    }


@router.get("/portal/perangkat")
def device_list(request: Request) -> HTMLResponse:
    user = need(request, "perangkat")
    rt = portal_of(request).runtime
    with rt.transaction() as session:
        ctx = _devices_context(session, user, request)
    return render(request, "perangkat.html", ctx)


@router.post("/portal/perangkat")
async def device_register(request: Request) -> Response:
    form = await form_of(request)
    return await run_in_threadpool(_device_change, request, None, "daftar", form)


@router.post("/portal/perangkat/{serial}/{verb}")
async def device_action(request: Request, serial: str, verb: str) -> Response:
    form = await form_of(request)
    return await run_in_threadpool(_device_change, request, serial, verb, form)


def _device_change(
    request: Request, serial: str | None, verb: str, form: dict[str, str]
) -> Response:
    user = need(request, "perangkat")
    check_csrf(user, form)
    rt = portal_of(request).runtime
    ok = {
        "daftar": "dev.registered_ok",
        "aktifkan": "dev.activated_ok",
        "nonaktifkan": "dev.deactivated_ok",
    }.get(verb)
    if ok is None:
        return _not_found(request)
    try:
        with rt.transaction() as session:
            scope = _device_institutions(session, user, request)
            if serial is None:
                data = DeviceIn(
                    serial=form.get("serial", ""),
                    sam_id=form.get("sam_id", ""),
                    institution=form.get("institution", ""),
                )
                if scope is not None and data.institution not in scope:
                    raise SimpulError(
                        "di_luar_instansi", "Instansi di luar cakupan Anda.", status=403
                    )
                actions.register_device(session, rt.settings, rt.clock, data, actor=user.actor)
            else:
                dev = access.get_device(session, serial)
                if scope is not None and dev.institution not in scope:
                    raise SimpulError("di_luar_instansi", "Perangkat instansi lain.", status=403)
                if verb == "aktifkan":
                    if user.role not in (Role.HUB_ADMIN, Role.PROVIDER_ADMIN):
                        raise SimpulError(
                            "bukan_penyedia", "Aktivasi SAM oleh penyedia data.", status=403
                        )
                    actions.activate_device(
                        session, rt.settings, rt.clock, serial, actor=user.actor
                    )
                else:
                    actions.deactivate_device(
                        session,
                        rt.settings,
                        rt.clock,
                        serial,
                        actor=user.actor,
                        reason=form.get("reason", ""),
                    )
    except (SimpulError, ValidationError) as exc:
        with rt.transaction() as session:
            ctx = _devices_context(session, user, request)
        if isinstance(exc, SimpulError):
            ctx["error"], status = error_message(lang_of(request), exc), exc.status
        else:
            ctx["error"], status = _validation_text(exc), 422
        return render(request, "perangkat.html", ctx, status=status)
    return redirect("/portal/perangkat", ok)
