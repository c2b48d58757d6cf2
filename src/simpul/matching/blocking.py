"""Candidate search by index: several blocking passes, unioned (ADR 0020).

Each pass gives every registry record one or more *keys* (strings) and every list row the
keys under which its person may be filed; a row's candidates in a pass are the records
sharing one of its keys. Nothing scans the registry per row: the registry's keys are
dictionary-encoded and sorted once per run, a list row's keys are looked up in that
dictionary (`pyarrow.compute.index_in`), and a block is a slice.

- `nama`: the name key (blocks of at most 50 people: rare names, any birth date);
- `nama_tahun`: name key + birth year;
- `nama_wilayah`: name key + kabupaten (the NIK's first four digits, and the region
  code's), the list row's from its NIK and region code;
- `tanggal`: the birth date alone, the list row's as written and with day and month
  exchanged (a name too mistyped for any name key, ALBET for ALBERT);
- `tanggal_nama`: birth date + each name token's sound code; the list row gives every date
  one digit typo or a day/month swap away, times each of its tokens' codes;
- `fonetik_wilayah`: the name's sound codes (sorted) + kabupaten.

A key whose block is larger than the pass's cap (`CAPS`) finds nothing in that pass (the
other passes still find its people): SITI + 1980 is not a block. The NIK passes (exact, and
one substitution or transposition away) are the engine's stages 1 and 2.

The key functions are shared by the in-process engine (`BlockIndex`) and the Spark
pipeline (`simpul.matching.spark` joins the same key strings), so both find the same
candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simpul.matching.normalize import date_variants, name_columns, swapped_day_month

PASSES = ("nama", "nama_tahun", "nama_wilayah", "tanggal", "tanggal_nama", "fonetik_wilayah")
CAPS = {
    "nama": 50,
    "tanggal": 300,
    "nama_tahun": 300,
    "nama_wilayah": 300,
    "tanggal_nama": 300,
    "fonetik_wilayah": 100,
}
KEY_COLUMNS = ("nama_kunci", "nama_fonetik")
_NIK16 = r"^[0-9]{16}$"


def with_name_columns(table: pa.Table) -> pa.Table:
    """`table` with `nama_kunci` (the name key) and `nama_fonetik` (its sorted sound codes)
    beside `nama_lengkap`, computed only when the table does not carry them already (a
    snapshot stores them: the registry side is normalised once, at load)."""
    if all(c in table.column_names for c in KEY_COLUMNS):
        return table
    names = table.column("nama_lengkap").to_pylist()
    keys, sounds = name_columns(names)
    for name, values in zip(KEY_COLUMNS, (keys, sounds), strict=True):
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(name, pa.array(values, pa.string()))
    return table


def _strings(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column if pa.types.is_string(column.type) else pc.cast(column, pa.string())


def _kept(positions: np.ndarray, keys: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """The (position, key) pairs whose key is a non-empty string."""
    ok = pc.and_kleene(pc.is_valid(keys), pc.not_equal(pc.fill_null(keys, ""), ""))
    mask = pc.fill_null(ok, False)
    return positions[mask.to_numpy(zero_copy_only=False)], keys.filter(mask)


def _regions(table: pa.Table) -> list[pa.Array]:
    """Kabupaten codes (4 digits) per record: from the NIK and from `kode_wilayah`."""
    out: list[pa.Array] = []
    nik = _strings(table.column("nik"))
    ok = pc.match_substring_regex(pc.fill_null(nik, ""), _NIK16)
    out.append(pc.if_else(ok, pc.utf8_slice_codeunits(nik, 0, 4), pa.scalar(None, pa.string())))
    if "kode_wilayah" in table.column_names:
        code = _strings(table.column("kode_wilayah"))
        four = pc.utf8_slice_codeunits(code, 0, 4)
        long_enough = pc.fill_null(pc.greater_equal(pc.utf8_length(code), 4), False)
        differs = pc.fill_null(pc.not_equal(four, out[0]), True)
        out.append(pc.if_else(pc.and_(long_enough, differs), four, pa.scalar(None, pa.string())))
    return out


def _union(parts: list[tuple[np.ndarray, pa.Array]]) -> tuple[np.ndarray, pa.Array]:
    return np.concatenate([p for p, _ in parts]), pa.concat_arrays([k for _, k in parts])


def _join(*parts: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "|")


def registry_keys(table: pa.Table) -> dict[str, tuple[np.ndarray, pa.Array]]:
    """Per pass, (record positions, key strings) of every record in `table` (a record can
    have several keys in a pass, and none where an element is missing)."""
    n = table.num_rows
    at = np.arange(n, dtype=np.int64)
    key = _strings(table.column("nama_kunci"))
    sound = _strings(table.column("nama_fonetik"))
    born = table.column("tanggal_lahir")
    if isinstance(born, pa.ChunkedArray):
        born = born.combine_chunks()
    born = pc.cast(born, pa.date32())
    year = pc.cast(pc.year(born), pa.string())
    out: dict[str, tuple[np.ndarray, pa.Array]] = {"nama": _kept(at, key)}
    out["nama_tahun"] = _kept(at, _join(key, year))
    regions = _regions(table)
    out["nama_wilayah"] = _union([_kept(at, _join(key, r)) for r in regions])
    out["fonetik_wilayah"] = _union([_kept(at, _join(sound, r)) for r in regions])
    days = pc.strftime(pc.cast(born, pa.timestamp("s")), format="%Y%m%d")
    out["tanggal"] = _kept(at, days)
    tokens = pc.split_pattern(pc.fill_null(sound, ""), " ")
    parent = pc.list_parent_indices(tokens).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(tokens)
    day = days.take(pa.array(parent))
    long_tokens = pc.greater_equal(pc.utf8_length(flat), 2)
    keys = pc.if_else(long_tokens, _join(day, flat), pa.scalar(None, pa.string()))
    out["tanggal_nama"] = _kept(parent, keys)
    return out


def _day(value: date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def list_keys(
    rows: Sequence[int],
    keys: Sequence[str],
    sounds: Sequence[str],
    born: Sequence[date | None],
    regions: Sequence[Iterable[str]],
) -> dict[str, tuple[list[int], list[str]]]:
    """Per pass, (list rows, key strings): row `rows[k]` with name key `keys[k]`, sound
    codes `sounds[k]` (sorted, as `name_columns` gives them), birth date `born[k]` and
    kabupaten codes `regions[k]`."""
    out: dict[str, tuple[list[int], list[str]]] = {p: ([], []) for p in PASSES}

    def add(name: str, row: int, key: str) -> None:
        got = out[name]
        got[0].append(row)
        got[1].append(key)

    for row, key, sound, day, region in zip(rows, keys, sounds, born, regions, strict=True):
        if not key:
            continue
        add("nama", row, key)
        if day is not None:
            add("nama_tahun", row, f"{key}|{day.year}")
        for r in dict.fromkeys(region):
            add("nama_wilayah", row, f"{key}|{r}")
            add("fonetik_wilayah", row, f"{sound}|{r}")
        if day is not None:
            swapped = swapped_day_month(day)
            for exact in (day, *([swapped] if swapped is not None else [])):
                add("tanggal", row, _day(exact))
            tokens = [t for t in dict.fromkeys(sound.split()) if len(t) >= 2]
            for variant in date_variants(day):
                text = _day(variant)
                for t in tokens:
                    add("tanggal_nama", row, f"{text}|{t}")
    return out


def row_regions(nik: str, region: str | None) -> tuple[str, ...]:
    """The kabupaten codes a list row gives: its NIK's first four digits and its region
    code's (when it has them)."""
    out: list[str] = []
    if len(nik) == 16 and nik.isdigit():
        out.append(nik[:4])
    if region and len(region) >= 4 and region[:4] not in out:
        out.append(region[:4])
    return tuple(out)


