"""The federation listener: the provider side of node-to-node calls (docs/federation.md).

HTTPS with client certificates required (the federation's CA, uvicorn's `ssl_*` options).
The connection's certificate names the calling member through the directory (its SHA-256
pin); a certificate the CA issued but the directory does not list is refused with
`sertifikat_tidak_terdaftar`. Each call is then one call of the provider's kernel, as the
account the provider keeps for that member's node (`<kode>.node`: its agreements, its
access point), with the same service functions its own API calls. The record it writes
names the calling node, its pseudonymous end user, the purpose and the request id; the
answer carries the signed receipt of that record (`Simpul-Receipt`).

Before the kernel, a request outside the time window or with an id already seen from that
member is refused, and the refusal is recorded as any refused call is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from simpul import kernel
from simpul.access.quota import limiter_for
from simpul.agreements.schemas import Mechanism
from simpul.audit.receipts import ReceiptSigner
from simpul.audit.service import AuditWriter
from simpul.config import Settings
from simpul.errors import PROBLEM_MEDIA_TYPE, SimpulError
from simpul.federation import pki
from simpul.federation import repository as repo
from simpul.federation.agreements import (
    AgreementState,
    AgreementStates,
    StateSync,
    record_provider_states,
    states_for,
)
from simpul.federation.directory import Member
from simpul.federation.node import Federation, attach
from simpul.kernel import AccountName, Node, Origin
from simpul.kernel.receipts import ReceiptStamp
from simpul.kit.bodylimit import BodyLimit
from simpul.runtime import Runtime
from simpul.services import batch, service
from simpul.services.schemas import (
    AksesNikIn,
    CekStatusBatchIn,
    CekStatusIn,
    VerifikasiBatchIn,
    VerifikasiIn,
)

log = logging.getLogger("simpul.federation")
PIN = "simpul.federasi.pin"  # the scope key of the connection's client-certificate pin
NODE_ACCOUNT = "{}.node"
# Mechanisms an end user reaches a recipient node by (a card reader stays on its own node).
MECHANISMS = {m.value: m for m in (Mechanism.WEB_SERVICE, Mechanism.WEB_PORTAL, Mechanism.BATCH)}


class PeerCertProtocol(H11Protocol):
    """uvicorn's h11 protocol, handing the app the pin of the connection's client
    certificate (uvicorn puts no TLS details in the scope)."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        pin = pki.fingerprint(der) if der else None
        app = self.app

        async def pinned(scope: Scope, receive: Receive, send: Send) -> None:
            scope[PIN] = pin
            await app(scope, receive, send)

        self.app = pinned

    def shutdown(self) -> None:
        # An idle kept-alive connection is dropped, not closed with a TLS close_notify: the
        # peer's pool does not read it, and asyncio would wait 30 s for its answer before
        # the listener could exit.
        if self.cycle is None or self.cycle.response_complete:
            self.transport.abort()
        else:
            super().shutdown()


def _problem(exc: SimpulError, path: str) -> JSONResponse:
    return JSONResponse(
        exc.to_problem(instance=path),
        exc.status,
        headers=exc.headers() or None,
        media_type=PROBLEM_MEDIA_TYPE,
    )


@dataclass(frozen=True)
class Asked:
    """The federation headers of one request."""

    member: Member
    agreement: str
    user: str
    purpose: str
    mechanism: Mechanism
    request_id: str
    sent_at: dt.datetime
    source: str

    def context(self) -> dict[str, Any]:
        return {
            "node_asal": self.member.kode,
            "pengguna_asal": self.user,
            "tujuan": self.purpose,
            "permintaan_asal": self.request_id,
            "perjanjian_diminta": self.agreement,
            "alamat_pengguna": self.source,
        }


def _header(request: Request, name: str, limit: int = 200) -> str:
    value = request.headers.get(name, "").strip()
    if not value or len(value) > limit:
        raise SimpulError(
            "header_federasi_tidak_lengkap",
            f"Header {name} wajib ada (paling panjang {limit} karakter).",
            422,
        )
    return value


def _pinned(request: Request, fed: Federation) -> Member:
    """The member the connection's client certificate names through the directory."""
    pin = request.scope.get(PIN)
    member = fed.peer_by_pin(pin) if pin else None
    if member is None:
        raise SimpulError(
            "sertifikat_tidak_terdaftar",
            "Sertifikat klien tidak terdaftar di direktori federasi.",
            403,
        )
    return member


def _asked(request: Request, fed: Federation) -> Asked:
    member = _pinned(request, fed)
    mechanism = MECHANISMS.get(_header(request, "Simpul-Mekanisme"))
    if mechanism is None:
        raise SimpulError("mekanisme_tidak_dikenal", "Mekanisme tidak dikenal.", 422)
    stamp = _header(request, "Simpul-Waktu")
    try:
        sent = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise SimpulError(
            "waktu_tidak_terbaca", "Header Simpul-Waktu tidak terbaca.", 422
        ) from None
    if sent.tzinfo is None:
        raise SimpulError("waktu_tidak_terbaca", "Header Simpul-Waktu harus memuat zona.", 422)
    return Asked(
        member=member,
        agreement=_header(request, "Simpul-Perjanjian"),
        user=_header(request, "Simpul-Pengguna"),
        purpose=_header(request, "Simpul-Tujuan", 500),
        mechanism=mechanism,
        request_id=_header(request, "Simpul-Permintaan", 100),
        sent_at=sent,
        source=request.headers.get("Simpul-Alamat-Asal", "")[:64],
    )


