"""C2SP signed notes, checkpoints, Ed25519 cosignatures and tlog-witness bodies: pure text.

Specifications: c2sp.org/signed-note (notes, key IDs, verifier keys), c2sp.org/tlog-checkpoint
(the checkpoint body), c2sp.org/tlog-cosignature (cosignature/v1, signature type 0x04) and
c2sp.org/tlog-witness (the add-checkpoint request body). Parsing is strict: anything the specs
do not allow raises ValueError with a short English message, so a caller can answer with a
problem code instead of acting on text that another implementation might read differently.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = 0x01  # signed-note: plain Ed25519 over the note text
ALG_COSIGNATURE_V1 = 0x04  # tlog-cosignature: timestamped Ed25519 over a checkpoint
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
# The spec makes verifiers cap signatures (at least 16 accepted); these match Go's
# golang.org/x/mod/sumdb/note (100 signatures) and a generous bound on a note's bytes.
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20
MAX_PROOF_LINES = 63  # tlog-witness: a client MUST NOT send more
MAX_TIMESTAMP = (1 << 63) - 1  # tlog-cosignature: a timestamp MUST NOT exceed 2^63 - 1
MAX_TREE_SIZE = (1 << 63) - 1  # sizes beyond a signed 64-bit integer are not a real log
_ED25519_KEY_BYTES = 32
_ED25519_SIG_BYTES = 64
_HASH_BYTES = 32
_COSIGNATURE_HEADER = "cosignature/v1\n"
# ASCII decimals only: int() would also take "+1", " 1", "1_0" and non-ASCII digits.
_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # control characters other than newline
_KEY_ALGS = (ALG_ED25519, ALG_COSIGNATURE_V1)  # both carry a 32-byte Ed25519 key


@dataclass(frozen=True)
class Verifier:
    """A trusted public key as a verifier key (vkey) names it."""

    name: str
    alg: int
    key_hash: bytes  # 4 bytes, the key ID in signature lines
    public: bytes  # 32-byte Ed25519 public key


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: `raw` is what follows the 4-byte key ID (for cosignature/v1 the
    8-byte timestamp and then the Ed25519 signature)."""

    name: str
    key_hash: bytes
    raw: bytes

    @property
    def line(self) -> str:
        """The signature line again, newline included (base64 is canonical, so exact)."""
        return f"{SIGNATURE_PREFIX}{self.name} {_b64(self.key_hash + self.raw)}\n"


@dataclass(frozen=True)
class Note:
    text: str  # includes its final newline, not the blank separator line
    signatures: tuple[NoteSignature, ...]


