"""jsonfast.loads reads back everything json.dumps writes, exactly as json.loads does."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from simpul.kit import jsonfast

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)  # beyond orjson's 64 bits too
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def same(a: Any, b: Any) -> bool:
    """Equality in which NaN equals NaN (json.loads gives a NaN float for NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@given(documents, st.booleans())
def test_reads_what_json_dumps_wrote(document: Any, as_bytes: bool) -> None:
    text = json.dumps(document, ensure_ascii=False)
    data = text.encode() if as_bytes else text
    assert same(jsonfast.loads(data), json.loads(text))


def test_registry_record_shape() -> None:
    record = {"nik": "3171015001900001", "nama_lengkap": "SITI NURHALIZA", "umur": 35,
              "penghasilan": float("nan"), "tanggal_lahir": "1990-01-10"}  # fmt: skip
    got = jsonfast.loads(json.dumps(record))
    assert got["nama_lengkap"] == "SITI NURHALIZA" and math.isnan(got["penghasilan"])
