"""Verification of the whole log: every record re-hashed, the chain, the head, the subject
rows, and every stored checkpoint's signature and root (in worker processes for a large log).
`simpul.audit.anchor` adds an outside anchor (a witness's cosigned checkpoint) on top."""

from __future__ import annotations

import gc
import os
import pickle
import subprocess
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from simpul.audit import merkle
from simpul.audit.hashing import HASH_PREFIX, _chunks, _sha256
from simpul.audit.repository import GENESIS, RECORD_FIELDS, LogReader
from simpul.audit.signing import Checkpoint, stored_range
from simpul.errors import SimpulError

PARALLEL_MIN = 200_000  # below this, starting worker processes costs more than it saves
_COUNT_AT = 2 + RECORD_FIELDS.index("subject_count")  # in a (seq, ts, *fields, …) row


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records_checked: int
    first_bad_seq: int | None = None
    reason_code: str | None = None
    detail: str | None = None
    checkpoints_checked: int = 0
    bad_checkpoint: int | None = None  # tree size of the checkpoint at fault, if any
    problems: int = 0  # distinct problems found (only the first is described)
    # Merkle roots (hex) of the log at the sizes asked for (`roots_at`), as re-hashed.
    roots: dict[int, str] = field(default_factory=dict)
    witness: str | None = None  # the witness whose checkpoint was the anchor, if any


@dataclass
class _RangeReport:
    lo: int
    hi: int
    checked: int = 0
    first_prev: bytes | None = None
    last_hash: bytes | None = None
    problem: tuple[int, str, str] | None = None  # (seq, reason code, detail)
    pieces: list[tuple[int, list[tuple[int, bytes]]]] = field(default_factory=list)


_CHANGED = "prev_hash tidak sama dengan hash rekaman sebelumnya (diubah, dihapus atau ditukar)."


def _scan_range(
    reader: LogReader, lo: int, hi: int, cuts: Sequence[int], expect_prev: bytes | None
) -> _RangeReport:
    # Millions of short-lived row tuples would trigger the cycle collector over and over,
    # for a tenth of the run time; none of them form cycles.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _scan(reader, lo, hi, cuts, expect_prev)
    finally:
        if enabled:
            gc.enable()


def _scan(
    reader: LogReader, lo: int, hi: int, cuts: Sequence[int], expect_prev: bytes | None
) -> _RangeReport:
    """Re-hash records lo..hi (the hot loop: keep it lean); collect Merkle subtree roots up to
    the last cut. `expect_prev` None trusts the first row's prev_hash (checked by the caller)."""
    report = _RangeReport(lo, hi)
    leaf_until, leaves = (cuts[-1] if cuts else 0), []
    join, sha, encode, prefix = "".join, _sha256, _chunks, HASH_PREFIX
    prev, last_prev, expect = expect_prev, None, lo

    def fail(seq: int, reason: str, detail: str) -> _RangeReport:
        report.problem, report.checked = (seq, reason, detail), seq - lo
        return report

    for batch in reader.entries(lo, hi):
        for row, subs in batch:
            seq, stored_prev = row[0], row[-2]
            if seq != expect:
                return fail(expect, "urutan_terputus", f"Rekaman #{expect} hilang (lalu #{seq}).")
            if prev is None:
                if not isinstance(stored_prev, bytes) or len(stored_prev) != 32:
                    return fail(seq, "rantai_terputus", "prev_hash tidak sah.")
                prev = report.first_prev = stored_prev
            if subs is None or len(subs) != row[_COUNT_AT]:
                return fail(seq, "subjek_tidak_cocok", "Baris subjek tidak sesuai rekaman.")
            if stored_prev != prev:
                if stored_prev == last_prev:  # two records claim the same predecessor
                    return fail(seq - 1, "rekaman_disisipkan", f"Rekaman #{seq - 1} disisipkan.")
                return fail(seq, "rantai_terputus", _CHANGED)
            try:
                text = join(encode(row[:-2] + subs, 0))
            except (TypeError, ValueError):
                return fail(seq, "nilai_tidak_valid", "Ada kolom bernilai tidak sah.")
            digest = sha(prefix + prev + text.encode()).digest()
            if digest != row[-1]:
                return fail(seq, "hash_tidak_cocok", "Isi rekaman tidak cocok dengan hash-nya.")
            if seq <= leaf_until:
                leaves.append(sha(b"\x00" + digest).digest())
            last_prev, prev, expect = prev, digest, expect + 1
    if expect != hi + 1:
        return fail(expect, "rekaman_hilang", f"Rekaman #{expect} hilang.")
    report.checked, report.last_hash = hi - lo + 1, prev
    report.pieces = merkle.range_pieces(lo - 1, leaves, cuts) if cuts else []
    return report


