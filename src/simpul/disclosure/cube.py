"""Cell suppression for a table together with all its margins and subtotals.

A query is a product of dimension trees: a flat dimension is a root (its total) with one
child per category; the region dimension is the national total (or the scope's root) over
provinces, regencies, districts and villages down to the requested level. The release is
every cell of that product — the table, every margin, every regional subtotal — because a
user can always ask for those separately; each internal node of a tree gives the linear
equations "node = sum of its children" with the other coordinates fixed.

Primary suppression marks the unsafe cells (`rules.py`). Secondary suppression gives every
primary cell a **witness**: a vector v = w_1 ⊗ … ⊗ w_k over cells, where each w_i is a
*flow* on tree i (w(node) = sum of w over its children, for every internal node). Such a v
satisfies every table equation, so if every cell it touches is suppressed and the data can
move along it (x ± v stays non-negative with step 1), the published cells are equally
consistent with two different values of the primary cell: it cannot be recovered from the
table, its margins and its subtotals, whatever linear combination an attacker forms.

Flows are built from a canonical choice so that two different queries agree on the cells
they share (see docs/disclosure.md): sub-tables are processed from the coarsest to the
finest; a new primary cell pairs with a sibling in each dimension (w = e_x − e_y, the
hypercube method of Repsilber / τ-ARGUS); an older witness is carried down a level by
following, below each node, its child with the largest one-dimensional total. Every choice
depends only on the sub-table in which it is made, which every query containing that
sub-table recomputes identically. A final step verifies each witness (flow equations,
suppression of its support, feasibility) and repairs or refuses what fails.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from simpul.errors import SimpulError

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
MAX_PARTNERS = 4  # siblings tried per dimension when building a witness


@dataclass
class Tree:
    """One dimension: node 0 is the root (the total); `parent[0] == -1`."""

    name: str
    labels: list[str]
    parent: list[int]
    depth: list[int]
    children: list[list[int]] = field(default_factory=list)
    child_star: list[int] = field(default_factory=list)  # canonical child, -1 at leaves

    @property
    def max_depth(self) -> int:
        return max(self.depth)

    def finish(self, node_totals: FloatArray) -> None:
        """Children lists and the canonical child: the one with the largest total."""
        n = len(self.labels)
        self.children = [[] for _ in range(n)]
        for node in range(1, n):
            self.children[self.parent[node]].append(node)
        self.child_star = [
            max(kids, key=lambda c: (node_totals[c], self.labels[c])) if kids else -1
            for kids in self.children
        ]

    def ancestor_table(self) -> list[IntArray]:
        """anc[d][node]: the node's ancestor at depth d, or -1 when the node is shallower."""
        n = len(self.labels)
        depth = np.asarray(self.depth, dtype=np.int64)
        parent = np.asarray(self.parent, dtype=np.int64)
        out: list[IntArray] = []
        for d in range(self.max_depth + 1):
            anc = np.arange(n, dtype=np.int64)
            cur = depth.copy()
            while True:
                deeper = cur > d
                if not deeper.any():
                    break
                anc[deeper] = parent[anc[deeper]]
                cur[deeper] -= 1
            anc[depth < d] = -1
            out.append(anc)
        return out


Flow = dict[int, int]


