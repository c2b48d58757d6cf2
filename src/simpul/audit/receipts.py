"""Signed receipts: what the caller of a governed call keeps as the node's word that its
answer was recorded in the audit log (docs/receipts.md).

A receipt is one line of ASCII text (the `Simpul-Receipt` header of a 2xx answer, or a
`.receipt` file beside a command's output), its fields in this order:

    v1;o=<origin>;k=<key id>;i=<seq>;t=<time>;l=<leaf hash>;d=<request digest>;s=<signature>

- `o`: the node: the origin of its checkpoints (`SIMPUL_AUDIT_ORIGIN`, else
  `simpul.local/<instance id>`);
- `k`: the receipt key's id, the first 16 hex digits of SHA-256 of its raw public key;
- `i`: the record's seq, as in the log and `simpul audit proof SEQ` (leaf index i−1);
- `t`: the record's time (UTC, microseconds), exactly as hashed into its entry;
- `l`: the record's RFC 6962 leaf hash, SHA-256(0x00 || entry hash);
- `d`: SHA-256 of the request: `simpul-request/v1\\n`, the method, `\\n`, the path's byte
  length, `:`, the path (UTF-8, no query), `\\n`, then the body bytes as received;
- `s`: Ed25519 over `simpul-receipt/v1\\n` followed by the header text before `;s=`.

Hashes and the signature are unpadded base64url. Nothing in a receipt is personal data: the
subjects of the record are keyed hashes in the log, and the request is only a digest.

The receipt key is its own Ed25519 key, `DATA_DIR/audit-receipt.key` (0600, created on first
use), apart from the checkpoint key: it signs on every call, the checkpoint key seldom.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from simpul.audit import merkle
from simpul.audit.service import Receipt
from simpul.audit.signing import load_or_create, public_bytes, signature_valid
from simpul.config import Settings, read_instance_record
from simpul.errors import SimpulError

KEY_FILE = "audit-receipt.key"
HEADER = "Simpul-Receipt"
VERSION = "v1"
SIGNED_PREFIX = b"simpul-receipt/v1\n"
REQUEST_PREFIX = b"simpul-request/v1\n"
# Hashes are 32 bytes (43 characters of unpadded base64url), the signature 64 (86).
_FORMAT = re.compile(
    r"v1;o=(?P<o>[!-:<-~]{1,200});k=(?P<k>[0-9a-f]{16});i=(?P<i>[1-9][0-9]{0,18})"
    r";t=(?P<t>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)"
    r";l=(?P<l>[A-Za-z0-9_-]{43});d=(?P<d>[A-Za-z0-9_-]{43});s=(?P<s>[A-Za-z0-9_-]{86})"
)
_UNSAFE = re.compile(r"[^!-:<-~]")  # an origin is printable ASCII without space or ";"


def _refusal(code: str, detail: str) -> SimpulError:
    return SimpulError(code, detail, status=422)


# Why a receipt does not hold, by code (`verify_receipt` answers with one of these codes).
PROBLEMS: dict[str, SimpulError] = {
    e.code: e
    for e in (
        _refusal("tanda_terima_tidak_terbaca",
                 "Tanda terima tidak terbaca: bukan format v1 Simpul-Receipt."),
        _refusal("tanda_terima_kunci_lain",
                 "Tanda terima ditandatangani kunci lain (id kunci tidak cocok)."),
        _refusal("tanda_terima_tanda_tangan_tidak_sah",
                 "Tanda tangan tanda terima tidak sah: isinya diubah."),
        _refusal("tanda_terima_permintaan_lain",
                 "Tanda terima bukan untuk permintaan ini (metode, alamat atau isi berbeda)."),
        _refusal("tanda_terima_tidak_tercakup",
                 "Rekaman tanda terima tidak tercakup bukti inklusi ini."),
        _refusal("kunci_tanda_terima_tidak_terbaca",
                 "Kunci publik tanda terima tidak terbaca (base64 32 bita, PEM atau berkas)."),
    )
}  # fmt: skip


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(public_key: bytes) -> str:
    """The receipt key's id: the first 16 hex digits of SHA-256 of the raw public key."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def key_path(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def node_origin(settings: Settings) -> str:
    """The node's name in its receipts: the origin its checkpoints are signed under
    (`SIMPUL_AUDIT_ORIGIN`, else `simpul.local/<instance id>`), so that a receipt and the
    checkpoints that come to cover its record name the same log."""
    origin = getattr(settings, "audit_origin", None)
    if not origin:
        try:
            record = read_instance_record(settings.data_dir)
        except (OSError, ValueError, KeyError, TypeError):
            record = None
        origin = f"simpul.local/{record['instance_id'] if record else 'node'}"
    return _UNSAFE.sub("_", str(origin))[:200]