class Replays:
    """Request ids seen within twice the window, on an engine of their own whose commits
    do not wait for the disk (as the quota counters: a lost id after a power cut lets one
    replay through within the window, never a stale request)."""

    def __init__(self, settings: Settings) -> None:
        self.window = dt.timedelta(seconds=settings.federation_window_seconds)
        self._engine = repo.relaxed_engine(settings)
        self._pruned = dt.datetime.min.replace(tzinfo=dt.UTC)

    def check(self, asked: Asked, now: dt.datetime) -> SimpulError | None:
        if abs(now - asked.sent_at) > self.window:
            return SimpulError(
                "permintaan_di_luar_jendela_waktu",
                f"Waktu permintaan di luar jendela {self.window.total_seconds():.0f} detik "
                "(jam node tidak selaras, atau permintaan lama).",
                403,
            )
        with repo.session_on(self._engine) as session:
            fresh = repo.remember(session, asked.member.kode, asked.request_id, now)
            if now - self._pruned > self.window:
                repo.forget_before(session, now - 2 * self.window)
                self._pruned = now
        if not fresh:
            return SimpulError(
                "permintaan_berulang", "Id permintaan ini sudah pernah diterima (pengulangan).", 409
            )
        return None

    def close(self) -> None:
        self._engine.dispose()


class _LocalOnly:
    """The listener's view of the federation: a forwarded call is answered here or not at
    all, never forwarded again."""

    def remote(self, dataset: str) -> None:
        return None


LOCAL_ONLY = _LocalOnly()


def _refuse(_session: Any, _call: Any, exc: SimpulError) -> None:
    raise exc


Handler = Callable[[Any, Any], tuple[Callable[..., BaseModel], tuple[Any, ...], str]]


