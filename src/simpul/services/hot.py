"""The single-item web services — verifikasi, cek-status, akses-nik — served ahead of
FastAPI's router.

These three calls are most of a provider's traffic, and on them FastAPI's routing,
dependency solving and body validation cost more CPU than the call itself (measured: see
docs/performance.md). This ASGI middleware answers them directly: it parses the body with
the same pydantic models, reads the governance epoch and the registry record in one
statement on a held connection (`HotReader`), and calls the same service function with the
same policy decision, audit record (durable before the answer) and problem+json errors.

It serves only the clean case. Anything else — no or unreadable credential, a body that is
not a valid request, an HTTP Basic password not yet verified in this governance epoch, a
database read that failed — is handed, with the body already read, to the FastAPI route,
which remains the documented operation (OpenAPI) and gives the full answer or refusal.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simpul.access.auth import remembered_password, resolve_principal
from simpul.access.schemas import Principal
from simpul.agreements.schemas import Mechanism
from simpul.errors import SimpulError
from simpul.kernel import Origin, execute
from simpul.kernel.core import new_call, write_apart_async
from simpul.kit.proxies import PEER
from simpul.registry.identifiers import parse_nik
from simpul.runtime import Runtime
from simpul.services import api, batch, service
from simpul.services.api import Credentials, parse_credentials
from simpul.services.repository import HotReader
from simpul.services.schemas import (
    AksesNikIn,
    CekStatusBatchIn,
    CekStatusIn,
    VerifikasiBatchIn,
    VerifikasiIn,
)

_POST = re.compile(r"/api/v1/datasets/([^/]+)/(?:(verifikasi|cek-status)(/batch)?|(akses-nik))")
# A single item is a few hundred bytes and 1,000 of them a few hundred kB; anything larger
# goes the ordinary way (which answers 413 for too many items).
MAX_BODY = 64 * 1024
MAX_BATCH_BODY = 4 * 1024 * 1024
_JSON = (b"content-type", b"application/json")


class _Handoff(Exception):
    """Not the clean case: let the FastAPI route answer."""


@dataclass
class FastPathStats:
    """Calls this process answered on the fast path and calls it handed to the route."""

    served: int = 0
    handed_off: int = 0


class FastPathCollector(Collector):
    """`FastPathStats` for Prometheus (`/metrics`): a high hand-off share means clients
    send what the fast path does not serve, and pay the slower route for it."""

    def __init__(self, stats: FastPathStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "simpul_fast_path_requests",
            "Single-item and batch service calls of this process, by path taken.",
            labels=["outcome"],
        )
        family.add_metric(["served"], self._stats.served)
        family.add_metric(["handed_off"], self._stats.handed_off)
        yield family


class ServiceFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # One spare session per thread running the app (in practice the event loop's).
        self._spares = threading.local()

    def _session(self, rt: Runtime) -> Session:
        spare: Session | None = getattr(self._spares, "session", None)
        if spare is None:
            return rt.read_sessions()
        self._spares.session = None  # taken: a call awaiting inside its try keeps its own
        return spare

    def _release(self, rt: Runtime, session: Session) -> None:
        """Keep a session that never began a transaction (the memo answered everything: it
        holds no connection and no objects) for the next call — creating and closing one
        costs ~9 µs, about 2 % of a verification; close any other."""
        if session.get_transaction() is None and not session.identity_map:
            rt.governance_cache.unpin(session)
            self._spares.session = session
        else:
            session.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        post = _POST.fullmatch(path) if scope["method"] == "POST" else None
        state = scope["app"].state
        reader: HotReader | None = getattr(state, "hot_reader", None)
        # Dependency overrides (tests, an operator's maintenance switch) change what the
        # routes do; the fast path cannot honour them, so it steps aside.
        if post is None or reader is None or scope["app"].dependency_overrides:
            await self.app(scope, receive, send)
            return
        stats: FastPathStats = state.fast_path
        limit = MAX_BATCH_BODY if post.group(3) else MAX_BODY
        body, complete = await _read_body(receive, limit)
        if not complete:
            stats.handed_off += 1
            await self.app(scope, _replay(body, receive, complete=False), send)
            return
        try:
            await self._serve(scope, send, state, reader, post, body)
        except _Handoff:
            stats.handed_off += 1
            await self.app(scope, _replay(body, receive, complete=True), send)
        else:
            stats.served += 1

    async def _batch(
        self,
        scope: Scope,
        send: Send,
        dataset: str,
        name: str,
        body: bytes,
        bearer: str | None,
        basic: tuple[str, str] | None,
    ) -> None:
        """A batch of up to 1,000 items: the route's own service call (`api._run`, in the
        thread pool: it is CPU work of tens of milliseconds) without FastAPI's validation
        of every item as Python objects and of the answer against its response model."""
        fn: Callable[..., BaseModel]
        try:
            if name == "verifikasi":
                items: list[Any] = VerifikasiBatchIn.model_validate_json(body).item
                fn, action = batch.verify_batch, "verifikasi"
            else:
                items = CekStatusBatchIn.model_validate_json(body).item
                fn, action = batch.check_status_batch, "cek_status"
        except ValidationError:
            raise _Handoff from None
        request = Request(scope)
        creds = Credentials(bearer, basic)
        try:
            out = await run_in_threadpool(api._run, request, creds, action, fn, dataset, items)
        except SimpulError as exc:
            await _problem(send, exc, path=scope["path"])
            return
        await _send(send, 200, out.model_dump_json(exclude_none=True).encode(), [_JSON])

    async def _serve(
        self,
        scope: Scope,
        send: Send,
        state: Any,
        reader: HotReader,
        post: re.Match[str],
        body: bytes,
    ) -> None:
        # The first of repeated headers, as Starlette's `Request.headers.get` reads them.
        headers = dict(reversed(scope["headers"]))
        try:
            bearer, basic = parse_credentials(headers.get(b"authorization", b"").decode("latin-1"))
        except SimpulError:
            raise _Handoff from None
        fn: Callable[..., BaseModel]
        args: tuple[Any, ...]
        kind = headers.get(b"content-type", b"application/json").split(b";")[0].strip()
        if kind != b"application/json":
            raise _Handoff
        dataset, name = post.group(1), post.group(2)
        peers = state.runtime.peers
        if peers is not None and peers.remote(dataset) is not None:
            raise _Handoff  # another node answers: the route waits on it off the event loop
        try:
            if post.group(3):
                await self._batch(scope, send, dataset, name, body, bearer, basic)
                return
            if name == "verifikasi":
                v = VerifikasiIn.model_validate_json(body)
                fn, args, nik_raw = service.verify_elements, (v.nik, v.elemen), v.nik
                action = "verifikasi"
            elif name == "cek-status":
                c = CekStatusIn.model_validate_json(body)
                fn, nik_raw, action = service.check_status, c.nik, "cek_status"
                args = (c.nik, c.nama_lengkap, c.tanggal_lahir)
            else:
                nik_raw = AksesNikIn.model_validate_json(body).nik
                fn, args, action = service.lookup, (nik_raw,), "akses_nik"
        except ValidationError:
            raise _Handoff from None
        # The key the service will read: a clean NIK is its own canonical form (the service
        # still validates it); anything else is parsed as the service parses it.
        if len(nik_raw) == 16 and nik_raw.isdigit() and nik_raw.isascii():
            nik: str | None = nik_raw
        else:
            info = parse_nik(nik_raw)
            nik = info.nik if info.valid else None
        got = reader.epoch_and_record(dataset, nik)
        if got is None:
            raise _Handoff
        epoch, record = got
        rt: Runtime = state.runtime
        session = self._session(rt)
        try:
            rt.governance_cache.pin(session, epoch)
            principal: Principal | None
            if basic is not None:
                peer = scope.get("client")
                principal = remembered_password(
                    session, *basic, clock=rt.clock, source=peer[0] if peer else None
                )
                if principal is None:  # argon2 is for the thread pool, not the event loop
                    raise _Handoff
            else:
                principal = resolve_principal(session, bearer=bearer, clock=rt.clock)
        except SimpulError as exc:  # a credential refused: not a governed call yet
            self._release(rt, session)
            await _problem(send, exc, path=scope["path"])
            return
        except BaseException:
            self._release(rt, session)
            raise
        client = scope.get("client")
        origin = Origin(
            mechanism=Mechanism.WEB_SERVICE,
            action=action,
            dataset=dataset,
            source_ip=client[0] if client else None,
            request_id=headers.get(b"x-request-id", b"").decode("latin-1") or None,
            peer_ip=scope.get(PEER),
        )
        call = new_call(api.node_of(state), principal, origin,
                        prefetched={(dataset, nik): record} if nik is not None else {})  # fmt: skip
        refused: Exception | None = None
        try:
            out = execute(session, call, fn, dataset, *args)  # the kernel's one function
        except Exception as exc:  # recorded by `execute`
            refused = exc
        finally:
            self._release(rt, session)
        await write_apart_async(call)  # durable before the answer, allowed or refused
        if isinstance(refused, SimpulError):
            await _problem(send, refused, path=scope["path"])
            return
        if refused is not None:
            raise refused
        payload = out.model_dump_json(exclude_none=True).encode()
        await _send(send, 200, payload, [_JSON])


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The request body, and whether it was read whole within `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), False
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes, receive: Receive, *, complete: bool) -> Receive:
    """`receive` for the FastAPI route: the body already read, then whatever is left."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return again


async def _problem(send: Send, exc: SimpulError, *, path: str) -> None:
    headers = [(b"content-type", b"application/problem+json")]
    headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers().items()]
    payload = json.dumps(
        exc.to_problem(instance=path), ensure_ascii=False, separators=(",", ":")
    ).encode()
    await _send(send, exc.status, payload, headers)


async def _send(
    send: Send, status: int, payload: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})
