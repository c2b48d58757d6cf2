"""Request bodies bounded before anything reads them.

Without a limit a 95 MB JSON body was read, parsed (+477 MB) and only then refused for its
missing credential: ~3 s of a worker for one unauthenticated request. This middleware runs
outermost, before the service fast path, the router, body parsing and authentication:

- a declared `Content-Length` over the path's limit is answered 413 problem+json at once,
  the body never read;
- a body without one (chunked) is counted as it arrives and refused as soon as it passes
  the limit.

The limit is the JSON one on every path except the upload routes given to it (files,
photos, CSV), which get the upload limit. Portal pages are answered by the portal itself
(its own error page, not JSON): they are called with a body that refuses on first read.

FastAPI ≥ 0.16x has its own `max_body_size`, but that one is checked only when the body is
read, per route once routing has happened (after the fast path), and answers in plain text
where no FastAPI handler runs; here the refusal is decided from the headers alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simpul.errors import TooLarge
from simpul.kit.masking import mask_niks_in_text

MIB = 1024 * 1024
# Multipart framing and the form's other fields, on top of an upload's file.
UPLOAD_ENVELOPE = 1 * MIB
_PROBLEM = (b"content-type", b"application/problem+json")


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a body passes its limit. FastAPI re-raises an
    HTTPException met while reading a body as it is (any other becomes a 400)."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


def refusal(limit: int, *, upload: bool) -> TooLarge:
    mib = max(1, limit // MIB)
    if upload:
        return TooLarge("berkas_terlalu_besar",
                        f"Berkas unggahan melebihi batas {mib} MiB.", batas_bita=limit)  # fmt: skip
    return TooLarge(
        "permintaan_terlalu_besar",
        f"Isi permintaan melebihi batas {mib} MiB; kirim butir dalam beberapa panggilan.",
        batas_bita=limit,
    )


def content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        json_bytes: int,
        upload_bytes: int,
        upload_paths: Iterable[str] = (),
        page_prefix: str = "/portal",
    ) -> None:
        self.app = app
        self.json_bytes = json_bytes
        self.upload_bytes = max(upload_bytes + UPLOAD_ENVELOPE, json_bytes)
        self.uploads = tuple(re.compile(p) for p in upload_paths)
        self.page_prefix = page_prefix

    def limit(self, path: str) -> tuple[int, bool]:
        """The path's limit, and whether it is an upload route."""
        if any(p.fullmatch(path) for p in self.uploads):
            return self.upload_bytes, True
        return self.json_bytes, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = content_length(scope)
        # Every limit is at least the JSON one, and the server stops a body at its declared
        # length: nothing to count (the fast path's calls all take this branch).
        if declared is not None and declared <= self.json_bytes:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit, upload = self.limit(path)
        if declared is not None and declared <= limit:
            await self.app(scope, receive, send)
            return
        page = path == self.page_prefix or path.startswith(self.page_prefix + "/")
        if declared is not None and not page:
            await send_problem(send, refusal(limit, upload=upload), path)
            return
        await self._counted(scope, receive, send, limit=limit, upload=upload, page=page,
                            over=declared is not None)  # fmt: skip

    async def _counted(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        limit: int,
        upload: bool,
        page: bool,
        over: bool,
    ) -> None:
        """Run the app with a body that refuses once it passes `limit` (at once if `over`).
        Whatever the app answers after that is replaced by the refusal (a portal page's own
        413 page excepted)."""
        size = 0
        passed = over
        started = replaced = False
        path: str = scope["path"]

        async def counted() -> Message:
            nonlocal size, passed
            if passed:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    passed = True
                    raise BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                started = True
                if passed and not page:
                    replaced = True
                    await send_problem(send, refusal(limit, upload=upload), path)
                    return
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not passed:
                raise
            if not started:
                await send_problem(send, refusal(limit, upload=upload), path)
            elif not replaced:
                raise


async def send_problem(send: Send, exc: TooLarge, path: str) -> None:
    payload = json.dumps(exc.to_problem(instance=mask_niks_in_text(path)), ensure_ascii=False,
                         separators=(",", ":")).encode()  # fmt: skip
    headers = [_PROBLEM, (b"content-length", str(len(payload)).encode()),
               (b"connection", b"close")]  # fmt: skip
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
