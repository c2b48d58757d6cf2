"""HTTP adapter for face verification: authenticate, read a bounded multipart body, call
the service function in one transaction, make the audit record durable, then answer.

The body is read by this adapter, not by FastAPI's form handling, so that an upload
larger than the limit is refused while it streams in (never spooled whole to disk)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from simpul.access.schemas import Principal
from simpul.errors import InvalidInput, problem_responses
from simpul.face import service
from simpul.face.engine import MAX_PHOTO_BYTES, too_large
from simpul.face.schemas import VerifikasiWajahOut
from simpul.kernel import Known, run
from simpul.services.api import PROBLEMS_BODY, Caller, node_of
from simpul.services.api import origin as api_origin

router = APIRouter(prefix="/api/v1")
# Room for the multipart envelope and the NIK field around the photo.
ENVELOPE_BYTES = 16 * 1024

_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["nik", "foto"],
                "properties": {
                    "nik": {"type": "string", "description": "NIK 16 digit."},
                    "foto": {
                        "type": "string",
                        "format": "binary",
                        "description": f"Foto wajah JPEG atau PNG, paling besar "
                        f"{MAX_PHOTO_BYTES // (1024 * 1024)} MiB, satu wajah.",
                    },
                },
            },
            "encoding": {"foto": {"contentType": "image/jpeg, image/png"}},
        }
    },
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    **PROBLEMS_BODY,
    **problem_responses(
        413, 415, 503,
        s413="Foto terlalu besar (`foto_terlalu_besar`).",
        s415="Bukan JPEG/PNG (`foto_format_tidak_didukung`).",
        s503="Mesin wajah atau log audit tidak tersedia (`mesin_wajah_tidak_tersedia`).",
    ),
}  # fmt: skip


def _bad_form(detail: str) -> InvalidInput:
    return InvalidInput("permintaan_tidak_valid", detail)


async def read_form(request: Request) -> tuple[str, bytes]:
    """The `nik` and `foto` fields of a multipart body, refusing an oversized body early."""
    limit = MAX_PHOTO_BYTES + ENVELOPE_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large()
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise _bad_form("Kirim multipart/form-data dengan kolom `nik` dan `foto`.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large()

    async def whole() -> AsyncGenerator[bytes, None]:
        yield bytes(body)

    try:
        form = await MultiPartParser(request.headers, whole(), max_files=1, max_fields=4).parse()
    except (MultiPartException, ValueError, KeyError) as exc:
        raise _bad_form("Isi multipart tidak terbaca.") from exc
    try:
        nik, foto = form.get("nik"), form.get("foto")
        if not isinstance(nik, str) or not nik.strip():
            raise _bad_form("Kolom `nik` wajib diisi.")
        if not isinstance(foto, UploadFile):
            raise _bad_form("Kolom `foto` wajib berisi berkas foto.")
        data = await foto.read(limit + 1)
    finally:
        await form.close()
    if len(data) > MAX_PHOTO_BYTES:
        raise too_large()
    return nik, data


def _verify(
    request: Request, principal: Principal, dataset: str, nik: str, photo: bytes
) -> VerifikasiWajahOut:
    """Through the kernel. The engine works inside the call's read transaction: on SQLite
    a query-only connection that holds no lock, on PostgreSQL a pooled connection."""
    node = node_of(request.app.state)
    origin = api_origin(request, "verifikasi_wajah", dataset)
    return run(node, Known(principal), origin, service.verify_face, dataset, nik, photo)


@router.post(
    "/datasets/{dataset}/verifikasi-wajah",
    response_model=VerifikasiWajahOut,
    response_model_exclude_none=True,
    tags=["layanan"],
    responses=RESPONSES,
    openapi_extra={"requestBody": _BODY},
)
async def verifikasi_wajah(dataset: str, request: Request, principal: Caller) -> VerifikasiWajahOut:
    """Verifikasi wajah: NIK dan foto wajah → `data_tidak_ditemukan` atau `kemiripan` 0-100
    (PKS 003 Pasal 2 ayat (1) huruf b), dengan `keputusan` bila hibah menetapkan ambang.
    Foto tanpa wajah, dengan lebih dari satu wajah, rusak atau terlalu besar ditolak dengan
    kode yang jelas. Foto tidak pernah disimpan atau dicatat."""
    nik, photo = await read_form(request)
    return await run_in_threadpool(_verify, request, principal, dataset, nik, photo)
