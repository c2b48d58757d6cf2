"""HTTP adapters for the PKS web services: parse, authenticate, call the service function
in one transaction, commit (so the audit record is durable), then answer."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request, Response, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPBasic, HTTPBearer
from pydantic import BaseModel

from simpul.access.auth import (
    issue_token,
    remember_password,
    remembered_password,
    resolve_principal,
    verify_password,
)
from simpul.access.policy import Decision
from simpul.access.quota import QuotaLimiter
from simpul.access.schemas import Principal
from simpul.agreements import service as agreements
from simpul.agreements.schemas import Mechanism
from simpul.errors import SimpulError
from simpul.kit.ids import new_id
from simpul.runtime import Runtime
from simpul.services import batch, service
from simpul.services.schemas import (
    CekStatusBatchIn,
    CekStatusBatchOut,
    CekStatusIn,
    CekStatusOut,
    ProfilOut,
    VerifikasiBatchIn,
    VerifikasiBatchOut,
    VerifikasiIn,
    VerifikasiOut,
)

router = APIRouter(prefix="/api/v1")
R = TypeVar("R")
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Kredensial tidak ada atau tidak sah (problem+json)."},
    403: {"description": "Ditolak oleh perjanjian (problem+json dengan `code`)."},
    422: {"description": "Permintaan tidak valid (problem+json)."},
    429: {"description": "Kuota perjanjian terlampaui (problem+json)."},
}


def _runtime(request: Request) -> Runtime:
    rt = request.app.state.runtime
    assert isinstance(rt, Runtime)
    return rt


def _unauthorised(code: str, detail: str) -> SimpulError:
    return SimpulError(code, detail, status=401)


def parse_credentials(header: str) -> tuple[str | None, tuple[str, str] | None]:
    """The Authorization header: a Bearer token or an HTTP Basic User ID and password."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), None
    if scheme.lower() == "basic" and value.strip():
        try:
            user, sep, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise _unauthorised("kredensial_tidak_valid", "Header Basic tidak terbaca.") from None
        if not sep:
            raise _unauthorised("kredensial_tidak_valid", "Header Basic tidak terbaca.")
        return None, (user, password)
    raise _unauthorised(
        "kredensial_tidak_ada",
        "Kredensial wajib: token Bearer atau User ID dan kata sandi (HTTP Basic).",
    )


class _BearerDoc(HTTPBearer):
    """Declares the Bearer scheme in OpenAPI; the header is parsed by `credentials`."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


class _BasicDoc(HTTPBasic):
    """Declares HTTP Basic in OpenAPI; the header is parsed by `credentials` (UTF-8)."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


_BEARER_DOC = _BearerDoc(scheme_name="token", description="Token dari POST /api/v1/token.")
_BASIC_DOC = _BasicDoc(scheme_name="userid", description="User ID dan kata sandi.")


@dataclass(frozen=True)
class Credentials:
    bearer: str | None
    basic: tuple[str, str] | None


async def credentials(
    request: Request,
    _bearer: Annotated[None, Security(_BEARER_DOC)] = None,
    _basic: Annotated[None, Security(_BASIC_DOC)] = None,
) -> Credentials:
    """Parse (not check) the credential on the event loop: no thread hop, no database."""
    bearer, basic = parse_credentials(request.headers.get("authorization", ""))
    return Credentials(bearer, basic)


Creds = Annotated[Credentials, Depends(credentials)]


def caller(request: Request, creds: Creds) -> Principal:
    """Who is calling, for endpoints that need only the principal (not a service call)."""
    rt = _runtime(request)
    if creds.basic is not None:
        return _basic_principal(rt, creds.basic)
    with rt.read_transaction() as session:
        return resolve_principal(session, bearer=creds.bearer, clock=rt.clock)


Caller = Annotated[Principal, Depends(caller)]


def _context(request: Request, principal: Principal) -> service.CallContext:
    return call_context(
        request.app.state,
        principal,
        source_ip=request.client.host if request.client else None,
        request_id=request.headers.get("x-request-id"),
    )


def call_context(
    state: Any,
    principal: Principal,
    *,
    source_ip: str | None,
    request_id: str | None,
    **extra: Any,
) -> service.CallContext:
    """A web-service call's context from the app's state and the request's facts (the
    route and the fast path in `simpul.services.hot` build it alike)."""
    rt = state.runtime
    assert isinstance(rt, Runtime)
    quota = state.quota
    assert quota is None or isinstance(quota, QuotaLimiter)
    return service.CallContext(
        principal=principal,
        mechanism=Mechanism.WEB_SERVICE,
        source_ip=source_ip,
        request_id=request_id or new_id("req-"),
        settings=rt.settings,
        clock=rt.clock,
        quota=quota,
        writer=getattr(state, "audit_writer", None),
        **extra,
    )


