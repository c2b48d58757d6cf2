"""Fellegi–Sunter linkage of two small tables (up to ~10,000 × 10,000) without blocking.

Every field of every pair is compared at once with rapidfuzz's `cdist` (C, all cores),
each similarity is cut into levels (agree / close / disagree / missing), and the weights
come from the data in two passes: u from all pairs (almost all are non-matches), m from
the mutual best pairs of a first pass with prior weights. A one-to-one assignment (mutual
best above the threshold) gives the links. Used for FEBRL4-style benchmarks and small
lists; the registry-scale pipeline is `simpul.matching.engine`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

LEVELS = 4  # 0 agree, 1 close, 2 disagree, 3 missing


@dataclass(frozen=True)
class Field:
    name: str
    kind: str = "teks"  # teks: Indel ratio; kode: edit distance; sama: exact only
    close: int = 85  # teks: ratio (0–100) counted as close; kode: edits counted as close


def _missing(level: np.ndarray, left: Sequence[str], right: Sequence[str]) -> np.ndarray:
    level[np.array([not v for v in left]), :] = 3
    level[:, np.array([not v for v in right])] = 3
    return level


def _levels(left: Sequence[str], right: Sequence[str], spec: Field) -> np.ndarray:
    if spec.kind == "sama":
        codes: dict[str, int] = {}
        cl = np.array([codes.setdefault(v, len(codes)) for v in left], dtype=np.int32)
        cr = np.array([codes.setdefault(v, len(codes)) for v in right], dtype=np.int32)
        level = (cl[:, None] != cr[None, :]).view(np.uint8) * np.uint8(2)
        return _missing(level, left, right)
    if spec.kind == "kode":
        dist = process.cdist(
            left, right, scorer=Levenshtein.distance, dtype=np.uint8, workers=-1,
            score_cutoff=spec.close + 1,
        )  # fmt: skip
        level = np.full(dist.shape, 2, dtype=np.uint8)
        level[dist <= spec.close] = 1
        level[dist == 0] = 0
        return _missing(level, left, right)
    sim = process.cdist(left, right, scorer=fuzz.ratio, dtype=np.uint8, workers=-1)
    level = np.full(sim.shape, 2, dtype=np.uint8)
    level[sim >= spec.close] = 1
    level[sim == 100] = 0
    return _missing(level, left, right)


def _weights(levels: list[np.ndarray], matched: np.ndarray | None) -> list[np.ndarray]:
    """log2(m/u) per field and level; missing weighs 0."""
    out: list[np.ndarray] = []
    for lv in levels:
        u = np.array([np.count_nonzero(lv == k) for k in range(3)], dtype=float) + 1.0
        u /= u.sum()
        if matched is None:
            m = np.array([0.9, 0.08, 0.02])
        else:
            m = np.bincount(lv[matched[:, 0], matched[:, 1]], minlength=LEVELS)[:3] + 1.0
            m /= m.sum()
        out.append(np.append(np.log2(m / u), 0.0).astype(np.float32))
    return out


def _score(levels: list[np.ndarray], weights: list[np.ndarray]) -> np.ndarray:
    """Total weight per pair in quarter bits (int8 tables, int16 sums: a quarter of the
    memory traffic of float32, and exact enough to rank pairs)."""
    total = np.zeros(levels[0].shape, dtype=np.int16)
    for lv, w in zip(levels, weights, strict=True):
        table = np.clip(np.round(w * 4), -127, 127).astype(np.int8)
        np.add(total, table[lv], out=total, casting="unsafe")
    return total


def _mutual_best(score: np.ndarray, threshold: float) -> np.ndarray:
    best_r = score.argmax(axis=1)
    best_l = score.argmax(axis=0)
    rows = np.arange(score.shape[0])
    mutual = best_l[best_r] == rows
    keep = mutual & (score[rows, best_r] >= threshold)
    return np.stack([rows[keep], best_r[keep]], axis=1)


def link(
    left: dict[str, Sequence[str]],
    right: dict[str, Sequence[str]],
    fields: Sequence[Field],
    *,
    threshold: float = 0.0,
) -> np.ndarray:
    """Pairs (index in left, index in right), one-to-one, whose total weight ≥ threshold
    (a weight of 0 is even odds before the prior)."""
    levels = [_levels(left[f.name], right[f.name], f) for f in fields]
    score = _score(levels, _weights(levels, None))
    first = _mutual_best(score, threshold * 4)
    # Second pass, with m from the first pass's links, only over each row's and each
    # column's best candidate of the first pass (the full matrix again adds nothing).
    rows = np.arange(score.shape[0])
    cols = np.arange(score.shape[1])
    cand = np.unique(
        np.concatenate([
            np.stack([rows, score.argmax(axis=1)], axis=1),
            np.stack([score.argmax(axis=0), cols], axis=1),
        ]),
        axis=0,
    )  # fmt: skip
    del score
    weights = _weights(levels, first)
    pair_score = np.zeros(len(cand), dtype=np.float32)
    for lv, w in zip(levels, weights, strict=True):
        pair_score += w[lv[cand[:, 0], cand[:, 1]]]
    order = np.argsort(-pair_score, kind="stable")
    used_l: set[int] = set()
    used_r: set[int] = set()
    out: list[tuple[int, int]] = []
    for k in order.tolist():  # greedy one-to-one, best first
        if pair_score[k] < threshold:
            break
        i, j = int(cand[k, 0]), int(cand[k, 1])
        if i in used_l or j in used_r:
            continue
        used_l.add(i)
        used_r.add(j)
        out.append((i, j))
    return np.array(sorted(out), dtype=np.int64).reshape(-1, 2)
