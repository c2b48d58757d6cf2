"""Vectorised helpers shared by the generator: seeded streams, grouped draws, dates, strings."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# The world is "as of" this date: fixed, so the same seed gives the same bytes on any day.
REFERENCE = date(2025, 12, 31)
EPOCH = date(1970, 1, 1)
REF_DAYS = (REFERENCE - EPOCH).days
DAYS_PER_YEAR = 365.2425


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent generator per concern, so adding draws in one does not shift another."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))
    )


def cumulative(weights: Sequence[float] | npt.NDArray[np.float64]) -> FloatArray:
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    if cum.size == 0 or cum[-1] <= 0:
        raise ValueError("weights must have a positive sum")
    return cum


def pick(rng: np.random.Generator, cum: FloatArray, n: int) -> IntArray:
    """`n` indices drawn with the cumulative weights `cum`."""
    idx: IntArray = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
    return np.minimum(idx, cum.size - 1).astype(np.int64)


class Grouper:
    """Sort items by group once; then draw per group from each group's own distribution."""

    def __init__(self, groups: npt.NDArray[np.integer], n_groups: int) -> None:
        self.n = int(groups.size)
        self.order = np.argsort(groups, kind="stable")
        self.bounds = np.searchsorted(groups[self.order], np.arange(n_groups + 1))

    def slices(self) -> list[tuple[int, IntArray]]:
        out: list[tuple[int, IntArray]] = []
        for g in range(self.bounds.size - 1):
            lo, hi = self.bounds[g], self.bounds[g + 1]
            if hi > lo:
                out.append((g, self.order[lo:hi]))
        return out

    def draw(self, rng: np.random.Generator, cums: Sequence[FloatArray | None]) -> IntArray:
        """Index into group g's distribution for each item; -1 where a group has none."""
        u = rng.random(self.n)
        out = np.full(self.n, -1, dtype=np.int64)
        for g, idx in self.slices():
            cum = cums[g]
            if cum is None:
                continue
            found = np.searchsorted(cum, u[idx] * cum[-1], side="right")
            out[idx] = np.minimum(found, cum.size - 1)
        return out

    def draw_from(
        self, rng: np.random.Generator, tables: Sequence[tuple[IntArray, FloatArray] | None]
    ) -> IntArray:
        """A value per item from its group's (values, cumulative weights); -1 if none."""
        u = rng.random(self.n)
        out = np.full(self.n, -1, dtype=np.int64)
        for g, idx in self.slices():
            table = tables[g]
            if table is None:
                continue
            values, cum = table
            found = np.searchsorted(cum, u[idx] * cum[-1], side="right")
            out[idx] = values[np.minimum(found, cum.size - 1)]
        return out


def grouped_choice(
    rng: np.random.Generator, groups: npt.NDArray[np.integer], probs: npt.NDArray[np.float64]
) -> IntArray:
    """One category per item from row `groups[i]` of the weight matrix `probs` (G × K)."""
    cums = [cumulative(row) if row.sum() > 0 else None for row in probs]
    return Grouper(groups, probs.shape[0]).draw(rng, cums)


def rank_within(rng: np.random.Generator, keys: npt.NDArray[np.integer]) -> IntArray:
    """0-based rank of each item among items with an equal key, in random order."""
    n = keys.size
    order = np.lexsort((rng.permutation(n), keys))
    sorted_keys = keys[order]
    start = np.ones(n, dtype=bool)
    start[1:] = sorted_keys[1:] != sorted_keys[:-1]
    pos = np.arange(n)
    first = np.maximum.accumulate(np.where(start, pos, 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = pos - first
    return rank


def ymd(days: npt.NDArray[np.integer]) -> tuple[IntArray, IntArray, IntArray]:
    """Year, month, day of days since 1970-01-01."""
    d = days.astype("datetime64[D]")
    years = d.astype("datetime64[Y]")
    months = d.astype("datetime64[M]")
    year = years.astype(np.int64) + 1970
    month = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    day = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def days_of(year: IntArray, month: IntArray, day: IntArray) -> IntArray:
    """Days since 1970-01-01 of valid calendar dates."""
    first = (year - 1970) * 12 + (month - 1)
    return first.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + day - 1


def add_years(days: npt.NDArray[np.integer], years: int) -> IntArray:
    """The same calendar day `years` later (29 February → 1 March)."""
    y, m, d = ymd(days)
    leap_fix = (m == 2) & (d == 29)
    shifted: IntArray = days_of(y + years, m, np.where(leap_fix, 28, d)) + leap_fix
    return shifted


def digits(values: npt.NDArray[np.integer]) -> pa.Array:
    """Integers as decimal strings (no padding)."""
    return pc.cast(pa.array(values, type=pa.int64()), pa.string())


def zero_pad(values: npt.NDArray[np.integer], width: int) -> pa.Array:
    return pc.utf8_lpad(digits(values), width=width, padding="0")


def take(pool: Sequence[str] | pa.Array, idx: npt.NDArray[np.integer]) -> pa.Array:
    """Strings from a small pool by index; a negative index gives null."""
    arr = pool if isinstance(pool, pa.Array) else pa.array(list(pool), type=pa.string())
    mask = idx < 0
    indices = pa.array(np.where(mask, 0, idx), type=pa.int64(), mask=mask if mask.any() else None)
    return pc.take(arr, indices)


def join(parts: Sequence[pa.Array | str], sep: str = " ") -> pa.Array:
    """Element-wise join, skipping nulls (a missing middle name leaves no double space)."""
    return pc.binary_join_element_wise(*parts, sep, null_handling="skip")


def dates(days: npt.NDArray[np.integer]) -> pa.Array:
    return pa.array(days.astype(np.int32), type=pa.int32()).cast(pa.date32())
