"""What a node publishes about its log, and what it takes back from its witnesses.

The latest checkpoint as a C2SP signed note with the cosignatures stored beside it,
inclusion and consistency proofs against it, and the witnesses' cosignatures, each checked
against the verifier key the witness was registered with (docs/audit.md). Storage only
through the audit repository; the HTTP routes (simpul.oversight.api) decide who may ask.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from simpul.audit import note
from simpul.audit.models import AuditWitness
from simpul.audit.repository import AuditRepository
from simpul.audit.signing import Checkpoint, Proof, inclusion_proof, synced_tree
from simpul.audit.tree import TreeCache
from simpul.errors import Conflict, InvalidInput, NotFound, SimpulError
from simpul.kit.clock import Clock


def _no_checkpoint() -> NotFound:
    return NotFound(
        "checkpoint_belum_ada",
        "Log audit belum memiliki checkpoint bertanda tangan; coba lagi sebentar lagi.",
    )


def latest(session: Session) -> Checkpoint:
    """The latest checkpoint in the C2SP format (a v1 one is never published)."""
    row = AuditRepository(session).latest_checkpoint()
    if row is None or row.origin is None:
        raise _no_checkpoint()
    return Checkpoint.of(row)


def cosignature_lines(session: Session, tree_size: int) -> list[str]:
    return [c.line for c in AuditRepository(session).cosignatures(tree_size)]


def published_note(session: Session) -> str:
    """The latest checkpoint, signed by the node, with every cosignature it has so far."""
    cp = latest(session)
    return cp.signed_note(cosignature_lines(session, cp.tree_size))


@dataclass(frozen=True)
class Consistency:
    old: int
    new: int
    proof: list[bytes]
    checkpoint: Checkpoint  # the one at `new`


def consistency(session: Session, cache: TreeCache, old: int, new: int | None) -> Consistency:
    """RFC 9162 consistency proof from size `old` to the checkpoint at `new` (default: the
    latest). `new` must be a checkpoint's size: that is the root the witness holds."""
    repo = AuditRepository(session)
    if new is None:
        cp = latest(session)
    else:
        row = repo.checkpoint_at(new)
        if row is None or row.origin is None:
            raise NotFound("checkpoint_tidak_ada", f"Tidak ada checkpoint berukuran {new}.")
        cp = Checkpoint.of(row)
    if not 0 <= old <= cp.tree_size:
        raise InvalidInput(
            "ukuran_pohon_tidak_valid",
            f"Ukuran lama harus antara 0 dan {cp.tree_size}; diminta {old}.",
        )
    tree = synced_tree(session, cp, cache)
    return Consistency(old, cp.tree_size, tree.consistency(old, cp.tree_size), cp)


def inclusion(session: Session, cache: TreeCache, seq: int, size: int | None) -> Proof:
    """Inclusion proof for record `seq` against the checkpoint at `size` (default: latest)."""
    checkpoint = None
    if size is not None:
        row = AuditRepository(session).checkpoint_at(size)
        if row is None or row.origin is None:
            raise NotFound("checkpoint_tidak_ada", f"Tidak ada checkpoint berukuran {size}.")
        checkpoint = Checkpoint.of(row)
    return inclusion_proof(session, seq, cache=cache, checkpoint=checkpoint)


def latest_cosigned(session: Session) -> Checkpoint | None:
    row = AuditRepository(session).latest_cosigned()
    return Checkpoint.of(row) if row is not None and row.origin is not None else None


# --- witnesses -------------------------------------------------------------------------------


def _bad_cosignature(detail: str) -> SimpulError:
    return SimpulError("kosignatur_tidak_sah", detail, status=422)


def accept_cosignature(
    session: Session, clock: Clock, account: str, tree_size: int, line: str
) -> AuditWitness:
    """Store a witness's cosignature of the checkpoint at `tree_size`, once it verifies
    against the key registered for that witness, which must belong to `account`."""
    repo = AuditRepository(session)
    try:
        (sig,) = note.parse_signature_lines(line if line.endswith("\n") else line + "\n")
    except ValueError as exc:
        raise _bad_cosignature(f"Baris kosignatur tidak terbaca: {exc}.") from None
    witness = repo.witness(sig.name)
    if witness is None or witness.removed_at is not None or witness.account != account:
        raise SimpulError(
            "saksi_tidak_terdaftar",
            f"Saksi {sig.name!r} tidak terdaftar untuk akun ini di simpul ini.",
            status=403,
        )
    row = repo.checkpoint_at(tree_size)
    if row is None or row.origin is None:
        raise NotFound("checkpoint_tidak_ada", f"Tidak ada checkpoint berukuran {tree_size}.")
    verifier = note.parse_verifier_key(witness.verifier_key)
    stamp = note.verify_cosignature(Checkpoint.of(row).text(), sig, verifier)
    if stamp is None:
        raise _bad_cosignature("Kosignatur tidak sah untuk checkpoint ini dan kunci saksi.")
    repo.add_cosignature(
        {
            "tree_size": tree_size,
            "witness": sig.name,
            "timestamp": stamp,
            "line": sig.line,
            "received_at": clock.now(),
        }
    )
    return witness


