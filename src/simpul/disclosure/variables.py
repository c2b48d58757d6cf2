"""Tabulation variables over the Regsosek snapshot: each a DuckDB expression and the
registry element it reads (the grant must cover that element)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

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


def _coded(name: str, element: str | None = None) -> Variable:
    el = get_dataset(DATASET).element(element or name)
    return Variable(name, el.name, f"coalesce(CAST({el.name} AS VARCHAR), '{UNKNOWN}')",
                    tuple(el.values or ()))  # fmt: skip


def age_sql(today: date, band: int) -> str:
    """Completed years at `today`, in bands of `band` years, 75+ open-ended."""
    years = (
        f"date_diff('year', tanggal_lahir, DATE '{today.isoformat()}') - "
        f"CASE WHEN strftime(tanggal_lahir, '%m-%d') > '{today:%m-%d}' THEN 1 ELSE 0 END"
    )
    lo = f"(least({years}, 75) // {band}) * {band}"
    return (
        f"CASE WHEN tanggal_lahir IS NULL THEN '{UNKNOWN}' "
        f"WHEN least({years}, 75) >= {75 // band * band} THEN '{75 // band * band:02d}+' "
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


def variables(today: date, band: int = 5) -> dict[str, Variable]:
    out = {n: _coded(n) for n in CODED}
    out.update({n: _bool(n) for n in BOOLEAN})
    out[AGE] = Variable(AGE, "tanggal_lahir", age_sql(today, band))
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
