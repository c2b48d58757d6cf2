"""JSON decoding for the hot paths: orjson (about three times json.loads on a registry
record), reading back exactly what json.dumps wrote. The standard library takes what orjson
refuses (NaN, Infinity) and what it reads differently: an integer beyond 64 bits, which
orjson turns into a float — so a document holding a float of that size is read again by
json.loads (a genuine float that large reads the same both ways)."""

from __future__ import annotations

import json
from typing import Any

import orjson

_BEYOND_INT64 = 2.0**63


def _has_huge_float(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return bool(value >= _BEYOND_INT64 or value <= -_BEYOND_INT64)
    if kind is dict:
        return any(_has_huge_float(v) for v in value.values())
    if kind is list:
        return any(_has_huge_float(v) for v in value)
    return False


def loads(data: str | bytes) -> Any:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
    if type(value) is dict:  # the common case, a flat record: its value types, in C
        kinds = set(map(type, value.values()))
        if float not in kinds and dict not in kinds and list not in kinds:
            return value
    return json.loads(data) if _has_huge_float(value) else value
