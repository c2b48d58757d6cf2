"""Welfare: a latent household score, national deciles, DTKS membership and Regsosek variables.

One score drives everything (schooling, housing, assets, spending, DTKS), so the registries
agree with each other the way real ones roughly do: DTKS households sit in desil 1–4 and
their Regsosek desil is the same number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from simpul.registry.synth.families import SINGLE, Families
from simpul.registry.synth.geo import Geo
from simpul.registry.synth.pools import (
    ASSETS,
    BPNT,
    DISABILITAS,
    DISABILITY_TYPES,
    DTKS_COVERAGE,
    HOUSING,
    IJAZAH,
    IJAZAH_OF_EDU,
    LAND,
    LAPANGAN_USAHA,
    PBI_JK,
    PEKERJAAN,
    PKH,
    SECTOR_BY_WORK,
    STATUS_BEKERJA,
    P,
)
from simpul.registry.synth.provinces import (
    JAVA,
    PROVINCES,
    S,
)
from simpul.registry.synth.util import (
    BoolArray,
    FloatArray,
    IntArray,
    cumulative,
    grouped_choice,
    pick,
    rank_within,
    take,
    zero_pad,
)
from simpul.registry.synth.util import join as sjoin

SPENDING_MEDIAN = 1_250_000  # Rp per capita per month
SPENDING_SPREAD = 0.62


def household_wealth(rng: np.random.Generator, fam: Families, geo: Geo) -> FloatArray:
    prov_effect = np.array([PROVINCES[c].wealth for c in geo.prov_codes])[fam.h_prov]
    head_age = fam.p_age[fam.h_head]
    lone_elder = (fam.h_kind == SINGLE) & (head_age >= 60)
    score: FloatArray = (
        0.85 * rng.standard_normal(fam.n_households)
        + prov_effect
        + 0.35 * fam.h_urban
        - 0.08 * (fam.h_size - 3.3)
        + 0.5 * (fam.h_style == S["tionghoa"])
        - 0.3 * lone_elder
    )
    return score


def deciles(wealth: FloatArray, size: IntArray) -> IntArray:
    """National desil 1–10 weighted by people (desil 1 = poorest tenth of persons)."""
    order = np.argsort(wealth, kind="stable")
    cum = np.cumsum(size[order])
    mid = (cum - size[order] / 2) / cum[-1]
    out = np.empty(wealth.size, dtype=np.int64)
    out[order] = np.clip(np.floor(mid * 10).astype(np.int64) + 1, 1, 10)
    return out


@dataclass
class Welfare:
    wealth: FloatArray
    desil: IntArray
    dtks: BoolArray  # per household
    pkh: BoolArray
    bpnt: BoolArray
    pbi: BoolArray
    disability: IntArray  # per person, index into DISABILITAS


def _any_per_household(fam: Families, flag: BoolArray) -> BoolArray:
    return np.maximum.reduceat(flag.astype(np.int64), fam.h_head).astype(bool)


def build_welfare(rng: np.random.Generator, fam: Families, wealth: FloatArray) -> Welfare:
    desil = deciles(wealth, fam.h_size)
    h = fam.n_households
    age = fam.p_age
    p_disabled = np.select([age < 18, age < 60, age < 75], [0.008, 0.015, 0.07], 0.18)
    disabled = rng.random(fam.n_people) < p_disabled
    kind = pick(rng, cumulative(DISABILITY_TYPES), fam.n_people) + 1
    disability = np.where(disabled, kind, 0)

    poor = desil <= 4
    d = np.minimum(desil, 4) - 1
    in_dtks = poor & (rng.random(h) < np.array(DTKS_COVERAGE)[d])
    components = _any_per_household(fam, (age < 18) | (age >= 60) | disabled)
    pkh = in_dtks & (rng.random(h) < np.array(PKH)[d] * np.where(components, 1.0, 0.15))
    bpnt = in_dtks & (rng.random(h) < np.where(pkh, 0.9, np.array(BPNT)[d]))
    pbi = in_dtks & (rng.random(h) < np.where(pkh | bpnt, 0.95, np.array(PBI_JK)[d]))
    return Welfare(wealth, desil, in_dtks, pkh, bpnt, pbi, disability)


def _interpolated(rows: tuple[tuple[float, ...], tuple[float, ...]]) -> np.ndarray:
    low, high = np.asarray(rows[0], dtype=float), np.asarray(rows[1], dtype=float)
    t = np.arange(10)[:, None] / 9.0
    return low * (1 - t) + high * t


def household_id(
    rng: np.random.Generator, fam: Families, geo: Geo, prefix: str, width: int
) -> pa.Array:
    """Stable per-village serials: `<prefix><village code><serial>`."""
    serial = rank_within(rng, fam.h_village) + 1
    return sjoin([prefix, take(geo.vill_codes, fam.h_village), zero_pad(serial, width)], "")


def housing_columns(
    rng: np.random.Generator, fam: Families, geo: Geo, welfare: Welfare
) -> dict[str, pa.Array]:
    """Regsosek household variables, better with each desil; one value per household."""
    h = fam.n_households
    d = welfare.desil - 1
    urban = fam.h_urban
    java = np.isin(np.array(geo.prov_codes)[fam.h_prov], sorted(JAVA))
    out: dict[str, pa.Array] = {}
    for name, (values, variants) in HOUSING.items():
        keys = list(variants)
        probs = np.concatenate([_interpolated(variants[k]) for k in keys])
        if keys == ["all"]:
            variant = np.zeros(h, dtype=np.int64)
        elif keys == ["rural", "urban"]:
            variant = urban.astype(np.int64)
        else:
            variant = (~java).astype(np.int64)
        out[name] = take(values, grouped_choice(rng, variant * 10 + d, probs))
    t = d / 9.0
    floor = (30 + 9 * d + 7 * fam.h_size) * np.exp(rng.normal(0, 0.35, h))
    out["luas_lantai"] = pa.array(np.round(np.clip(floor, 9, 1500)), type=pa.float64())
    for name, (low, high, power) in ASSETS.items():
        out[name] = pa.array(rng.random(h) < low + (high - low) * t**power, type=pa.bool_())
    land = np.where(urban, LAND["urban"][0] + (LAND["urban"][1] - LAND["urban"][0]) * t,
                    LAND["rural"][0] + (LAND["rural"][1] - LAND["rural"][0]) * t)  # fmt: skip
    out["memiliki_lahan"] = pa.array(rng.random(h) < land, type=pa.bool_())
    z = (welfare.wealth - welfare.wealth.mean()) / max(float(welfare.wealth.std()), 1e-9)
    spend = SPENDING_MEDIAN * np.exp(SPENDING_SPREAD * z + rng.normal(0, 0.08, h))
    out["pengeluaran_per_kapita"] = pa.array(np.round(spend / 1000).astype(np.int64) * 1000)
    return out


def person_columns(
    rng: np.random.Generator, fam: Families, edu: IntArray, work: IntArray, welfare: Welfare
) -> dict[str, pa.Array]:
    """Regsosek person variables derived from the same schooling and work as SIAK."""
    status = np.full(len(PEKERJAAN), 0, dtype=np.int64)
    status[[P["BELUM/TIDAK BEKERJA"], P["PENSIUNAN"]]] = 1
    status[P["PELAJAR/MAHASISWA"]] = 2
    status[P["MENGURUS RUMAH TANGGA"]] = 3
    work_status = status[work]
    sector_probs = np.zeros((len(PEKERJAAN), len(LAPANGAN_USAHA)))
    for i, name in enumerate(PEKERJAAN):
        for column, w in SECTOR_BY_WORK.get(name, SECTOR_BY_WORK["LAINNYA"]).items():
            sector_probs[i, column] = w
    sector = grouped_choice(rng, work, sector_probs)
    sector[work_status != 0] = -1
    return {
        "pendidikan_tertinggi": take(IJAZAH, np.array(IJAZAH_OF_EDU)[edu]),
        "status_bekerja": take(STATUS_BEKERJA, work_status),
        "lapangan_usaha": take(LAPANGAN_USAHA, sector),
        "disabilitas": take(DISABILITAS, welfare.disability),
        "jumlah_anggota_keluarga": pa.array(fam.h_size[fam.p_hh].astype(np.int64)),
    }