def _range_worker() -> None:
    """Entry point of a verification worker process: arguments in on stdin, report out on
    stdout (both pickled; the parent process is the only party on either end)."""
    url, snapshot, lo, hi, cuts = pickle.loads(sys.stdin.buffer.read())  # noqa: S301
    with LogReader.from_url(url, snapshot) as reader:
        report = _scan_range(reader, lo, hi, cuts, None)
    sys.stdout.buffer.write(pickle.dumps(report))


def _start_worker(args: tuple[Any, ...]) -> subprocess.Popen[bytes]:
    # A fresh interpreter rather than multiprocessing: no fork of a threaded process, and no
    # re-import of the caller's __main__ (which spawn requires to be import-safe).
    src = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    code = "from simpul.audit.verification import _range_worker; _range_worker()"
    pipe = subprocess.PIPE
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=pipe, stdout=pipe, env=env)  # noqa: S603
    assert proc.stdin is not None
    proc.stdin.write(pickle.dumps(args))
    proc.stdin.close()
    return proc


def _finish_worker(proc: subprocess.Popen[bytes]) -> _RangeReport:
    assert proc.stdout is not None
    out = proc.stdout.read()
    report = pickle.loads(out) if proc.wait() == 0 else None  # noqa: S301
    if not isinstance(report, _RangeReport):
        raise SimpulError("verifikasi_audit_gagal", "Proses pemeriksa log audit gagal.", 500)
    return report


def _run_ranges(
    reader: LogReader, engine: Engine | None, bounds: list[tuple[int, int]], sizes: list[int]
) -> list[_RangeReport]:
    def cuts(lo: int, hi: int) -> list[int]:
        # Checkpoint sizes in the range, and its end when a later checkpoint needs its leaves.
        inside = [s for s in sizes if lo <= s <= hi]
        return [*inside, hi] if sizes and sizes[-1] > hi and hi not in inside else inside

    if engine is None or len(bounds) < 2:
        return [_scan_range(reader, lo, hi, cuts(lo, hi), GENESIS) for lo, hi in bounds]
    url = engine.url.render_as_string(hide_password=False)
    snapshot = reader.export_snapshot()  # PostgreSQL: every worker reads the same snapshot
    procs = [_start_worker((url, snapshot, lo, hi, cuts(lo, hi))) for lo, hi in bounds[1:]]
    try:
        first = _scan_range(reader, *bounds[0], cuts(*bounds[0]), GENESIS)
        return [first, *(_finish_worker(proc) for proc in procs)]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def verify(
    source: Engine | Session,
    *,
    trusted_key_ids: Collection[str] | None = None,
    workers: int | None = None,
    roots_at: Collection[int] = (),
) -> VerifyResult:
    """Check the whole log: every record's hash, seq contiguity from 1, prev_hash links, the
    head row, subject rows, and every checkpoint's key, signature, root and head hash.

    With an Engine the check reads one snapshot without blocking writers, and large logs are
    split across `workers` processes (default: one per CPU, up to 4, from PARALLEL_MIN
    records). With a Session it runs in that session's transaction and sees its changes.
    """
    if isinstance(source, Session):
        return _verify(LogReader.of_session(source), None, trusted_key_ids, 1, roots_at)
    with LogReader.snapshot(source) as reader:
        return _verify(reader, source, trusted_key_ids, workers, roots_at)


Problem = tuple[int, int, str, str, int | None]  # (rank, seq, reason, detail, checkpoint)