class BlockIndex:
    """The registry's blocking keys, dictionary-encoded and sorted, per pass."""

    def __init__(self, table: pa.Table) -> None:
        self._passes: dict[str, tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]] = {}
        for name, (positions, keys) in registry_keys(table).items():
            encoded = pc.dictionary_encode(keys)
            codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
            order = np.argsort(codes, kind="stable")
            counts = np.bincount(codes, minlength=len(encoded.dictionary))
            starts = np.concatenate([[0], np.cumsum(counts)])
            self._passes[name] = (encoded.dictionary, positions[order], starts, counts)

    def find(
        self, keyed: dict[str, tuple[list[int], list[str]]]
    ) -> tuple[dict[int, set[int]], dict[str, int]]:
        """Each row's candidates (registry positions) over all passes, and the number of
        (row, record) pairs each pass found."""
        found: dict[int, set[int]] = {}
        counts: dict[str, int] = {}
        for name in PASSES:
            rows, keys = keyed.get(name, ([], []))
            dictionary, positions, starts, sizes = self._passes[name]
            per_row: dict[int, set[int]] = {}
            if keys:
                codes = pc.index_in(pa.array(keys, pa.string()), value_set=dictionary)
                at = pc.fill_null(codes, -1).to_numpy(zero_copy_only=False)
                cap = CAPS[name]
                for row, code in zip(rows, at.tolist(), strict=True):
                    if code < 0 or sizes[code] > cap:
                        continue
                    block = positions[starts[code] : starts[code + 1]].tolist()
                    per_row.setdefault(row, set()).update(block)
            counts[name] = sum(len(v) for v in per_row.values())
            for row, got in per_row.items():
                found.setdefault(row, set()).update(got)
        return found, counts
