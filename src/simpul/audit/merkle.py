"""RFC 6962 Merkle trees over audit entries: pure functions, no storage.

Leaf hash = SHA-256(0x00 || entry), node hash = SHA-256(0x01 || left || right); the tree over
n leaves splits at the largest power of two below n (RFC 6962 §2.1). Pairing each level left
to right and carrying an odd last node up unchanged builds exactly that tree, which lets the
code hash whole levels with list comprehensions instead of recursing per node.
Inclusion and consistency proofs follow RFC 9162 §2.1.3 and §2.1.4 step by step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

_sha256 = hashlib.sha256
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = _sha256(b"").digest()
# Leaves hashed level by level in aligned blocks of this many (a power of two).
_BLOCK_HEIGHT = 12
_BLOCK = 1 << _BLOCK_HEIGHT


def leaf_hash(entry: bytes) -> bytes:
    return _sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(NODE_PREFIX + left + right).digest()


def leaf_hashes(entries: Iterable[bytes]) -> list[bytes]:
    return [_sha256(LEAF_PREFIX + e).digest() for e in entries]


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    paired = [
        _sha256(NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
    ]
    if len(level) % 2:
        paired.append(level[-1])
    return paired


def levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree over `leaves` (leaf hashes), bottom first, root last."""
    out = [list(leaves)]
    while len(out[-1]) > 1:
        out.append(_next_level(out[-1]))
    return out


def root(leaves: Sequence[bytes]) -> bytes:
    """Merkle tree hash (MTH) over leaf hashes; the empty tree hashes the empty string."""
    if not leaves:
        return EMPTY_ROOT
    level: Sequence[bytes] = leaves
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def audit_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 audit path for leaf `index`, bottom-up."""
    if not 0 <= index < len(leaves):
        raise ValueError("leaf index outside the tree")
    path: list[bytes] = []
    for level in levels(leaves)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index >>= 1
    return path


def root_from_path(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root an audit path implies (RFC 9162 §2.1.3.2), or None if the path cannot fit."""
    if not 0 <= index < size:
        return None
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return node if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], expected_root: bytes
) -> bool:
    """True when `leaf` (a leaf hash) sits at `index` of the size-`size` tree with that root."""
    return root_from_path(index, size, leaf, path) == expected_root


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def consistency_proof_from(m: int, n: int, subtree: Callable[[int, int], bytes]) -> list[bytes]:
    """PROOF(m, D[0:n]) of RFC 9162 §2.1.4.1 over `subtree(start, end)` = MTH(D[start:end]).

    SUBPROOF recurses into one half and emits the other half's hash after the deeper part,
    so walking down and reversing gives the same list. The ranges asked for are disjoint:
    hashing them from leaves costs O(n) in all, from a cache of perfect subtrees O(log² n).
    The left ranges asked for are always perfect aligned subtrees; right ones may not be.
    """
    if not 0 < m <= n:
        raise ValueError("consistency proof needs 0 < m <= n")
    top_down: list[bytes] = []
    lo, hi, whole = 0, n, True  # `whole`: SUBPROOF's b, "m is the full old tree so far"
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            top_down.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            top_down.append(subtree(lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        # SUBPROOF(m, D[m], false) = {MTH(D[m])}: the old tree is not a node the verifier
        # already holds, so the proof starts with this subtree of it.
        top_down.append(subtree(lo, hi))
    return top_down[::-1]


def consistency_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.4.1 proof that the first m leaf hashes are a prefix of `leaves`."""
    return consistency_proof_from(m, len(leaves), lambda start, end: root(leaves[start:end]))


def verify_consistency(
    m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the size-m tree with root_m a prefix of the size-n tree?

    Equal sizes need an empty proof and equal roots. The RFC defines proofs only for
    0 < m; the empty tree is a prefix of every tree, so m == 0 takes an empty proof
    (as tlog-witness requires for old size 0) and root_m must be the empty tree's hash.
    """
    if not 0 <= m <= n:
        return False
    if m == 0:
        return not proof and root_m == EMPTY_ROOT and (n > 0 or root_n == EMPTY_ROOT)
    if m == n:
        return not proof and root_m == root_n
    if not proof:
        return False
    path = list(proof)
    if m & (m - 1) == 0:
        # The old tree is a complete subtree the verifier holds: the proof omits it.
        path.insert(0, root_m)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root_m and sr == root_n and sn == 0


class CompactRange:
    """The roots of the perfect subtrees that make up the first `size` leaves, left to right.

    Enough to compute the root at `size` and to keep appending, in O(log n) memory: a
    checkpoint stores it so the next checkpoint only hashes the records added since.
    """

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        if len(nodes) != size.bit_count():
            raise ValueError("compact range does not match its size")
        self.size = size
        self.nodes = list(nodes)

    def push(self, node: bytes, height: int) -> None:
        """Append a perfect subtree of 2**height leaves; the size must be a multiple of it."""
        if self.size % (1 << height):
            raise ValueError("subtree not aligned with the range")
        s = self.size >> height
        while s & 1:
            node = node_hash(self.nodes.pop(), node)
            s >>= 1
        self.nodes.append(node)
        self.size += 1 << height

    def append(self, leaf: bytes) -> None:
        self.push(leaf, 0)

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Append leaf hashes; aligned full blocks are hashed level by level (fast path)."""
        i, n = 0, len(leaves)
        while i < n:
            if self.size % _BLOCK == 0 and n - i >= _BLOCK:
                self.push(root(leaves[i : i + _BLOCK]), _BLOCK_HEIGHT)
                i += _BLOCK
            else:
                self.push(leaves[i], 0)
                i += 1

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        acc = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            acc = node_hash(node, acc)
        return acc

    def copy(self) -> CompactRange:
        return CompactRange(self.size, self.nodes)


def aligned_blocks(start: int, end: int) -> list[tuple[int, int]]:
    """Cover leaves [start, end) with the fewest perfect subtrees aligned to their own size,
    left to right, as (first leaf, height): the pieces a CompactRange accepts in order."""
    out: list[tuple[int, int]] = []
    while start < end:
        height = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << height) > end:
            height -= 1
        out.append((start, height))
        start += 1 << height
    return out


def range_pieces(
    offset: int, leaves: Sequence[bytes], cuts: Sequence[int]
) -> list[tuple[int, list[tuple[int, bytes]]]]:
    """Reduce the leaves at global positions offset.. to subtree roots, split at `cuts`.

    For each cut c (ascending, offset < c <= offset + len(leaves)) the result holds
    (c, [(height, root), …]) covering the leaves from the previous cut up to c, so a process
    can hash its share of the log and another can stitch the shares in order.
    """
    out: list[tuple[int, list[tuple[int, bytes]]]] = []
    start = offset
    for cut in cuts:
        if not offset < cut <= offset + len(leaves) or cut <= start:
            raise ValueError("cut outside the leaves")
        blocks = [
            (height, root(leaves[first - offset : first - offset + (1 << height)]))
            for first, height in aligned_blocks(start, cut)
        ]
        out.append((cut, blocks))
        start = cut
    return out