@dataclass(frozen=True)
class CheckpointBody:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    """Standard base64, padded, and canonical: a second spelling of the same bytes (stray
    trailing bits) would let two different lines carry one signature."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ValueError(f"{what} is not base64") from None
    if _b64(data) != text:
        raise ValueError(f"{what} is not canonical base64")
    return data


def _decimal(text: str, what: str, limit: int) -> int:
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"{what} is not a decimal without leading zeros")
    value = int(text)
    if value > limit:
        raise ValueError(f"{what} is too large")
    return value


def _check_name(name: str) -> None:
    """signed-note: non-empty, no Unicode spaces, no plus. Control characters cannot be in
    a note at all, and the name must encode as UTF-8 (no lone surrogates)."""
    if not name:
        raise ValueError("key name is empty")
    if "+" in name or any(c.isspace() for c in name) or _CONTROL.search(name):
        raise ValueError("key name has a space, plus or control character")
    _utf8(name, "key name")


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid UTF-8") from None


def _check_text(text: str) -> None:
    """A note text: non-empty, ends in a newline, no control characters but newlines."""
    if not text.endswith("\n"):
        raise ValueError("note text does not end in a newline")
    if _CONTROL.search(text):
        raise ValueError("note text has a control character")
    _utf8(text, "note text")


def key_hash(name: str, alg: int, public: bytes) -> bytes:
    """Key ID = SHA-256(name || 0x0A || signature type || public key)[:4] (signed-note)."""
    _check_name(name)
    if not 0 <= alg <= 0xFF:
        raise ValueError("signature type is one byte")
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public).digest()[:4]


def _public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


def verifier_key(name: str, public: bytes, alg: int = ALG_ED25519) -> str:
    """The vkey text `name+<hex key ID>+<base64(type || public key)>`."""
    if alg not in _KEY_ALGS:
        raise ValueError("unsupported signature type")
    if len(public) != _ED25519_KEY_BYTES:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return f"{name}+{key_hash(name, alg, public).hex()}+{_b64(bytes([alg]) + public)}"


def cosignature_verifier_key(name: str, public: bytes) -> str:
    """The vkey of an Ed25519 witness (cosignature/v1, type 0x04)."""
    return verifier_key(name, public, ALG_COSIGNATURE_V1)


def parse_verifier_key(text: str) -> Verifier:
    """Parse a vkey; the key ID must be the one the name and key imply."""
    # The name and hex ID hold no "+", the base64 key may: split at the first two only.
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise ValueError("verifier key is not name+id+key")
    name, hex_id, key_b64 = parts
    _check_name(name)
    if not re.fullmatch(r"[0-9a-fA-F]{8}", hex_id, re.ASCII):
        raise ValueError("verifier key ID is not 8 hex digits")
    blob = _unb64(key_b64, "verifier key")
    if not blob:
        raise ValueError("verifier key is empty")
    alg, public = blob[0], blob[1:]
    if alg not in _KEY_ALGS:
        raise ValueError("unsupported signature type")
    if len(public) != _ED25519_KEY_BYTES:
        raise ValueError("an Ed25519 public key has 32 bytes")
    expected = key_hash(name, alg, public)
    if bytes.fromhex(hex_id) != expected:
        raise ValueError("verifier key ID does not match the key")
    return Verifier(name=name, alg=alg, key_hash=expected, public=public)


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise ValueError("signature line does not start with an em dash and a space")
    name, sep, sig_b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not sep:
        raise ValueError("signature line has no signature")
    _check_name(name)
    blob = _unb64(sig_b64, "signature")
    if len(blob) < 5:
        raise ValueError("signature is shorter than a key ID and one byte")
    return NoteSignature(name=name, key_hash=blob[:4], raw=blob[4:])


def parse_signature_lines(block: str) -> tuple[NoteSignature, ...]:
    """Signature lines, each ending in a newline: a note's tail, or a tlog-witness response.

    One key (name and key ID) signs at most once: a second line from the same key is either
    a copy or a contradiction, and this code would rather refuse than pick one."""
    if not block:
        raise ValueError("no signature lines")
    if not block.endswith("\n"):
        raise ValueError("signature line does not end in a newline")
    if _CONTROL.search(block):
        raise ValueError("signature line has a control character")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise ValueError("too many signatures")
    out = tuple(_parse_signature_line(line) for line in lines)
    if len({(s.name, s.key_hash) for s in out}) != len(out):
        raise ValueError("two signatures from the same key")
    return out


def parse_note(note: str | bytes) -> Note:
    """Split a signed note at its last blank line into text and signatures (signed-note)."""
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_BYTES:
            raise ValueError("note is too large")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("note is not valid UTF-8") from None
    if len(note) > MAX_NOTE_BYTES or len(_utf8(note, "note")) > MAX_NOTE_BYTES:
        raise ValueError("note is too large")
    if _CONTROL.search(note):
        raise ValueError("note has a control character")
    split = note.rfind("\n\n")
    if split < 0:
        raise ValueError("note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    return Note(text=text, signatures=parse_signature_lines(block))


def _signature_line(name: str, key_id: bytes, raw: bytes) -> str:
    return NoteSignature(name=name, key_hash=key_id, raw=raw).line


def sign_note(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """Sign `text` (ending in a newline) with an Ed25519 note key (type 0x01)."""
    _check_text(text)
    key_id = key_hash(name, ALG_ED25519, _public_bytes(key))
    signature = key.sign(text.encode("utf-8"))
    note = f"{text}\n{_signature_line(name, key_id, signature)}"
    parse_note(note)  # the limits apply to what we emit too
    return note


def add_signature(note: str, line: str) -> str:
    """Append one signature line (say a witness's cosignature) after the existing ones."""
    parse_note(note)
    if not line.endswith("\n"):
        line += "\n"
    parse_signature_lines(line)
    combined = note + line
    parse_note(combined)  # rejects a second line from the same key, and the limits
    return combined


def _verify_ed25519(public: bytes, signature: bytes, message: bytes) -> bool:
    if len(signature) != _ED25519_SIG_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def check_note_signature(note: str | Note, verifier: Verifier) -> bool | None:
    """None when no line is from this key (name and key ID both match: signed-note says to
    ignore the rest), else whether its signature verifies. A witness trusting several log
    keys needs the difference: one bad line from a trusted key rejects the whole note."""
    if verifier.alg != ALG_ED25519:
        raise ValueError("not an Ed25519 note verifier")
    parsed = parse_note(note) if isinstance(note, str) else note
    mine = [
        s for s in parsed.signatures if s.name == verifier.name and s.key_hash == verifier.key_hash
    ]
    if not mine:
        return None
    message = parsed.text.encode("utf-8")
    return all(_verify_ed25519(verifier.public, s.raw, message) for s in mine)


def verify_note(note: str | Note, verifier: Verifier) -> bool:
    """True when the note carries a valid Ed25519 signature by this key and no bad one.

    A malformed note raises ValueError rather than returning False."""
    return check_note_signature(note, verifier) is True


def checkpoint_text(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """The tlog-checkpoint note text: origin, decimal size, base64 root, extension lines."""
    if not origin or "\n" in origin:
        raise ValueError("origin is empty or has a newline")
    if not 0 <= size <= MAX_TREE_SIZE:
        raise ValueError("tree size out of range")
    if len(root) != _HASH_BYTES:
        raise ValueError("root hash has 32 bytes")
    for line in extensions:
        if not line or "\n" in line:
            raise ValueError("extension line is empty or has a newline")
    text = "".join(f"{line}\n" for line in (origin, str(size), _b64(root), *extensions))
    _check_text(text)
    return text


def parse_checkpoint(text: str) -> CheckpointBody:
    """Parse a checkpoint's note text (the part a signature covers, final newline included)."""
    _check_text(text)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise ValueError("checkpoint has fewer than three lines")
    if any(not line for line in lines):
        raise ValueError("checkpoint has an empty line")
    origin, size_text, root_text, *extensions = lines
    size = _decimal(size_text, "tree size", MAX_TREE_SIZE)
    root = _unb64(root_text, "root hash")
    if len(root) != _HASH_BYTES:
        raise ValueError("root hash is not 32 bytes")
    return CheckpointBody(origin=origin, size=size, root=root, extensions=tuple(extensions))


def _cosigned_message(checkpoint: str, timestamp: int) -> bytes:
    return f"{_COSIGNATURE_HEADER}time {timestamp}\n{checkpoint}".encode()


def cosign(checkpoint_text: str, name: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """A cosignature/v1 signature line (newline included) over a checkpoint's note text.

    Line = "— name base64(key ID(type 0x04) || u64 big-endian timestamp || Ed25519 sig)";
    the signed message is "cosignature/v1\\ntime <timestamp>\\n" + the checkpoint text."""
    parse_checkpoint(checkpoint_text)
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError("timestamp out of range")
    key_id = key_hash(name, ALG_COSIGNATURE_V1, _public_bytes(key))
    signature = key.sign(_cosigned_message(checkpoint_text, timestamp))
    return _signature_line(name, key_id, timestamp.to_bytes(8, "big") + signature)


def verify_cosignature(checkpoint_text: str, sig: NoteSignature, verifier: Verifier) -> int | None:
    """The cosignature's timestamp when `sig` is this witness's valid cosignature/v1 over
    the checkpoint text, else None. The verifier must be a type 0x04 key: a plain note key
    here is a configuration mistake, so it raises ValueError instead of quietly failing."""
    if verifier.alg != ALG_COSIGNATURE_V1:
        raise ValueError("not a cosignature/v1 verifier")
    if sig.name != verifier.name or sig.key_hash != verifier.key_hash:
        return None
    if len(sig.raw) != 8 + _ED25519_SIG_BYTES:
        return None
    timestamp = int.from_bytes(sig.raw[:8], "big")
    if timestamp > MAX_TIMESTAMP:
        return None
    _check_text(checkpoint_text)
    message = _cosigned_message(checkpoint_text, timestamp)
    return timestamp if _verify_ed25519(verifier.public, sig.raw[8:], message) else None


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], note: str) -> str:
    """The tlog-witness add-checkpoint request body: "old N", proof lines, blank, note."""
    if not 0 <= old_size <= MAX_TREE_SIZE:
        raise ValueError("old size out of range")
    if len(proof) > MAX_PROOF_LINES:
        raise ValueError("too many consistency proof lines")
    if old_size == 0 and proof:
        raise ValueError("the proof from size 0 is empty")
    if any(len(node) != _HASH_BYTES for node in proof):
        raise ValueError("a proof hash has 32 bytes")
    parse_note(note)
    lines = "".join(f"{_b64(node)}\n" for node in proof)
    return f"old {old_size}\n{lines}\n{note}"


def parse_add_checkpoint(body: str) -> tuple[int, list[bytes], str]:
    """(old size, consistency proof, signed checkpoint note) from an add-checkpoint body.

    Only the syntax: the caller checks the note (parse_note, 400), its signatures (403),
    old size <= checkpoint size (400), an empty proof when old is 0 and the proof (422)."""
    if len(body) > MAX_NOTE_BYTES + 64 * (MAX_PROOF_LINES + 1):
        raise ValueError("request body is too large")
    lines: list[str] = []
    pos = 0
    while True:
        end = body.find("\n", pos)
        if end < 0:
            raise ValueError("request body has no blank line before the checkpoint")
        line, pos = body[pos:end], end + 1
        if not line and lines:
            break
        lines.append(line)
        if len(lines) > MAX_PROOF_LINES + 1:
            raise ValueError("too many consistency proof lines")
    first, *proof_lines = lines
    if not first.startswith("old "):
        raise ValueError("request body does not start with an old size line")
    old_size = _decimal(first[4:], "old size", MAX_TREE_SIZE)
    proof = [_unb64(line, "proof hash") for line in proof_lines]
    if any(len(node) != _HASH_BYTES for node in proof):
        raise ValueError("a proof hash is not 32 bytes")
    note = body[pos:]
    if not note:
        raise ValueError("request body has no checkpoint")
    return old_size, proof, note
