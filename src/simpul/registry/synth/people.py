"""Kependudukan: identifiers, names, birthplaces, addresses, schooling and work per person."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simpul.registry.synth import namepools
from simpul.registry.synth.families import (
    CHILD,
    CUCU,
    FAMILI,
    FEMALE,
    HEAD,
    MALE,
    MENANTU,
    MERTUA,
    ORTU,
    SPOUSE,
    Families,
)
from simpul.registry.synth.geo import Geo
from simpul.registry.synth.names import NAMING, NS, draw_names, draw_surnames, era_of, name_book
from simpul.registry.synth.pools import (
    ADULT_EDUCATION,
    BANJAR,
    DUSUN,
    EDU_D3,
    EDU_SLTA,
    EDU_SLTP,
    FEMALE_FACTOR,
    GOLONGAN_DARAH_WEIGHTS,
    HOMEMAKER,
    JALAN,
    JORONG,
    KAMPUNG,
    KAWIN,
    KOMPLEK,
    MIDWIFE,
    OLD_WORK,
    PEKERJAAN,
    WORK,
    P,
)
from simpul.registry.synth.util import (
    DAYS_PER_YEAR,
    REF_DAYS,
    BoolArray,
    FloatArray,
    IntArray,
    add_years,
    cumulative,
    days_of,
    grouped_choice,
    join,
    pick,
    rank_within,
    take,
    ymd,
    zero_pad,
)

KK_FROM = days_of(np.array([2008]), np.array([1]), np.array([1]))[0]  # SIAK KK numbers


@dataclass
class People:
    birth: IntArray  # days since epoch
    nik: IntArray  # 16-digit NIK as an integer
    kk: IntArray  # per household
    edu: IntArray
    work: IntArray
    names: pa.Array
    father: pa.Array
    mother: pa.Array
    birthplace: pa.Array
    h_address: pa.Array
    h_rt: pa.Array
    h_rw: pa.Array
    blood: IntArray


def birth_days(fam: Families) -> IntArray:
    days = REF_DAYS - np.floor(fam.p_age * DAYS_PER_YEAR).astype(np.int64)
    return np.minimum(days, REF_DAYS - 14)  # registered at least two weeks before the cut-off


def _date_part(days: IntArray, female: BoolArray | None = None) -> IntArray:
    """DDMMYY as an integer (day + 40 for women, as in a NIK)."""
    y, m, d = ymd(days)
    if female is not None:
        d = d + 40 * female
    return d * 10_000 + m * 100 + y % 100


def make_niks(rng: np.random.Generator, fam: Families, geo: Geo, birth: IntArray) -> IntArray:
    """NIK: district of first registration + DDMMYY(+40) + serial, unique by construction."""
    own = geo.vill_dist[fam.h_village[fam.p_hh]]
    p_moved = np.select(
        [fam.p_role == HEAD, fam.p_role == SPOUSE, fam.p_role == MENANTU, fam.p_role == CHILD],
        [0.12, 0.18, 0.25, np.where(fam.p_age < 17, 0.03, 0.06)],
        0.15,
    )
    moved = rng.random(fam.n_people) < p_moved
    elsewhere = geo.vill_dist[fam.h_village[rng.integers(0, fam.n_households, fam.n_people)]]
    region = geo.dist_codes[np.where(moved, elsewhere, own)]
    date_part = _date_part(birth, fam.p_sex == FEMALE)
    serial = rank_within(rng, region * 1_000_000 + date_part) + 1
    return (region * 1_000_000 + date_part) * 10_000 + serial


def make_kks(
    rng: np.random.Generator, fam: Families, geo: Geo, birth: IntArray, nik: IntArray
) -> IntArray:
    """KK: household district + issue date (after its youngest member's birth) + serial."""
    starts = fam.h_head
    youngest = np.maximum.reduceat(birth, starts)
    head_adult = add_years(birth[starts], 17)
    earliest = np.maximum(np.maximum(youngest, head_adult), KK_FROM)
    earliest = np.minimum(earliest, REF_DAYS)
    issued = earliest + np.floor(rng.random(starts.size) * (REF_DAYS - earliest + 1)).astype(
        np.int64
    )
    region = geo.dist_codes[geo.vill_dist[fam.h_village]]
    date_part = _date_part(issued)
    serial = rank_within(rng, region * 1_000_000 + date_part) + 1
    kk = (region * 1_000_000 + date_part) * 10_000 + serial
    # KK and NIK share a format; keep the numbers apart so one is never read as the other.
    clash = np.isin(kk, nik)
    while clash.any():
        kk[clash] += 1000
        clash = np.isin(kk, nik)
    return kk


def _birthplaces(rng: np.random.Generator, geo: Geo, nik: IntArray) -> pa.Array:
    """A regency near the NIK's district: mostly its own, sometimes another in the province."""
    dist_index = np.searchsorted(geo.dist_codes, nik // 10**10)
    regency = geo.dist_reg[dist_index]
    prov = geo.reg_prov[regency]
    other = rng.random(nik.size)
    sizes = np.array([r.size for r in geo.prov_regencies])
    offsets = np.cumsum(sizes) - sizes
    flat = np.concatenate(geo.prov_regencies)
    alt = flat[offsets[prov] + np.floor(other * sizes[prov]).astype(np.int64)]
    regency = np.where(rng.random(nik.size) < 0.85, regency, alt)
    return take(geo.reg_birthplace, regency)


def _schooling(
    rng: np.random.Generator, fam: Families, wealth: FloatArray, birth: IntArray
) -> IntArray:
    """Ordered-probit schooling: richer households and later cohorts go further."""
    year = ymd(birth)[0]
    z = (
        0.9 * wealth[fam.p_hh]
        + 0.7 * rng.standard_normal(fam.n_people)
        + 0.035 * (year - 1975)
        - 0.3 * ((fam.p_sex == FEMALE) & (year < 1970))
    )
    adults = fam.p_age >= 25
    ref = z[adults] if adults.any() else z
    cuts = np.quantile(ref, np.cumsum(ADULT_EDUCATION)[:-1])
    level = np.searchsorted(cuts, z)
    age = fam.p_age
    cap = np.select(
        [age < 7, age < 13, age < 16, age < 19, age < 22, age < 23, age < 25, age < 30],
        [0, 1, 2, 3, 4, 6, 7, 8],
        9,
    )
    edu: IntArray = np.minimum(level, cap)
    return edu


def _work_tables() -> tuple[np.ndarray, dict[tuple[str, bool, int], int]]:
    rows: list[np.ndarray] = []
    index: dict[tuple[str, bool, int], int] = {}

    def add(key: tuple[str, bool, int], weights: dict[str, float]) -> None:
        row = np.zeros(len(PEKERJAAN))
        for name, w in weights.items():
            row[P[name]] = w
        index[key] = len(rows)
        rows.append(row)

    add(("baby", False, 0), {"BELUM/TIDAK BEKERJA": 1})
    add(("school", False, 0), {"PELAJAR/MAHASISWA": 95, "BELUM/TIDAK BEKERJA": 5})
    add(("student", False, 0), {"PELAJAR/MAHASISWA": 1})
    for (urban, band), base in WORK.items():
        add(("male", urban, band), base)
        for married in (True, False):
            weights = {k: v * FEMALE_FACTOR.get(k, 1.0) for k, v in base.items()}
            weights["MENGURUS RUMAH TANGGA"] = HOMEMAKER[married][band]
            if band == 2:
                weights["BIDAN"] = MIDWIFE[urban]
            add(("wife" if married else "woman", urban, band), weights)
    for band, base in OLD_WORK.items():
        for urban in (False, True):
            farm = 1.0 if not urban else 0.2
            male = {k: v * (farm if k.startswith("PETANI") else 1.0) for k, v in base.items()}
            add(("old_male", urban, band), male)
            female = {k: v * (0.6 if k == "PENSIUNAN" else 1.0) for k, v in male.items()}
            female["MENGURUS RUMAH TANGGA"] = 35.0
            add(("old_female", urban, band), female)
    return np.stack(rows), index


def _occupations(rng: np.random.Generator, fam: Families, edu: IntArray) -> IntArray:
    probs, index = _work_tables()
    age, female = fam.p_age, fam.p_sex == FEMALE
    urban = fam.h_urban[fam.p_hh]
    band = np.select([edu <= EDU_SLTP, edu < EDU_D3], [0, 1], 2)
    married = fam.p_marital == KAWIN
    group = np.zeros(fam.n_people, dtype=np.int64)
    for (kind, is_urban, b), g in index.items():
        if kind in ("baby", "school", "student"):
            continue
        sel = (urban == is_urban) & (band == b)
        if kind == "male":
            sel &= ~female & (age >= 18) & (age < 60)
        elif kind in ("wife", "woman"):
            sel &= female & (married == (kind == "wife")) & (age >= 18) & (age < 60)
        else:
            sel &= (female == (kind == "old_female")) & (age >= 60)
        group[sel] = g
    group[age < 5] = index[("baby", False, 0)]
    group[(age >= 5) & (age < 18)] = index[("school", False, 0)]
    student = (age >= 18) & (age < 23) & (edu >= EDU_SLTA) & (rng.random(fam.n_people) < 0.45)
    group[student] = index[("student", False, 0)]
    return grouped_choice(rng, group, probs)


def _surnames(rng: np.random.Generator, fam: Families, ns: IntArray) -> tuple[IntArray, IntArray]:
    """Family names following the father's line; returns (as written, the bare marga)."""
    hh, role, sex = fam.p_hh, fam.p_role, fam.p_sex
    book = name_book()
    own = draw_surnames(rng, ns)
    line = draw_surnames(rng, NAMING[fam.h_style, fam.h_religion])
    # Batak exogamy (and plain plausibility): a wife's or in-law's marga is not the family's.
    clash = (own >= 0) & (own == line[hh])
    own[clash] = draw_surnames(rng, ns[clash])
    male = sex == MALE

    def sur_of(person: IntArray, fallback: IntArray) -> IntArray:
        ok = person >= 0
        p = np.maximum(person, 0)
        return np.where(ok, np.where(male[p], line, own[p]), fallback)

    head_sur = sur_of(fam.h_head, line)
    spouse_sur = sur_of(fam.h_spouse, line)
    menantu = fam.h_menantu
    cucu_sur = np.where(
        (menantu >= 0) & male[np.maximum(menantu, 0)], own[np.maximum(menantu, 0)], line
    )
    famili_line = rng.random(fam.n_people) < 0.5
    sur = np.select(
        [
            role == HEAD,
            role == SPOUSE,
            role == CHILD,
            role == CUCU,
            (role == ORTU) & male,
            (role == MERTUA) & male,
            (role == FAMILI) & famili_line,
        ],
        [
            head_sur[hh],
            spouse_sur[hh],
            line[hh],
            cucu_sur[hh],
            head_sur[hh],
            spouse_sur[hh],
            line[hh],
        ],
        own,
    )
    uses = rng.random(fam.n_households)[hh] < book.surname_share[ns]
    bare = np.where(uses, sur, -1)
    boru = (
        (ns == NS["batak_kristen"])
        & ~male
        & (bare >= 0)
        & (rng.random(fam.n_people) < namepools.BORU_SHARE)
    )
    written = np.where(boru, book.boru[np.maximum(bare, 0)], bare)
    return written, bare


def _titles(
    rng: np.random.Generator, fam: Families, ns: IntArray, blood: BoolArray
) -> tuple[IntArray, IntArray]:
    """Balinese caste/birth-order titles and Bugis ANDI; returns (title ids, caste)."""
    n = fam.n_people
    book = name_book()
    caste_cum = cumulative(namepools.BALI_CASTE)
    caste = np.where(
        blood, pick(rng, caste_cum, fam.n_households)[fam.p_hh], pick(rng, caste_cum, n)
    )
    variant = pick(rng, cumulative(namepools.BALI_ORDER_VARIANT), n)
    with_order = (caste == 0) | (rng.random(n) < 0.5)
    bali = book.bali[fam.p_sex, caste, fam.p_order, variant, with_order.astype(np.int64)]
    andi_family = rng.random(fam.n_households)[fam.p_hh] < namepools.ANDI_SHARE
    andi = np.where(blood, andi_family, rng.random(n) < namepools.ANDI_SHARE) & (ns == NS["bugis"])
    title = np.where(ns == NS["bali"], bali, np.where(andi, book.andi, -1))
    return title, caste


def _parent_names(
    rng: np.random.Generator,
    fam: Families,
    ns: IntArray,
    bare: IntArray,
    title: IntArray,
    caste: IntArray,
    names: pa.Array,
) -> tuple[pa.Array, pa.Array]:
    """nama_ayah / nama_ibu: the parent's own name where the parent is in the family."""
    hh, role, sex = fam.p_hh, fam.p_role, fam.p_sex
    head, spouse = fam.h_head[hh], fam.h_spouse[hh]
    child0, menantu = fam.h_child0[hh], fam.h_menantu[hh]

    def by_sex(a: IntArray, b: IntArray, want: int) -> IntArray:
        a_ok = (a >= 0) & (sex[np.maximum(a, 0)] == want)
        b_ok = (b >= 0) & (sex[np.maximum(b, 0)] == want)
        return np.where(a_ok, a, np.where(b_ok, b, -1))

    married_child = (role == CUCU) & (menantu >= 0)
    parents = {}
    for want in (MALE, FEMALE):
        parents[want] = np.select(
            [role == CHILD, role == HEAD, role == SPOUSE, married_child],
            [
                by_sex(head, spouse, want),
                (fam.h_ortu_m if want == MALE else fam.h_ortu_f)[hh],
                (fam.h_mertua_m if want == MALE else fam.h_mertua_f)[hh],
                by_sex(child0, menantu, want),
            ],
            -1,
        )
    n = fam.n_people
    book = name_book()
    out: list[pa.Array] = []
    for want in (MALE, FEMALE):
        missing = np.nonzero(parents[want] < 0)[0]
        k = missing.size
        p_ns = ns[missing]
        p_sex = np.full(k, want)
        order = pick(rng, cumulative([0.35, 0.3, 0.2, 0.15]), k)
        if want == MALE:
            surname = bare[missing]
            p_caste = caste[missing]
            andi = title[missing] == book.andi
        else:
            surname = draw_surnames(rng, p_ns)
            clash = (surname >= 0) & (surname == bare[missing])
            surname[clash] = draw_surnames(rng, p_ns[clash])
            surname[bare[missing] < 0] = -1  # no family names in this family's style
            p_caste = np.where(rng.random(k) < 0.9, 0, caste[missing])
            andi = np.zeros(k, dtype=bool)
        bali = book.bali[p_sex, p_caste, order, 0, 1]
        p_title = np.where(p_ns == NS["bali"], bali, np.where(andi, book.andi, -1))
        made = draw_names(rng, p_ns, p_sex, np.zeros(k, dtype=np.int64), surname, p_title)
        pointer = parents[want].copy()
        pointer[missing] = n + np.arange(k)
        combined = pa.concat_arrays([names, made])
        out.append(combined.take(pa.array(pointer, type=pa.int64())))
    return out[0], out[1]


def _addresses(
    rng: np.random.Generator, fam: Families, geo: Geo
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """`JL. MAWAR NO. 12`, `DUSUN KRAJAN`, `KOMP. … BLOK C NO. 7`, `KP. …`, `BANJAR …`."""
    h = fam.n_households
    prov = np.array(geo.prov_codes)[fam.h_prov]
    urban = fam.h_urban
    # Patterns: 0 JL, 1 JL+GG, 2 KOMP, 3 PERUM, 4 DUSUN, 5 DSN., 6 KP., 7 BANJAR, 8 JORONG.
    prefixes = ("JL.", "JL.", "KOMP.", "PERUM", "DUSUN", "DSN.", "KP.", "BANJAR", "JORONG")
    sources = (JALAN, JALAN, KOMPLEK, KOMPLEK, DUSUN, DUSUN, KAMPUNG, BANJAR, JORONG)
    table = {
        ("other", True): (55, 15, 10, 10, 10, 0, 0, 0, 0),
        ("other", False): (30, 5, 0, 2, 45, 18, 0, 0, 0),
        ("sunda", True): (50, 15, 10, 12, 0, 0, 13, 0, 0),
        ("sunda", False): (25, 5, 0, 2, 20, 8, 40, 0, 0),
        ("bali", True): (50, 10, 5, 10, 0, 0, 0, 25, 0),
        ("bali", False): (20, 0, 0, 0, 10, 0, 0, 70, 0),
        ("minang", True): (60, 10, 10, 10, 0, 0, 0, 0, 10),
        ("minang", False): (30, 0, 0, 0, 10, 0, 0, 0, 60),
    }
    region = np.select([np.isin(prov, ["32", "36"]), prov == "51", prov == "13"], [1, 2, 3], 0)
    group = region * 2 + (~urban).astype(np.int64)
    rows = [table[(("other", "sunda", "bali", "minang")[g // 2], g % 2 == 0)] for g in range(8)]
    pattern = grouped_choice(rng, group, np.array(rows, dtype=float))
    pool_sizes = np.array([len(s) for s in sources])
    flat = [name for s in sources for name in s]
    offsets = np.cumsum(pool_sizes) - pool_sizes
    name_idx = offsets[pattern] + np.floor(rng.random(h) ** 1.5 * pool_sizes[pattern]).astype(
        np.int64
    )
    number = 1 + np.floor(rng.gamma(1.3, 18.0, h)).astype(np.int64)
    gang = take(JALAN, np.floor(rng.random(h) * len(JALAN)).astype(np.int64))
    blok = take(
        [chr(65 + i) for i in range(10)], np.floor(rng.random(h) ** 2 * 10).astype(np.int64)
    )
    blok_no = join(
        [blok, take([str(i) for i in range(1, 21)], np.floor(rng.random(h) * 20).astype(np.int64))],
        "",
    )
    null = pa.scalar(None, type=pa.string())
    street = pattern <= 3
    parts = [
        take(prefixes, pattern),
        take(flat, name_idx),
        pc.if_else(pa.array(pattern == 1), join(["GG.", gang]), null),
        pc.if_else(pa.array(pattern == 2), join(["BLOK", blok]), null),
        pc.if_else(pa.array(pattern == 3), join(["BLOK", blok_no]), null),
        pc.if_else(pa.array(street), join(["NO.", zero_pad(number, 1)]), null),
    ]
    address = join(parts)
    rt = zero_pad(np.minimum(1 + np.floor(rng.gamma(1.5, 3.0, h)), 25).astype(np.int64), 3)
    rw = zero_pad(np.minimum(1 + np.floor(rng.gamma(1.2, 2.5, h)), 15).astype(np.int64), 3)
    return address, rt, rw


def build_people(rng: np.random.Generator, fam: Families, geo: Geo, wealth: FloatArray) -> People:
    birth = birth_days(fam)
    nik = make_niks(rng, fam, geo, birth)
    kk = make_kks(rng, fam, geo, birth, nik)
    religion = fam.h_religion[fam.p_hh]
    ns = NAMING[fam.p_style, religion]
    role = fam.p_role
    # Caste and ANDI pass down the father's line.
    blood = np.isin(role, [CHILD, CUCU]) | (np.isin(role, [HEAD, ORTU]) & (fam.p_sex == MALE))
    written, bare = _surnames(rng, fam, ns)
    title, caste = _titles(rng, fam, ns, blood)
    era = era_of(ymd(birth)[0])
    names = draw_names(rng, ns, fam.p_sex, era, written, title)
    father, mother = _parent_names(rng, fam, ns, bare, title, caste, names)
    edu = _schooling(rng, fam, wealth, birth)
    work = _occupations(rng, fam, edu)
    address, rt, rw = _addresses(rng, fam, geo)
    blood_type = pick(rng, cumulative(GOLONGAN_DARAH_WEIGHTS), fam.n_people)
    return People(
        birth=birth,
        nik=nik,
        kk=kk,
        edu=edu,
        work=work,
        names=names,
        father=father,
        mother=mother,
        birthplace=_birthplaces(rng, geo, nik),
        h_address=address,
        h_rt=rt,
        h_rw=rw,
        blood=blood_type,
    )