@dataclass
class Witness:
    owner: int  # the primary cell it protects
    home: tuple[int, ...]
    flows: list[Flow]
    # per dimension: node -> the child its coefficient is carried to (chosen canonically in
    # the sub-table one level deeper than the node, see `_choose_children`)
    choice: list[dict[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.choice:
            self.choice = [{} for _ in self.flows]


@dataclass
class Cube:
    """All cells of a query (every sub-table), their values and suppression state."""

    trees: list[Tree]
    index: dict[tuple[int, ...], int]
    nodes: list[tuple[int, ...]]
    count: list[float]
    total: list[float]  # sum of the magnitude variable (0 when none)
    top1: list[float]
    top2: list[float]
    primary: list[str | None]  # reason code or None
    suppressed: list[bool]
    witnesses: list[Witness] = field(default_factory=list)
    fallback_used: int = 0
    levels: list[tuple[int, ...]] = field(default_factory=list)

    def level(self, cell: int) -> tuple[int, ...]:
        while len(self.levels) <= cell:
            key = self.nodes[len(self.levels)]
            self.levels.append(
                tuple(t.depth[n] if n >= 0 else -1 for t, n in zip(self.trees, key, strict=True))
            )
        return self.levels[cell]

    def cell(self, key: tuple[int, ...]) -> int:
        """The cell with these nodes; an empty combination becomes an explicit zero cell."""
        found = self.index.get(key)
        if found is not None:
            return found
        idx = len(self.nodes)
        self.index[key] = idx
        self.nodes.append(key)
        for arr in (self.count, self.total, self.top1, self.top2):
            arr.append(0.0)
        self.primary.append(None)
        self.suppressed.append(False)
        return idx


def build_cube(
    trees: list[Tree],
    leaf: IntArray,
    count: FloatArray,
    total: FloatArray,
    top1: FloatArray,
    top2: FloatArray,
) -> Cube:
    """Every sub-table's cells from the leaf groups (`leaf[r, i]` = node of row r in dim i)."""
    for i, tree in enumerate(trees):
        node_totals = np.bincount(leaf[:, i], weights=count, minlength=len(tree.labels))
        # roll node totals up to the ancestors
        for node in sorted(range(1, len(tree.labels)), key=lambda n: -tree.depth[n]):
            node_totals[tree.parent[node]] += node_totals[node]
        tree.finish(node_totals.astype(np.float64))
    ancs = [t.ancestor_table() for t in trees]
    cube = Cube(trees, {}, [], [], [], [], [], [], [])
    for level in sublevels(trees):
        cols = [ancs[i][d][leaf[:, i]] for i, d in enumerate(level)]
        nodes = np.stack(cols, axis=1) if cols else np.zeros((len(count), 0), dtype=np.int64)
        keep = (nodes >= 0).all(axis=1)
        if not keep.any():
            continue
        nodes = nodes[keep]
        uniq, inv = np.unique(nodes, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        g = len(uniq)
        cnt = np.bincount(inv, weights=count[keep], minlength=g)
        tot = np.bincount(inv, weights=total[keep], minlength=g)
        t1, t2 = _top_two(inv, top1[keep], top2[keep], g)
        for j in range(g):
            key = tuple(int(v) for v in uniq[j])
            cube.index[key] = len(cube.nodes)
            cube.nodes.append(key)
            cube.count.append(float(cnt[j]))
            cube.total.append(float(tot[j]))
            cube.top1.append(float(t1[j]))
            cube.top2.append(float(t2[j]))
            cube.primary.append(None)
            cube.suppressed.append(False)
    return cube


def _top_two(
    group: IntArray, a: FloatArray, b: FloatArray, g: int
) -> tuple[FloatArray, FloatArray]:
    """The two largest contributions per group, from each member's own two largest."""
    vals = np.concatenate([a, b])
    grp = np.concatenate([group, group])
    order = np.lexsort((-vals, grp))
    vals, grp = vals[order], grp[order]
    first = np.flatnonzero(np.r_[True, grp[1:] != grp[:-1]])
    t1 = np.zeros(g)
    t2 = np.zeros(g)
    t1[grp[first]] = vals[first]
    nxt = first + 1
    ok = nxt < len(grp)
    ok[ok] &= grp[nxt[ok]] == grp[first[ok]]
    t2[grp[first[ok]]] = vals[nxt[ok]]
    return t1, t2


def sublevels(trees: list[Tree]) -> list[tuple[int, ...]]:
    """Every sub-table (a depth per dimension), coarsest first, in a fixed order."""
    ranges = [range(t.max_depth + 1) for t in trees]
    return sorted(itertools.product(*ranges), key=lambda lv: (sum(lv), lv))


def extend(tree: Tree, flow: Flow, depth: int, choice: dict[int, int] | None = None) -> Flow:
    """Carry a flow down to `depth` along the chosen (else canonical) children."""
    out = dict(flow)
    frontier = {n: c for n, c in flow.items() if tree.depth[n] == max(tree.depth[m] for m in flow)}
    while frontier:
        nxt: Flow = {}
        for node, coef in frontier.items():
            child = (choice or {}).get(node, tree.child_star[node])
            if child >= 0 and tree.depth[child] <= depth:
                nxt[child] = nxt.get(child, 0) + coef
        out.update(nxt)
        frontier = nxt
    return out


def _support_at(
    cube: Cube,
    flows: list[Flow],
    level: tuple[int, ...],
    choice: list[dict[int, int]] | None = None,
) -> list[tuple[int, int]]:
    """(cell, coefficient) of the witness at one sub-table, creating zero cells as needed."""
    per_dim: list[list[tuple[int, int]]] = []
    for i, (tree, flow, d) in enumerate(zip(cube.trees, flows, level, strict=True)):
        ext = extend(tree, flow, d, choice[i] if choice else None)
        here = [(n, c) for n, c in sorted(ext.items()) if tree.depth[n] == d and c != 0]
        if not here:
            return []
        per_dim.append(here)
    out: list[tuple[int, int]] = []
    for combo in itertools.product(*per_dim):
        key = tuple(n for n, _ in combo)
        coef = 1
        for _, c in combo:
            coef *= c
        out.append((cube.cell(key), coef))
    return out


def full_support(cube: Cube, w: Witness) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for level in sublevels(cube.trees):
        if all(h <= d for h, d in zip(w.home, level, strict=True)):
            out.extend(_support_at(cube, w.flows, level, w.choice))
    return out


def feasible(cube: Cube, support: list[tuple[int, int]], magnitude: bool) -> bool:
    """Can the data move by one unit along the witness, in either direction?"""
    for sign in (1, -1):
        losing = [c for c, k in support if k * sign < 0]
        if all(cube.count[c] >= 1 and (not magnitude or cube.total[c] > 0) for c in losing):
            return True
    return False


def _candidate_flows(cube: Cube, x: int, level: tuple[int, ...]) -> list[list[Flow]] | None:
    """Per dimension, the sibling-pair flows to try for cell x (best first); None when some
    coordinate has no sibling (the cell then equals its parent-level cell)."""
    options: list[list[Flow]] = []
    key = cube.nodes[x]
    for i, (tree, node, d) in enumerate(zip(cube.trees, key, level, strict=True)):
        if d == 0:
            options.append([{node: 1}])
            continue
        sibs = [s for s in tree.children[tree.parent[node]] if s != node]
        if not sibs:
            return None

        def rank(s: int, i: int = i) -> tuple[float, str]:
            other = cube.index.get((*key[:i], s, *key[i + 1 :]))
            cnt = cube.count[other] if other is not None else 0.0
            return (-cnt, cube.trees[i].labels[s])

        sibs.sort(key=rank)
        options.append([{node: 1, s: -1} for s in sibs[:MAX_PARTNERS]])
    return options


def _protect_new(cube: Cube, x: int, level: tuple[int, ...]) -> None:
    options = _candidate_flows(cube, x, level)
    if options is None:
        return  # covered by the parent-level cell's witness (same contributors)
    chosen: list[Flow] | None = None
    for combo in itertools.islice(itertools.product(*options), 64):
        flows = list(combo)
        probe = _probe(cube, flows, level)
        # counts only: the same choice whether or not the query carries a magnitude
        if feasible(cube, probe, False):
            chosen = flows
            break
    if chosen is None:
        chosen = [opts[0] for opts in options]
    w = Witness(x, level, chosen)
    for cell, _ in _support_at(cube, chosen, level):
        cube.suppressed[cell] = True
    cube.witnesses.append(w)


def _probe(cube: Cube, flows: list[Flow], level: tuple[int, ...]) -> list[tuple[int, int]]:
    """Support at one level without creating cells (absent cells read as zero)."""
    per_dim = [[(n, c) for n, c in f.items()] for f in flows]
    out: list[tuple[int, int]] = []
    for combo in itertools.product(*per_dim):
        key = tuple(n for n, _ in combo)
        coef = 1
        for _, c in combo:
            coef *= c
        idx = cube.index.get(key)
        out.append((idx if idx is not None else -1, coef))
    if any(c < 0 for c, _ in out):
        return [(c, k) for c, k in out if c >= 0] + [(_zero(cube), k) for c, k in out if c < 0]
    del level
    return out


def _zero(cube: Cube) -> int:
    """Index of a scratch zero cell used only when probing (never released)."""
    key = (-1,) * len(cube.trees)
    if key not in cube.index:
        idx = cube.cell(key)
        cube.primary[idx] = None
    return cube.index[key]


def suppress(cube: Cube, magnitude: bool) -> None:
    """Secondary suppression over the whole lattice, then verification (with repair)."""
    levels = sublevels(cube.trees)
    by_level: dict[tuple[int, ...], list[int]] = {lv: [] for lv in levels}
    for idx in range(len(cube.nodes)):
        if cube.nodes[idx][0] >= 0:
            by_level[cube.level(idx)].append(idx)
    for level in levels:
        for w in cube.witnesses:
            if w.home != level and all(h <= d for h, d in zip(w.home, level, strict=True)):
                _choose_children(cube, w, level)
                for cell, _ in _support_at(cube, w.flows, level, w.choice):
                    cube.suppressed[cell] = True
        for x in sorted(by_level[level], key=lambda c: cube.nodes[c]):
            if cube.primary[x] is not None:
                cube.suppressed[x] = True
        for x in sorted(by_level[level], key=lambda c: cube.nodes[c]):
            if cube.primary[x] is not None:
                _protect_new(cube, x, level)
    verify_and_repair(cube, magnitude)


def _choose_children(cube: Cube, w: Witness, level: tuple[int, ...]) -> None:
    """When `level` deepens exactly one dimension of the witness's home, pick below each
    frontier node the child whose cells on this level hold the most data (the smallest
    count among them, then the label). Each choice reads only the node's own subtree and
    this sub-table, so every query containing both makes the same one — whatever else the
    query's trees hold (a region filter keeps only the ancestors' siblings, as leaves)."""
    moved = [i for i, (h, d) in enumerate(zip(w.home, level, strict=True)) if d != h]
    if len(moved) != 1:
        return
    i = moved[0]
    tree = cube.trees[i]
    ext = extend(tree, w.flows[i], level[i] - 1, w.choice[i])
    frontier = {n: c for n, c in ext.items() if tree.depth[n] == level[i] - 1 and c != 0}
    others: list[list[tuple[int, int]]] = []
    for j, (t, flow, d) in enumerate(zip(cube.trees, w.flows, level, strict=True)):
        if j == i:
            continue
        here = extend(t, flow, d, w.choice[j])
        others.append(sorted((n, c) for n, c in here.items() if t.depth[n] == d and c != 0))
    for node in sorted(frontier):
        if node in w.choice[i] or not tree.children[node]:
            continue
        best: tuple[float, float, str] | None = None
        for child in tree.children[node]:
            # the owner grows along the witness: cells with a negative coefficient must hold
            # data first (that direction is kept open), then the positive ones
            neg, pos = float("inf"), float("inf")
            for combo in itertools.product(*others):
                key = tuple(n for n, _ in combo)
                key = (*key[:i], child, *key[i:])
                coef = frontier[node]
                for _, c in combo:
                    coef *= c
                idx = cube.index.get(key)
                value = cube.count[idx] if idx is not None else 0.0
                if coef < 0:
                    neg = min(neg, value)
                else:
                    pos = min(pos, value)
            rank = (neg, pos, tree.labels[child])
            if best is None or rank[:2] > best[:2]:
                best = rank
                w.choice[i][node] = child


def _flow_ok(tree: Tree, flow: Flow) -> bool:
    internal = {tree.parent[n] for n in flow if tree.parent[n] >= 0} | {
        n for n in flow if tree.children[n]
    }
    for node in internal:
        below = sum(flow.get(c, 0) for c in tree.children[node])
        if tree.depth[node] < max(tree.depth[m] for m in flow) and flow.get(node, 0) != below:
            return False
    return True


def covered_cells(cube: Cube, magnitude: bool) -> set[int]:
    """Primary cells some valid, fully suppressed, feasible witness can move."""
    out: set[int] = set()
    for w in cube.witnesses:
        full = [
            extend(t, f, t.max_depth, ch)
            for t, f, ch in zip(cube.trees, w.flows, w.choice, strict=True)
        ]
        if not all(_flow_ok(t, f) for t, f in zip(cube.trees, full, strict=True)):
            continue
        support = full_support(cube, w)
        if not all(cube.suppressed[c] for c, _ in support):
            continue
        if not feasible(cube, support, magnitude):
            continue
        out.update(c for c, k in support if k != 0)
    return out


def verify_and_repair(cube: Cube, magnitude: bool) -> None:
    """Every primary cell must be movable by some witness; build a wider one if not."""
    covered = covered_cells(cube, magnitude)
    failing = [c for c in range(len(cube.nodes)) if cube.primary[c] and c not in covered]
    for x in failing:
        if x in covered:
            continue
        w = _repair(cube, x, magnitude)
        if w is None:
            raise SimpulError(
                "tabel_tidak_dapat_dilindungi",
                "Tabel tidak dapat dilindungi dengan penekanan sel; pilih tingkat wilayah "
                "yang lebih tinggi atau dimensi yang lebih sedikit.",
                status=422,
            )
        cube.fallback_used += 1
        support = full_support(cube, w)
        for cell, _ in support:
            cube.suppressed[cell] = True
        cube.witnesses.append(w)
        covered.update(c for c, k in support if k != 0)


def _repair(cube: Cube, x: int, magnitude: bool) -> Witness | None:
    """Search sibling pairs (at x's own level, or at an ancestor cell with the same
    contributors) for a witness that is feasible over the whole lattice."""
    cell = x
    while True:
        level = cube.level(cell)
        options = _candidate_flows(cube, cell, level)
        if options is not None:
            break
        # step up the coordinate that has no sibling: same contributors, same cell value
        key = list(cube.nodes[cell])
        for i, (tree, node) in enumerate(zip(cube.trees, key, strict=True)):
            if tree.depth[node] > 0 and len(tree.children[tree.parent[node]]) == 1:
                key[i] = tree.parent[node]
                break
        cell = cube.cell(tuple(key))
    wide = [
        [{n: 1, s: -1} for s in _all_siblings(t, n)] if len(o[0]) > 1 else o
        for t, n, o in zip(cube.trees, cube.nodes[cell], options, strict=True)
    ]
    levels = [lv for lv in sublevels(cube.trees)
              if all(h <= d for h, d in zip(level, lv, strict=True))]  # fmt: skip
    for combo in itertools.islice(itertools.product(*wide), 256):
        w = Witness(cell, level, list(combo))
        for lv in levels:
            _choose_children(cube, w, lv)
        if feasible(cube, _probe_full(cube, w), magnitude):
            return w
    return None


def _all_siblings(tree: Tree, node: int) -> list[int]:
    return [s for s in tree.children[tree.parent[node]] if s != node]


def _probe_full(cube: Cube, w: Witness) -> list[tuple[int, int]]:
    full = [
        extend(t, f, t.max_depth, ch)
        for t, f, ch in zip(cube.trees, w.flows, w.choice, strict=True)
    ]
    per_dim = [sorted(f.items()) for f in full]
    out: list[tuple[int, int]] = []
    for combo in itertools.product(*per_dim):
        key = tuple(n for n, _ in combo)
        coef = 1
        for _, c in combo:
            coef *= c
        if coef == 0:
            continue
        idx = cube.index.get(key)
        out.append((idx if idx is not None else _zero(cube), coef))
    return out
