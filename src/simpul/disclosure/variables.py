"""Tabulation variables over the Regsosek snapshot: each a DuckDB expression and the
registry element it reads (the grant must cover that element)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from simpul.errors import InvalidInput
from simpul.registry.datasets import get_dataset

DATASET = "regsosek"
UNKNOWN = "TIDAK DIKETAHUI"
TOTAL = "JUMLAH"


@dataclass(frozen=True)
class Variable:
    name: str
    element: str
    sql: str  # an expression over the snapshot's columns yielding text
    order: tuple[str, ...] = ()  # display order of categories when known
    # a cheaper grouping key (integers, raw values) and its label; default: `sql` itself
    key_sql: str | None = None
    labeller: Callable[[Any], str] | None = None

    def group_sql(self) -> str:
        return self.key_sql or self.sql

    def label(self, key: Any) -> str:
        if self.labeller is not None:
            return self.labeller(key)
        return UNKNOWN if key is None else str(key)


def _coded(name: str, element: str | None = None) -> Variable:
    el = get_dataset(DATASET).element(element or name)
    return Variable(name, el.name, f"coalesce(CAST({el.name} AS VARCHAR), '{UNKNOWN}')",
                    tuple(el.values or ()))  # fmt: skip


def age_years_sql(today: date) -> str:
    """Completed years at `today` in integer arithmetic (no string formatting per row)."""
    ref = today.year * 10000 + today.month * 100 + today.day
    return (
        f"(({ref} - (year(tanggal_lahir) * 10000 + month(tanggal_lahir) * 100 "
        "+ day(tanggal_lahir))) // 10000)"
    )


def _years_before(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February in a common year
        return today.replace(year=today.year - years, day=28)


def age_band_key(today: date, band: int) -> str:
    """The band's lower bound (75+ open-ended) as an integer; NULL birth date: NULL.

    Completed years ≥ L exactly when the birth date is on or before `today` minus L years,
    so the band is a chain of date comparisons (no date parts extracted per row)."""
    top = 75 // band * band
    whens = " ".join(
        f"WHEN tanggal_lahir > DATE '{_years_before(today, lo + band).isoformat()}' THEN {lo}"
        for lo in range(0, top, band)
    )
    return f"CASE WHEN tanggal_lahir IS NULL THEN NULL {whens} ELSE {top} END"


def age_label(band: int) -> Callable[[Any], str]:
    top = 75 // band * band

    def label(lo: Any) -> str:
        if lo is None:
            return UNKNOWN
        lo = int(lo)
        return f"{top:02d}+" if lo >= top else f"{lo:02d}-{lo + band - 1:02d}"

    return label


def age_sql(today: date, band: int) -> str:
    """Age band label, e.g. '20-24', '75+' (text, for microdata)."""
    top = 75 // band * band
    lo = age_band_key(today, band)
    return (
        f"CASE WHEN tanggal_lahir IS NULL THEN '{UNKNOWN}' "
        f"WHEN {lo} >= {top} THEN '{top:02d}+' "
        f"ELSE lpad(CAST({lo} AS VARCHAR), 2, '0') || '-' || "
        f"lpad(CAST({lo} + {band - 1} AS VARCHAR), 2, '0') END"
    )


def _bool(name: str) -> Variable:
    return Variable(name, name, f"CASE WHEN {name} IS NULL THEN '{UNKNOWN}' "
                    f"WHEN {name} THEN 'YA' ELSE 'TIDAK' END", ("YA", "TIDAK"))  # fmt: skip


CODED = (
    "jenis_kelamin", "status_hubungan_keluarga", "pendidikan_tertinggi", "status_bekerja",
    "lapangan_usaha", "disabilitas", "status_kepemilikan_rumah", "jenis_lantai",
    "jenis_dinding", "jenis_atap", "sumber_air_minum", "fasilitas_bab", "sumber_penerangan",
    "bahan_bakar_memasak",
)  # fmt: skip
BOOLEAN = ("memiliki_lemari_es", "memiliki_sepeda_motor", "memiliki_mobil", "memiliki_lahan")
# Numeric variables for means and sums (and the magnitude rules).
NUMERIC = {
    "pengeluaran_per_kapita": "pengeluaran_per_kapita",
    "luas_lantai": "luas_lantai",
    "jumlah_anggota_keluarga": "jumlah_anggota_keluarga",
    "desil_kesejahteraan": "desil_kesejahteraan",
}
REGION = "wilayah"
AGE = "kelompok_umur"


@lru_cache(maxsize=16)
def variables(today: date, band: int = 5) -> dict[str, Variable]:
    out = {n: _coded(n) for n in CODED}
    out.update({n: _bool(n) for n in BOOLEAN})
    out[AGE] = Variable(AGE, "tanggal_lahir", age_sql(today, band),
                        key_sql=age_band_key(today, band), labeller=age_label(band))  # fmt: skip
    out["desil_kesejahteraan"] = Variable(
        "desil_kesejahteraan", "desil_kesejahteraan",
        f"coalesce(lpad(CAST(desil_kesejahteraan AS VARCHAR), 2, '0'), '{UNKNOWN}')",
        tuple(f"{d:02d}" for d in range(1, 11)),
    )  # fmt: skip
    out["jumlah_anggota_keluarga"] = Variable(
        "jumlah_anggota_keluarga", "jumlah_anggota_keluarga",
        f"CASE WHEN jumlah_anggota_keluarga IS NULL THEN '{UNKNOWN}' "
        "WHEN jumlah_anggota_keluarga >= 7 THEN '7+' "
        "ELSE CAST(jumlah_anggota_keluarga AS VARCHAR) END",
    )  # fmt: skip
    return out


def variable(name: str, today: date, band: int = 5) -> Variable:
    found = variables(today, band).get(name)
    if found is None:
        raise InvalidInput("dimensi_tidak_dikenal", f"Dimensi {name!r} tidak dikenal.")
    return found


def numeric(name: str) -> str:
    if name not in NUMERIC:
        raise InvalidInput(
            "variabel_tidak_dikenal",
            f"Variabel numerik {name!r} tidak dikenal; pilih salah satu: {', '.join(NUMERIC)}.",
        )
    return NUMERIC[name]


def quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
