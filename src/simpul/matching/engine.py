"""The matching engine: a list of people against a registry, in three stages.

1. **NIK stage** (deterministic): the list's NIK is looked up; when found, name, birth date
   and (where given) sex are compared: `cocok` when they agree, `cocok_nik_elemen_berbeda`
   naming the elements that differ. A NIK that hits someone whose name *and* birth date are
   both far off is treated as a slip onto another person and goes on to stage 3.
2. **NIK repair**: a NIK not found is mended one slip at a time (a wrong digit, two digits
   swapped); a mended NIK is a candidate only if it exists and its date part agrees with the
   birth date (and sex) the list gives.
3. **Probabilistic stage** (Fellegi–Sunter): candidates from the repair and from the
   blocking passes of `simpul.matching.blocking` (name key alone, with birth year, with
   kabupaten; birth date within one typo or a day/month swap with a name token's sound;
   sound codes with kabupaten), found by index, are scored on name, birth date, NIK
   closeness and address. u-probabilities come from random registry pairs, m-probabilities
   from the NIK-anchored pairs of stage 1 of the same run (the list's own noise), the exact
   name agreement is adjusted by the name's frequency in the registry (SITI, MUHAMMAD …).
   The posterior that candidate k is the person is
   ``p·BF_k/N / ((1-p) + p·Σ_j BF_j/N)``; the best candidate at or above the acceptance
   threshold is `cocok`, between the thresholds `kemungkinan_cocok`, for clerical review.

Pure computation over Arrow/numpy: no database, no I/O. See docs/adr/0003-matching-engine.md.
The per-row steps (`nik_stage_row`, `repair_candidates`, `query_keys`, `score_row`) and the
model fit (`u_pairs`, `u_counts`, `fit_model`) are shared with `simpul.matching.spark`, which
runs the same pipeline on Spark and must give the same results.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz

from simpul.matching.blocking import BlockIndex, list_keys, row_regions, with_name_columns
from simpul.matching.normalize import (
    address_key,
    name_columns,
    name_key,
    name_similarity,
    nik_date_consistent,
    nik_edits,
    swapped_day_month,
)

COCOK = "cocok"
COCOK_ELEMEN_BERBEDA = "cocok_nik_elemen_berbeda"
KEMUNGKINAN_COCOK = "kemungkinan_cocok"
TIDAK_DITEMUKAN = "tidak_ditemukan"
STATUSES = (COCOK, COCOK_ELEMEN_BERBEDA, KEMUNGKINAN_COCOK, TIDAK_DITEMUKAN)

_EPOCH = date(1970, 1, 1)
_NO_DAY = -(2**31)


def _days(value: date | None) -> int:
    return (value - _EPOCH).days if value is not None else _NO_DAY


@dataclass(frozen=True)
class MatchOptions:
    name_agree: float = 85.0  # name similarity at or above which the name is `sesuai`
    threshold: float = 0.5  # posterior at or above which a candidate is kemungkinan_cocok
    accept: float = 0.95  # posterior at or above which it is cocok without review (1: never)
    prior_in_registry: float = 0.6  # share of stage-3 rows expected to be in the registry
    compare_sex: bool = True


@dataclass
class Query:
    """The list's rows, already validated: NIK canonical or "" (missing or unusable)."""

    nik: Sequence[str]
    nama: Sequence[str]
    tanggal_lahir: Sequence[date | None]
    jenis_kelamin: Sequence[str | None] | None = None
    alamat: Sequence[str] | None = None
    wilayah: Sequence[str] | None = None  # region codes (kabupaten or finer), when given

    def __len__(self) -> int:
        return len(self.nik)


@dataclass
class MatchResult:
    status: list[str]
    registry_index: np.ndarray  # index into the registry table, -1 where none
    probability: list[float | None]
    differing: list[tuple[str, ...]]
    method: list[str]  # nik | perbaikan_nik | probabilistik | ""
    weights: dict[str, dict[str, float]] = field(default_factory=dict)
    blocking: dict[str, int] = field(default_factory=dict)  # candidate pairs per pass

    def counts(self) -> dict[str, int]:
        c = Counter(self.status)
        return {s: c.get(s, 0) for s in STATUSES}


