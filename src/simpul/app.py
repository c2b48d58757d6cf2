"""create_app(settings) → FastAPI. Capabilities mount their routers here."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from simpul import __version__
from simpul.access.quota import limiter_for
from simpul.apidocs import install_docs
from simpul.audit.receipts import ReceiptSigner
from simpul.audit.service import AuditWriter
from simpul.config import Settings
from simpul.disclosure import api as disclosure_api
from simpul.errors import (
    AUTH_CHALLENGE,
    PROBLEM_MEDIA_TYPE,
    PROBLEM_SCHEMA,
    PROBLEM_SCHEMA_NAME,
    SimpulError,
    problem_responses,
)
from simpul.face import api as face_api
from simpul.kernel.receipts import ReceiptStamp
from simpul.kit.bodylimit import BodyLimit
from simpul.kit.proxies import TrustedProxies
from simpul.obligations import api as obligations_api
from simpul.obligations import rollups
from simpul.oversight import api as oversight_api
from simpul.pemadanan import api as pemadanan_api
from simpul.portal.web import install as install_portal
from simpul.portal.web import render as render_portal
from simpul.registry.datasets import builtin_datasets
from simpul.registry.regions import load_regions
from simpul.runtime import Runtime
from simpul.services import api as services_api
from simpul.services.hot import FastPathCollector, FastPathStats, ServiceFastPath
from simpul.services.repository import HotReader

PROBLEM = PROBLEM_MEDIA_TYPE
PORTAL = "/portal"
log = logging.getLogger("simpul.app")
# Starlette's and FastAPI's own refusals (routing, body parsing, static files), each with a
# stable code and an Indonesian detail. A body that cannot be parsed is refused as any other
# invalid request is: 422 `permintaan_tidak_valid` (malformed JSON already is, by FastAPI).
HTTP_PROBLEMS: dict[int, tuple[int, str, str]] = {
    400: (422, "permintaan_tidak_valid", "Isi permintaan tidak terbaca."),
    401: (401, "kredensial_tidak_ada", "Kredensial wajib."),
    403: (403, "akses_ditolak", "Akses ditolak."),
    404: (404, "tidak_ditemukan", "Alamat tidak ditemukan."),
    405: (405, "metode_tidak_diizinkan", "Metode {method} tidak diizinkan pada alamat ini."),
    406: (406, "format_tidak_tersedia", "Format jawaban yang diminta tidak tersedia."),
    413: (413, "permintaan_terlalu_besar", "Isi permintaan melebihi batas ukuran."),
    415: (415, "jenis_isi_tidak_didukung", "Jenis isi permintaan tidak didukung."),
    429: (429, "terlalu_banyak_permintaan", "Terlalu banyak permintaan; coba lagi nanti."),
}


def problem(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(
        SimpulError(code, detail, status=status, **extra).to_problem(), status,
        headers=headers, media_type=PROBLEM,
    )  # fmt: skip


# The routes that take a file (upload limit); every other body gets the JSON limit.
UPLOAD_PATHS = (
    r"/api/v1/pemadanan",
    r"/api/v1/perjanjian/[^/]+/data-balikan",
    r"/api/v1/datasets/[^/]+/verifikasi-wajah",
    r"/portal/pemadanan",
    r"/portal/kewajiban/data-balikan",
    r"/portal/layanan/verifikasi-wajah",
)
_NIK = re.compile(r"\d{16}")


def _masked(path: str) -> str:
    """The path for a problem's `instance`, never with a NIK in clear."""
    return _NIK.sub(lambda m: m[0][:6] + "*" * 10, path)


def _portal_page(request: Request) -> bool:
    path = request.url.path
    return path == PORTAL or path.startswith(PORTAL + "/")


def _portal_error(request: Request, status: int, headers: dict[str, str] | None) -> Response:
    """The portal's own error page (its frame, its language), never JSON."""
    key = "notfound.title" if status == 404 else "error.title"
    resp = render_portal(request, "pesan.html", {"title_key": key, "body_key": key}, status=status)
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


