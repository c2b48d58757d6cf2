"""The log's Merkle tree held in memory, for inclusion and consistency proofs at any size.

A witness asks for a consistency proof every second, and a person's history needs an
inclusion proof per entry: recomputing subtrees from the leaves would cost O(n) hashing per
proof. This keeps every level of aligned perfect subtrees (2n hashes in all, 64 MB per
million records) so any RFC 6962 subtree hash takes O(log n) node hashes and a proof
O(log² n). The proof algorithms are RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (SUBPROOF),
written over a subtree-hash function; `merkle` verifies them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from simpul.audit import merkle

Subtree = Callable[[int, int], bytes]  # (first leaf, end leaf) -> MTH of that range


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class TreeCache:
    """Leaf hashes in append order and the roots of every aligned perfect subtree above them.

    Thread-safe: the server's request threads share one per process, and `extend` only
    appends, so a reader of an already covered size sees stable values."""

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return len(self._levels[0]) // 32

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append leaf hashes and complete every perfect subtree they close."""
        with self._lock:
            base = self._levels[0]
            for leaf in leaves:
                if len(leaf) != 32:
                    raise ValueError("a leaf hash has 32 bytes")
                base += leaf
            height = 0
            while True:
                level = self._levels[height]
                count = len(level) // 32
                if count < 2:
                    break
                if height + 1 == len(self._levels):
                    self._levels.append(bytearray())
                upper = self._levels[height + 1]
                for i in range(len(upper) // 32, count // 2):
                    left = bytes(level[64 * i : 64 * i + 32])
                    upper += merkle.node_hash(left, bytes(level[64 * i + 32 : 64 * i + 64]))
                height += 1

    def truncate(self) -> None:
        with self._lock:
            self._levels = [bytearray()]

    def leaf(self, index: int) -> bytes:
        return bytes(self._levels[0][32 * index : 32 * index + 32])

    def subtree(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end), end <= size."""
        if not 0 <= start < end <= self.size:
            raise ValueError("subtree outside the cached tree")
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            height = n.bit_length() - 1
            index = start >> height
            level = self._levels[height]
            return bytes(level[32 * index : 32 * index + 32])
        k = _split(n)
        return merkle.node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        return merkle.EMPTY_ROOT if size == 0 else self.subtree(0, size)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return inclusion_proof(index, size, self.subtree)

    def consistency(self, old: int, new: int) -> list[bytes]:
        return consistency_proof(old, new, self.subtree)


def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """PATH(index, D[0:size]), bottom-up."""
    if not 0 <= index < size:
        raise ValueError("leaf index outside the tree")
    out: list[bytes] = []
    lo, hi, m = 0, size, index
    stack: list[bytes] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            stack.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            stack.append(subtree(lo, lo + k))
            lo, m = lo + k, m - k
    # Collected top-down; the proof lists siblings from the leaf up.
    out.extend(reversed(stack))
    return out


def consistency_proof(old: int, new: int, subtree: Subtree) -> list[bytes]:
    """PROOF(old, D[0:new]) = SUBPROOF(old, D[0:new], true); [] when old is 0 or new."""
    if not 0 <= old <= new:
        raise ValueError("sizes out of order")
    if old in (0, new):
        return []
    stack: list[bytes] = []
    lo, hi, m, whole = 0, new, old, True
    while True:
        n = hi - lo
        if m == n:
            if not whole:
                stack.append(subtree(lo, hi))
            break
        k = _split(n)
        if m <= k:
            stack.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            stack.append(subtree(lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    return list(reversed(stack))


def from_leaves(leaves: Sequence[bytes]) -> TreeCache:
    cache = TreeCache()
    cache.extend(leaves)
    return cache
