"""How a record is hashed: the chain's entry hash and the subjects' keyed hash.

Entry hash = SHA-256(PREFIX || prev_hash || body), body = the JSON array
[seq, ts, *RECORD_FIELDS, *subject_hashes] with compact separators and ASCII escapes. JSON is
an unambiguous encoding that CPython's C encoder writes in about two microseconds, which is
what lets `verify` re-hash a million rows within its time budget.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

HASH_PREFIX = b"simpul.audit.v1\x00"
_sha256 = hashlib.sha256


def _unhashable(value: object) -> Any:
    raise TypeError(f"nilai bertipe {type(value).__name__} tidak dapat di-hash")


# C encoders built once: json.dumps rebuilds one on every call (a third of the cost).
_c_make: Any = json.encoder.c_make_encoder  # type: ignore[attr-defined]
_chunks: Any = _c_make(
    None, _unhashable, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, False
)
# result/detail payloads: keys sorted, non-ASCII kept readable, anything odd stringified.
_payload_chunks: Any = _c_make(
    None, str, json.encoder.encode_basestring, None, ":", ",", True, False, False
)


def canonical_json(values: Sequence[Any]) -> str:
    return "".join(_chunks(values, 0))


def entry_hash(prev_hash: bytes, row: Sequence[Any], subjects: Sequence[str]) -> bytes:
    """The chain hash of a record given as (seq, ts text, *RECORD_FIELDS)."""
    body = canonical_json((*row, *subjects)).encode()
    return _sha256(HASH_PREFIX + prev_hash + body).digest()


class SubjectHasher:
    """subject_hash with the key schedule computed once (hashing many NIKs per second)."""

    def __init__(self, key: str) -> None:
        self._base = hmac.new(key.encode(), digestmod="sha256")

    def __call__(self, nik: str) -> str:
        mac = self._base.copy()
        mac.update(nik.strip().encode())
        return mac.hexdigest()