class _Names:
    """Strings of an Arrow string array read one position at a time from its buffers
    (offsets and UTF-8 bytes), None where null: no Python object per row until asked."""

    def __init__(self, values: pa.Array) -> None:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if not pa.types.is_string(values.type):
            values = pc.cast(values, pa.string())
        self._n = len(values)
        _validity, offsets, data = values.buffers()
        self._offsets = array("i")
        self._offsets.frombytes(
            memoryview(offsets).cast("B")[values.offset * 4 : (values.offset + self._n + 1) * 4]
        )
        self._data = b"" if data is None else data.to_pybytes()
        self._null = (
            pc.is_null(values).to_numpy(zero_copy_only=False) if values.null_count else None
        )

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> str:  # None at a null (the sex column only has them)
        if self._null is not None and self._null[i]:
            return None  # type: ignore[return-value]
        o = self._offsets
        return self._data[o[i] : o[i + 1]].decode()

    def nbytes(self) -> int:
        return len(self._data) + self._offsets.itemsize * len(self._offsets)


def _nik_numbers(nik: pa.Array) -> np.ndarray:
    """16-digit NIKs as int64 (-1 for anything else, which no list NIK can equal)."""
    ok = pc.match_substring_regex(pc.fill_null(nik, ""), r"^[0-9]{16}$")
    cleaned = pc.if_else(ok, nik, "-1")
    out: np.ndarray = pc.cast(cleaned, pa.int64()).to_numpy(zero_copy_only=False)
    return out


def _kabupaten(table: pa.Table) -> np.ndarray:
    """(n, 2) int32: each record's kabupaten from its NIK and from `kode_wilayah`."""
    out = np.full((table.num_rows, 2), -1, dtype=np.int32)
    for col, source in enumerate(("nik", "kode_wilayah")):
        if source not in table.column_names:
            continue
        text = pc.cast(table.column(source), pa.string())
        four = pc.utf8_slice_codeunits(text, 0, 4)
        ok = pc.fill_null(pc.match_substring_regex(four, r"^[0-9]{4}$"), False)
        if source == "nik":
            full = pc.fill_null(pc.match_substring_regex(text, r"^[0-9]{16}$"), False)
            ok = pc.and_(ok, full)
        values = pc.if_else(ok, four, "-1")
        out[:, col] = pc.cast(values, pa.int32()).to_numpy(zero_copy_only=False)
    out[:, 1] = np.where(out[:, 1] == out[:, 0], -1, out[:, 1])
    return out