def _verify(
    reader: LogReader,
    engine: Engine | None,
    trusted: Collection[str] | None,
    workers: int | None,
    roots_at: Collection[int] = (),
) -> VerifyResult:
    head = reader.head()
    if head is None or reader.head_rows() != 1:
        return VerifyResult(False, 0, None, "kepala_tidak_cocok", "Baris kepala log tidak sah.")
    size, head_hash = head
    # Rank 0: a precisely located record problem; rank 1: a checkpoint that cannot vouch.
    problems: list[Problem] = []
    good: dict[int, Checkpoint] = {}
    for row in reader.checkpoints():
        cp = Checkpoint.from_row(row)
        reason = cp.problem(trusted)
        if reason is None and stored_range(cp, row[7]) is None:
            reason = "checkpoint_frontier_tidak_cocok"
        if reason is not None:
            problems.append((1, cp.tree_size, reason, "Checkpoint tidak sah.", cp.tree_size))
        elif cp.tree_size > size:
            gone = f"Checkpoint #{cp.tree_size} mencakup rekaman yang tidak ada lagi."
            problems.append((0, size + 1, "rekaman_hilang", gone, cp.tree_size))
        elif cp.tree_size >= 1:
            good[cp.tree_size] = cp
    if (outside := reader.first_record_outside(size)) is not None:
        extra = f"Rekaman di luar urutan 1..{size} yang tercatat di kepala log."
        problems.append((0, _as_seq(outside), "rekaman_tak_terdaftar", extra, None))
    if (orphan := reader.first_orphan_subject(size)) is not None:
        orphaned = "Ada baris subjek tanpa rekaman."
        problems.append((0, _as_seq(orphan), "subjek_tidak_cocok", orphaned, None))
    if engine is None:
        parts = 1
    elif workers is None:
        parts = min(os.cpu_count() or 1, 4) if size >= PARALLEL_MIN else 1
    else:
        parts = workers
    wanted = {s for s in roots_at if 1 <= s <= size}
    reports = _run_ranges(reader, engine, _split(size, parts), sorted(set(good) | wanted))
    for before, rep in zip([None, *reports], reports, strict=False):
        if rep.problem is not None:
            problems.append((0, *rep.problem, None))
        elif before is not None and before.problem is None and rep.first_prev != before.last_hash:
            problems.append((0, rep.lo, "rantai_terputus", _CHANGED, None))
    tail = reports[-1].last_hash if reports else GENESIS
    # (With records beyond the head, that is the finding; the head hash then lags too.)
    if outside is None and all(rep.problem is None for rep in reports) and tail != head_hash:
        stale = "Hash di kepala log tidak sama dengan rekaman terakhir."
        problems.append((0, size, "kepala_tidak_cocok", stale, None))
    roots: dict[int, str] = dict.fromkeys(wanted, "")
    checked_cps = _check_roots(reader, reports, good, problems, roots)
    roots = {k: v for k, v in roots.items() if v}
    checked = sum(rep.checked for rep in reports)
    if not problems:
        return VerifyResult(True, checked, checkpoints_checked=checked_cps, roots=roots)
    _, seq, reason, detail, cp_size = min(problems, key=lambda p: (p[0], p[1]))
    return VerifyResult(
        False, checked, seq, reason, detail, checked_cps, cp_size, len(problems), roots
    )


def _as_seq(value: object) -> int:
    return int(value) if isinstance(value, int | float) else -1


def _split(total: int, parts: int) -> list[tuple[int, int]]:
    if total < 1:
        return []
    step = -(-total // max(1, min(parts, total)))
    return [(lo, min(lo + step - 1, total)) for lo in range(1, total + 1, step)]


def _check_roots(
    reader: LogReader,
    reports: list[_RangeReport],
    good: dict[int, Checkpoint],
    out: list[Problem],
    roots: dict[int, str],
) -> int:
    """Stitch the ranges' subtree roots in order and compare each checkpoint's signed root."""
    compact = merkle.CompactRange()
    stored = reader.hashes_at(sorted(good))
    checked, previous = 0, 0
    for rep in reports:
        if rep.problem is not None:
            break
        for cut, blocks in rep.pieces:
            for height, node in blocks:
                compact.push(node, height)
            if cut in roots:
                roots[cut] = compact.root().hex()
            cp = good.get(cut)
            if cp is None:  # a range boundary or an asked-for size, not a checkpoint
                continue
            if compact.root().hex() != cp.root or stored.get(cut, b"").hex() != cp.head_hash:
                what = f"Rekaman #{previous + 1}–#{cut} berbeda dari yang ditandatangani."
                out.append((1, previous + 1, "checkpoint_tidak_cocok", what, cut))
            checked, previous = checked + 1, cut
    return checked
