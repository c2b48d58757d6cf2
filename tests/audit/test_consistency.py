"""RFC 9162 consistency and inclusion proofs: the optimised code against a literal
transcription of RFC 6962's recursive definitions, fixed vectors, and tampering."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simpul.audit import merkle


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def rfc_mth(d: list[bytes]) -> bytes:
    """MTH of RFC 6962 §2.1 over leaf hashes."""
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + rfc_mth(d[:k]) + rfc_mth(d[k:])).digest()


def rfc_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1."""
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*rfc_path(m, d[:k]), rfc_mth(d[k:])]
    return [*rfc_path(m - k, d[k:]), rfc_mth(d[:k])]


def rfc_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 6962 §2.1.2."""
    n = len(d)
    if m == n:
        return [] if b else [rfc_mth(d)]
    k = _k(n)
    if m <= k:
        return [*rfc_subproof(m, d[:k], b), rfc_mth(d[k:])]
    return [*rfc_subproof(m - k, d[k:], False), rfc_mth(d[:k])]


def rfc_proof(m: int, d: list[bytes]) -> list[bytes]:
    return rfc_subproof(m, d, True)


def flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def same_shape(m: int, n: int, other: int) -> bool:
    """Would the proof from m to n also verify, unchanged, as one from m to `other`?

    The verifier sees n only through where n-1 parts from m-1 and how tall n-1 is, so two
    sizes that agree on both take the same proof (the signed checkpoint binds the size)."""
    if other <= m:
        return False
    a, b, c = m - 1, n - 1, other - 1
    return (a ^ b).bit_length() == (a ^ c).bit_length() and b.bit_length() == c.bit_length()


# The RFC 6962 test tree used by the certificate-transparency implementations.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        *("", "00", "10", "2021", "3031", "40414243", "5051525354555657"),
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_PROOFS = {
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}


def test_fixed_ct_vectors() -> None:
    leaves = merkle.leaf_hashes(CT_LEAVES)
    for size, expected in enumerate(CT_ROOTS, start=1):
        assert merkle.root(leaves[:size]).hex() == expected
    for (m, n), expected_proof in CT_PROOFS.items():
        proof = merkle.consistency_proof(m, leaves[:n])
        assert [p.hex() for p in proof] == expected_proof
        root_m, root_n = bytes.fromhex(CT_ROOTS[m - 1]), bytes.fromhex(CT_ROOTS[n - 1])
        assert merkle.verify_consistency(m, n, root_m, root_n, proof)


def test_proofs_match_the_recursive_definitions() -> None:
    """Every m <= n <= 40 and every leaf: same lists as the RFC's recursion, and they verify."""
    leaves = merkle.leaf_hashes(f"kat:{i}".encode() for i in range(40))
    for n in range(1, len(leaves) + 1):
        d = leaves[:n]
        root_n = rfc_mth(d)
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(m, d)
            assert proof == rfc_proof(m, d), (m, n)
            assert merkle.verify_consistency(m, n, rfc_mth(d[:m]), root_n, proof)
        for i in range(n):
            path = merkle.audit_path(i, d)
            assert path == rfc_path(i, d), (i, n)
            assert merkle.verify_inclusion(i, n, d[i], path, root_n)


def test_callable_variant_asks_only_disjoint_ranges() -> None:
    leaves = merkle.leaf_hashes(f"c:{i}".encode() for i in range(1000))
    asked: list[tuple[int, int]] = []

    def subtree(start: int, end: int) -> bytes:
        asked.append((start, end))
        return merkle.root(leaves[start:end])

    for m in (1, 2, 3, 500, 512, 513, 999):
        asked.clear()
        proof = merkle.consistency_proof_from(m, len(leaves), subtree)
        assert proof == merkle.consistency_proof(m, leaves)
        covered = sorted(asked)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(covered))
        assert sum(end - start for start, end in asked) <= len(leaves)