def create_federation_app(settings: Settings, rt: Runtime | None = None) -> FastAPI:
    runtime = attach(rt or Runtime(settings))
    fed = runtime.peers
    assert isinstance(fed, Federation)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        writer = (
            AuditWriter(
                runtime.engine,
                settings,
                runtime.clock,
                linger_ms=settings.audit_linger_ms,
                checkpoint_every=settings.audit_checkpoint_records,
                checkpoint_seconds=settings.audit_checkpoint_seconds,
            )
            if settings.audit_group_commit
            else None
        )
        app.state.audit_writer = writer
        sync = StateSync(runtime.transaction, settings, runtime.clock, fed)
        if settings.federation_sync_agreements:
            sync.start()
        try:
            yield
        finally:
            sync.close()
            app.state.audit_writer = None
            if writer is not None:
                writer.close()
            replays.close()
            if app.state.quota is not None:
                app.state.quota.close()

    app = FastAPI(
        lifespan=lifespan, title="Simpul federasi", openapi_url=None, docs_url=None, redoc_url=None
    )
    app.state.runtime = runtime
    app.state.quota = limiter_for(settings)
    replays = Replays(settings)
    app.add_middleware(ReceiptStamp, signer=ReceiptSigner(settings))
    app.add_middleware(
        BodyLimit,
        json_bytes=settings.max_json_bytes,
        upload_bytes=settings.max_upload_bytes,
        upload_paths=(),
    )

    def node() -> Node:
        return Node(runtime, writer=app.state.audit_writer, quota=app.state.quota, peers=LOCAL_ONLY)

    def governed(
        request: Request, dataset: str, action: str, op: Callable[..., BaseModel], *args: Any
    ) -> Response:
        asked = _asked(request, fed)
        client = request.client
        origin = Origin(
            mechanism=asked.mechanism,
            action=action,
            dataset=dataset,
            source_ip=client.host if client else None,
            request_id=asked.request_id,
            context=asked.context(),
        )
        who = AccountName(NODE_ACCOUNT.format(asked.member.kode))
        refused = replays.check(asked, runtime.clock.now())
        if refused is not None:
            kernel.run(node(), who, origin, _refuse, refused)
        # This node's own datasets only: its kernel never forwards a forwarded call.
        answer = kernel.run(node(), who, origin, op, dataset, *args)
        return Response(
            answer.model_dump_json(exclude_none=True), 200, media_type="application/json"
        )

    def body(model: type[BaseModel], raw: bytes) -> Any:
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            fields = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
            raise SimpulError(
                "permintaan_tidak_valid", "Isi permintaan tidak valid.", 422, kolom=fields
            ) from None

    @app.post("/federasi/v1/datasets/{dataset}/verifikasi")
    async def verifikasi(dataset: str, request: Request) -> Response:
        v = body(VerifikasiIn, await request.body())
        return await run_in_threadpool(
            governed, request, dataset, "verifikasi", service.verify_elements, v.nik, v.elemen
        )

    @app.post("/federasi/v1/datasets/{dataset}/verifikasi/batch")
    async def verifikasi_batch(dataset: str, request: Request) -> Response:
        b = body(VerifikasiBatchIn, await request.body())
        return await run_in_threadpool(
            governed, request, dataset, "verifikasi_batch", batch.verify_batch, b.item
        )

    @app.post("/federasi/v1/datasets/{dataset}/cek-status")
    async def cek_status(dataset: str, request: Request) -> Response:
        c = body(CekStatusIn, await request.body())
        return await run_in_threadpool(
            governed,
            request,
            dataset,
            "cek_status",
            service.check_status,
            c.nik,
            c.nama_lengkap,
            c.tanggal_lahir,
        )

    @app.post("/federasi/v1/datasets/{dataset}/cek-status/batch")
    async def cek_status_batch(dataset: str, request: Request) -> Response:
        b = body(CekStatusBatchIn, await request.body())
        return await run_in_threadpool(
            governed, request, dataset, "cek_status_batch", batch.check_status_batch, b.item
        )

    @app.post("/federasi/v1/datasets/{dataset}/akses-nik")
    async def akses_nik(dataset: str, request: Request) -> Response:
        a = body(AksesNikIn, await request.body())
        return await run_in_threadpool(
            governed, request, dataset, "akses_nik", service.lookup, a.nik
        )

    @app.get("/federasi/v1/perjanjian")
    async def perjanjian(request: Request) -> Response:
        """What this node, as provider, holds of the agreements it provides the caller under."""
        member = await asyncio.to_thread(_pinned, request, fed)

        def read() -> list[AgreementState]:
            with runtime.transaction() as session:
                return states_for(session, fed.local, member.kode, runtime.clock.now())

        states = await asyncio.to_thread(read)
        return Response(AgreementStates(perjanjian=states).model_dump_json(), 200,
                        media_type="application/json")  # fmt: skip

    @app.post("/federasi/v1/perjanjian/pemberitahuan")
    async def pemberitahuan(request: Request) -> Response:
        """A provider's node tells this node the state of agreements it provides under."""
        member = await asyncio.to_thread(_pinned, request, fed)
        notice = body(AgreementStates, await request.body())

        def apply() -> list[str]:
            with runtime.transaction() as session:
                return record_provider_states(
                    session, settings, runtime.clock, member.kode, notice.perjanjian,
                    fed.local, via="pemberitahuan",
                )  # fmt: skip

        changed = await asyncio.to_thread(apply)
        return Response(
            json.dumps({"diterima": len(notice.perjanjian), "berubah": changed}), 200,
            media_type="application/json",
        )  # fmt: skip

    @app.get("/federasi/v1/direktori")
    async def direktori(request: Request) -> Response:
        """The directory this node holds, signed, for other members to read."""
        checked = await asyncio.to_thread(fed.directory)
        if fed.peer_by_pin(request.scope.get(PIN) or "") is None:
            raise SimpulError(
                "sertifikat_tidak_terdaftar",
                "Sertifikat klien tidak terdaftar di direktori federasi.",
                403,
            )
        return PlainTextResponse(checked.signed)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "anggota": fed.member}

    @app.exception_handler(SimpulError)
    async def _simpul_error(request: Request, exc: SimpulError) -> JSONResponse:
        return _problem(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        err = SimpulError("permintaan_tidak_valid", "Isi permintaan tidak valid.", 422)
        return _problem(err, request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            404: ("tidak_ditemukan", "Alamat tidak ditemukan."),
            405: ("metode_tidak_diizinkan", "Metode tidak diizinkan pada alamat ini."),
        }
        code, detail = codes.get(
            exc.status_code, ("galat_http", "Permintaan tidak dapat dilayani.")
        )
        return _problem(SimpulError(code, detail, exc.status_code), request.url.path)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception) -> JSONResponse:
        err = SimpulError("galat_server", "Terjadi kesalahan pada server.", 500)
        return _problem(err, request.url.path)

    return app


def serve_federation(
    rt: Runtime, host: str, port: int, log_config: dict[str, Any] | None = None
) -> None:
    """The listener until interrupted: mutual TLS, the node's certificate, the CA's."""
    import ssl

    import uvicorn

    settings = rt.settings
    fed = attach(rt).peers
    assert isinstance(fed, Federation)
    for path in (fed.cert_file, fed.key_file, fed.ca_file):
        if not path.exists():
            raise SimpulError(
                "sertifikat_node_tidak_ada", f"Berkas {path.name} tidak ada di {path.parent}.", 500
            )
    fed.refresh()  # refuse to start on a directory that cannot be used
    app = create_federation_app(settings, rt)
    uvicorn.run(
        app,
        host=host,
        port=port,
        http=PeerCertProtocol,
        log_config=log_config,
        access_log=False,
        proxy_headers=False,
        ssl_keyfile=str(fed.key_file),
        ssl_certfile=str(fed.cert_file),
        ssl_ca_certs=str(fed.ca_file),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
        log_level="info",
    )
