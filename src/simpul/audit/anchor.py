"""Verifying the log against an anchor held outside the node (docs/audit.md).

The node's own checks (hash chain, head, checkpoints) catch an edit that is not carried
through; someone with the database and the node's key can rewrite the log and re-sign it.
A checkpoint a witness cosigned cannot be rewritten: the log must still reach its size and
reproduce its root, the node must still hold it, every cosignature the node stores must be
a registered witness's, and records older than the allowed lag must be covered by a
cosigned checkpoint.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from simpul.audit import note, service
from simpul.audit.repository import LogReader
from simpul.audit.signing import Checkpoint
from simpul.audit.witness import WitnessState
from simpul.errors import InvalidInput


@dataclass(frozen=True)
class Anchor:
    origin: str
    size: int
    root: bytes
    text: str  # the checkpoint body
    witness: str
    log_signed: note.Note  # the note as the log signed it (its signature is checked too)


def from_witness(folder: Path, origin: str) -> Anchor:
    """The last checkpoint the witness in `folder` cosigned for log `origin`."""
    state = WitnessState(folder)
    found = state.followed(origin)
    if found is None or found.note is None:
        raise InvalidInput(
            "saksi_tanpa_checkpoint",
            f"Saksi {state.name} belum menyaksikan log {origin}; belum ada jangkar.",
        )
    parsed = note.parse_note(found.note)
    body = note.parse_checkpoint(parsed.text)
    return Anchor(origin, body.size, body.root, parsed.text, state.name, parsed)


def from_note(text: str, witness_keys: Sequence[str]) -> Anchor:
    """A cosigned checkpoint from a file: it must carry a valid cosignature of one of the
    given witness keys (cosignature/v1 verifier keys)."""
    try:
        parsed = note.parse_note(text)
        body = note.parse_checkpoint(parsed.text)
        verifiers = [note.parse_verifier_key(k.strip()) for k in witness_keys]
        if any(v.alg != note.ALG_COSIGNATURE_V1 for v in verifiers):
            raise ValueError("a witness key is a cosignature/v1 key (type 0x04)")
    except ValueError as exc:
        raise InvalidInput(
            "jangkar_tidak_terbaca", f"Checkpoint saksi tak terbaca: {exc}."
        ) from None
    for sig in parsed.signatures:
        for v in verifiers:
            if (sig.name, sig.key_hash) == (v.name, v.key_hash) and note.verify_cosignature(
                parsed.text, sig, v
            ) is not None:
                return Anchor(body.origin, body.size, body.root, parsed.text, v.name, parsed)
    raise InvalidInput(
        "jangkar_tanpa_kosignatur",
        "Checkpoint itu tidak membawa kosignatur sah dari kunci saksi yang diberikan.",
    )


def from_url(url: str, origin: str, witness_keys: Sequence[str]) -> Anchor:
    """The checkpoint a witness serves (`simpul audit witness run --listen-port`); it is
    trusted only through the cosignature of one of `witness_keys`."""
    from urllib.parse import quote

    import httpx

    try:
        got = httpx.get(f"{url.rstrip('/')}/checkpoint/{quote(origin, safe='')}", timeout=10)
    except httpx.HTTPError as exc:
        raise InvalidInput(
            "saksi_tidak_terjangkau", f"Saksi di {url} tidak terjangkau ({type(exc).__name__})."
        ) from None
    if got.status_code != 200:
        raise InvalidInput("saksi_tanpa_checkpoint", f"Saksi di {url} belum menyaksikan {origin}.")
    return from_note(got.text, witness_keys)


Problem = tuple[int, str, str, int | None]  # (seq, reason, detail, checkpoint size)


def _cosigned(reader: LogReader, checkpoints: dict[int, Checkpoint]) -> tuple[int, list[Problem]]:
    """The largest size a registered witness validly cosigned, and every stored cosignature
    that does not verify (a forged or edited line, an unknown witness)."""
    keys = {name: note.parse_verifier_key(key) for name, key, _removed in reader.witnesses()}
    best, problems = 0, list[Problem]()
    for size, witness, _stamp, line in reader.cosignatures():
        cp = checkpoints.get(int(size))
        verifier = keys.get(str(witness))
        ok = False
        if cp is not None and cp.origin is not None and verifier is not None:
            try:
                (sig,) = note.parse_signature_lines(str(line))
            except ValueError:
                sig = None
            ok = sig is not None and note.verify_cosignature(cp.text(), sig, verifier) is not None
        if ok:
            best = max(best, int(size))
        else:
            what = f"Kosignatur saksi {witness} atas checkpoint #{size} tidak sah."
            problems.append((int(size), "kosignatur_tidak_sah", what, int(size)))
    return best, problems


def verify(
    engine: Engine,
    *,
    trusted_key_ids: Collection[str] | None,
    anchor: Anchor | None,
    lag_seconds: float,
    now: datetime,
    workers: int | None = None,
) -> service.VerifyResult:
    """`service.verify`, then the checks that need the outside anchor and the witnesses."""
    sizes = [anchor.size] if anchor is not None else []
    base = service.verify(engine, trusted_key_ids=trusted_key_ids, workers=workers, roots_at=sizes)
    problems: list[Problem] = []
    with LogReader.snapshot(engine) as reader:
        head = reader.head()
        size = head[0] if head else 0
        checkpoints = {cp.tree_size: cp for cp in map(Checkpoint.from_row, reader.checkpoints())}
        cosigned, bad = _cosigned(reader, checkpoints)
        problems.extend(bad)
        witnessed = bool(reader.witnesses())
        if anchor is not None:
            problems.extend(_against(anchor, size, checkpoints, base, trusted_key_ids))
            cosigned = max(cosigned, anchor.size if anchor.size <= size else 0)
        if (anchor is not None or witnessed) and size > cosigned:
            first = reader.record_ts(cosigned + 1)
            if first is not None and (now - first).total_seconds() > lag_seconds:
                what = (f"Rekaman #{cosigned + 1}–#{size} belum tercakup checkpoint yang "
                        f"dikosignatur saksi lebih dari {lag_seconds:.0f} detik.")  # fmt: skip
                problems.append((cosigned + 1, "rekaman_tanpa_kosignatur", what, None))
    witness = anchor.witness if anchor is not None else None
    if not problems:
        return replace(base, witness=witness)
    seq, reason, detail, cp = min(problems, key=lambda p: p[0])
    if not base.ok and (base.first_bad_seq or 0) <= seq:
        return replace(base, problems=base.problems + len(problems), witness=witness)
    return replace(
        base, ok=False, first_bad_seq=seq, reason_code=reason, detail=detail, bad_checkpoint=cp,
        problems=base.problems + len(problems), witness=witness,
    )  # fmt: skip


def _against(
    anchor: Anchor,
    size: int,
    checkpoints: dict[int, Checkpoint],
    base: service.VerifyResult,
    trusted: Collection[str] | None,
) -> list[Problem]:
    at = anchor.size
    who = f"saksi {anchor.witness}"
    stored = checkpoints.get(at)
    # The anchor must be this log's own signed checkpoint: the origin, and the log's
    # signature by a key the node trusts (its own, or one it rotated out).
    signed = stored is not None and stored.origin == anchor.origin and any(
        note.verify_note(anchor.log_signed, v.verifier())
        for v in checkpoints.values()
        if v.origin == anchor.origin and (trusted is None or v.key_id in trusted)
    )  # fmt: skip
    if size < at:
        what = f"Log hanya {size} rekaman; {who} menyaksikan checkpoint #{at}."
        return [(size + 1, "log_lebih_pendek_dari_saksi", what, at)]
    root = base.roots.get(at)
    if root is not None and root != anchor.root.hex():
        what = f"Rekaman #1–#{at} tidak menghasilkan akar checkpoint yang disaksikan {who}."
        return [(1, "log_tidak_konsisten_dengan_saksi", what, at)]
    if stored is None:
        what = f"Checkpoint #{at} yang disaksikan {who} tidak lagi tersimpan di simpul."
        return [(at, "checkpoint_saksi_hilang", what, at)]
    if stored.root != anchor.root.hex() or not signed:
        what = f"Checkpoint #{at} tersimpan berbeda dari yang disaksikan {who}."
        return [(at, "checkpoint_saksi_berbeda", what, at)]
    return []


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