def _run(
    request: Request,
    creds: Credentials,
    fn: Callable[..., tuple[R, Decision | None]],
    *args: Any,
) -> R:
    """One service call: authentication and the service in one transaction, then the audit
    flush, then the answer or the refusal.

    With the group-commit audit writer the transaction only reads, so it is a read
    transaction (governance memo, no write lock); the records are appended by `flush`,
    which returns once they are durable. HTTP Basic authenticates first in a write
    transaction of its own, because a failed password must be counted and committed."""
    rt = _runtime(request)
    principal = None
    if creds.basic is not None:
        principal = _basic_principal(rt, creds.basic)
    writer = getattr(request.app.state, "audit_writer", None)
    unit = rt.read_transaction if writer is not None else rt.transaction
    with unit() as session:
        if principal is None:
            principal = resolve_principal(session, bearer=creds.bearer, clock=rt.clock)
        ctx = _context(request, principal)
        out, refused = fn(session, ctx, *args)
    ctx.flush()  # durable before the answer, allowed or refused
    if refused is not None:
        raise service.refusal(refused)
    return out


async def _run_inline(
    request: Request,
    creds: Credentials,
    fn: Callable[..., tuple[BaseModel, Decision | None]],
    *args: Any,
) -> Response:
    """A single-NIK service call on the event loop, for the hot path.

    The call's database work is bounded (the governance memo, one primary-key read), so it
    runs inline instead of paying a thread hand-off, and the audit flush is awaited — one
    wake-up per group commit instead of one per waiting thread. Whatever can take long
    runs in the thread pool: argon2 for an HTTP Basic password not yet verified in this
    governance epoch, and the whole call when there is no group-commit writer (the service
    then writes its record in a write transaction).
    The answer is serialised once, by pydantic, without FastAPI re-validating it."""
    rt = _runtime(request)
    writer = getattr(request.app.state, "audit_writer", None)
    if writer is None:
        return _json(await run_in_threadpool(_run, request, creds, fn, *args))
    principal: Principal | None
    with rt.read_transaction() as session:
        if creds.basic is None:
            principal = resolve_principal(session, bearer=creds.bearer, clock=rt.clock)
        else:
            principal = remembered_password(session, *creds.basic, clock=rt.clock)
        if principal is not None:
            ctx = _context(request, principal)
            out, refused = fn(session, ctx, *args)
    if principal is None:  # a password not yet verified in this epoch: argon2, off the loop
        return _json(await run_in_threadpool(_run, request, creds, fn, *args))
    await ctx.flush_async()  # durable before the answer, allowed or refused
    if refused is not None:
        raise service.refusal(refused)
    return _json(out)


def _json(out: BaseModel) -> Response:
    # Serialised once by pydantic; FastAPI's re-validation of a 1,000-item answer against
    # `response_model` (kept for the OpenAPI schema) would cost more than the lookups.
    return Response(out.model_dump_json(exclude_none=True), media_type="application/json")


def _basic_principal(rt: Runtime, basic: tuple[str, str]) -> Principal:
    """HTTP Basic: a password this process verified in the current governance epoch is
    known at the cost of one keyed hash; otherwise argon2 runs, failures are counted (and
    committed: that is what makes lock-out work) and a success is remembered."""
    with rt.read_transaction() as session:
        known = remembered_password(session, basic[0], basic[1], clock=rt.clock)
    if known is not None:
        return known
    session = rt.sessions()
    try:
        principal, verified = verify_password(session, basic[0], basic[1], clock=rt.clock)
        session.commit()
    except SimpulError:
        session.commit()
        raise
    finally:
        session.close()
    with rt.read_transaction() as session:
        remember_password(session, basic[0], basic[1], verified, clock=rt.clock)
    return principal


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


