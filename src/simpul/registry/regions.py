"""Indonesian region codes (Kepmendagri 2025), shipped inside the package.

See `simpul/data/ATTRIBUTION.md` for the source and licence.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Regions:
    """Codes without dots: province 2, regency 4, district 6, village 10 digits."""

    provinces: dict[str, str]
    regencies: dict[str, str]
    districts: dict[str, str]
    villages: dict[str, str]
    villages_by_district: dict[str, list[str]] = field(repr=False)

    def district_known(self, code6: str) -> bool:
        return code6 in self.districts

    def names_for_village(self, code10: str) -> dict[str, str]:
        """Village, district, regency and province names for a 10-digit village code."""
        return {
            "kelurahan": self.villages[code10],
            "kecamatan": self.districts[code10[:6]],
            "kabupaten": self.regencies[code10[:4]],
            "provinsi": self.provinces[code10[:2]],
        }

    def level_of(self, code: str) -> str:
        return {2: "provinsi", 4: "kabupaten", 6: "kecamatan", 10: "kelurahan"}[len(code)]


def dotted(code: str) -> str:
    """`3171011001` → `31.71.01.1001`."""
    parts = [code[:2], code[2:4], code[4:6], code[6:]]
    return ".".join(p for p in parts if p)


@lru_cache(maxsize=1)
def load_regions() -> Regions:
    """Parse the shipped CSV once per process; the data never changes at run time."""
    text = (resources.files("simpul") / "data" / "wilayah.csv").read_text(encoding="utf-8")
    provinces: dict[str, str] = {}
    regencies: dict[str, str] = {}
    districts: dict[str, str] = {}
    villages: dict[str, str] = {}
    by_district: dict[str, list[str]] = {}
    reader = csv.reader(io.StringIO(text))
    next(reader)
    for kode, nama in reader:
        code = kode.replace(".", "")
        if len(code) == 2:
            provinces[code] = nama
        elif len(code) == 4:
            regencies[code] = nama
        elif len(code) == 6:
            districts[code] = nama
        else:
            villages[code] = nama
            by_district.setdefault(code[:6], []).append(code)
    return Regions(provinces, regencies, districts, villages, by_district)
