"""The Fellegi–Sunter model of stage 3: comparison levels, the u-probabilities from random
registry pairs, the m-probabilities from the list's NIK-anchored pairs, and the weights
(log2 m/u) a run scores with. Shared by `simpul.matching.engine` and the Spark pipeline."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz import fuzz

from simpul.matching.normalize import name_similarity, swapped_day_month

if TYPE_CHECKING:
    from simpul.matching.engine import MatchOptions, RegistryIndex

_EPOCH = date(1970, 1, 1)
_NO_DAY = -(2**31)


# --- comparison levels ---------------------------------------------------------------------

NAME_LEVELS = ("sama", "inisial", "mirip_tinggi", "mirip", "berbeda")
DOB_LEVELS = ("sama", "tertukar", "satu_digit", "tahun_sama", "berbeda")
NIK_LEVELS = ("sama", "satu_salah", "wilayah_sama", "berbeda")
ADDR_LEVELS = ("sama", "mirip", "berbeda")
REGION_LEVELS = ("kabupaten_sama", "berbeda")


def name_level(sim: float) -> int:
    if sim >= 100:
        return 0
    if sim >= 95:
        return 1
    if sim >= 88:
        return 2
    if sim >= 75:
        return 3
    return 4


def dob_level(q: int, r: int) -> int | None:
    if q == _NO_DAY or r == _NO_DAY:
        return None
    if q == r:
        return 0
    qd, rd = _EPOCH.fromordinal(q + _EPOCH.toordinal()), _EPOCH.fromordinal(r + _EPOCH.toordinal())
    if swapped_day_month(qd) == rd:
        return 1
    a = (qd.day, qd.month, qd.year)
    b = (rd.day, rd.month, rd.year)
    if (
        sum(
            x != y
            for x, y in zip(
                f"{a[0]:02d}{a[1]:02d}{a[2]:04d}", f"{b[0]:02d}{b[1]:02d}{b[2]:04d}", strict=True
            )
        )
        == 1
    ):
        return 2  # one digit of DDMMYYYY mistyped
    if qd.year == rd.year:
        return 3
    return 4


def _one_slip(a: str, b: str) -> bool:
    diff = [i for i in range(16) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and (a[diff[1]] == b[diff[0]])
    )


def nik_level(q: str, r: str) -> int | None:
    if not q or len(q) != 16 or len(r) != 16:
        return None
    if q == r:
        return 0
    if _one_slip(q, r):
        return 1
    if q[:6] == r[:6]:
        return 2
    return 3


def addr_level(q: str | None, r: str | None) -> int | None:
    if not q or not r:
        return None
    if q == r:
        return 0
    return 1 if fuzz.token_sort_ratio(q, r) >= 80 else 2


# Fixed NIK m/u: among true matches whose list carries a NIK, ~95 % carry it right and
# ~4 % one slip away (the figures real lists and the generator show); two random people
# share a district (6 digits) with the probability measured on the registry.
_NIK_M = (0.95, 0.04, 0.007, 0.003)
# Fixed region m: a list row without a NIK names the kabupaten its person is registered
# in ~90 % of the time (people move; NIK digits 1-4 keep the first registration's).
_REGION_M = (0.9, 0.1)


@dataclass
class _Model:
    name_m: np.ndarray
    name_u: np.ndarray
    dob_m: np.ndarray
    dob_u: np.ndarray
    nik_u: np.ndarray
    addr_m: np.ndarray
    addr_u: np.ndarray
    region_u: np.ndarray

    def describe(self) -> dict[str, dict[str, float]]:
        def table(levels: tuple[str, ...], m: np.ndarray, u: np.ndarray) -> dict[str, float]:
            return {lv: round(math.log2(m[i] / u[i]), 2) for i, lv in enumerate(levels)}

        return {
            "nama": table(NAME_LEVELS, self.name_m, self.name_u),
            "tanggal_lahir": table(DOB_LEVELS, self.dob_m, self.dob_u),
            "nik": table(NIK_LEVELS, np.array(_NIK_M), self.nik_u),
            "alamat": table(ADDR_LEVELS, self.addr_m, self.addr_u),
            "wilayah": table(REGION_LEVELS, np.array(_REGION_M), self.region_u),
        }


def _freq(counts: np.ndarray, prior: Sequence[float], strength: float = 20.0) -> np.ndarray:
    """Level frequencies with a Dirichlet prior (so a small sample cannot produce 0)."""
    p = np.asarray(prior, dtype=float)
    out: np.ndarray = (counts + strength * p) / (counts.sum() + strength)
    return out


U_SAMPLE = 20_000  # random registry pairs for the u-probabilities


def u_pairs(n: int, seed: int, size: int = U_SAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """The registry positions of the random pairs u is estimated from (fixed by `seed`)."""
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, size)
    b = rng.integers(0, n, size)
    keep = a != b
    return a[keep], b[keep]


def u_counts(reg: RegistryIndex, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Level counts over the pairs (a[k], b[k]) of positions in `reg`."""
    if a.size == 0:
        return np.ones(5), np.ones(5), np.ones(4), np.ones(3), np.ones(2)
    name_c = np.zeros(5)
    dob_c = np.zeros(5)
    nik_c = np.zeros(4)
    addr_c = np.zeros(3)
    niks = reg.nik
    for i, j in zip(a.tolist(), b.tolist(), strict=True):
        dl = dob_level(int(reg.days[i]), int(reg.days[j]))
        if dl is not None:
            dob_c[dl] += 1
        nl = nik_level(str(niks[i]), str(niks[j]))
        if nl is not None:
            nik_c[nl] += 1
    # Names and addresses are costlier to compare; a smaller sample is enough for them.
    for i, j in zip(a[:4000].tolist(), b[:4000].tolist(), strict=True):
        name_c[name_level(name_similarity(reg.key(i), reg.key(j)))] += 1
        al = addr_level(reg.address(i), reg.address(j))
        if al is not None:
            addr_c[al] += 1
    region_c = np.array([0.0, 0.0])
    ka, kb = reg.kabupaten[a], reg.kabupaten[b]
    known = (ka[:, 0] >= 0) & (kb[:, 0] >= 0)
    same = (ka[:, :, None] == kb[:, None, :]) & (ka[:, :, None] >= 0)[:, :, :]
    agree = same.any(axis=(1, 2)) & known
    region_c[0] = float(agree.sum())
    region_c[1] = float(known.sum() - agree.sum())
    return name_c, dob_c, nik_c, addr_c, region_c


