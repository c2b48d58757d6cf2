"""Forwarded client addresses, believed only from configured proxies.

A recipient's access point (PKS 003 Pasal 2(1)e) is checked against the caller's address,
so whoever may set that address decides who passes. uvicorn's own proxy-header support
trusts 127.0.0.1 by default (any local process could claim any address) and replaces the
peer, so the node could no longer record which proxy a call came through. This middleware
runs instead (`simpul serve` turns uvicorn's off): from a peer inside `trusted` it takes the
client from `Forwarded` (RFC 7239) or `X-Forwarded-For` — the nearest address that is not
itself a trusted proxy — and the scheme from `X-Forwarded-Proto`, and keeps the direct peer
in the scope under `PEER` for the audit record. From any other peer the headers are ignored.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

PEER = "simpul.peer"  # the scope key of the direct peer, when a trusted proxy forwarded
_FOR = re.compile(r'for="?\[?([^\]";,]+)', re.IGNORECASE)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(specs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(s.strip(), strict=False) for s in specs if s.strip())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip('"')
    if text.count(":") == 1 and "." in text:  # IPv4 with a port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _inside(addr: Any, trusted: tuple[Network, ...]) -> bool:
    return addr is not None and any(addr in net for net in trusted)


def forwarded_client(headers: dict[bytes, bytes], trusted: tuple[Network, ...]) -> str | None:
    """The client a chain of trusted proxies forwarded for: walking from the nearest hop,
    the first address that is not a trusted proxy (or the farthest, if all are)."""
    raw = headers.get(b"forwarded")
    hops: list[str]
    if raw is not None:
        hops = _FOR.findall(raw.decode("latin-1"))
    else:
        xff = headers.get(b"x-forwarded-for")
        if xff is None:
            return None
        hops = [h for h in xff.decode("latin-1").split(",") if h.strip()]
    found: str | None = None
    for hop in reversed(hops):
        addr = _address(hop)
        if addr is None:  # a hop we cannot read: stop believing the chain there
            break
        found = str(addr)
        if not _inside(addr, trusted):
            break
    return found


class TrustedProxies:
    def __init__(self, app: ASGIApp, trusted: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted = networks(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.trusted and scope["type"] in ("http", "websocket") and scope.get("client"):
            peer = scope["client"][0]
            if _inside(_address(peer), self.trusted):
                headers = dict(reversed(scope.get("headers", [])))  # the first of repeats
                client = forwarded_client(headers, self.trusted)
                if client is not None:
                    scope = {**scope, "client": (client, 0), PEER: peer}
                    proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip()
                    if proto in ("http", "https"):
                        scope["scheme"] = proto
        await self.app(scope, receive, send)