def add_witness(
    session: Session, at: datetime, name: str, verifier_key: str, account: str, institution: str
) -> AuditWitness:
    """Register a witness by its cosignature/v1 verifier key (simpul.governance.actions)."""
    try:
        verifier = note.parse_verifier_key(verifier_key.strip())
    except ValueError as exc:
        raise InvalidInput("kunci_saksi_tidak_valid", f"Kunci saksi tidak valid: {exc}.") from None
    if verifier.alg != note.ALG_COSIGNATURE_V1:
        raise InvalidInput(
            "kunci_saksi_tidak_valid", "Kunci saksi harus kunci cosignature/v1 (jenis 0x04)."
        )
    if verifier.name != name:
        raise InvalidInput(
            "kunci_saksi_tidak_valid", f"Kunci itu bernama {verifier.name!r}, bukan {name!r}."
        )
    repo = AuditRepository(session)
    found = repo.witness(name)
    if found is not None and found.removed_at is None:
        raise Conflict("saksi_sudah_terdaftar", f"Saksi {name!r} sudah terdaftar.")
    if found is not None:  # registered again after removal: the new key and account
        found.verifier_key, found.account, found.institution = (
            verifier_key.strip(), account, institution)  # fmt: skip
        found.added_at, found.removed_at = at, None
        return found
    witness = AuditWitness(
        name=name, verifier_key=verifier_key.strip(), account=account,
        institution=institution, added_at=at,
    )  # fmt: skip
    repo.add_witness(witness)
    return witness


def remove_witness(session: Session, at: datetime, name: str) -> AuditWitness:
    found = AuditRepository(session).witness(name)
    if found is None or found.removed_at is not None:
        raise NotFound("saksi_tidak_ditemukan", f"Saksi {name!r} tidak terdaftar.")
    found.removed_at = at
    return found


def witnesses(session: Session, *, current: bool = True) -> list[AuditWitness]:
    return AuditRepository(session).witnesses(current=current)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- per-person proofs -----------------------------------------------------------------------


@dataclass(frozen=True)
class EntryProof:
    """An entry of a person's history proven included in a checkpoint, and who vouched."""

    seq: int
    tree_size: int
    leaf_hash: str  # hex
    audit_path: list[str]  # base64, leaf to root
    checkpoint: str  # the C2SP checkpoint text
    witnesses: list[str]  # witnesses whose cosignature of that checkpoint verifies
    verified: bool  # the path leads to the signed root, and the log signature holds

    def to_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq, "ukuran_pohon": self.tree_size, "hash_daun": self.leaf_hash,
            "jalur": self.audit_path, "checkpoint": self.checkpoint, "saksi": self.witnesses,
            "terverifikasi": self.verified,
        }  # fmt: skip


def _vouching(session: Session, cp: Checkpoint) -> list[str]:
    keys = {w.name: w.verifier_key for w in AuditRepository(session).witnesses(current=False)}
    names = []
    for row in AuditRepository(session).cosignatures(cp.tree_size):
        try:
            (sig,) = note.parse_signature_lines(row.line)
            verifier = note.parse_verifier_key(keys[row.witness])
        except (ValueError, KeyError):
            continue
        if note.verify_cosignature(cp.text(), sig, verifier) is not None:
            names.append(row.witness)
    return names


def prove_entries(
    session: Session, cache: TreeCache, seqs: list[int], trusted: set[str] | None
) -> dict[int, EntryProof]:
    """Inclusion proofs for records `seqs` against the latest cosigned checkpoint, or the
    latest checkpoint for records newer than that (no witness yet: `witnesses` empty).
    Each proof is checked here as a reader would check it."""
    from simpul.audit import merkle

    out: dict[int, EntryProof] = {}
    if not seqs:
        return out
    cosigned = latest_cosigned(session)
    try:
        newest = latest(session)
    except NotFound:
        return out
    vouched = _vouching(session, cosigned) if cosigned is not None else []
    for seq in sorted(set(seqs)):
        cp = cosigned if cosigned is not None and seq <= cosigned.tree_size else newest
        if seq > cp.tree_size:
            continue  # not in any checkpoint yet (signed within a second)
        proof = inclusion_proof(session, seq, cache=cache, checkpoint=cp)
        leaf, path = bytes.fromhex(proof.leaf_hash), [bytes.fromhex(h) for h in proof.audit_path]
        ok = (
            merkle.verify_inclusion(seq - 1, cp.tree_size, leaf, path, bytes.fromhex(cp.root))
            and cp.problem(trusted) is None
        )
        out[seq] = EntryProof(
            seq=seq, tree_size=cp.tree_size, leaf_hash=proof.leaf_hash,
            audit_path=[b64(node) for node in path], checkpoint=cp.text(),
            witnesses=vouched if cp is cosigned else [], verified=ok,
        )  # fmt: skip
    return out