@router.post("/token", response_model=TokenOut, tags=["otentikasi"], responses=PROBLEMS)
def token(
    request: Request,
    client_id: Annotated[str, Form()],
    client_secret: Annotated[str, Form()],
    grant_type: Annotated[str, Form()] = "client_credentials",
) -> TokenOut:
    """OAuth 2.0 client credentials: tukar client_id dan client_secret dengan token Bearer."""
    if grant_type != "client_credentials":
        raise SimpulError(
            "grant_type_tidak_didukung", "Hanya grant_type=client_credentials.", status=400
        )
    rt = _runtime(request)
    with rt.transaction() as session:
        issued = issue_token(session, client_id, client_secret, clock=rt.clock)
    return TokenOut(
        access_token=issued.access_token.get_secret_value(),
        token_type=issued.token_type,
        expires_in=issued.expires_in,
    )


@router.post(
    "/datasets/{dataset}/verifikasi",
    response_model=VerifikasiOut,
    response_model_exclude_none=True,
    tags=["layanan"],
    responses=PROBLEMS,
)
async def verifikasi(dataset: str, body: VerifikasiIn, request: Request, creds: Creds) -> Response:
    """Verifikasi elemen: `sesuai` / `tidak_sesuai` per elemen, atau `data_tidak_ditemukan`.
    Nilai tersimpan tidak pernah dikembalikan (PKS 003 Pasal 2 ayat (1) huruf a)."""
    return await _run_inline(
        request, creds, service.verify_elements, dataset, body.nik, body.elemen
    )


@router.post(
    "/datasets/{dataset}/verifikasi/batch",
    response_model=VerifikasiBatchOut,
    response_model_exclude_none=True,
    tags=["layanan"],
    responses={**PROBLEMS, 413: {"description": "Lebih dari 1.000 butir."}},
)
def verifikasi_batch(
    dataset: str, body: VerifikasiBatchIn, request: Request, creds: Creds
) -> Response:
    """Verifikasi elemen untuk sampai 1.000 NIK sekaligus; hasil atau galat per butir."""
    return _json(_run(request, creds, batch.verify_batch, dataset, body.item))


@router.post(
    "/datasets/{dataset}/cek-status/batch",
    response_model=CekStatusBatchOut,
    response_model_exclude_none=True,
    tags=["layanan"],
    responses={**PROBLEMS, 413: {"description": "Lebih dari 1.000 butir."}},
)
def cek_status_batch(
    dataset: str, body: CekStatusBatchIn, request: Request, creds: Creds
) -> Response:
    """Cek status untuk sampai 1.000 NIK sekaligus; hasil atau galat per butir."""
    return _json(_run(request, creds, batch.check_status_batch, dataset, body.item))


@router.post(
    "/datasets/{dataset}/cek-status",
    response_model=CekStatusOut,
    response_model_exclude_none=True,
    tags=["layanan"],
    responses=PROBLEMS,
)
async def cek_status(dataset: str, body: CekStatusIn, request: Request, creds: Creds) -> Response:
    """Cek status: label dataset (mis. `ASN` + instansi) atau `data_tidak_ditemukan`
    (PKS 001 Pasal 3, PKS 004 Pasal 3-4)."""
    return await _run_inline(
        request,
        creds,
        service.check_status,
        dataset,
        body.nik,
        body.nama_lengkap,
        body.tanggal_lahir,
    )


@router.get(
    "/datasets/{dataset}/nik/{nik}",
    response_model=ProfilOut,
    response_model_exclude_none=True,
    tags=["layanan"],
    responses=PROBLEMS,
)
async def akses_nik(dataset: str, nik: str, request: Request, creds: Creds) -> Response:
    """Akses berdasarkan NIK: elemen sesuai hibah (profil IKD 9 elemen melalui web service,
    PKS 003 Pasal 2 ayat (1) huruf d)."""
    return await _run_inline(request, creds, service.lookup, dataset, nik)


class PerjanjianOut(BaseModel):
    id: str
    judul: str
    versi: int
    status: str
    berakhir: str


@router.get("/perjanjian", response_model=list[PerjanjianOut], tags=["perjanjian"],
            responses=PROBLEMS)  # fmt: skip
def perjanjian(request: Request, principal: Caller) -> list[PerjanjianOut]:
    """Perjanjian yang mengikat akun pemanggil, dengan status efektifnya saat ini."""
    rt = _runtime(request)
    now = rt.clock.now()
    out: list[PerjanjianOut] = []
    with rt.transaction() as session:
        for agreement_id in sorted(principal.agreement_ids):
            s = agreements.summary(session, agreement_id, now)
            out.append(
                PerjanjianOut(
                    id=s.id,
                    judul=s.title,
                    versi=s.version_in_force,
                    status=s.effective_state.value,
                    berakhir=s.ends_on.isoformat(),
                )
            )
    return out
