"""The receipts of a governed call, from the kernel to the adapter that answers it.

The kernel knows the records it wrote; the adapter knows the request and the answer. They
meet in `RECEIPTS`, a context variable holding a list: whoever answers sets it (`collecting`,
or the `ReceiptStamp` middleware for every HTTP request), and the kernel adds the receipt of
each allowed record (`izin`) of each call once the record is durable (`publish`). Context
variables follow a request into Starlette's thread pool (`run_in_threadpool` copies the
context, and the copy holds the same list), so the routes answered there, the fast path
(`simpul.services.hot`) on the event loop and a command on the node all go one way.

`ReceiptStamp` hashes the request body as it streams in, and to a 2xx answer whose request
made the kernel write an allowed record adds `Simpul-Receipt`, signed for the last such
record (`simpul.audit.receipts`). A refusal, or an answer that recorded no disclosure, gets
no receipt.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simpul.audit.receipts import ReceiptSigner, RequestHasher
from simpul.audit.service import Receipt
from simpul.kernel.call import Call

RECEIPTS: ContextVar[list[Receipt] | None] = ContextVar("simpul_receipts", default=None)
HEADER_NAME = b"simpul-receipt"


@contextmanager
def collecting() -> Iterator[list[Receipt]]:
    """The receipts of the allowed records the kernel makes durable inside the block."""
    got: list[Receipt] = []
    token = RECEIPTS.set(got)
    try:
        yield got
    finally:
        RECEIPTS.reset(token)


def publish(call: Call) -> None:
    """Hand the call's durable receipts not yet handed to whoever collects them."""
    sink = RECEIPTS.get()
    if sink is not None and call.published < len(call.receipts):
        sink.extend(call.receipts[call.published :])
    call.published = len(call.receipts)


class ReceiptStamp:
    """ASGI middleware: the receipt header on every 2xx answer of a governed call."""

    def __init__(self, app: ASGIApp, *, signer: ReceiptSigner) -> None:
        self.app = app
        self.signer = signer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        got: list[Receipt] = []
        token = RECEIPTS.set(got)
        hasher = RequestHasher(scope["method"], scope["path"])
        complete = False

        async def hashed() -> Message:
            nonlocal complete
            message = await receive()
            if message["type"] == "http.request":
                hasher.update(message.get("body", b""))
                complete = not message.get("more_body", False)
            return message

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start" and got and 200 <= message["status"] < 300:
                while not complete:  # an answer before the whole body was read: read it
                    if (await hashed())["type"] != "http.request":
                        break
                if complete:
                    header = self.signer.sign(got[-1], hasher.digest()).encode("ascii")
                    headers = [*message.get("headers", ()), (HEADER_NAME, header)]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, hashed, stamped)
        finally:
            RECEIPTS.reset(token)
