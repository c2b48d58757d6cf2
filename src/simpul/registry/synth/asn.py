"""ASN (civil servants): who they are, where they serve, their rank, position and NIP.

About 3.4 % of adults 18–60 are ASN, chosen mostly by schooling. A planted share sits in DTKS
households (the inclusion error that cross-checks are meant to find). Selection and numbers
are vectorised; only the few-percent ASN rows are formatted in a Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from simpul.registry.synth import asnpools as ap
from simpul.registry.synth.families import FEMALE, Families
from simpul.registry.synth.geo import Geo
from simpul.registry.synth.people import People
from simpul.registry.synth.pools import EDU_D3, EDU_D12, EDU_S1, EDU_S2, EDU_S3, EDU_SLTA, P
from simpul.registry.synth.util import (
    BoolArray,
    IntArray,
    cumulative,
    days_of,
    grouped_choice,
    pick,
    rank_within,
    ymd,
)
from simpul.registry.synth.welfare import Welfare

ASN_SHARE = 0.034  # of residents aged 18–60
PLANTED_SHARE = 0.015  # of DTKS households that contain an ASN
GURU, KESEHATAN, SOSIAL, TEKNIS, STRUKTURAL, PELAKSANA = range(6)
PNS, PPPK, CPNS = range(3)
STATUS = ("PNS", "PPPK", "CPNS")
# Selection weight by SIAK schooling level: civil service needs at least upper secondary.
EDU_WEIGHT = np.array([0, 0, 0, 0.02, 0.4, 1.2, 2.0, 4.0, 6.0, 6.0])
START_AGE = np.array([18, 18, 18, 18, 18, 20, 21, 22, 24, 28])
REF_MONTH = 2025 * 12 + 11  # December 2025, as year * 12 + month - 1
PNS_LAST_TMT = 2023 * 12 + 11  # a CPNS becomes PNS after a year or so
CPNS_FIRST_TMT = 2024 * 12 + 5
PPPK_FIRST_TMT = 2021 * 12 + 0
CPNS_MAX_AGE = 40


@dataclass
class AsnResult:
    table: dict[str, Any]  # column name → values (Python lists or arrays)
    persons: IntArray  # person index of each row
    work: IntArray  # kependudukan occupations with ASN updated


def select(
    rng: np.random.Generator, fam: Families, people: People, welfare: Welfare
) -> tuple[IntArray, BoolArray]:
    """Person indices of ASN and whether each was planted in a DTKS household."""
    age, edu = fam.p_age, people.edu
    in_dtks = welfare.dtks[fam.p_hh]
    adult = (age >= 18.2) & (age <= 60)
    target = round(ASN_SHARE * int(adult.sum()))
    # Planted: one working-age, schooled member of some DTKS households.
    can_plant = in_dtks & (age >= 21) & (age <= 58) & (edu >= EDU_SLTA)
    cand = np.nonzero(can_plant)[0]
    cand = cand[rng.permutation(cand.size)]
    _, first = np.unique(fam.p_hh[cand], return_index=True)
    one_per_household = np.sort(cand[first])
    n_plant = min(round(PLANTED_SHARE * int(welfare.dtks.sum())), one_per_household.size, target)
    planted = (
        np.sort(rng.choice(one_per_household, n_plant, replace=False))
        if n_plant
        else one_per_household[:0]
    )
    # The rest: by schooling, from outside DTKS (exponential keys = weighted sampling).
    weight = EDU_WEIGHT[edu] * np.where(age < 23, 0.2, np.where(age > 58, 0.5, 1.0))
    weight = np.where(adult & ~in_dtks, weight, 0.0)
    pool = np.nonzero(weight > 0)[0]
    k = min(target - n_plant, pool.size)
    keys = rng.exponential(size=pool.size) / weight[pool]
    chosen = pool[np.argpartition(keys, k - 1)[:k]] if k > 0 else pool[:0]
    persons = np.concatenate([planted, chosen])
    is_planted = np.concatenate([np.ones(n_plant, bool), np.zeros(chosen.size, bool)])
    order = np.argsort(persons)
    return persons[order], is_planted[order]


def _kinds(rng: np.random.Generator, edu: IntArray) -> IntArray:
    probs = np.array(
        [
            [0.36, 0.10, 0.03, 0.22, 0.09, 0.20],  # S1 and above
            [0.0, 0.30, 0.03, 0.12, 0.0, 0.55],  # diploma
            [0.0, 0.0, 0.02, 0.08, 0.0, 0.90],  # upper secondary
            [0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        ]
    )
    band = np.select([edu >= EDU_S1, edu >= EDU_D12, edu == EDU_SLTA], [0, 1, 2], 3)
    return grouped_choice(rng, band, probs)


def _tmt(
    rng: np.random.Generator, birth: IntArray, edu: IntArray, age: IntArray, planted: BoolArray
) -> tuple[IntArray, IntArray]:
    """Status and TMT (as year * 12 + month - 1): after the 18th birthday and the schooling."""
    y, m, _ = ymd(birth)
    birth_m = y * 12 + m - 1
    lo = birth_m + 12 * START_AGE[edu] + 1
    n = birth.size
    weights = np.where(planted[:, None], [0.3, 0.6, 0.1], [0.72, 0.22, 0.06])
    u = rng.random(n)
    status = np.where(
        u < weights[:, 0], PNS, np.where(u < weights[:, 0] + weights[:, 1], PPPK, CPNS)
    )
    pns_lo, pns_hi = np.maximum(lo, 1985 * 12), np.minimum(PNS_LAST_TMT, birth_m + 12 * 40)
    cpns_lo = np.maximum(lo, CPNS_FIRST_TMT)
    cpns_ok = (cpns_lo <= REF_MONTH) & (age <= CPNS_MAX_AGE)
    pppk_lo = np.maximum(np.maximum(lo, PPPK_FIRST_TMT), birth_m + 12 * 20 + 1)
    status = np.where((status == PNS) & (pns_lo > pns_hi), CPNS, status)
    status = np.where((status == CPNS) & ~cpns_ok, PPPK, status)
    status = np.where(
        (status == PPPK) & (pppk_lo > REF_MONTH), np.where(cpns_ok, CPNS, PNS), status
    )
    lo_s = np.select([status == PNS, status == CPNS], [pns_lo, cpns_lo], pppk_lo)
    hi_s = np.where(status == PNS, pns_hi, REF_MONTH)
    hi_s = np.maximum(hi_s, lo_s)
    # Earlier appointments are more common among PNS: most join in their twenties.
    v = rng.random(n) ** np.where(status == PNS, 1.6, 1.0)
    tmt = lo_s + np.floor(v * (hi_s - lo_s + 1)).astype(np.int64)
    return status, np.minimum(tmt, hi_s)


def _fill(template: str, place: dict[str, str], rng: np.random.Generator) -> str:
    if "{N}" in template:
        template = template.replace("{N}", str(1 + int(rng.integers(0, 12))))
    for key, value in place.items():
        template = template.replace("{" + key + "}", value)
    return template


def _choice(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(0, len(options)))]


def _level(position: str, rank: int, status: int, expert: bool) -> str:
    if position == "Dosen":
        return "Dosen " + ap.LECTURER_LEVELS[min(max(rank - ap.III_A, 0), 8)]
    if expert:
        level = (
            "Ahli Pertama" if status == PPPK else ap.EXPERT_LEVELS[min(max(rank - ap.III_A, 0), 8)]
        )
    else:
        level = "Terampil" if status == PPPK else ap.SKILLED_LEVELS[min(max(rank - ap.II_A, 0), 7)]
    return f"{position} {level}"


def _degrees(
    rng: np.random.Generator, field: tuple[str, ...], edu: int, year: int
) -> tuple[str | None, str | None]:
    """(gelar_depan, gelar_belakang) for a given field and schooling; many have them."""
    if edu < EDU_D12 or rng.random() > 0.93:
        return None, None
    if edu < EDU_S1:
        return None, "A.Ma." if edu == EDU_D12 else _choice(
            rng, field if field[0].startswith("A.") else ap.DEGREE["diploma"]
        )
    first = _choice(rng, field)
    front = None
    if first in ("S.T.", "S.P.") and year < 1975 and rng.random() < 0.5:
        front, first = "Ir.", ""
    back = first
    if edu >= EDU_S2:
        back = ", ".join(p for p in (first, _choice(rng, ap.MASTERS)) if p)
    if edu >= EDU_S3:
        front = "Dr." if front is None else f"Dr. {front}"
    return front, back or None


@dataclass(frozen=True)
class _Person:
    edu: int
    rank: int
    status: int
    kind: int
    female: bool
    urban: bool
    planted: bool
    age: float
    year: int
    place: dict[str, str]
    kab_pemda: str
    prov_pemda: str
    agency: ap.Agency  # the central agency, should this person serve in one
    u: float  # where they serve: regency, province or centre


@dataclass(frozen=True)
class _Post:
    instansi: str
    unit: str
    jenis: str
    jabatan: str
    field: tuple[str, ...]  # degrees typical for the position
    label: str  # SIAK occupation for the KTP
    front: str | None = None  # a fixed front title (dr.)


def _place(geo: Geo, reg: int, dist: int, village: int, prov: int) -> dict[str, str]:
    names = {
        "KAB": geo.reg_names[reg].as_py(),
        "KABS": geo.reg_short[reg],
        "KEC": geo.dist_names[dist].as_py(),
        "KEL": geo.vill_names[village].as_py(),
        "PROV": geo.prov_names[prov].as_py(),
    }
    return {k: " ".join(str(v).split()) for k, v in names.items()}  # a few stray spaces


def _teacher(rng: np.random.Generator, p: _Person) -> _Post:
    where = "kab" if p.u < 0.7 else ("prov" if p.u < 0.85 else "kemenag")
    instansi = {"kab": p.kab_pemda, "prov": p.prov_pemda, "kemenag": ap.KEMENAG}[where]
    unit = _fill(_choice(rng, ap.TEACHER_UNITS[where]), p.place, rng)
    field = ap.DEGREE["guru_agama" if where == "kemenag" else "guru"]
    return _Post(
        instansi, unit, "FUNGSIONAL", _level("Guru", p.rank, p.status, True), field, "GURU"
    )


def _health(rng: np.random.Generator, p: _Person) -> _Post:
    where = "kab" if p.u < 0.75 else ("prov" if p.u < 0.85 else "kemenkes")
    instansi = {"kab": p.kab_pemda, "prov": p.prov_pemda, "kemenkes": ap.KEMENKES}[where]
    unit = _fill(_choice(rng, ap.HEALTH_UNITS[where]), p.place, rng)
    expert = p.edu >= EDU_S1
    v = rng.random()
    front = None
    field: tuple[str, ...]
    if expert and v < 0.25:
        position, label, field, front = "Dokter", "DOKTER", ap.SPECIALIST, "dr."
    elif p.female and v < 0.6:
        position, label = "Bidan", "BIDAN"
        field = ap.DEGREE["bidan" if expert else "bidan_d3"]
    elif v < 0.85:
        position, label = "Perawat", "PERAWAT"
        field = ap.DEGREE["perawat" if expert else "perawat_d3"]
    else:
        position = _choice(rng, ("Sanitarian", "Pranata Laboratorium Kesehatan", "Nutrisionis"))
        label = "PEGAWAI NEGERI SIPIL"
        field = ("S.K.M.", "S.Gz.") if expert else ("A.Md.Kes.",)
    jabatan = _level(position, p.rank, p.status, expert)
    return _Post(instansi, unit, "FUNGSIONAL", jabatan, field, label, front)


def _social(rng: np.random.Generator, p: _Person, label: str) -> _Post:
    if p.u < 0.6:
        instansi = ap.KEMENSOS
        unit = _fill(_choice(rng, ap.AGENCY[ap.KEMENSOS].units), p.place, rng)
    else:
        instansi, unit = (p.kab_pemda if p.u < 0.9 else p.prov_pemda), "Dinas Sosial"
    expert = p.edu >= EDU_S1
    position = _choice(rng, ("Pekerja Sosial", "Penyuluh Sosial"))
    field = ap.DEGREE["sosial"] if expert else ap.DEGREE["diploma"]
    return _Post(
        instansi, unit, "FUNGSIONAL", _level(position, p.rank, p.status, expert), field, label
    )


def _office(rng: np.random.Generator, p: _Person, label: str) -> _Post:
    """Analysts, managers and executive staff, in a central agency or the local pemda."""
    expert = p.edu >= EDU_S1
    field = ap.DEGREE["umum"] if expert else ap.DEGREE["diploma"]
    central = p.u < (0.25 if p.kind == STRUKTURAL else 0.35) and not p.planted
    if central:
        instansi, unit = p.agency.name, _fill(_choice(rng, p.agency.units), p.place, rng)
        functional = p.agency.functional
        field = p.agency.degree if expert else field
    else:
        instansi = p.kab_pemda if p.u < 0.85 else p.prov_pemda
        template = _choice(rng, ap.PEMDA_UNITS)
        unit, functional = _fill(template, p.place, rng), ap.PEMDA_FUNCTIONAL[template]
    if p.kind == TEKNIS:
        options = tuple(f for f in functional if p.edu >= EDU_S2 or f != "Dosen")
        if not expert:
            options = tuple(f for f in options if f in ap.SKILLED_TRACK)
        position = _choice(rng, options or ("Pranata Komputer", "Arsiparis"))
        label = "DOSEN" if position == "Dosen" else label
        jabatan = _level(position, p.rank, p.status, expert)
        return _Post(instansi, unit, "FUNGSIONAL", jabatan, field, label)
    if p.kind == STRUKTURAL:
        band = "high" if p.rank >= 13 else ("middle" if p.rank >= 11 else "low")
        template = _choice(rng, ap.STRUCTURAL[band])
        if template.startswith(("Camat", "Lurah")):
            if central or (template.startswith("Lurah") and not p.urban):
                template = "Kepala Subbagian Umum dan Kepegawaian"
            else:
                seat = "Kecamatan {KEC}" if template.startswith("Camat") else "Kelurahan {KEL}"
                unit = _fill(seat, p.place, rng)
        jabatan = _fill(template.replace("{UNIT}", unit), p.place, rng)
        return _Post(instansi, unit, "STRUKTURAL", jabatan, field, label)
    band = "high" if expert else ("middle" if p.edu >= EDU_D12 else "low")
    return _Post(instansi, unit, "PELAKSANA", _choice(rng, ap.EXECUTIVE[band]), field, label)


def _posting(rng: np.random.Generator, p: _Person) -> _Post:
    # PPPK KTPs often still carry the honorarium-era occupation.
    honorer = p.status == PPPK and rng.random() >= 0.6
    label = "KARYAWAN HONORER" if honorer else "PEGAWAI NEGERI SIPIL"
    if p.kind == GURU:
        return _teacher(rng, p)
    if p.kind == KESEHATAN:
        return _health(rng, p)
    if p.kind == SOSIAL:
        return _social(rng, p, label)
    return _office(rng, p, label)


def _kedudukan(rng: np.random.Generator, p: _Person) -> str:
    if p.status != PNS:
        return "AKTIF"
    w = rng.random()
    if p.age >= 57.5 and w < 0.5:
        return "MASA PERSIAPAN PENSIUN"
    if w < 0.02 and p.age < 45 and p.edu >= EDU_S1:
        return "TUGAS BELAJAR"
    if w > 0.99:
        return "CLTN"
    if w > 0.985:
        return "PEMBERHENTIAN SEMENTARA"
    return "AKTIF"


def build_asn(
    rng: np.random.Generator, fam: Families, geo: Geo, people: People, welfare: Welfare
) -> AsnResult:
    persons, planted = select(rng, fam, people, welfare)
    n = persons.size
    edu, age, sex = people.edu[persons], fam.p_age[persons], fam.p_sex[persons]
    birth = people.birth[persons]
    kind = _kinds(rng, edu)
    status, tmt = _tmt(rng, birth, edu, age.astype(np.int64), planted)
    service = (REF_MONTH - tmt) / 12.0
    steps = np.where(status == PNS, np.floor(np.maximum(service - 1, 0) / 4), 0).astype(np.int64)
    start = np.array(ap.START_RANK)[edu]
    rank = np.minimum(start + steps, np.maximum(np.array(ap.TOP_RANK)[edu], start))
    kind = np.where(
        (kind == STRUKTURAL) & ((status != PNS) | (rank < 9)),
        np.where(edu >= EDU_D3, TEKNIS, PELAKSANA),
        kind,
    )

    village = fam.h_village[fam.p_hh[persons]]
    dist = geo.vill_dist[village]
    reg = geo.dist_reg[dist]
    prov = geo.reg_prov[reg]
    urban = geo.vill_urban[village]
    year = ymd(birth)[0]
    agency_cum = cumulative([a.weight for a in ap.AGENCIES])
    agency_pick = pick(rng, agency_cum, n)
    u_inst = rng.random(n)

    names = ("instansi", "unit_kerja", "jenis_jabatan", "jabatan", "golongan")
    cols: dict[str, list[Any]] = {k: [] for k in (*names, "gelar_depan", "gelar_belakang")}
    cols["kedudukan_hukum"] = []
    new_work = np.empty(n, dtype=np.int64)
    for i in range(n):
        person = _Person(
            edu=int(edu[i]),
            rank=int(rank[i]),
            status=int(status[i]),
            kind=int(kind[i]),
            female=bool(sex[i] == FEMALE),
            urban=bool(urban[i]),
            planted=bool(planted[i]),
            age=float(age[i]),
            year=int(year[i]),
            place=_place(geo, int(reg[i]), int(dist[i]), int(village[i]), int(prov[i])),
            kab_pemda=geo.reg_pemda[int(reg[i])],
            prov_pemda=geo.prov_pemda[int(prov[i])],
            agency=ap.AGENCIES[int(agency_pick[i])],
            u=float(u_inst[i]),
        )
        post = _posting(rng, person)
        front, back = _degrees(rng, post.field, person.edu, person.year)
        if post.front:
            front, back = (
                post.front,
                (_choice(rng, ap.SPECIALIST) if person.edu >= EDU_S2 else None),
            )
        pppk = person.status == PPPK
        cols["instansi"].append(post.instansi)
        cols["unit_kerja"].append(post.unit)
        cols["jenis_jabatan"].append(post.jenis)
        cols["jabatan"].append(post.jabatan)
        cols["golongan"].append(ap.PPPK_GOLONGAN[person.edu] if pppk else ap.GOLONGAN[person.rank])
        cols["gelar_depan"].append(front)
        cols["gelar_belakang"].append(back)
        cols["kedudukan_hukum"].append(_kedudukan(rng, person))
        new_work[i] = P[post.label]

    # Most KTPs were updated to the civil-service occupation; new appointees often not yet.
    work = people.work.copy()
    updated = rng.random(n) < np.where(status == CPNS, 0.6, 0.88)
    work[persons[updated]] = new_work[updated]

    y, m, d = ymd(birth)
    tmt_year, tmt_month = tmt // 12, tmt % 12 + 1
    key = (
        ((y * 10_000 + m * 100 + d) * 1_000_000 + tmt_year * 100 + tmt_month) * 10
        + 1
        + (sex == FEMALE)
    )
    nip = key * 1000 + rank_within(rng, key) + 1
    tmt_days = days_of(tmt_year, tmt_month, np.ones(n, dtype=np.int64))
    table: dict[str, Any] = {
        "nip": nip,
        "status_kepegawaian": [STATUS[s] for s in status],
        "tmt_cpns": pa.array(
            np.where(status == PPPK, 0, tmt_days).astype(np.int32), mask=status == PPPK
        ).cast(pa.date32()),
        **cols,
    }
    return AsnResult(table=table, persons=persons, work=work)
