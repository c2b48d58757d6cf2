"""Aggregate tables over the Regsosek snapshot with primary and secondary suppression.

`build_table` is pure (a DuckDB connection and a source relation in, a table out): the
service layer decides access and audits; the benchmark calls it directly."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import duckdb
import numpy as np

from simpul.disclosure import cube as cb
from simpul.disclosure.rules import LENGTHS, REGION_LENGTHS, SdcRules, primary_reasons
from simpul.disclosure.variables import REGION, TOTAL, numeric, quote, variable
from simpul.errors import InvalidInput
from simpul.kit.numbers import angka
from simpul.registry.regions import load_regions

MAX_CELLS = 400_000


@dataclass(frozen=True)
class TableSpec:
    dimensions: tuple[str, ...]  # variable names; "wilayah" for the region
    region_level: str = "provinsi"
    region: str | None = None  # restrict the release to this region code (and below)
    variable: str | None = None  # numeric variable for mean and sum
    margins: bool = True  # release every margin and subtotal (they are protected anyway)

    def elements(self, today: date) -> frozenset[str]:
        out = {"kode_wilayah" if d == REGION else variable(d, today).element
               for d in self.dimensions}  # fmt: skip
        if self.variable:
            out.add(numeric(self.variable))
        return frozenset(out)


@dataclass
class Table:
    dimensions: tuple[str, ...]
    rows: list[dict[str, Any]]
    suppressed_primary: int
    suppressed_secondary: int
    cells: int
    fallback_witnesses: int
    rules: SdcRules
    notes: list[str] = field(default_factory=list)


def _region_expr(level: str, prefixes: tuple[str, ...]) -> str:
    """The row's region node: the requested level inside the prefixes; outside them, the
    first level at which the row leaves every prefix's path (siblings stay in the tree so
    that suppression choices equal those of a national query)."""
    full = REGION_LENGTHS[level]
    if not prefixes:
        return f"left(kode_wilayah, {full})"
    per_prefix = []
    for p in prefixes:
        parts = [
            f"WHEN left(kode_wilayah, {n}) <> {quote(p[:n])} THEN {n}"
            for n in LENGTHS
            if n <= len(p)
        ]
        per_prefix.append(f"CASE {' '.join(parts)} ELSE {full} END")
    depth = per_prefix[0] if len(per_prefix) == 1 else f"greatest({', '.join(per_prefix)})"
    return f"left(kode_wilayah, least({full}, {depth}))"


def _region_tree(codes: list[str], names: dict[str, str]) -> tuple[cb.Tree, dict[str, int]]:
    labels = [""]
    parent = [-1]
    depth = [0]
    index: dict[str, int] = {"": 0}
    for code in sorted(set(codes)):
        for d, n in enumerate(LENGTHS, start=1):
            if n > len(code):
                break
            part = code[:n]
            if part not in index:
                index[part] = len(labels)
                labels.append(part)
                parent.append(index[code[: LENGTHS[d - 2]]] if d > 1 else 0)
                depth.append(d)
    del names
    return cb.Tree(REGION, labels, parent, depth), index


def _flat_tree(
    name: str, values: list[str], order: tuple[str, ...]
) -> tuple[cb.Tree, dict[str, int]]:
    rank = {v: i for i, v in enumerate(order)}
    cats = sorted(set(values), key=lambda v: (rank.get(v, len(rank)), v))
    labels = ["", *cats]
    tree = cb.Tree(name, labels, [-1] + [0] * len(cats), [0] + [1] * len(cats))
    return tree, {v: i + 1 for i, v in enumerate(cats)}


def build_table(
    con: duckdb.DuckDBPyConnection,
    source: str,
    spec: TableSpec,
    rules: SdcRules,
    today: date,
    scope: tuple[str, ...] | None = None,
) -> Table:
    """Tabulate `source` (a relation name or SQL in parentheses) and protect the release."""
    if not spec.dimensions:
        raise InvalidInput("dimensi_kosong", "Pilih sedikitnya satu dimensi.")
    if len(set(spec.dimensions)) != len(spec.dimensions) or len(spec.dimensions) > 4:
        raise InvalidInput("dimensi_tidak_valid", "Dimensi harus berbeda, paling banyak empat.")
    if spec.region_level not in REGION_LENGTHS:
        raise InvalidInput("tingkat_wilayah_tidak_dikenal", "Tingkat wilayah tidak dikenal.")
    release = _release_prefixes(scope, spec.region)
    if spec.region is not None and REGION not in spec.dimensions:
        raise InvalidInput("wilayah_tanpa_dimensi", "Filter wilayah memerlukan dimensi wilayah.")
    exprs: list[str] = []
    for d in spec.dimensions:
        if d == REGION:
            exprs.append(_region_expr(spec.region_level, release))
        else:
            exprs.append(variable(d, today, rules.age_band).group_sql())
    magnitude = spec.variable is not None
    cols = ", ".join(f"{e} AS d{i}" for i, e in enumerate(exprs))
    if magnitude:
        val = numeric(spec.variable or "")
        measures = f"coalesce(sum(greatest({val}, 0)), 0) AS s, max(greatest({val}, 0), 2) AS top"
    else:
        measures = "0 AS s"
    sql = f"SELECT {cols}, count(*) AS n, {measures} FROM {source} GROUP BY ALL"
    res = con.execute(sql).fetchnumpy()
    n_rows = len(res["n"])
    if n_rows > MAX_CELLS:
        raise InvalidInput(
            "tabel_terlalu_besar",
            f"Tabel terlalu besar ({angka(n_rows)} sel); pilih tingkat wilayah lebih tinggi, "
            "filter wilayah, atau dimensi yang lebih sedikit.",
            status=413,
        )
    trees: list[cb.Tree] = []
    leaf = np.zeros((n_rows, len(spec.dimensions)), dtype=np.int64)
    for i, d in enumerate(spec.dimensions):
        raw = res[f"d{i}"]
        if d == REGION:
            values = [str(v) for v in raw]
            tree, idx = _region_tree(values, {})
        else:
            var = variable(d, today, rules.age_band)
            keys, inverse = np.unique(_keys(raw), return_inverse=True)
            labels = [var.label(None if k is _NULL else k) for k in keys.tolist()]
            values = [labels[j] for j in inverse.reshape(-1)]
            tree, idx = _flat_tree(d, labels, var.order)
        trees.append(tree)
        leaf[:, i] = [idx[v] for v in values]
    count = res["n"].astype(np.float64)
    if magnitude:
        tops = res["top"]
        top1 = np.array([float(t[0]) if len(t) > 0 else 0.0 for t in tops])
        top2 = np.array([float(t[1]) if len(t) > 1 else 0.0 for t in tops])
        total = np.asarray(res["s"], dtype=np.float64)
    else:
        top1 = top2 = total = np.zeros(n_rows)
    cube = cb.build_cube(trees, leaf, count, total, top1, top2)
    reasons = primary_reasons(
        np.array(cube.count), np.array(cube.total), np.array(cube.top1), np.array(cube.top2),
        rules, magnitude,
    )  # fmt: skip
    cube.primary = reasons
    cube.suppressed = [r is not None for r in reasons]
    cb.suppress(cube, magnitude)
    return _release(cube, spec, rules, release, magnitude)


_NULL = "\x00null"


def _keys(raw: Any) -> np.ndarray[Any, Any]:
    """Group keys as an object array with NULLs as a sentinel (masked arrays from DuckDB)."""
    if isinstance(raw, np.ma.MaskedArray):
        data = raw.data.astype(object)
        data[np.ma.getmaskarray(raw)] = _NULL
        return np.asarray(data, dtype=object)
    arr = np.asarray(raw, dtype=object)
    arr[[v is None for v in arr]] = _NULL
    return arr


def _release_prefixes(scope: tuple[str, ...] | None, region: str | None) -> tuple[str, ...]:
    if region is None:
        return tuple(scope or ())
    if not region.isdigit() or len(region) not in LENGTHS:
        raise InvalidInput("kode_wilayah_tidak_valid", "Kode wilayah harus 2, 4, 6 atau 10 digit.")
    if scope and not any(region.startswith(p) for p in scope):
        raise InvalidInput(
            "di_luar_cakupan_wilayah", "Wilayah di luar cakupan wilayah perjanjian.", status=403
        )
    return (region,)


def _visible(code: str, prefixes: tuple[str, ...]) -> bool:
    return not prefixes or any(code.startswith(p) for p in prefixes)


def _sig(value: float, digits: int = 3) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


@lru_cache(maxsize=1)
def _region_names() -> dict[str, str]:
    names = load_regions()
    return {**names.provinces, **names.regencies, **names.districts, **names.villages}


def _release(
    cube: cb.Cube, spec: TableSpec, rules: SdcRules, prefixes: tuple[str, ...], magnitude: bool
) -> Table:
    trees = cube.trees
    region_names = _region_names()
    region_dim = spec.dimensions.index(REGION) if REGION in spec.dimensions else -1
    finest = tuple(t.max_depth for t in trees)
    base = rules.rounding

    def shown_count(c: int) -> float:
        v = cube.count[c]
        return float(base * round(v / base)) if base else v

    rows: list[dict[str, Any]] = []
    primary = secondary = 0
    for c, key in enumerate(cube.nodes):
        if key[0] < 0:
            continue
        level = cube.level(c)
        if region_dim >= 0:
            code = trees[region_dim].labels[key[region_dim]]
            if prefixes and not _visible(code, prefixes):
                continue
        if not spec.margins and level != finest:
            continue
        sup = cube.suppressed[c]
        if sup:
            if cube.primary[c]:
                primary += 1
            else:
                secondary += 1
        row: dict[str, Any] = {}
        for i, (tree, node) in enumerate(zip(trees, key, strict=True)):
            label = tree.labels[node]
            if i == region_dim:
                row[spec.dimensions[i]] = label or TOTAL
                row["nama_wilayah"] = region_names.get(label, "INDONESIA" if not label else "")
            else:
                row[spec.dimensions[i]] = label or TOTAL
        row["status"] = (
            "aman" if not sup else ("ditekan_primer" if cube.primary[c] else "ditekan_sekunder")
        )
        if cube.primary[c] and sup:
            row["alasan"] = cube.primary[c]
        row["jumlah"] = None if sup else round(shown_count(c))
        # share of the last dimension within the other coordinates
        parent_key = (*key[:-1], 0)
        denom = cube.index.get(parent_key)
        if sup or denom is None or cube.suppressed[denom] or shown_count(denom) == 0:
            row["persen"] = None
        else:
            row["persen"] = round(100.0 * shown_count(c) / shown_count(denom), 2)
        if magnitude:
            if sup or cube.count[c] == 0:
                row["jumlah_nilai"] = row["rata_rata"] = None
            else:
                s, m = cube.total[c], cube.total[c] / cube.count[c]
                row["jumlah_nilai"] = _sig(s) if base else s
                row["rata_rata"] = _sig(m) if base else round(m, 2)
        rows.append(row)
    return Table(
        dimensions=spec.dimensions,
        rows=rows,
        suppressed_primary=primary,
        suppressed_secondary=secondary,
        cells=len(rows),
        fallback_witnesses=cube.fallback_used,
        rules=rules,
    )