class RegistryIndex:
    """What the engine needs of a registry, built once per run from an Arrow table with at
    least `nik`, `nama_lengkap`, `tanggal_lahir` (and optionally `jenis_kelamin`, `alamat`,
    `rt`, `rw`, `kode_wilayah`, and the stored name key `nama_kunci` and sound codes
    `nama_fonetik`, computed here when the table lacks them).

    The Spark engine builds one over a slice of the registry (the candidates of a batch of
    rows): `population` and `name_counts` (by name key) then carry the whole registry's
    size and name counts, which the priors and the name frequencies are relative to."""

    def __init__(
        self,
        table: pa.Table,
        *,
        population: int | None = None,
        name_counts: Mapping[str, int] | None = None,
    ) -> None:
        table = with_name_columns(table)
        self.table = table
        self.n = table.num_rows
        self.population = self.n if population is None else population
        self.nik = table.column("nik").combine_chunks()
        # Names as one Arrow string array (offsets + bytes), read per position: a Python
        # list of a million str objects costs ~80 MB, this ~25 MB.
        names = pc.fill_null(table.column("nama_lengkap").combine_chunks(), "")
        self.names = _Names(names)
        keys = pc.fill_null(table.column("nama_kunci").combine_chunks(), "")
        self._key_names = _Names(keys)
        born = pc.cast(table.column("tanggal_lahir"), pa.date32())
        days = pc.fill_null(pc.cast(born, pa.int32()), _NO_DAY).to_numpy(zero_copy_only=False)
        self.days = days.astype(np.int64)
        columns = set(table.column_names)
        self.sex: _Names | None = (
            _Names(table.column("jenis_kelamin").combine_chunks())
            if "jenis_kelamin" in columns
            else None
        )
        self._alamat = table.column("alamat") if "alamat" in columns else None
        self._rt = table.column("rt") if "rt" in columns else None
        self._rw = table.column("rw") if "rw" in columns else None
        # Name frequencies by name key (SITI and Siti are one name): one count per distinct
        # key, one code per person.
        encoded = pc.dictionary_encode(keys)
        self._name_code = encoded.indices.to_numpy(zero_copy_only=False)
        self._given_counts = name_counts
        self._code_counts = (
            np.bincount(self._name_code, minlength=len(encoded.dictionary))
            if name_counts is None
            else None
        )
        # Kabupaten per record, as numbers (-1: none): NIK digits 1-4, and the region
        # code's where the registry has one and it differs.
        self.kabupaten = _kabupaten(table)
        self._sorted_nik: np.ndarray | None = None
        self._nik_order: np.ndarray | None = None
        self._blocks: BlockIndex | None = None
        self._addr: dict[int, str] = {}

    def forget(self) -> None:
        """Drop the per-position caches (address keys) between chunks of a list, so that
        they stay bounded however long the list is."""
        self._addr.clear()

    def lookup(self, niks: Sequence[str]) -> np.ndarray:
        """Registry positions of `niks` (-1 where absent; of several records sharing a NIK,
        the last). The registry's NIKs as sorted 64-bit integers are built once, on the
        first call (16 MB for a million people, against ~170 MB for a dict)."""
        if self._sorted_nik is None:
            keys = _nik_numbers(self.nik)
            order = np.argsort(keys, kind="stable")
            self._sorted_nik, self._nik_order = keys[order], order
        assert self._nik_order is not None
        wanted = np.fromiter(
            (int(k) if len(k) == 16 and k.isdigit() else -1 for k in niks),
            dtype=np.int64,
            count=len(niks),
        )
        sorted_nik = self._sorted_nik
        if not sorted_nik.size:
            return np.full(len(niks), -1, dtype=np.int64)
        at = np.searchsorted(sorted_nik, wanted, side="right") - 1
        clipped = np.clip(at, 0, None)
        hit = (at >= 0) & (sorted_nik[clipped] == wanted) & (wanted >= 0)
        out: np.ndarray = np.where(hit, self._nik_order[clipped], -1).astype(np.int64)
        return out

    def key(self, i: int) -> str:
        """The stored name key of record `i` (normalised once, not per job)."""
        return self._key_names[i]

    def blocks(self) -> BlockIndex:
        """The blocking index, built on first need (a list settled by NIK needs none)."""
        if self._blocks is None:
            self._blocks = BlockIndex(self.table)
        return self._blocks

    def name_frequency(self, i: int) -> float:
        if self._code_counts is not None:
            count = int(self._code_counts[self._name_code[i]])
        else:
            assert self._given_counts is not None
            count = self._given_counts.get(self.key(i), 1)
        return float(max(count, 1) / max(self.population, 1))

    def address(self, i: int) -> str | None:
        if self._alamat is None:
            return None
        a = self._addr.get(i)
        if a is None:
            parts = [str(self._alamat[i].as_py() or "")]
            if self._rt is not None and self._rw is not None:
                parts.append(f"RT {self._rt[i].as_py() or ''} RW {self._rw[i].as_py() or ''}")
            a = self._addr[i] = address_key(" ".join(parts))
        return a


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
# NIK-anchored pairs used to estimate m (more add nothing but time).
ANCHOR_SAMPLE = 20_000


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


def _fit(reg: RegistryIndex, anchored: list[Anchor], seed: int) -> _Model:
    """u from random registry pairs; m from the NIK-anchored pairs (name, dob, address)."""
    counts = u_counts(reg, *u_pairs(reg.n, seed))
    _, per_day = np.unique(reg.days, return_counts=True)
    return fit_model(counts, per_day, reg.n, anchored)


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