# --- the request digest ----------------------------------------------------------------------


class RequestHasher:
    """SHA-256 of a request, fed its body as it arrives (see the module's docstring)."""

    __slots__ = ("_h",)

    def __init__(self, method: str, path: str) -> None:
        raw = path.encode("utf-8", "surrogateescape")
        head = b"%s\n%d:%s\n" % (method.upper().encode("latin-1"), len(raw), raw)
        self._h = hashlib.sha256(REQUEST_PREFIX + head)

    def update(self, chunk: bytes) -> None:
        self._h.update(chunk)

    def digest(self) -> bytes:
        return self._h.digest()


def request_digest(method: str, path: str, body: bytes) -> bytes:
    hasher = RequestHasher(method, path)
    hasher.update(body)
    return hasher.digest()


# --- signing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptKey:
    private: Ed25519PrivateKey
    public: bytes  # raw Ed25519
    key_id: str
    origin: str


def receipt_key(settings: Settings) -> ReceiptKey:
    """The node's receipt key (created, 0600, on first use) and the origin it signs as."""
    private = load_or_create(key_path(settings))
    public = public_bytes(private)
    return ReceiptKey(private, public, key_id(public), node_origin(settings))


def timestamp(ts: str) -> str:
    """A record's time as hashed ("2026-11-23 09:00:00.000000") in a receipt's form."""
    return ts.replace(" ", "T", 1) + "Z"


def sign(key: ReceiptKey, receipt: Receipt, request: bytes) -> str:
    """The receipt header for the record `receipt` of the request whose digest is given."""
    leaf = merkle.leaf_hash(bytes.fromhex(receipt.hash))
    text = (f"v1;o={key.origin};k={key.key_id};i={receipt.seq};t={timestamp(receipt.ts)}"
            f";l={b64(leaf)};d={b64(request)}")  # fmt: skip
    return f"{text};s={b64(key.private.sign(SIGNED_PREFIX + text.encode('ascii')))}"


class ReceiptSigner:
    """Signs receipts with the node's key, read (or created) once, on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._key: ReceiptKey | None = None
        self._lock = threading.Lock()

    @property
    def key(self) -> ReceiptKey:
        key = self._key
        if key is None:
            with self._lock:
                if self._key is None:
                    self._key = receipt_key(self._settings)
                key = self._key
        return key

    def sign(self, receipt: Receipt, request: bytes) -> str:
        return sign(self._key or self.key, receipt, request)


# --- reading and checking --------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedReceipt:
    origin: str
    key_id: str
    seq: int
    ts: str  # as in the receipt: RFC 3339, UTC
    leaf_hash: bytes
    request: bytes
    signature: bytes
    signed: bytes  # the exact bytes the signature covers

    @property
    def leaf_index(self) -> int:
        return self.seq - 1

    @property
    def record_ts(self) -> str:
        """The time as the log hashes it (`ts_text`)."""
        return self.ts[:-1].replace("T", " ", 1)


def parse(header: str) -> ParsedReceipt | None:
    """The receipt's fields, or None if `header` is not a well-formed v1 receipt."""
    found = _FORMAT.fullmatch(header.strip())
    if found is None:
        return None
    try:
        leaf, request, signature = unb64(found["l"]), unb64(found["d"]), unb64(found["s"])
    except (binascii.Error, ValueError):
        return None
    # One encoding per value: the last base64 character must carry no stray bits.
    if (b64(leaf), b64(request), b64(signature)) != (found["l"], found["d"], found["s"]):
        return None
    text = found.group(0)
    signed = SIGNED_PREFIX + text[: text.rindex(";s=")].encode("ascii")
    return ParsedReceipt(found["o"], found["k"], int(found["i"]), found["t"], leaf, request,
                         signature, signed)  # fmt: skip


