"""RFC 6962 Merkle tree: properties against a literal transcription of the RFC."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simpul.audit import merkle


def rfc_mth(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 6962 §2.1 writes it (recursive split at the largest power of 2)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(rfc_mth(leaves[:k]), rfc_mth(leaves[k:]))


def leaves_of(n: int, salt: int = 0) -> list[bytes]:
    return merkle.leaf_hashes(f"{salt}:{i}".encode() for i in range(n))


sizes = st.integers(min_value=1, max_value=140)


def test_known_vectors() -> None:
    # RFC 6962 hashing conventions: empty tree, leaf and node prefixes.
    assert merkle.root([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    a, b = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    assert merkle.root([a, b]) == hashlib.sha256(b"\x01" + a + b).digest()


@given(sizes)
def test_root_matches_rfc_definition(n: int) -> None:
    leaves = leaves_of(n)
    assert merkle.root(leaves) == rfc_mth(leaves)


@given(sizes, st.data())
def test_every_leaf_proof_verifies_and_tampering_fails(n: int, data: st.DataObject) -> None:
    leaves = leaves_of(n)
    root = merkle.root(leaves)
    for i in range(n):
        path = merkle.audit_path(i, leaves)
        assert merkle.verify_inclusion(i, n, leaves[i], path, root)
    i = data.draw(st.integers(0, n - 1))
    path = merkle.audit_path(i, leaves)
    wrong_leaf = merkle.leaf_hash(b"not in the tree")
    assert not merkle.verify_inclusion(i, n, wrong_leaf, path, root)
    if n > 1:
        other = data.draw(st.integers(0, n - 1).filter(lambda j: j != i))
        assert not merkle.verify_inclusion(other, n, leaves[i], path, root)
        assert not merkle.verify_inclusion(i, n, leaves[i], path[:-1], root)
        assert not merkle.verify_inclusion(i, n, leaves[i], [*path, path[0]], root)
        k = data.draw(st.integers(0, len(path) - 1))
        bent = [*path[:k], merkle.leaf_hash(b"x"), *path[k + 1 :]]
        assert not merkle.verify_inclusion(i, n, leaves[i], bent, root)
    assert not merkle.verify_inclusion(n, n, leaves[i], path, root)


@given(st.integers(min_value=0, max_value=300))
def test_compact_range_gives_every_prefix_root(n: int) -> None:
    leaves = leaves_of(n, salt=1)
    compact = merkle.CompactRange()
    for i, leaf in enumerate(leaves):
        compact.append(leaf)
        if i % 17 == 0 or i == n - 1:
            assert compact.root() == rfc_mth(leaves[: i + 1])
    restored = merkle.CompactRange(compact.size, compact.nodes)
    assert restored.root() == merkle.root(leaves)


def test_compact_range_block_path_and_misuse() -> None:
    leaves = leaves_of(3 * 4096 + 5)
    fast = merkle.CompactRange()
    fast.extend(leaves[:7])
    fast.extend(leaves[7:])
    assert fast.root() == merkle.root(leaves)
    with pytest.raises(ValueError, match="does not match"):
        merkle.CompactRange(3, [leaves[0]])
    with pytest.raises(ValueError, match="not aligned"):
        merkle.CompactRange(1, [leaves[0]]).push(leaves[1], 1)


@given(
    st.integers(min_value=1, max_value=200),
    st.lists(st.integers(min_value=1, max_value=200), max_size=6),
    st.integers(min_value=1, max_value=4),
)
def test_ranges_stitch_to_the_same_roots(n: int, cut_points: list[int], parts: int) -> None:
    """Split the leaves among `parts` workers with checkpoints at `cut_points`: stitching
    their subtree roots in order reproduces the root at every checkpoint."""
    leaves = leaves_of(n, salt=2)
    cps = sorted({c for c in cut_points if c <= n} | {n})
    step = -(-n // parts)
    compact = merkle.CompactRange()
    seen: list[int] = []
    for lo in range(0, n, step):
        hi = min(lo + step, n)
        cuts = [c for c in cps if lo < c <= hi]
        if cps[-1] > hi and hi not in cuts:
            cuts.append(hi)
        if not cuts:
            continue
        for cut, blocks in merkle.range_pieces(lo, leaves[lo : cuts[-1]], cuts):
            for height, node in blocks:
                compact.push(node, height)
            if cut in cps:
                assert compact.root() == rfc_mth(leaves[:cut])
                seen.append(cut)
    assert seen == cps


def test_root_from_path_rejects_impossible_shapes() -> None:
    assert merkle.root_from_path(0, 0, b"x" * 32, []) is None
    assert merkle.root_from_path(5, 3, b"x" * 32, []) is None
    with pytest.raises(ValueError, match="outside"):
        merkle.audit_path(3, leaves_of(3))