Anchor = tuple[int, int, int, int | None]  # levels of a NIK-anchored pair: name, dob, 1, address


def fit_model(
    counts: tuple[np.ndarray, ...], per_day: np.ndarray, population: int, anchored: list[Anchor]
) -> _Model:
    """The model from the u level counts, the registry's number of people per birth date
    (in date order) and the anchored pairs."""
    name_c, dob_c, nik_c, addr_c, region_c = counts
    n = max(population, 1)
    name_u = _freq(name_c, (0.0005, 0.0005, 0.002, 0.02, 0.977), 5)
    dob_u = _freq(dob_c, (1 / 30000, 1 / 30000, 30 / 30000, 0.012, 0.987), 5)
    # Exact birth-date agreement is too rare to sample: Σ p_d² over the registry's dates.
    dob_u[0] = max(float(((per_day / n) ** 2).sum()), 1 / n)
    dob_u[1] = dob_u[0] * 12 / 31  # a swap needs day ≤ 12: about the same order
    dob_u[2] = max(dob_u[2], dob_u[0] * 30)  # ~30 valid dates one digit away
    # Exact and one-slip NIK agreement between two different people: analytic, not sampled.
    region = nik_c[2] / max(nik_c.sum(), 1)
    nik_u = np.array([1 / n, 2 / n, max(region, 1 / n), 1.0])
    addr_u = _freq(addr_c, (0.01, 0.05, 0.94), 5)
    region_u = _freq(region_c, (0.01, 0.99), 5)
    name_m_c = np.zeros(5)
    dob_m_c = np.zeros(5)
    addr_m_c = np.zeros(3)
    for nl, dl, _al_present, al in anchored:
        name_m_c[nl] += 1
        dob_m_c[dl] += 1
        if al is not None:
            addr_m_c[al] += 1
    name_m = _freq(name_m_c, (0.8, 0.02, 0.1, 0.06, 0.02))
    dob_m = _freq(dob_m_c, (0.95, 0.02, 0.015, 0.01, 0.005))
    addr_m = _freq(addr_m_c, (0.7, 0.2, 0.1))
    return _Model(name_m, name_u, dob_m, dob_u, nik_u, addr_m, addr_u, region_u)


@dataclass(frozen=True)
class Weights:
    """Stage 3's log2(m/u) per comparison level and the prior, fixed for one run."""

    model: _Model
    name: np.ndarray
    dob: np.ndarray
    nik: np.ndarray
    addr: np.ndarray
    region: np.ndarray
    p0: float
    log_prior: float

    @classmethod
    def of(cls, model: _Model, opts: MatchOptions, population: int) -> Weights:
        p0 = opts.prior_in_registry
        return cls(
            model,
            np.log2(model.name_m / model.name_u),
            np.log2(model.dob_m / model.dob_u),
            np.log2(np.array(_NIK_M) / model.nik_u),
            np.log2(model.addr_m / model.addr_u),
            np.log2(np.array(_REGION_M) / model.region_u),
            p0,
            math.log2(p0 / max(population, 1)),
        )
