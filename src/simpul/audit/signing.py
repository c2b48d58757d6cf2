"""Signed checkpoints over the log's Merkle tree, and inclusion proofs against them.

Ed25519: the private key is a PEM file in the data folder (0600), created on first use, never
in the database; each checkpoint stores the raw public key (key id = SHA-256 of it), so
checking needs no secret. A checkpoint is a C2SP tlog-checkpoint (origin, tree size, root)
signed as a C2SP signed note under the key named by the origin; witnesses cosign exactly that
text (docs/audit.md). Checkpoints signed before notes (no origin) signed the v1 message. Each
keeps the compact range at its size, so the next one only hashes the records added since.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from simpul.audit import merkle, note
from simpul.audit.repository import GENESIS, AuditRepository, LogReader, WriterTurn, ts_text
from simpul.audit.tree import TreeCache
from simpul.config import Settings, read_instance_record
from simpul.db import session_factory, transaction
from simpul.errors import NotFound, SimpulError
from simpul.kit.clock import Clock

KEY_FILE = "audit-signing.key"
# Public keys of rotated-out checkpoint keys, one verifier key per line: still trusted for
# the checkpoints they signed.
RETIRED_FILE = "audit-signing.retired"

# --- keys ------------------------------------------------------------------------------------


def key_path(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    raw = serialization.Encoding.Raw
    return key.public_key().public_bytes(encoding=raw, format=serialization.PublicFormat.Raw)


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()


def _read(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise SimpulError("kunci_audit_rusak", f"Kunci audit {path} tak terbaca.", 500) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SimpulError("kunci_audit_rusak", f"Kunci {path} bukan kunci Ed25519.", 500)
    return key


def load_or_create(path: Path) -> Ed25519PrivateKey:
    """The signing key at `path`; a new one is created (0600) if the file does not exist.

    Several processes may start at once: the new key is written to a private temporary file
    and hard-linked into place, so exactly one key wins and nobody reads a half-written file.
    """
    if path.exists():
        return _read(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race: use its key
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read(path)


def log_origin(settings: Settings) -> str:
    """The origin line of this node's checkpoints (and the name of its checkpoint key)."""
    if settings.audit_origin:
        return settings.audit_origin
    record = read_instance_record(settings.data_dir)
    return f"simpul.local/{record['instance_id'] if record else 'node'}"


def log_verifier_key(settings: Settings) -> str:
    """The C2SP verifier key of this node's checkpoint key: what a witness pins."""
    return note.verifier_key(log_origin(settings), public_bytes(load_or_create(key_path(settings))))


def retired_keys(settings: Settings) -> list[note.Verifier]:
    path = settings.data_dir / RETIRED_FILE
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [note.parse_verifier_key(line.strip()) for line in lines if line.strip()]


def trusted_key_ids(settings: Settings) -> set[str] | None:
    """Key ids this instance trusts (its own key and the keys it rotated out), or None when
    it has no key file yet."""
    path = key_path(settings)
    retired = {key_id(v.public) for v in retired_keys(settings)}
    if not path.exists():
        return retired or None
    return {key_id(public_bytes(_read(path))), *retired}


