"""The in-memory tree the node serves proofs from agrees with the list-based RFC 6962 code
(itself checked against a literal transcription of the RFC in test_consistency.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from simpul.audit import merkle, tree


@hsettings(max_examples=60, deadline=None)
@given(entries=st.lists(st.binary(max_size=8), min_size=1, max_size=200), data=st.data())
def test_cached_proofs_equal_the_reference_and_verify(
    entries: list[bytes], data: st.DataObject
) -> None:
    leaves = merkle.leaf_hashes(entries)
    cache = tree.TreeCache()
    cut = data.draw(st.integers(0, len(leaves)))
    cache.extend(leaves[:cut])  # grown in two steps, as the server syncs it
    cache.extend(leaves[cut:])
    n = len(leaves)
    m = data.draw(st.integers(1, n))
    i = data.draw(st.integers(0, n - 1))
    assert cache.root(m) == merkle.root(leaves[:m])
    assert cache.inclusion(i, n) == merkle.audit_path(i, leaves)
    proof = cache.consistency(m, n)
    assert proof == merkle.consistency_proof(m, leaves)
    assert merkle.verify_consistency(m, n, cache.root(m), cache.root(n), proof)
