"""This node in the federation: the directory it holds, and the client that forwards a
call for another node's dataset to that node (the recipient side of the protocol).

A dataset is this node's when its provider is the node's member code or one of its tenants;
any other dataset is served by its provider's node, found in the directory. The kernel sees
that as `Call.remote(dataset)` (simpul.kernel.call.Peers): the service decides the call
against this node's copy of the agreement first (a recipient's copy can only restrict),
then asks the provider (`RemoteProvider.ask`), whose kernel decides again against its own.

The protocol (docs/federation.md): POST https://<provider>/federasi/v1/<service path>, the
same JSON body as the node's own API, over mutual TLS with the node's certificate, and the
headers

    Simpul-Perjanjian   the agreement the call is made under
    Simpul-Pengguna     the end user, pseudonymous (HMAC of the user name, never a secret)
    Simpul-Tujuan       the purpose
    Simpul-Mekanisme    the mechanism the end user used (web_service, portal, batch …)
    Simpul-Permintaan   a request id, unique per member (a replay is refused)
    Simpul-Waktu        the sending time, RFC 3339 (outside the window: refused)
    Simpul-Alamat-Asal  the end user's address as the recipient node saw it (recorded)

The provider answers as its API would, with `Simpul-Receipt`; the receipt must verify
against the provider's receipt key in the directory, for exactly the request sent, before
the recipient's record is written and its user answered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from simpul.audit import receipts
from simpul.config import Settings, write_private
from simpul.errors import SimpulError
from simpul.federation import pki
from simpul.federation.directory import Checked, DirectoryRefused, Member, check
from simpul.kit.ids import new_id

if TYPE_CHECKING:
    from simpul.kernel.call import Call, RemoteAnswer

log = logging.getLogger("simpul.federation")
HEADERS = (
    "Simpul-Perjanjian",
    "Simpul-Pengguna",
    "Simpul-Tujuan",
    "Simpul-Mekanisme",
    "Simpul-Permintaan",
    "Simpul-Waktu",
    "Simpul-Alamat-Asal",
)
HELD_FILE = "direktori.note"
PREFIX = "/federasi/v1/"


def _refused(code: str, detail: str, status: int = 503, **extra: Any) -> SimpulError:
    return SimpulError(code, detail, status=status, **extra)


def read_source(
    source: str, *, verify: ssl.SSLContext | bool = True, timeout: float = 10.0
) -> bytes:
    """The signed directory from a file or an http(s) URL."""
    if source.startswith(("https://", "http://")):
        response = httpx.get(source, verify=verify, timeout=timeout)
        response.raise_for_status()
        return response.content
    return Path(source).read_bytes()


class Federation:
    """The node's federation state, shared by every thread of its process."""

    def __init__(self, settings: Settings, now: Callable[[], dt.datetime] | None = None) -> None:
        if not settings.federation_member:
            raise ValueError("federation_member is not set")
        self.settings = settings
        self.member = settings.federation_member
        self.local = frozenset({self.member, *settings.federation_tenants})
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._lock = threading.Lock()
        self._checked: Checked | None = None
        self._read_at = 0.0
        self._clients: dict[str, httpx.Client] = {}
        self._pseudonym = hmac.new(
            settings.require_secret("pseudonym_key").encode(),
            b"simpul.federasi.pengguna",
            hashlib.sha256,
        ).digest()

    # --- files ---------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return self.settings.federation_folder

    @property
    def cert_file(self) -> Path:
        return self.folder / pki.NODE_CERT

    @property
    def key_file(self) -> Path:
        return self.folder / pki.NODE_KEY

    @property
    def ca_file(self) -> Path:
        return self.folder / pki.CA_CERT

    def client_context(self) -> ssl.SSLContext:
        """TLS as a client of another node: the federation's CA, this node's certificate."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx

    # --- the directory -------------------------------------------------------------------

    def directory(self) -> Checked:
        """The directory in force: read again every `federation_refresh_seconds`; if the
        source fails, the one held serves until it expires, then every call is refused."""
        with self._lock:
            fresh = time.monotonic() - self._read_at < self.settings.federation_refresh_seconds
            if self._checked is None or not fresh:
                self._refresh()
            held = self._checked
            if held is None:
                raise _refused("direktori_tidak_tersedia", "Direktori federasi belum tersedia.")
            if self._now() >= held.directory.berlaku_sampai:
                raise DirectoryRefused(
                    "direktori_kedaluwarsa",
                    "Direktori federasi sudah kedaluwarsa; otoritas federasi belum menerbitkan "
                    "yang baru.",
                )
            return held

    def refresh(self) -> Checked:
        """Read the directory now (`simpul federation directory fetch`, tests)."""
        with self._lock:
            self._read_at = 0.0
            self._refresh(strict=True)
            assert self._checked is not None
            return self._checked

    def _refresh(self, strict: bool = False) -> None:
        self._read_at = time.monotonic()
        held_file = self.folder / HELD_FILE
        if self._checked is None and held_file.exists():
            try:
                self._checked = self._check(held_file.read_bytes(), 0)
            except SimpulError as exc:
                log.warning("held directory refused: %s", exc.code)
        source = self.settings.federation_directory
        if not source:
            if strict and self._checked is None:
                raise _refused(
                    "direktori_tidak_tersedia", "Sumber direktori federasi belum diatur."
                )
            return
        held_serial = self._checked.directory.nomor if self._checked else 0
        try:
            raw = read_source(
                source,
                verify=self._source_context(source),
                timeout=self.settings.federation_timeout_seconds,
            )
            checked = self._check(raw, held_serial)
        except SimpulError as exc:
            log.warning("directory refused: %s", exc.code)
            if strict or self._checked is None:
                raise
            return
        except (OSError, httpx.HTTPError) as exc:
            log.warning("directory not read: %s", type(exc).__name__)
            if strict:
                raise _refused(
                    "direktori_tidak_tersedia", "Direktori federasi tidak terbaca."
                ) from None
            return
        if self._checked is None or checked.signed != self._checked.signed:
            write_private(held_file, checked.signed)
            self._clients_drop()
        self._checked = checked

    def _source_context(self, source: str) -> ssl.SSLContext | bool:
        return (
            self.client_context()
            if source.startswith("https://") and self.ca_file.exists()
            else True
        )

    def _check(self, raw: bytes, held: int) -> Checked:
        return check(raw, self.settings.federation_authority_keys, now=self._now(), held=held)

    def peer_by_pin(self, pin: str) -> Member | None:
        return self.directory().directory.member_by_pin(pin)

    # --- the recipient side --------------------------------------------------------------

    def remote(self, dataset: str) -> RemoteProvider | None:
        from simpul.errors import NotFound
        from simpul.registry.datasets import get_dataset

        try:
            provider = get_dataset(dataset).provider
        except NotFound:  # the service refuses it as it would anywhere
            return None
        return None if provider in self.local else RemoteProvider(self, provider)

    def pseudonym(self, username: str) -> str:
        """The end user as the provider records them: stable, not reversible without the
        recipient node's key (which the node keeps to answer who it was)."""
        mac = hmac.new(self._pseudonym, username.encode(), hashlib.sha256).hexdigest()[:20]
        return f"{self.member}:{mac}"

    def client(self, member: Member) -> httpx.Client:
        """One kept-alive connection pool per provider node."""
        with self._lock:
            client = self._clients.get(member.kode)
            if client is None:
                client = httpx.Client(
                    base_url=member.alamat,
                    verify=self.client_context(),
                    timeout=self.settings.federation_timeout_seconds,
                    limits=httpx.Limits(max_keepalive_connections=32, max_connections=64),
                )
                self._clients[member.kode] = client
            return client

    def _clients_drop(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def close(self) -> None:
        with self._lock:
            self._clients_drop()


def exchange(
    client: httpx.Client, method: str, url: str, payload: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[httpx.Response, str | None]:  # fmt: skip
    """The answer and the pin of the certificate it came over, read while the connection
    is still this request's: once the body is read the pool may hand the connection to
    another request, or close it, and its TLS object is gone."""
    with client.stream(method, url, content=payload, headers=headers) as response:
        pin = _peer_pin(response)
        response.read()
    return response, pin


def _peer_pin(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    der = ssl_object.getpeercert(True) if ssl_object is not None else None
    return pki.fingerprint(der) if der else None


class RemoteProvider:
    """The provider node of one dataset, as `simpul.kernel.call.Remote`."""

    def __init__(self, federation: Federation, provider: str) -> None:
        self.federation = federation
        self.provider = provider

    def ask(self, call: Call, path: str, body: dict[str, Any]) -> RemoteAnswer:
        from simpul.kernel.call import RemoteAnswer

        fed = self.federation
        member = fed.directory().directory.member(self.provider)
        if member is None:
            raise _refused(
                "penyedia_tidak_terdaftar",
                f"Node penyedia {self.provider} tidak ada di direktori federasi.",
            )
        decision = call.last_decision
        request_id = new_id("fed-")
        sent_at = fed._now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        headers = {
            "Content-Type": "application/json",
            "Simpul-Perjanjian": (decision.agreement_id if decision else None) or "",
            "Simpul-Pengguna": fed.pseudonym(call.principal.username),
            "Simpul-Tujuan": str(
                call.context.get("tujuan") or (decision.grant_id if decision else "")
            ),
            "Simpul-Mekanisme": call.mechanism.value,
            "Simpul-Permintaan": request_id,
            "Simpul-Waktu": sent_at,
            "Simpul-Alamat-Asal": call.source_ip or "",
        }
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        url = PREFIX + path
        try:
            response, pin = exchange(fed.client(member), "POST", url, payload, headers)
        except httpx.TimeoutException:
            raise _refused(
                "penyedia_tidak_menjawab",
                f"Node penyedia {member.kode} tidak menjawab pada waktunya.",
                504,
                penyedia=member.kode,
            ) from None
        except httpx.HTTPError:
            raise _refused(
                "penyedia_tidak_terjangkau",
                f"Node penyedia {member.kode} tidak dapat dihubungi.",
                penyedia=member.kode,
            ) from None
        if pin is None or pin not in member.sertifikat:
            raise _refused(
                "sertifikat_penyedia_tidak_cocok",
                f"Sertifikat node penyedia {member.kode} tidak sesuai direktori.",
                502,
                penyedia=member.kode,
            )
        if response.status_code >= 400:
            raise _provider_refusal(member.kode, response)
        header = response.headers.get("simpul-receipt")
        key = member.kunci_tanda_terima
        problem = (
            "tanda_terima_tidak_ada"
            if not header or not key
            else receipts.verify_receipt(
                header, receipts.read_public_key(key), "POST", url, payload
            )
        )
        if problem is not None:
            raise _refused(
                "tanda_terima_penyedia_tidak_sah",
                f"Tanda terima node penyedia {member.kode} tidak sah ({problem}).",
                502,
                penyedia=member.kode,
            )
        try:
            answer = response.json()
        except ValueError:
            raise _refused(
                "jawaban_penyedia_tidak_sah",
                f"Jawaban node penyedia {member.kode} tak terbaca.",
                502,
            ) from None
        detail = {
            "penyedia": member.kode,
            "permintaan_penyedia": request_id,
            "tanda_terima": header,
        }
        return RemoteAnswer(answer=answer, detail=detail)


def _provider_refusal(provider: str, response: httpx.Response) -> SimpulError:
    """The provider's refusal, passed on with its code: the recipient's record and its user
    see what the provider decided. Its 401 (the node's own account) is the recipient's 403."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = str(body.get("code") or "penyedia_menolak")
    detail = str(body.get("detail") or "Node penyedia menolak permintaan.")
    status = 403 if response.status_code == 401 else response.status_code
    extra = {k: v for k, v in body.items() if k in ("coba_lagi_detik", "elemen")}
    err = SimpulError(
        code, f"Node penyedia {provider}: {detail}", status=status, penyedia=provider, **extra
    )
    return err


def attach(rt: Any) -> Any:
    """Give a runtime its federation when the node is a member (every entry point)."""
    settings = rt.settings
    if settings.federation_member and getattr(rt, "peers", None) is None:
        rt.peers = Federation(settings)
    return rt
