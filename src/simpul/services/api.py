"""HTTP adapters for the PKS web services: parse, authenticate, call the service function
in one transaction, commit (so the audit record is durable), then answer."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request, Response, Security
from fastapi.security import HTTPBasic, HTTPBearer
from pydantic import BaseModel, Field

from simpul import kernel
from simpul.access.auth import issue_token, resolve_principal
from simpul.access.quota import QuotaLimiter
from simpul.access.schemas import Principal
from simpul.agreements import service as agreements
from simpul.agreements.schemas import Mechanism
from simpul.errors import SimpulError, problem_responses
from simpul.kernel import Basic, Bearer, Credential, Node, Origin
from simpul.kernel.core import Op, run_async
from simpul.kernel.principals import basic_principal
from simpul.kit.masking import mask_niks_in_text
from simpul.kit.proxies import PEER
from simpul.runtime import Runtime
from simpul.services import batch, service
from simpul.services.schemas import (
    AksesNikIn,
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
# The documented refusals (problem+json) of an operation: a call decided against an agreement
# (`PROBLEMS`), the same with a request body (`PROBLEMS_BODY`: also 413), and one that needs
# only a valid caller (`CALLER_PROBLEMS`).
PROBLEMS: dict[int | str, dict[str, Any]] = problem_responses(401, 403, 404, 422, 429, 503)
PROBLEMS_BODY: dict[int | str, dict[str, Any]] = problem_responses(
    401, 403, 404, 413, 422, 429, 503
)
CALLER_PROBLEMS: dict[int | str, dict[str, Any]] = problem_responses(401, 403, 422, 429, 503)
_BATCH_PROBLEMS = {**PROBLEMS_BODY, **problem_responses(413, s413="Lebih dari 1.000 butir.")}


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
        source = request.client.host if request.client else None
        return basic_principal(rt, Basic(*creds.basic), source=source)
    with rt.read_transaction() as session:
        return resolve_principal(session, bearer=creds.bearer, clock=rt.clock)


Caller = Annotated[Principal, Depends(caller)]


def node_of(state: Any) -> Node:
    """The kernel's view of this app: its runtime, group-commit writer and quota."""
    rt = state.runtime
    assert isinstance(rt, Runtime)
    quota = getattr(state, "quota", None)
    assert quota is None or isinstance(quota, QuotaLimiter)
    return Node(rt, writer=getattr(state, "audit_writer", None), quota=quota)


def credential(creds: Credentials) -> Credential:
    if creds.basic is not None:
        return Basic(*creds.basic)
    assert creds.bearer is not None
    return Bearer(creds.bearer)


def origin(
    request: Request, action: str, dataset: str | None, mechanism: Mechanism = Mechanism.WEB_SERVICE
) -> Origin:
    """The request's facts for the kernel (the fast path builds the same from its scope)."""
    return Origin(
        mechanism=mechanism,
        action=action,
        dataset=dataset,
        source_ip=request.client.host if request.client else None,
        request_id=request.headers.get("x-request-id") or None,
        peer_ip=request.scope.get(PEER),
    )


def _run(
    request: Request, creds: Credentials, action: str, fn: Op[..., R], dataset: str, *args: Any
) -> R:
    """One service call through the kernel, in the thread pool's thread."""
    node = node_of(request.app.state)
    return kernel.run(node, credential(creds), origin(request, action, dataset), fn, dataset,
                      *args)  # fmt: skip


async def _run_inline(
    request: Request,
    creds: Credentials,
    action: str,
    fn: Op[..., BaseModel],
    dataset: str,
    *args: Any,
) -> Response:
    """A single-NIK service call on the event loop (see `kernel.core.run_async`). The answer
    is serialised once, by pydantic, without FastAPI re-validating it."""
    node = node_of(request.app.state)
    out = await run_async(node, credential(creds), origin(request, action, dataset), fn,
                          dataset, *args)  # fmt: skip
    return _json(out)


def _json(out: BaseModel) -> Response:
    # Serialised once by pydantic; FastAPI's re-validation of a 1,000-item answer against
    # `response_model` (kept for the OpenAPI schema) would cost more than the lookups.
    return Response(out.model_dump_json(exclude_none=True), media_type="application/json")


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


@router.post(
    "/token",
    response_model=TokenOut,
    tags=["otentikasi"],
    responses=problem_responses(400, 401, 413, 422, 429, 503),
)
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
    responses=PROBLEMS_BODY,
)
async def verifikasi(dataset: str, body: VerifikasiIn, request: Request, creds: Creds) -> Response:
    """Verifikasi elemen: `sesuai` / `tidak_sesuai` per elemen, atau `data_tidak_ditemukan`.
    Nilai tersimpan tidak pernah dikembalikan (PKS 003 Pasal 2 ayat (1) huruf a)."""
    return await _run_inline(
        request, creds, "verifikasi", service.verify_elements, dataset, body.nik, body.elemen
    )


@router.post(
    "/datasets/{dataset}/verifikasi/batch",
    response_model=VerifikasiBatchOut,
    response_model_exclude_none=True,
    tags=["layanan"],
    responses=_BATCH_PROBLEMS,
)
def verifikasi_batch(
    dataset: str, body: VerifikasiBatchIn, request: Request, creds: Creds
) -> Response:
    """Verifikasi elemen untuk sampai 1.000 NIK sekaligus; hasil atau galat per butir."""
    return _json(_run(request, creds, "verifikasi", batch.verify_batch, dataset, body.item))