def _http_problem(request: Request, exc: StarletteHTTPException) -> Response:
    headers = dict(exc.headers or {})
    if _portal_page(request):
        return _portal_error(request, exc.status_code, headers)
    known = HTTP_PROBLEMS.get(exc.status_code)
    if known is None:
        status, code, detail = exc.status_code, "galat_http", "Permintaan tidak dapat dilayani."
    else:
        status, code, detail = known
    if status == 401:
        headers.setdefault("WWW-Authenticate", AUTH_CHALLENGE)
    return JSONResponse(
        SimpulError(code, detail.format(method=request.method), status=status)
        .to_problem(instance=_masked(request.url.path)),
        status, headers=headers or None, media_type=PROBLEM,
    )  # fmt: skip


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The schema, with the problem+json body every documented refusal refers to."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description,
            routes=app.routes,
        )  # fmt: skip
        schema.setdefault("components", {}).setdefault("schemas", {})[PROBLEM_SCHEMA_NAME] = (
            PROBLEM_SCHEMA
        )
        app.openapi_schema = schema
    return app.openapi_schema


async def _refresh_rollups(runtime: Runtime, every: float) -> None:
    """Keep the usage-report rollups near the log's head. A refresh locks its state rows,
    so workers refreshing at once do not double count; a failure waits for the next turn."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(_refresh_once, runtime)
        except Exception as exc:  # a report still refreshes what it needs
            log.warning("rollup refresh failed: %s", type(exc).__name__)


async def _sweep_retention(runtime: Runtime, every: float) -> None:
    """Delete stored outputs past their agreement's retention (each deletion audited by its
    capability). Deletes are by expiry, so workers sweeping at once delete each row once."""
    from simpul.retention import purge_all

    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(purge_all, runtime)
        except Exception as exc:  # the next turn tries again
            log.warning("retention sweep failed: %s", type(exc).__name__)


def _refresh_once(runtime: Runtime) -> None:
    with runtime.transaction() as session:
        rollups.refresh(session)


def _telemetry(enabled: bool) -> dict[str, Any]:
    """FastAPI's own OpenTelemetry switches (FastAPI ≥ 0.16x has them; older ones neither
    instrument nor accept the argument)."""
    if enabled or "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    off = dict.fromkeys(("tracing", "metrics", "logs", "operation_spans"), False)
    return {"telemetry": off}


def create_app(settings: Settings, rt: Runtime | None = None) -> FastAPI:
    runtime = rt or Runtime(settings)
    if settings.federation_member:  # other nodes' datasets are forwarded to them
        from simpul.federation.node import attach

        attach(runtime)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Parse the shipped region list and dataset definitions before the first request
        # (about a second of CPU that would otherwise land on someone's call).
        load_regions()
        builtin_datasets()
        # Everything alive now lives as long as the process: keep it out of the cyclic
        # collector's full passes, which then scan only what requests created (a full
        # pass over the start-up heap takes ~100 ms, measured, stalling every request).
        # A request allocates thousands of short-lived objects (a batch, millions), and
        # the default young-generation threshold of 700 ran the collector several times
        # per batch: 10,000 cut the batch's CPU per item by a fifth (docs/performance.md).
        gc.freeze()
        gc.set_threshold(10_000, 50, 100)
        # One group-commit writer per worker process: many requests share each fsync.
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
        reader = (
            HotReader(runtime.read_engine)
            if writer is not None and settings.service_fast_path
            else None
        )
        app.state.hot_reader = reader
        refresher = (
            asyncio.create_task(_refresh_rollups(runtime, settings.rollup_refresh_seconds))
            if settings.rollup_refresh_seconds > 0
            else None
        )
        retention = (
            asyncio.create_task(_sweep_retention(runtime, settings.retention_sweep_seconds))
            if settings.retention_sweep_seconds > 0
            else None
        )
        try:
            yield
        finally:
            if retention is not None:
                retention.cancel()
            if refresher is not None:
                refresher.cancel()
            app.state.hot_reader = None
            if reader is not None:
                reader.close()
            app.state.audit_writer = None
            if writer is not None:
                writer.close()
            if app.state.quota is not None:
                app.state.quota.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Simpul",
        version=__version__,
        description="Berbagi data antarinstansi sesuai Perjanjian Kerja Sama (PKS).",
        docs_url=None,  # served from the package's own assets: simpul.apidocs
        redoc_url=None,
        **_telemetry(settings.opentelemetry),
    )
    app.state.runtime = runtime
    # Counted across processes and nodes (Redis, or the database): docs/adr/0011.
    app.state.quota = limiter_for(settings)
    app.include_router(services_api.router)
    app.state.fast_path = FastPathStats()
    # This app's own metrics, beside the process-wide default registry's.
    own_metrics = CollectorRegistry(auto_describe=True)
    own_metrics.register(FastPathCollector(app.state.fast_path))
    app.add_middleware(ServiceFastPath)
    # Around the fast path and the routes: a 2xx answer of a governed call carries the
    # signed receipt of its record (simpul.kernel.receipts, docs/receipts.md).
    app.add_middleware(ReceiptStamp, signer=ReceiptSigner(settings))
    # Outermost: every address the app reads (access points, the log) is decided here.
    app.add_middleware(TrustedProxies, trusted=tuple(settings.trusted_proxies))
    # Outside even that: a body over its limit is refused before anything reads it.
    app.add_middleware(
        BodyLimit, json_bytes=settings.max_json_bytes, upload_bytes=settings.max_upload_bytes,
        upload_paths=UPLOAD_PATHS,
    )  # fmt: skip
    install_portal(app, runtime)
    install_docs(app)
    app.include_router(face_api.router)
    app.include_router(pemadanan_api.router)
    app.include_router(obligations_api.router)
    app.include_router(disclosure_api.router)
    app.include_router(oversight_api.router)

    @app.exception_handler(SimpulError)
    async def _simpul_error(request: Request, exc: SimpulError) -> JSONResponse:
        return JSONResponse(
            exc.to_problem(instance=_masked(request.url.path)), exc.status,
            headers=exc.headers() or None,
            media_type=PROBLEM,
        )  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
        return problem(422, "permintaan_tidak_valid", "Isi permintaan tidak valid.", kolom=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _http_problem(request, exc)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception) -> Response:
        # Starlette logs and re-raises the exception after this answer is sent.
        if _portal_page(request):
            return _portal_error(request, 500, None)
        return problem(500, "galat_server", "Terjadi kesalahan pada server.")

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    @app.get("/healthz", tags=["operasional"])
    async def healthz() -> dict[str, str | int]:
        """Proses hidup; `pid` menyebut proses pekerja yang menjawab."""
        return {"status": "ok", "pid": os.getpid()}

    @app.get(
        "/readyz",
        tags=["operasional"],
        responses=problem_responses(
            503,
            s503="Basis data atau penghitung kuota tidak terjangkau, atau basis data "
            "bukan milik folder data ini.",
        ),
    )
    def readyz() -> JSONResponse:
        """Siap melayani: basis data terjangkau, dan milik folder data ini (id instans)."""
        from simpul.db import database_state
        from simpul.runtime import check_instance

        try:
            state = database_state(runtime.read_engine)
            check_instance(runtime.settings, state)
        except SimpulError as exc:
            return problem(503, exc.code, exc.detail)
        except Exception:
            return problem(503, "basis_data_tidak_siap", "Basis data tidak dapat dihubungi.")
        quota = app.state.quota
        if quota is not None and not quota.ready():
            # Calls under a quota are refused while it cannot be counted (docs/adr/0011).
            return problem(503, "kuota_tidak_dapat_diperiksa",
                           "Penghitung kuota (Redis) tidak dapat dihubungi.")  # fmt: skip
        return JSONResponse({"status": "siap"})

    @app.get("/metrics", tags=["operasional"], include_in_schema=False)
    def metrics() -> Response:
        """Metrik Prometheus proses ini."""
        body = generate_latest() + generate_latest(own_metrics)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/portal/", status_code=303)

    return app
