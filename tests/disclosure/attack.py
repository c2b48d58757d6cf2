"""An independent attacker: from released tables alone (values, suppressed cells, the
additive structure of totals and regional subtotals) it bounds every suppressed cell with
linear programming. A cell is recovered when its lower and upper bound meet."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from simpul.disclosure.variables import REGION, TOTAL

REGION_LENGTHS = (2, 4, 6, 10)
Key = tuple[tuple[str, str], ...]  # ((dimension, label), …) sorted by dimension


def _parent(dim: str, label: str) -> str | None:
    if label == TOTAL:
        return None
    if dim != REGION:
        return TOTAL
    shorter = [n for n in REGION_LENGTHS if n < len(label)]
    return label[: shorter[-1]] if shorter else TOTAL


def primary_keys(
    rows: Iterable[dict[str, Any]], dims: tuple[str, ...], reasons: set[str] | None = None
) -> set[Key]:
    """Keys (over `dims`) of the primary-suppressed cells of one release."""
    return {
        tuple(sorted((d, str(row[d])) for d in dims))
        for row in rows
        if row["status"] == "ditekan_primer" and (reasons is None or row["alasan"] in reasons)
    }


def cells_of(
    rows: Iterable[dict[str, Any]], dims: tuple[str, ...], field: str = "jumlah"
) -> dict[Key, float | None]:
    """Released cells keyed over the union of all dimensions (absent dimension = total)."""
    out: dict[Key, float | None] = {}
    for row in rows:
        key = tuple(sorted((d, str(row[d])) for d in dims))
        out[key] = row[field]
    return out


def normalise(key: Key, all_dims: tuple[str, ...]) -> Key:
    full = dict(key)
    return tuple((d, full.get(d, TOTAL)) for d in all_dims)


def bounds(
    releases: list[tuple[tuple[str, ...], list[dict[str, Any]]]],
    only: set[Key] | None = None,
    field: str = "jumlah",
) -> dict[Key, tuple[float, float]]:
    """Bounds of the suppressed cells (all, or those in `only`, keys over the union of the
    releases' dimensions) given all releases together; `field` is the released value
    attacked (`jumlah` counts, `jumlah_nilai` sums)."""
    all_dims = tuple(sorted({d for dims, _ in releases for d in dims}))
    cells: dict[Key, float | None] = {}
    for dims, rows in releases:
        for key, value in cells_of(rows, dims, field).items():
            full = dict(key)
            norm = tuple((d, full.get(d, TOTAL)) for d in all_dims)
            prev = cells.get(norm, "absent")
            if prev == "absent" or prev is None:
                cells[norm] = value
    # children of each cell along each dimension, per release (a release knows all its cells)
    unknown = sorted(k for k, v in cells.items() if v is None)
    col = {k: i for i, k in enumerate(unknown)}
    rows_i: list[int] = []
    cols_i: list[int] = []
    vals: list[float] = []
    rhs: list[float] = []
    eq = 0
    for dims, rows in releases:
        rel = cells_of(rows, dims, field)
        rel_norm = {tuple((d, dict(k).get(d, TOTAL)) for d in all_dims) for k in rel}
        groups: dict[tuple[Key, str], list[Key]] = {}
        for key in rel_norm:
            for pos, (d, label) in enumerate(key):
                par = _parent(d, label)
                if par is None:
                    continue
                pkey = (*key[:pos], (d, par), *key[pos + 1 :])
                if pkey in rel_norm:
                    groups.setdefault((pkey, d), []).append(key)
        for (pkey, _d), kids in groups.items():
            terms = [(pkey, 1.0)] + [(k, -1.0) for k in kids]
            const = 0.0
            used = False
            for k, coef in terms:
                v = cells[k]
                if v is None:
                    rows_i.append(eq)
                    cols_i.append(col[k])
                    vals.append(coef)
                    used = True
                else:
                    const -= coef * v
            if used:
                rhs.append(const)
                eq += 1
    out: dict[Key, tuple[float, float]] = {}
    if not unknown:
        return out
    a = coo_matrix((vals, (rows_i, cols_i)), shape=(eq, len(unknown))).tocsr()
    b = np.array(rhs)
    for k, j in col.items():
        if only is not None and k not in only:
            continue
        c = np.zeros(len(unknown))
        c[j] = 1.0
        lo = linprog(c, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        hi = linprog(-c, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        assert lo.status == 0 and hi.status in (0, 3), (lo.message, hi.message)
        out[k] = (float(lo.fun), float(-hi.fun) if hi.status == 0 else float("inf"))
    return out