def _compare_found(
    reg: RegistryIndex, q: Query, row: int, i: int, opts: MatchOptions
) -> tuple[float, tuple[str, ...], int | None]:
    """Stage 1: the elements the list gives, compared with the record its NIK points at."""
    differing: list[str] = []
    given = q.nama[row]
    if not given or " ".join(given.upper().split()) == reg.names[i]:
        sim = 100.0  # the common case: the name as registered, no folding needed
    else:
        sim = name_similarity(name_key(given), reg.key(i))
    if sim < opts.name_agree:
        differing.append("nama_lengkap")
    qd = _days(q.tanggal_lahir[row])
    dl = dob_level(qd, int(reg.days[i]))
    if dl is not None and dl != 0:
        differing.append("tanggal_lahir")
    if opts.compare_sex and q.jenis_kelamin is not None and reg.sex is not None:
        qs = q.jenis_kelamin[row]
        if qs and reg.sex[i] and qs[:1].upper() != str(reg.sex[i])[:1].upper():
            differing.append("jenis_kelamin")
    return sim, tuple(differing), dl


class QueryAddress:
    """The list's address keys, each computed once and only when asked for."""

    def __init__(self, alamat: Sequence[str] | None) -> None:
        self.alamat = alamat
        self._cache: dict[int, str] = {}

    def __call__(self, row: int) -> str | None:
        if self.alamat is None:
            return None
        key = self._cache.get(row)
        if key is None:
            value = self.alamat[row]
            key = self._cache[row] = address_key(value) if value else ""
        return key


def nik_stage_row(
    reg: RegistryIndex,
    q: Query,
    row: int,
    i: int,
    opts: MatchOptions,
    q_addr: QueryAddress,
    *,
    anchor: bool,
) -> tuple[tuple[str, ...], Anchor | None] | None:
    """Stage 1 for a row whose NIK is the registry's record `i`: the differing elements and,
    when `anchor`, the pair's levels for m; None when the NIK is a slip onto another person
    (name and birth date both far off), which goes on to stage 3."""
    sim, diff, dl = _compare_found(reg, q, row, i, opts)
    if sim < 60 and dl not in (0, 1, 2, None):
        return None
    if not anchor or dl is None:
        return diff, None
    al = addr_level(q_addr(row), reg.address(i)) if q.alamat is not None else None
    return diff, (name_level(sim), dl, 1, al)


def repair_candidates(nik: str, born: date | None, sex: str | None) -> list[str]:
    """Stage 2 for one row: the NIKs one slip away whose date part agrees with the birth date
    (either way round) and sex the list gives (all of them when no birth date is given)."""
    if len(nik) != 16:
        return []
    # Edits outside the date part (digits 7–12) keep the original's date part.
    same_date_ok = born is None or nik_date_consistent(nik, born, sex)
    date_part = nik[6:12]
    out: list[str] = []
    for cand, _how in nik_edits(nik):
        if cand[6:12] == date_part:
            ok = same_date_ok
        else:
            ok = born is None or nik_date_consistent(cand, born, sex)
        if ok:
            out.append(cand)
    return out


def query_keys(q: Query, rows: Sequence[int]) -> dict[str, tuple[list[int], list[str]]]:
    """The blocking keys of list rows `rows` (`blocking.list_keys`), the name normalised
    exactly as the registry's is."""
    keys, sounds = name_columns([q.nama[r] for r in rows])
    born = [q.tanggal_lahir[r] for r in rows]
    region = q.wilayah
    regions = [row_regions(q.nik[r], region[r] if region is not None else None) for r in rows]
    return list_keys(rows, keys, sounds, born, regions)


def _kab(code: str | None) -> int:
    """A region code's kabupaten (its first four digits) as a number, -1 without one."""
    if not code or len(code) < 4 or not code[:4].isdigit():
        return -1
    return int(code[:4])


def status_of(probability: float, opts: MatchOptions) -> str:
    """A stage-3 candidate's status: `cocok` at or above the acceptance threshold,
    `kemungkinan_cocok` (for review) between the thresholds. An acceptance threshold of 1
    accepts nothing unreviewed."""
    return COCOK if opts.accept < 1.0 and probability >= opts.accept else KEMUNGKINAN_COCOK


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