def rotate_key(settings: Settings) -> tuple[str, str]:
    """Replace the checkpoint key with a new one; the old public key stays trusted (it is
    kept in RETIRED_FILE as a verifier key) and its private key is destroyed. Returns the
    (old, new) key ids. The next checkpoint, signed by the new key, starts a new compact
    range from leaf one (its root is the same tree's)."""
    path = key_path(settings)
    old = load_or_create(path)
    old_public = public_bytes(old)
    retired = settings.data_dir / RETIRED_FILE
    line = note.verifier_key(log_origin(settings), old_public) + "\n"
    fd = os.open(retired, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()
    new = load_or_create(path)
    return key_id(old_public), key_id(public_bytes(new))


def signature_valid(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def checkpoint_message(size: int, root: bytes, head_hash: bytes, ts: str, kid: str) -> bytes:
    """The exact bytes a checkpoint signature covers (one field per line, hashes in hex)."""
    fields = ("simpul-audit-checkpoint/v1", size, root.hex(), head_hash.hex(), ts, kid)
    return "".join(f"{value}\n" for value in fields).encode()


# --- checkpoints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    ts: str  # UTC text (signed only by v1 checkpoints)
    root: str  # hex
    head_hash: str  # hex: hash of record #tree_size
    key_id: str
    public_key: str  # hex, raw Ed25519
    signature: str  # hex
    origin: str | None = None  # None: a v1 checkpoint, signed before C2SP notes

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Checkpoint:
        """From (tree_size, ts text, root, head_hash, key_id, public_key, signature,
        [frontier, origin])."""
        size, ts, root, head, kid, pub, sig = row[:7]
        root, head, pub, sig = (bytes(v).hex() for v in (root, head, pub, sig))
        origin = row[8] if len(row) > 8 and row[8] else None
        return cls(int(size), str(ts), root, head, str(kid), pub, sig, origin)

    @classmethod
    def of(cls, row: Any) -> Checkpoint:
        """From an AuditCheckpoint row."""
        fields = (row.root, row.head_hash, row.key_id, row.public_key, row.signature)
        return cls.from_row((row.tree_size, ts_text(row.ts), *fields, row.frontier, row.origin))

    def text(self) -> str:
        """The C2SP checkpoint body that the log key and every witness sign."""
        if self.origin is None:
            raise ValueError("a v1 checkpoint has no C2SP text")
        return note.checkpoint_text(self.origin, self.tree_size, bytes.fromhex(self.root))

    def message(self) -> bytes:
        if self.origin is not None:
            return self.text().encode()
        root, head = bytes.fromhex(self.root), bytes.fromhex(self.head_hash)
        return checkpoint_message(self.tree_size, root, head, self.ts, self.key_id)

    def verifier(self) -> note.Verifier:
        if self.origin is None:
            raise ValueError("a v1 checkpoint has no C2SP key name")
        return note.parse_verifier_key(
            note.verifier_key(self.origin, bytes.fromhex(self.public_key))
        )

    def signed_note(self, cosignatures: Sequence[str] = ()) -> str:
        """The signed note a witness fetches: the log's signature line, then the stored
        cosignature lines."""
        assert self.origin is not None
        kh = note.key_hash(self.origin, note.ALG_ED25519, bytes.fromhex(self.public_key))
        sig = base64.b64encode(kh + bytes.fromhex(self.signature)).decode()
        text = self.text() + "\n" + f"\u2014 {self.origin} {sig}\n"
        for line in cosignatures:
            text = note.add_signature(text, line)
        return text

    def problem(self, trusted_key_ids: Collection[str] | None = None) -> str | None:
        """Why this checkpoint cannot be trusted, as a reason code; None when it can."""
        public = bytes.fromhex(self.public_key)
        if key_id(public) != self.key_id:
            return "checkpoint_kunci_tidak_cocok"
        if trusted_key_ids is not None and self.key_id not in trusted_key_ids:
            return "checkpoint_kunci_tidak_dipercaya"
        if not signature_valid(public, bytes.fromhex(self.signature), self.message()):
            return "checkpoint_tanda_tangan_tidak_sah"
        return None


def stored_range(cp: Checkpoint, frontier: object) -> merkle.CompactRange | None:
    """The checkpoint's stored compact range, if it reproduces the signed root."""
    try:
        nodes = [bytes.fromhex(node) for node in json.loads(str(frontier))]
        compact = merkle.CompactRange(cp.tree_size, nodes)
    except (ValueError, TypeError):
        return None
    return compact if compact.root().hex() == cp.root else None


def chain_broken(seq: int) -> SimpulError:
    detail = f"Rantai log audit rusak di sekitar rekaman #{seq}; jalankan `simpul audit verify`."
    return SimpulError("audit_rantai_rusak", detail, status=500)


def maybe_checkpoint(
    engine: Engine,
    settings: Settings,
    clock: Clock,
    *,
    every_records: int | None = 10_000,
    every_seconds: float | None = 60.0,
) -> Checkpoint | None:
    """Sign a checkpoint when `every_records` records or `every_seconds` seconds have passed
    since the last one (and the log has grown); otherwise None."""
    return _checkpoint(engine, settings, clock, every_records, every_seconds, force=False)


def checkpoint(engine: Engine, settings: Settings, clock: Clock) -> Checkpoint | None:
    """Sign a checkpoint over the whole log now; the latest one if nothing was added since,
    None for an empty log."""
    return _checkpoint(engine, settings, clock, None, None, force=True)


def _due(
    size: int, last: Checkpoint | None, at: datetime, every: int | None, secs: float | None
) -> bool:
    grown = size - (last.tree_size if last else 0)
    if every and grown >= every:
        return True
    if secs is None:
        return False
    if last is None:
        return True
    signed_at = datetime.strptime(last.ts, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return (at - signed_at).total_seconds() >= secs


def _checkpoint(
    engine: Engine,
    settings: Settings,
    clock: Clock,
    every: int | None,
    seconds: float | None,
    *,
    force: bool,
) -> Checkpoint | None:
    key = load_or_create(key_path(settings))
    public = public_bytes(key)
    kid = key_id(public)
    origin = log_origin(settings)
    at = clock.now()
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    # Read without the write lock; only the final insert takes it, briefly.
    with LogReader.snapshot(engine) as reader:
        head = reader.head()
        if head is None:
            raise chain_broken(0)
        size, head_hash = head
        rows = reader.checkpoints()
        last = Checkpoint.from_row(rows[-1]) if rows else None
        if size < (last.tree_size if last else 0):
            raise chain_broken(size + 1)
        if size == (last.tree_size if last else 0) or not (
            force or _due(size, last, at, every, seconds)
        ):
            return last if force else None
        # Extend the compact range of the latest checkpoint we signed ourselves (if its stored
        # frontier reproduces its signed root), so only the records since are hashed; with no
        # such checkpoint (a new key), start once from leaf one.
        compact, prev = merkle.CompactRange(), GENESIS
        own = next((row for row in reversed(rows) if row[4] == kid), None)
        base = Checkpoint.from_row(own) if own is not None else None
        if own is not None and base is not None and base.problem() is None:
            candidate = stored_range(base, own[7])
            if candidate is not None:
                compact, prev = candidate, bytes.fromhex(base.head_hash)
        # Sign only a chain that links up: prev_hash by prev_hash, up to the head row.
        entries: list[bytes] = []
        expect = compact.size + 1
        for batch in reader.links(expect, size):
            for seq, stored_prev, digest in batch:
                if seq != expect or stored_prev != prev:
                    raise chain_broken(expect)
                entries.append(digest)
                prev = digest
                expect += 1
        if expect != size + 1 or prev != head_hash:
            raise chain_broken(expect)
    compact.extend(merkle.leaf_hashes(entries))
    root, stamp = compact.root(), ts_text(at)
    signature = key.sign(note.checkpoint_text(origin, size, root).encode())
    frontier = json.dumps([node.hex() for node in compact.nodes])
    values = {
        "tree_size": size,
        "ts": at,
        "root": root,
        "head_hash": prev,
        "key_id": kid,
        "public_key": public,
        "signature": signature,
        "frontier": frontier,
        "origin": origin,
    }
    # Queue with the appenders for SQLite's write lock (an OS file lock hands it over at
    # once; SQLite's busy handler slept up to 100 ms a try and delayed checkpoints by
    # seconds under a steady append load: bench/audit.py).
    turn = WriterTurn(engine)
    try:
        with turn, transaction(session_factory(engine)) as session:
            AuditRepository(session).add_checkpoint(values)
    finally:
        turn.close()
    made = (size, stamp, root.hex(), prev.hex(), kid, public.hex(), signature.hex(), origin)
    return Checkpoint(*made)


# --- inclusion proofs ------------------------------------------------------------------------


@dataclass(frozen=True)
class Proof:
    seq: int
    leaf_index: int
    tree_size: int
    entry_hash: str
    leaf_hash: str
    audit_path: list[str]
    root: str
    checkpoint: Checkpoint

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def synced_tree(session: Session, cp: Checkpoint, cache: TreeCache | None = None) -> TreeCache:
    """The tree cache brought up to the checkpoint's size from the log, and checked against
    its signed root (a log that no longer matches what it signed gives no proofs)."""
    cache = cache if cache is not None else TreeCache()
    if cache.size > cp.tree_size and cache.root(cp.tree_size).hex() != cp.root:
        cache.truncate()  # the cache is ahead and disagrees: it came from another log
    if cache.size < cp.tree_size:
        repo = AuditRepository(session)
        expect = cache.size + 1
        for lo in range(expect, cp.tree_size + 1, 50_000):
            rows = repo.hash_range(lo, min(lo + 49_999, cp.tree_size))
            for found, _ in rows:
                if found != expect:
                    raise chain_broken(expect)
                expect += 1
            cache.extend(merkle.leaf_hashes([digest for _, digest in rows]))
        if expect != cp.tree_size + 1:
            raise chain_broken(expect)
    if cache.root(cp.tree_size).hex() != cp.root:
        cache.truncate()
        raise chain_broken(1)
    return cache


def inclusion_proof(
    session: Session,
    seq: int,
    *,
    cache: TreeCache | None = None,
    checkpoint: Checkpoint | None = None,
) -> Proof:
    """RFC 6962 audit path for record `seq` against `checkpoint` (default: the latest)."""
    repo = AuditRepository(session)
    if checkpoint is None:
        row = repo.latest_checkpoint()
        checkpoint = Checkpoint.of(row) if row is not None else None
    if checkpoint is None or not 1 <= seq <= checkpoint.tree_size:
        raise NotFound(
            "bukti_audit_tidak_tersedia",
            f"Rekaman #{seq} belum tercakup checkpoint; jalankan `simpul audit checkpoint`.",
        )
    tree = synced_tree(session, checkpoint, cache)
    record = repo.record(seq)
    if record is None or merkle.leaf_hash(bytes(record.hash)) != tree.leaf(seq - 1):
        raise chain_broken(seq)
    return Proof(
        seq=seq,
        leaf_index=seq - 1,
        tree_size=checkpoint.tree_size,
        entry_hash=bytes(record.hash).hex(),
        leaf_hash=tree.leaf(seq - 1).hex(),
        audit_path=[node.hex() for node in tree.inclusion(seq - 1, checkpoint.tree_size)],
        root=checkpoint.root,
        checkpoint=checkpoint,
    )


def verify_proof(proof: Proof, trusted_key_ids: Collection[str] | None = None) -> bool:
    """The path leads from the entry to the root, and the checkpoint signed that root."""
    leaf = merkle.leaf_hash(bytes.fromhex(proof.entry_hash))
    path = [bytes.fromhex(node) for node in proof.audit_path]
    return (
        leaf.hex() == proof.leaf_hash
        and (proof.root, proof.tree_size) == (proof.checkpoint.root, proof.checkpoint.tree_size)
        and merkle.verify_inclusion(
            proof.leaf_index, proof.tree_size, leaf, path, bytes.fromhex(proof.root)
        )
        and proof.checkpoint.problem(trusted_key_ids) is None
    )
