"""Households on KKs: who lives with whom, their ages, sexes and marital status.

Each household draws a composition (a couple or a single head, children, the head's parents
or parents-in-law, a married child with spouse and grandchildren, other relatives) and the
people are laid out household by household, role by role, without a Python loop over them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simpul.registry.synth.geo import Geo
from simpul.registry.synth.pools import (
    BELUM,
    CERAI_HIDUP,
    CERAI_MATI,
    KAWIN,
)
from simpul.registry.synth.provinces import (
    PROVINCES,
    RELIGION_BY_STYLE,
    RELIGION_OVERRIDES,
    STYLES,
    S,
)
from simpul.registry.synth.util import BoolArray, FloatArray, Grouper, IntArray, cumulative, pick

HEAD, SPOUSE, CHILD, MENANTU, CUCU, ORTU, MERTUA, FAMILI, LAIN = range(9)
N_ROLES = 9
COUPLE, SINGLE, SINGLE_PARENT = range(3)
MALE, FEMALE = 0, 1
MAX_AGE = 100.0


@dataclass
class Families:
    # Households.
    h_prov: IntArray
    h_village: IntArray
    h_urban: BoolArray
    h_kind: IntArray
    h_size: IntArray
    h_style: IntArray
    h_religion: IntArray
    h_head: IntArray  # person index of each member with a given role, or -1
    h_spouse: IntArray
    h_child0: IntArray  # the eldest child (the married one where there is a menantu)
    h_menantu: IntArray
    h_ortu_m: IntArray
    h_ortu_f: IntArray
    h_mertua_m: IntArray
    h_mertua_f: IntArray
    # People, household by household, in KK order.
    p_hh: IntArray
    p_role: IntArray
    p_k: IntArray  # index within the role (0 = eldest child)
    p_sex: IntArray
    p_age: FloatArray  # exact age in years at the reference date
    p_marital: IntArray
    p_order: IntArray  # birth order 0..3 (Balinese names)
    p_style: IntArray

    @property
    def n_households(self) -> int:
        return int(self.h_prov.size)

    @property
    def n_people(self) -> int:
        return int(self.p_hh.size)


def _province_weights(geo: Geo) -> FloatArray:
    # People per province ∝ population; households ∝ population / typical household size.
    return np.array(
        [
            PROVINCES[c].population / (2.0 + 0.9 * PROVINCES[c].children * PROVINCES[c].extended)
            for c in geo.prov_codes
        ]
    )


def _styles_by_province(geo: Geo) -> list[tuple[IntArray, FloatArray] | None]:
    out: list[tuple[IntArray, FloatArray] | None] = []
    for code in geo.prov_codes:
        mix = PROVINCES[code].styles
        out.append((np.array([S[s] for s in mix], dtype=np.int64), cumulative(list(mix.values()))))
    return out


def _religion_tables(geo: Geo) -> list[tuple[IntArray, FloatArray] | None]:
    """Religion distribution per (province, style), indexed province * n_styles + style."""
    out: list[tuple[IntArray, FloatArray] | None] = []
    for code in geo.prov_codes:
        for style in STYLES:
            weights = RELIGION_OVERRIDES.get((code, style), RELIGION_BY_STYLE[style])
            out.append((np.arange(7, dtype=np.int64), cumulative(weights)))
    return out


def _household_draws(rng: np.random.Generator, geo: Geo, n: int) -> dict[str, np.ndarray]:
    prov = pick(rng, cumulative(_province_weights(geo)), n)
    village_tables = list(zip(geo.prov_villages, geo.prov_village_cum, strict=True))
    village = Grouper(prov, geo.n_prov).draw_from(rng, list(village_tables))
    urban = geo.vill_urban[village]
    children_base = np.array([PROVINCES[c].children for c in geo.prov_codes])[prov]
    ext = np.array([PROVINCES[c].extended for c in geo.prov_codes])[prov]

    u = rng.random(n)
    p_single = 0.10 + 0.06 * urban
    kind = np.where(u < p_single, SINGLE, np.where(u < p_single + 0.09, SINGLE_PARENT, COUPLE))

    # Head's age by household type; single heads are young adults or widowed elders.
    couple_age = 19 + 62 * rng.beta(2.0, 3.0, n)
    v = rng.random(n)
    single_age = np.where(
        v < 0.45,
        18 + 17 * rng.random(n),
        np.where(v < 0.6, 35 + 25 * rng.random(n), 60 + 35 * rng.beta(1.5, 2.5, n)),
    )
    sp_age = 25 + 60 * rng.beta(2.2, 2.8, n)
    head_age = np.select([kind == COUPLE, kind == SINGLE], [couple_age, single_age], sp_age)
    p_female = np.select(
        [kind == COUPLE, kind == SINGLE_PARENT, head_age < 35, head_age < 60],
        [0.04, 0.75, 0.4, 0.45],
        0.7,
    )
    head_female = rng.random(n) < p_female
    gap = rng.normal(3.5, 3.5, n)
    spouse_age = np.clip(np.where(head_female, head_age + gap, head_age - gap), 18, 95)
    minp = np.where(kind == COUPLE, np.minimum(head_age, spouse_age), head_age)

    # Children at home: fewer for young and for old heads; more in the east.
    f_age = np.interp(
        head_age, [18, 22, 27, 35, 50, 60, 70, 80], [0.2, 0.4, 0.8, 1.1, 1.1, 0.75, 0.4, 0.2]
    )
    lam = children_base * f_age * np.where(urban, 0.9, 1.0)
    n_child = np.select(
        [kind == COUPLE, kind == SINGLE_PARENT],
        [rng.poisson(lam), 1 + rng.poisson(np.maximum(lam * 0.8 - 0.5, 0.1))],
        0,
    )
    # The eldest child was born when the younger parent was 18 to about 45; where the drawn
    # gap does not fit (young parents), anywhere since the parent turned 18.
    room = np.maximum(minp - 18, 0)
    gap = rng.gamma(2.0, 3.5, n)
    eldest = np.where(gap <= room, room - gap, rng.random(n) * room)
    eldest = np.minimum(eldest, np.maximum(30 + 10 * rng.random(n), minp - 45))
    eldest = np.maximum(eldest, 0.05 + 0.95 * rng.random(n))  # a baby, not a birth on the day
    n_child = np.minimum(np.minimum(n_child, 1 + np.floor(eldest / 2.5)), 8).astype(np.int64)

    ortu_ok = (head_age >= 22) & (head_age <= 65)
    has_ortu = ortu_ok & (rng.random(n) < 0.09 * ext)
    n_ortu = has_ortu * (1 + (rng.random(n) < 0.25))
    mertua_ok = (kind == COUPLE) & (spouse_age >= 22) & (spouse_age <= 65) & ~has_ortu
    n_mertua = (mertua_ok & (rng.random(n) < 0.035 * ext)) * (1 + (rng.random(n) < 0.25))
    menantu_ok = (kind != SINGLE) & (n_child >= 1) & (minp >= 40)
    has_menantu = menantu_ok & (rng.random(n) < 0.10 * ext)
    # A married child living with the parents is at least 22.
    eldest = np.where(
        has_menantu, np.maximum(eldest, np.minimum(22 + 8 * rng.random(n), minp - 18)), eldest
    )
    lone_cucu = ~has_menantu & (head_age >= 45) & (rng.random(n) < 0.05 * ext)
    n_cucu = np.where(
        has_menantu, np.minimum(rng.poisson(1.0, n), 4), lone_cucu * (1 + (rng.random(n) < 0.3))
    )
    n_famili = (rng.random(n) < 0.04 * ext) * (1 + (rng.random(n) < 0.15))
    n_lain = rng.random(n) < np.where(urban, 0.006, 0.003)

    counts = np.stack(
        [
            np.ones(n, dtype=np.int64),
            (kind == COUPLE).astype(np.int64),
            n_child,
            has_menantu.astype(np.int64),
            n_cucu.astype(np.int64),
            n_ortu.astype(np.int64),
            n_mertua.astype(np.int64),
            n_famili.astype(np.int64),
            n_lain.astype(np.int64),
        ],
        axis=1,
    )
    return {
        "prov": prov,
        "village": village,
        "urban": urban,
        "kind": kind,
        "head_age": head_age,
        "head_female": head_female,
        "spouse_age": spouse_age,
        "eldest": eldest,
        "counts": counts,
    }


def _cut(counts: IntArray, people: int) -> int:
    """Keep whole households up to `people`; trim the last one from its last roles."""
    total = np.cumsum(counts.sum(axis=1))
    last = int(np.searchsorted(total, people))
    excess = int(total[last]) - people
    for role in range(N_ROLES - 1, 0, -1):
        drop = min(int(counts[last, role]), excess)
        counts[last, role] -= drop
        excess -= drop
    return last + 1


def build_families(rng: np.random.Generator, geo: Geo, people: int) -> Families:
    if people < 1:
        raise ValueError("people must be at least 1")
    n = people // 2 + 16
    draws = _household_draws(rng, geo, n)
    while int(draws["counts"].sum()) < people:  # practically never: mean size is above 3
        n *= 2
        draws = _household_draws(rng, geo, n)
    counts: IntArray = draws["counts"]
    h = _cut(counts, people)
    d = {k: v[:h] for k, v in draws.items()}
    counts = counts[:h]

    flat = counts.ravel()
    block_start = np.cumsum(flat) - flat
    p_hh = np.repeat(np.repeat(np.arange(h), N_ROLES), flat)
    p_role = np.repeat(np.tile(np.arange(N_ROLES), h), flat)
    p_k = np.arange(people) - np.repeat(block_start, flat)
    starts = block_start.reshape(h, N_ROLES)

    def member(role: int, k: int = 0) -> IntArray:
        return np.where(counts[:, role] > k, starts[:, role] + k, -1)

    n = people
    age = np.zeros(n)
    sex = np.zeros(n, dtype=np.int64)
    marital = np.full(n, BELUM, dtype=np.int64)
    hh = p_hh
    head_age, spouse_age, eldest = d["head_age"][hh], d["spouse_age"][hh], d["eldest"][hh]
    head_female = d["head_female"][hh]
    kind = d["kind"][hh]
    u = rng.random(n)
    u2 = rng.random(n)

    is_ = [p_role == r for r in range(N_ROLES)]
    m = is_[HEAD]
    age[m], sex[m] = head_age[m], head_female[m]
    single_status = np.select(
        [head_age < 30, head_age < 55],
        [
            np.select([u < 0.85, u < 0.95], [BELUM, CERAI_HIDUP], KAWIN),
            np.select([u < 0.4, u < 0.75, u < 0.9], [BELUM, CERAI_HIDUP, CERAI_MATI], KAWIN),
        ],
        np.select([u < 0.75, u < 0.9, u < 0.95], [CERAI_MATI, CERAI_HIDUP, BELUM], KAWIN),
    )
    parent_status = np.where(u < np.where(head_age < 45, 0.4, 0.75), CERAI_MATI, CERAI_HIDUP)
    marital[m] = np.select([kind == COUPLE, kind == SINGLE], [KAWIN, single_status], parent_status)[
        m
    ]

    m = is_[SPOUSE]
    age[m], sex[m], marital[m] = spouse_age[m], 1 - head_female[m], KAWIN

    # Children: the eldest at `eldest`, each next one some years younger.
    m = is_[CHILD]
    spacing = np.where(m & (p_k > 0), 1.2 + rng.gamma(2.0, 1.0, n), 0.0)
    cum_spacing = np.cumsum(spacing)
    child_age = eldest - (cum_spacing - cum_spacing[np.arange(n) - p_k])
    child_age = np.where(child_age < 0.05, 0.05 + u * 0.9, child_age)  # not yet born: a baby
    idx = np.nonzero(m)[0]
    order = np.lexsort((-child_age[idx], hh[idx]))
    age[idx] = child_age[idx][order]
    sex[m] = u2[m] < 0.485
    has_menantu = counts[:, MENANTU][hh] > 0
    married = m & (p_k == 0) & has_menantu
    grown = m & (age >= 19) & ~married
    marital[grown] = np.select(
        [u2[grown] < 0.93, u2[grown] < 0.98], [BELUM, CERAI_HIDUP], CERAI_MATI
    )
    marital[married] = KAWIN

    child0 = member(CHILD)
    m = is_[MENANTU]
    child0_sex = sex[child0[hh[m]]]
    sex[m] = 1 - child0_sex
    gap = np.abs(rng.normal(2.0, 3.0, int(m.sum())))
    age[m] = np.maximum(np.where(sex[m] == FEMALE, eldest[m] - gap, eldest[m] + gap), 18)
    marital[m] = KAWIN

    m = is_[CUCU]
    menantu = member(MENANTU)
    parent_age = np.where(
        menantu[hh] >= 0, np.minimum(eldest, age[np.maximum(menantu[hh], 0)]), head_age - 18
    )
    age[m] = (0.05 + u * np.maximum(np.minimum(parent_age - 18, 17) - 0.05, 0))[m]
    sex[m] = u2[m] < 0.49

    for role, base in ((ORTU, head_age), (MERTUA, spouse_age)):
        m = is_[role]
        pair = counts[:, role][hh] == 2
        older = base + 18 + rng.gamma(2.0, 4.0, n) + np.where(pair & (p_k == 0), 3.0, 0.0)
        age[m] = np.minimum(older, MAX_AGE)[m]
        sex[m] = np.where(pair, p_k == 1, u2 < 0.7)[m]
        marital[m] = np.where(pair, KAWIN, np.where(u < 0.85, CERAI_MATI, CERAI_HIDUP))[m]

    m = is_[FAMILI]
    age[m] = (3 + 60 * rng.beta(1.3, 2.2, n))[m]
    sex[m] = u2[m] < 0.5
    adult = m & (age >= 20)
    marital[adult] = np.select(
        [u[adult] < 0.55, u[adult] < 0.75, u[adult] < 0.87], [BELUM, KAWIN, CERAI_HIDUP], CERAI_MATI
    )
    m = is_[LAIN]
    age[m] = (18 + 40 * rng.beta(2.0, 3.0, n))[m]
    sex[m] = u2[m] < 0.8
    marital[m] = np.where(u < 0.6, BELUM, np.where(u < 0.75, KAWIN, CERAI_HIDUP))[m]

    order_draw = pick(rng, cumulative([0.35, 0.3, 0.2, 0.15]), n)
    p_order = np.where(is_[CHILD], p_k % 4, order_draw)

    h_style = Grouper(d["prov"], geo.n_prov).draw_from(rng, _styles_by_province(geo))
    key = d["prov"] * len(STYLES) + h_style
    h_religion = Grouper(key, geo.n_prov * len(STYLES)).draw_from(rng, _religion_tables(geo))
    # One spouse in eight (and in-laws) comes from another tradition of the same province.
    other_style = Grouper(d["prov"][hh], geo.n_prov).draw_from(rng, _styles_by_province(geo))
    p_style = h_style[hh]
    mixed = (is_[SPOUSE] | is_[MENANTU]) & (rng.random(n) < 0.12)
    p_style = np.where(mixed, other_style, p_style)
    spouse = member(SPOUSE)
    in_law = is_[MERTUA]
    p_style[in_law] = p_style[spouse[hh[in_law]]]

    def parent_of(role: int, want_sex: int) -> IntArray:
        first, second = member(role, 0), member(role, 1)
        first_ok = (first >= 0) & (sex[np.maximum(first, 0)] == want_sex)
        second_ok = (second >= 0) & (sex[np.maximum(second, 0)] == want_sex)
        return np.where(first_ok, first, np.where(second_ok, second, -1))

    return Families(
        h_prov=d["prov"],
        h_village=d["village"],
        h_urban=d["urban"],
        h_kind=d["kind"],
        h_size=counts.sum(axis=1),
        h_style=h_style,
        h_religion=h_religion,
        h_head=member(HEAD),
        h_spouse=spouse,
        h_child0=child0,
        h_menantu=menantu,
        h_ortu_m=parent_of(ORTU, MALE),
        h_ortu_f=parent_of(ORTU, FEMALE),
        h_mertua_m=parent_of(MERTUA, MALE),
        h_mertua_f=parent_of(MERTUA, FEMALE),
        p_hh=p_hh,
        p_role=p_role,
        p_k=p_k,
        p_sex=sex,
        p_age=age,
        p_marital=marital,
        p_order=p_order,
        p_style=p_style,
    )