@dataclass(frozen=True)
class Verdict:
    """Stage 3's answer for one row: the best candidate's posterior, and (at or above the
    threshold) who it is, how it was found and what differs."""

    probability: float
    index: int = -1
    method: str = ""
    differing: tuple[str, ...] = ()


def score_row(
    reg: RegistryIndex,
    q: Query,
    row: int,
    qkey: str,
    cands: Iterable[int],
    repaired: Collection[int],
    w: Weights,
    opts: MatchOptions,
    q_addr: QueryAddress,
) -> Verdict | None:
    """Stage 3 for one row over its candidates (registry positions); None without any.
    Candidates are scored in registry order, so the sum and the tie-break between equal
    weights do not depend on the order they were gathered in (in process or on Spark)."""
    ordered = sorted(set(cands))
    if not ordered:
        return None
    model = w.model
    qd = _days(q.tanggal_lahir[row])
    qs = q.jenis_kelamin[row] if q.jenis_kelamin is not None else None
    qa = q_addr(row) if q.alamat is not None else None
    # A row without a NIK may name its kabupaten (its region code): compared as such.
    qr = _kab(q.wilayah[row]) if q.wilayah is not None and not q.nik[row] else -1
    best_i, best_w, total = -1, -math.inf, 0.0
    for i in ordered:
        weight = 0.0
        sim = name_similarity(qkey, reg.key(i)) if qkey else 0.0
        nl = name_level(sim)
        if nl == 0:
            # Term frequency: agreeing on a rare name says more than agreeing on SITI.
            weight += math.log2(model.name_m[0] / reg.name_frequency(i))
        else:
            weight += float(w.name[nl])
        dl = dob_level(qd, int(reg.days[i]))
        if dl is not None:
            weight += float(w.dob[dl])
        nk = nik_level(q.nik[row], str(reg.nik[i]))
        if nk is not None:
            weight += float(w.nik[nk])
        if q.alamat is not None:
            al = addr_level(qa, reg.address(i))
            if al is not None:
                weight += float(w.addr[al])
        if qr >= 0 and reg.kabupaten[i, 0] >= 0:
            weight += float(w.region[0 if qr in reg.kabupaten[i].tolist() else 1])
        if opts.compare_sex and qs and reg.sex is not None and reg.sex[i]:
            weight += 0.5 if qs[:1].upper() == str(reg.sex[i])[:1].upper() else -6.0
        total += 2.0 ** min(weight + w.log_prior, 60)
        if weight > best_w:
            best_i, best_w = i, weight
    p_best = 2.0 ** min(best_w + w.log_prior, 60) / ((1 - w.p0) + total)
    if p_best < opts.threshold:
        return Verdict(round(p_best, 4))
    method = "perbaikan_nik" if best_i in repaired else "probabilistik"
    _, diff, _ = _compare_found(reg, q, row, best_i, opts)
    return Verdict(round(p_best, 4), best_i, method, diff)


class ListModel:
    """Stage 3's model for one whole list matched in chunks: fit once, on first need, from
    the list's first `ANCHOR_SAMPLE` NIK-anchored pairs (gathered over the whole list by
    `gather_anchors`), so every chunk scores with the model a single run would have fit."""

    def __init__(self, anchored: list[Anchor], seed: int = 0) -> None:
        self.anchored = anchored
        self.seed = seed
        self._model: _Model | None = None

    def get(self, reg: RegistryIndex) -> _Model:
        if self._model is None:
            self._model = _fit(reg, self.anchored, self.seed)
        return self._model


