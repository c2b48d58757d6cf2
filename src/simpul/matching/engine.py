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

from simpul.matching.blocking import BlockIndex, list_keys, row_regions, with_name_columns
from simpul.matching.model import (
    _EPOCH,
    _NO_DAY,
    ADDR_LEVELS,
    DOB_LEVELS,
    NAME_LEVELS,
    NIK_LEVELS,
    REGION_LEVELS,
    Anchor,
    Weights,
    _Model,
    addr_level,
    dob_level,
    fit_model,
    name_level,
    nik_level,
    u_counts,
    u_pairs,
)
from simpul.matching.normalize import (
    address_key,
    name_columns,
    name_key,
    name_similarity,
    nik_date_consistent,
    nik_edits,
)

COCOK = "cocok"
COCOK_ELEMEN_BERBEDA = "cocok_nik_elemen_berbeda"
KEMUNGKINAN_COCOK = "kemungkinan_cocok"
TIDAK_DITEMUKAN = "tidak_ditemukan"
STATUSES = (COCOK, COCOK_ELEMEN_BERBEDA, KEMUNGKINAN_COCOK, TIDAK_DITEMUKAN)


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
    # The best candidates of each row matched in stage 3 (by row), for the reviewer.
    candidates: dict[int, tuple[Candidate, ...]] = field(default_factory=dict)

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


# NIK-anchored pairs used to estimate m (more add nothing but time).
ANCHOR_SAMPLE = 20_000


def _fit(reg: RegistryIndex, anchored: list[Anchor], seed: int) -> _Model:
    """u from random registry pairs; m from the NIK-anchored pairs (name, dob, address)."""
    counts = u_counts(reg, *u_pairs(reg.n, seed))
    _, per_day = np.unique(reg.days, return_counts=True)
    return fit_model(counts, per_day, reg.n, anchored)


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


def name_only(q: Query, row: int) -> bool:
    """A row that gives a name and nothing else to compare: no NIK, birth date, address
    or region code."""
    return not (
        q.nik[row]
        or q.tanggal_lahir[row] is not None
        or (q.alamat is not None and q.alamat[row])
        or (q.wilayah is not None and q.wilayah[row])
    )


def status_of(probability: float, opts: MatchOptions, *, only_name: bool = False) -> str:
    """A stage-3 candidate's status: `cocok` at or above the acceptance threshold,
    `kemungkinan_cocok` (for review) between the thresholds. An acceptance threshold of 1
    accepts nothing unreviewed, and a name alone is never accepted unreviewed."""
    if only_name or opts.accept >= 1.0:
        return KEMUNGKINAN_COCOK
    return COCOK if probability >= opts.accept else KEMUNGKINAN_COCOK


@dataclass(frozen=True)
class Verdict:
    """Stage 3's answer for one row: the best candidate's posterior, and (at or above the
    threshold) who it is, how it was found and what differs."""

    probability: float
    index: int = -1
    method: str = ""
    differing: tuple[str, ...] = ()
    candidates: tuple[Candidate, ...] = ()  # the best three, for the reviewer


# A candidate shown to a reviewer: registry position, posterior, and per element the
# comparison level (e.g. ("tanggal_lahir", "satu_digit")).
Candidate = tuple[int, float, tuple[tuple[str, str], ...]]
REVIEW_CANDIDATES = 3


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
    scored: list[tuple[float, int, tuple[tuple[str, str], ...]]] = []
    for i in ordered:
        weight = 0.0
        marks: list[tuple[str, str]] = []
        sim = name_similarity(qkey, reg.key(i)) if qkey else 0.0
        nl = name_level(sim)
        if qkey:
            marks.append(("nama_lengkap", NAME_LEVELS[nl]))
        if nl == 0:
            # Term frequency: agreeing on a rare name says more than agreeing on SITI.
            weight += math.log2(model.name_m[0] / reg.name_frequency(i))
        else:
            weight += float(w.name[nl])
        dl = dob_level(qd, int(reg.days[i]))
        if dl is not None:
            weight += float(w.dob[dl])
            marks.append(("tanggal_lahir", DOB_LEVELS[dl]))
        nk = nik_level(q.nik[row], str(reg.nik[i]))
        if nk is not None:
            weight += float(w.nik[nk])
            marks.append(("nik", NIK_LEVELS[nk]))
        if q.alamat is not None:
            al = addr_level(qa, reg.address(i))
            if al is not None:
                weight += float(w.addr[al])
                marks.append(("alamat", ADDR_LEVELS[al]))
        if qr >= 0 and reg.kabupaten[i, 0] >= 0:
            rl = 0 if qr in reg.kabupaten[i].tolist() else 1
            weight += float(w.region[rl])
            marks.append(("kode_wilayah", REGION_LEVELS[rl]))
        if opts.compare_sex and qs and reg.sex is not None and reg.sex[i]:
            same_sex = qs[:1].upper() == str(reg.sex[i])[:1].upper()
            weight += 0.5 if same_sex else -6.0
            marks.append(("jenis_kelamin", "sama" if same_sex else "berbeda"))
        total += 2.0 ** min(weight + w.log_prior, 60)
        scored.append((weight, i, tuple(marks)))
        if weight > best_w:
            best_i, best_w = i, weight
    denominator = (1 - w.p0) + total
    p_best = 2.0 ** min(best_w + w.log_prior, 60) / denominator
    if p_best < opts.threshold:
        return Verdict(round(p_best, 4))
    method = "perbaikan_nik" if best_i in repaired else "probabilistik"
    _, diff, _ = _compare_found(reg, q, row, best_i, opts)
    top = sorted(scored, key=lambda c: (-c[0], c[1]))[:REVIEW_CANDIDATES]
    shown = tuple(
        (i, round(2.0 ** min(wt + w.log_prior, 60) / denominator, 4), marks) for wt, i, marks in top
    )
    return Verdict(round(p_best, 4), best_i, method, diff, shown)


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
    shown: dict[int, tuple[Candidate, ...]] = {}
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
            status[row] = status_of(verdict.probability, opts, only_name=name_only(q, row))
            found[row] = verdict.index
            method[row] = verdict.method
            differing[row] = verdict.differing
            shown[row] = verdict.candidates
    report(1.0)
    return MatchResult(status, found, prob, differing, method, fitted.describe(), passes, shown)