def verify_receipt(
    header: str,
    public_key: bytes,
    method: str | None = None,
    path: str | None = None,
    body: bytes | None = None,
) -> str | None:
    """Why the receipt does not hold (a code of `PROBLEMS`), or None when it does: it is
    well formed, signed by `public_key` (raw Ed25519, 32 bytes) and — when `method` and
    `path` are given — made for that request with that body (None: an empty body)."""
    got = parse(header)
    if got is None:
        return "tanda_terima_tidak_terbaca"
    if len(public_key) != 32 or key_id(public_key) != got.key_id:
        return "tanda_terima_kunci_lain"
    if not signature_valid(public_key, got.signature, got.signed):
        return "tanda_terima_tanda_tangan_tidak_sah"
    asked = method is not None and path is not None
    if asked and request_digest(str(method), str(path), body or b"") != got.request:
        return "tanda_terima_permintaan_lain"
    return None


def included(
    receipt: ParsedReceipt | str,
    *,
    leaf_index: int,
    tree_size: int,
    audit_path: list[bytes] | list[str],
    root: bytes | str,
) -> str | None:
    """Whether the receipt's record is in the tree of `root` (RFC 6962 audit path; hex or
    raw hashes): None when it is, else a code of `PROBLEMS`. The checkpoint that signed the
    root is checked by whoever trusts it (`signing.verify_proof`), not here."""
    got = parse(receipt) if isinstance(receipt, str) else receipt
    if got is None:
        return "tanda_terima_tidak_terbaca"
    path = [bytes.fromhex(n) if isinstance(n, str) else n for n in audit_path]
    top = bytes.fromhex(root) if isinstance(root, str) else root
    if leaf_index != got.leaf_index or not merkle.verify_inclusion(
        leaf_index, tree_size, got.leaf_hash, path, top
    ):
        return "tanda_terima_tidak_tercakup"
    return None


def included_in_proof(receipt: ParsedReceipt | str, proof: object) -> str | None:
    """`included` with the fields of a `signing.Proof`, or of its JSON (`to_dict`)."""
    fields: Mapping[str, Any] = (
        proof if isinstance(proof, Mapping) else getattr(proof, "__dict__", {})
    )
    try:
        return included(receipt, leaf_index=int(fields["leaf_index"]),
                        tree_size=int(fields["tree_size"]),
                        audit_path=[str(n) for n in fields["audit_path"]],
                        root=str(fields["root"]))  # fmt: skip
    except (KeyError, TypeError, ValueError):
        return "tanda_terima_tidak_tercakup"


def read_public_key(text: str) -> bytes:
    """A receipt public key given as raw base64 (standard or url-safe, 32 bytes), a PEM
    public key, or a PEM private key (the node's own key file)."""
    value = text.strip()
    try:
        if value.startswith("-----BEGIN"):
            data = value.encode()
            if "PRIVATE" in value.split("\n", 1)[0]:
                private = serialization.load_pem_private_key(data, password=None)
                if isinstance(private, Ed25519PrivateKey):
                    return public_bytes(private)
            else:
                public = serialization.load_pem_public_key(data)
                if isinstance(public, Ed25519PublicKey):
                    return public.public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)  # fmt: skip
        else:
            raw = base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" *
                                   (-len(value) % 4), validate=True)  # fmt: skip
            if len(raw) == 32:
                return raw
    except (ValueError, TypeError, binascii.Error):
        pass
    raise problem("kunci_tanda_terima_tidak_terbaca")


def problem(code: str) -> SimpulError:
    """A fresh error for a code of `PROBLEMS` (to raise, or to answer with)."""
    known = PROBLEMS[code]
    return SimpulError(known.code, known.detail, status=known.status)