def test_edge_sizes() -> None:
    leaves = merkle.leaf_hashes(f"e:{i}".encode() for i in range(5))
    r5, r3 = merkle.root(leaves), merkle.root(leaves[:3])
    assert merkle.consistency_proof(5, leaves) == []
    assert merkle.verify_consistency(5, 5, r5, r5, [])
    assert not merkle.verify_consistency(5, 5, r5, r3, [])
    assert not merkle.verify_consistency(5, 5, r5, r5, [r5])
    # The empty tree is a prefix of everything, with an empty proof and its own root.
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, r5, [])
    assert merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    assert not merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, r5, [r5])
    assert not merkle.verify_consistency(0, 5, r3, r5, [])
    assert not merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, r5, [])
    # A proof is never empty between different sizes; sizes out of order never verify.
    assert not merkle.verify_consistency(3, 5, r3, r5, [])
    assert not merkle.verify_consistency(5, 3, r5, r3, merkle.consistency_proof(3, leaves))
    assert not merkle.verify_consistency(-1, 5, r3, r5, [])
    for bad in (0, 6, -1):
        with pytest.raises(ValueError, match="0 < m <= n"):
            merkle.consistency_proof(bad, leaves)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.binary(max_size=12), min_size=1, max_size=300),
    st.data(),
)
def test_proofs_verify_and_every_bit_matters(entries: list[bytes], data: st.DataObject) -> None:
    leaves = merkle.leaf_hashes(entries)
    n = len(leaves)
    m = data.draw(st.integers(1, n), label="m")
    root_m, root_n = merkle.root(leaves[:m]), merkle.root(leaves)
    proof = merkle.consistency_proof(m, leaves)
    assert merkle.verify_consistency(m, n, root_m, root_n, proof)

    for k, node in enumerate(proof):
        bit = data.draw(st.integers(0, 255), label=f"bit in node {k}")
        bent = [*proof[:k], flip(node, bit), *proof[k + 1 :]]
        assert not merkle.verify_consistency(m, n, root_m, root_n, bent)
    bit = data.draw(st.integers(0, 255), label="bit in a root")
    assert not merkle.verify_consistency(m, n, flip(root_m, bit), root_n, proof)
    assert not merkle.verify_consistency(m, n, root_m, flip(root_n, bit), proof)
    if proof:
        assert not merkle.verify_consistency(m, n, root_m, root_n, proof[:-1])
        assert not merkle.verify_consistency(m, n, root_m, root_n, [*proof, proof[0]])

    # A wrong old size never verifies. A wrong new size verifies only where the proof
    # does not depend on it (see same_shape): the checkpoint's signature binds n.
    for wrong in {m - 1, m + 1, data.draw(st.integers(0, n + 5), label="wrong m")} - {m}:
        assert not merkle.verify_consistency(wrong, n, root_m, root_n, proof)
    for wrong in {n - 1, n + 1, data.draw(st.integers(0, 2 * n + 5), label="wrong n")} - {n}:
        expected = m < n and same_shape(m, n, wrong)
        assert merkle.verify_consistency(m, wrong, root_m, root_n, proof) is expected

    i = data.draw(st.integers(0, n - 1), label="leaf")
    path = merkle.audit_path(i, leaves)
    assert merkle.verify_inclusion(i, n, leaves[i], path, root_n)
    for k, node in enumerate(path):
        bit = data.draw(st.integers(0, 255), label=f"bit in path node {k}")
        bent = [*path[:k], flip(node, bit), *path[k + 1 :]]
        assert not merkle.verify_inclusion(i, n, leaves[i], bent, root_n)
    bit = data.draw(st.integers(0, 255), label="bit in leaf or root")
    assert not merkle.verify_inclusion(i, n, flip(leaves[i], bit), path, root_n)
    assert not merkle.verify_inclusion(i, n, leaves[i], path, flip(root_n, bit))


def test_same_shape_is_exactly_when_a_wrong_size_verifies() -> None:
    """Exhaustive for n <= 48: pins down the one way a proof can verify for another size."""
    leaves = merkle.leaf_hashes(f"s:{i}".encode() for i in range(48))
    roots = [merkle.root(leaves[:i]) for i in range(49)]
    for n in range(2, 49):
        for m in range(1, n):
            proof = merkle.consistency_proof(m, leaves[:n])
            for other in range(49):
                if other != n:
                    got = merkle.verify_consistency(m, other, roots[m], roots[n], proof)
                    assert got is same_shape(m, n, other), (m, n, other)
                if other != m:
                    assert not merkle.verify_consistency(other, n, roots[m], roots[n], proof)


def test_large_tree_proof_is_linear() -> None:
    """A 2**17 + 3 leaf tree: the proof hashes each leaf about once, not once per level."""
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range((1 << 17) + 3)]
    calls = 0

    def subtree(start: int, end: int) -> bytes:
        nonlocal calls
        calls += end - start
        return merkle.root(leaves[start:end])

    m = 100_001
    proof = merkle.consistency_proof_from(m, len(leaves), subtree)
    assert calls <= len(leaves)
    root_m = merkle.CompactRange()
    root_m.extend(leaves[:m])
    assert merkle.verify_consistency(m, len(leaves), root_m.root(), merkle.root(leaves), proof)