@router.post(
    "/datasets/{dataset}/cek-status/batch",
    response_model=CekStatusBatchOut,
    response_model_exclude_none=True,
    tags=["layanan"],
    responses=_BATCH_PROBLEMS,
)
def cek_status_batch(
    dataset: str, body: CekStatusBatchIn, request: Request, creds: Creds
) -> Response:
    """Cek status untuk sampai 1.000 NIK sekaligus; hasil atau galat per butir."""
    return _json(_run(request, creds, "cek_status", batch.check_status_batch, dataset, body.item))


@router.post(
    "/datasets/{dataset}/cek-status",
    response_model=CekStatusOut,
    response_model_exclude_none=True,
    tags=["layanan"],
    responses=PROBLEMS_BODY,
)
async def cek_status(dataset: str, body: CekStatusIn, request: Request, creds: Creds) -> Response:
    """Cek status: label dataset (mis. `ASN` + instansi) atau `data_tidak_ditemukan`
    (PKS 001 Pasal 3, PKS 004 Pasal 3-4)."""
    return await _run_inline(
        request,
        creds,
        "cek_status",
        service.check_status,
        dataset,
        body.nik,
        body.nama_lengkap,
        body.tanggal_lahir,
    )


@router.post(
    "/datasets/{dataset}/akses-nik",
    response_model=ProfilOut,
    response_model_exclude_none=True,
    tags=["layanan"],
    responses=PROBLEMS_BODY,
)
async def akses_nik(dataset: str, body: AksesNikIn, request: Request, creds: Creds) -> Response:
    """Akses berdasarkan NIK: elemen sesuai hibah (profil IKD 9 elemen melalui web service,
    PKS 003 Pasal 2 ayat (1) huruf d). NIK dikirim di isi permintaan, tidak di alamat."""
    return await _run_inline(request, creds, "akses_nik", service.lookup, dataset, body.nik)


DEPRECATED_LOOKUP = "/api/v1/datasets/{dataset}/nik/{nik}"


def lookup_moved(dataset: str) -> SimpulError:
    """The answer of the retired look-up by URL: the NIK is neither read nor echoed."""
    moved = f"/api/v1/datasets/{mask_niks_in_text(dataset)}/akses-nik"
    return SimpulError(
        "metode_usang",
        "Akses NIK melalui alamat (GET …/nik/{nik}) tidak lagi dilayani, agar NIK tidak "
        f'tercatat di log akses. Kirim POST {moved} dengan isi JSON {{"nik": "…"}}.',
        status=410,
        pengganti=moved,
    )


@router.get(
    "/datasets/{dataset}/nik/{nik}",
    tags=["layanan"],
    deprecated=True,
    status_code=410,
    response_class=Response,
    responses=problem_responses(
        410, 422, s410="Selalu: pakai `POST …/akses-nik` (`metode_usang`). Tidak ada pencarian."
    ),
)
async def akses_nik_usang(dataset: str, nik: str) -> Response:
    """Usang: akses NIK lewat alamat. Selalu ditolak 410 tanpa pencarian apa pun; NIK di
    alamat tidak dibaca dan tidak dikembalikan. Pakai `POST …/akses-nik`."""
    raise lookup_moved(dataset)


class StatusPenyediaOut(BaseModel):
    penyedia: str
    status: str
    versi: int
    berakhir: str
    diketahui: str = Field(description="Kapan node ini mengetahuinya (UTC, ISO 8601).")
    lewat: str = Field(description="`pemberitahuan` dari node penyedia, atau `tanya`.")


class PerjanjianOut(BaseModel):
    id: str
    judul: str
    versi: int
    status: str
    berakhir: str
    status_di_penyedia: StatusPenyediaOut | None = Field(
        default=None,
        description="Status perjanjian di node penyedia (federasi): penyedia memutus setiap "
        "panggilan dengan salinannya sendiri; salinan node ini tidak pernah diperluas olehnya.",
    )


@router.get("/perjanjian", response_model=list[PerjanjianOut], tags=["perjanjian"],
            responses=CALLER_PROBLEMS)  # fmt: skip
def perjanjian(request: Request, principal: Caller) -> list[PerjanjianOut]:
    """Perjanjian yang mengikat akun pemanggil, dengan status efektifnya saat ini."""
    rt = _runtime(request)
    now = rt.clock.now()
    out: list[PerjanjianOut] = []
    with rt.transaction() as session:
        ids = sorted(principal.agreement_ids)
        at_provider = agreements.provider_states(session, ids)
        for agreement_id in ids:
            s = agreements.summary(session, agreement_id, now)
            held = at_provider.get(agreement_id)
            out.append(
                PerjanjianOut(
                    id=s.id,
                    judul=s.title,
                    versi=s.version_in_force,
                    status=s.effective_state.value,
                    berakhir=s.ends_on.isoformat(),
                    status_di_penyedia=None
                    if held is None
                    else StatusPenyediaOut(
                        penyedia=held.provider,
                        status=held.status,
                        versi=held.version,
                        berakhir=held.ends_on,
                        diketahui=held.learned_at.isoformat(),
                        lewat=held.via,
                    ),
                )
            )
    return out
