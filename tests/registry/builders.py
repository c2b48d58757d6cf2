"""Small, hand-made registry rows for tests that must not depend on the generator."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from simpul.registry.identifiers import LAKI_LAKI, PEREMPUAN, make_kk, make_nik

HEADER = [
    "nik",
    "no_kk",
    "nama_lengkap",
    "jenis_kelamin",
    "agama",
    "tempat_lahir",
    "tanggal_lahir",
    "status_perkawinan",
    "status_hubungan_keluarga",
    "alamat",
    "kode_wilayah",
]


def person(i: int, *, name: str = "SITI AMINAH") -> dict[str, str]:
    sex = PEREMPUAN if i % 2 else LAKI_LAKI
    born = date(1970 + i % 30, 1 + i % 12, 1 + i % 28)
    return {
        "nik": make_nik("327301", born, sex, i + 1),
        "no_kk": make_kk("327301", date(2015, 6, 1), i + 1),
        "nama_lengkap": name,
        "jenis_kelamin": sex,
        "agama": "ISLAM",
        "tempat_lahir": "BANDUNG",
        "tanggal_lahir": born.isoformat(),
        "status_perkawinan": "KAWIN",
        "status_hubungan_keluarga": "KEPALA KELUARGA",
        "alamat": "JL. MAWAR NO. 1",
        "kode_wilayah": "3273011001",
    }


def write_csv(
    path: Path,
    rows: list[dict[str, str]],
    *,
    header: list[str] | None = None,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> Path:
    cols = header or HEADER
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(cols)
        for row in rows:
            writer.writerow([row.get(c, "") for c in cols])
    return path