def gather_anchors(
    reg: RegistryIndex, q: Query, opts: MatchOptions | None, into: list[Anchor]
) -> bool:
    """Stage 1's anchored pairs of `q`'s rows, appended to `into` (a list's chunks in
    order) up to `ANCHOR_SAMPLE`; True once it is full."""
    opts = opts or MatchOptions()
    q_addr = QueryAddress(q.alamat)
    hit = reg.lookup([k if len(k) == 16 else "" for k in q.nik])
    for row in range(len(q)):
        if len(into) >= ANCHOR_SAMPLE:
            return True
        i = int(hit[row])
        if i < 0 or not q.nik[row]:
            continue
        got = nik_stage_row(reg, q, row, i, opts, q_addr, anchor=True)
        if got is not None and got[1] is not None:
            into.append(got[1])
    return len(into) >= ANCHOR_SAMPLE


def match(
    reg: RegistryIndex,
    q: Query,
    opts: MatchOptions | None = None,
    *,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
    model: ListModel | None = None,
) -> MatchResult:
    """Match every row of `q`; `progress(fraction)` is called now and then (it may raise to
    stop the run, e.g. when the job is cancelled). `model`: when `q` is one chunk of a
    longer list, the list's model (the results are then those of the whole list's run)."""
    opts = opts or MatchOptions()
    report = progress or (lambda _f: None)
    report(0.0)
    n = len(q)
    status = [TIDAK_DITEMUKAN] * n
    found = np.full(n, -1, dtype=np.int64)
    prob: list[float | None] = [None] * n
    differing: list[tuple[str, ...]] = [()] * n
    method = [""] * n
    q_addr = QueryAddress(q.alamat)

    # Stage 1: the NIK as given.
    hit = reg.lookup([k if len(k) == 16 else "" for k in q.nik])
    anchored: list[Anchor] = []
    rest: list[int] = []
    for row in range(n):
        i = int(hit[row])
        if i < 0 or not q.nik[row]:
            rest.append(row)
            continue
        want = model is None and len(anchored) < ANCHOR_SAMPLE
        got = nik_stage_row(reg, q, row, i, opts, q_addr, anchor=want)
        if got is None:
            rest.append(row)  # the NIK of someone else: a slip onto another person
            continue
        diff, anchor = got
        status[row] = COCOK_ELEMEN_BERBEDA if diff else COCOK
        found[row] = i
        differing[row] = diff
        method[row] = "nik"
        if anchor is not None:
            anchored.append(anchor)

    report(0.3)
    nik_pairs = int((hit >= 0).sum())
    if not rest:
        report(1.0)
        return MatchResult(status, found, prob, differing, method, blocking={"nik": nik_pairs})
    fitted = model.get(reg) if model is not None else _fit(reg, anchored, seed)

    # Stage 2: repair candidates, looked up in one go.
    repair_rows: list[int] = []
    repair_niks: list[str] = []
    for row in rest:
        sex = q.jenis_kelamin[row] if q.jenis_kelamin is not None else None
        mends = repair_candidates(q.nik[row], q.tanggal_lahir[row], sex)
        repair_rows.extend([row] * len(mends))
        repair_niks.extend(mends)
    repaired: dict[int, set[int]] = {}
    for row, i in zip(repair_rows, reg.lookup(repair_niks).tolist(), strict=True):
        if i >= 0:
            repaired.setdefault(row, set()).add(int(i))

    # Stage 3: score the repairs and the candidates of the blocking passes.
    weights = Weights.of(fitted, opts, reg.population)
    blocked, per_pass = reg.blocks().find(query_keys(q, rest))
    passes = {"nik": nik_pairs, "nik_satu_slip": sum(len(v) for v in repaired.values()),
              **per_pass}  # fmt: skip
    step = max(len(rest) // 20, 1)
    for done, row in enumerate(rest):
        if done % step == 0:
            report(0.35 + 0.65 * done / len(rest))
        qkey = name_key(q.nama[row]) if q.nama[row] else ""
        mended = repaired.get(row, set())
        cands = mended | blocked.get(row, set())
        verdict = score_row(reg, q, row, qkey, cands, mended, weights, opts, q_addr)
        if verdict is None:
            continue
        prob[row] = verdict.probability
        if verdict.index >= 0:
            status[row] = status_of(verdict.probability, opts)
            found[row] = verdict.index
            method[row] = verdict.method
            differing[row] = verdict.differing
    report(1.0)
    return MatchResult(status, found, prob, differing, method, fitted.describe(), passes)
