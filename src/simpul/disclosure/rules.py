"""Statistical disclosure control parameters and the primary (cell-level) rules.

Defaults are those of ACRO (threshold 10, dominance n=2 k=0.9, p-ratio 0.10); an agreement
may override them (`disclosure_setting`, see `service.set_rules`)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

RegionLevel = Literal["provinsi", "kabupaten", "kecamatan", "desa"]
REGION_LENGTHS: dict[str, int] = {"provinsi": 2, "kabupaten": 4, "kecamatan": 6, "desa": 10}
REGION_DEPTH: dict[str, int] = {"provinsi": 1, "kabupaten": 2, "kecamatan": 3, "desa": 4}
LENGTHS = (2, 4, 6, 10)


class SdcRules(BaseModel):
    """Per-agreement disclosure control settings (Indonesian keys as stored and shown)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    threshold: int = Field(default=10, ge=1, alias="ambang")
    dominance_n: int = Field(default=2, ge=1, le=2, alias="dominasi_n")
    dominance_k: float = Field(default=0.9, gt=0, le=1, alias="dominasi_k")
    p_ratio: float = Field(default=0.10, ge=0, le=1, alias="p_rasio")
    rounding: int | None = Field(default=None, ge=2, alias="pembulatan")
    zeros_disclosive: bool = Field(default=True, alias="nol_disklosif")
    k_anonymity: int = Field(default=5, ge=2, alias="k_anonimitas")
    micro_region_level: Literal["provinsi", "kabupaten", "kecamatan"] = Field(
        default="kecamatan", alias="tingkat_wilayah_mikro"
    )
    # Quasi-identifiers (registry element names) the k-anonymity of microdata is enforced on.
    quasi_identifiers: tuple[str, ...] = Field(
        default=("jenis_kelamin", "tanggal_lahir", "kode_wilayah", "status_hubungan_keluarga",
                 "jumlah_anggota_keluarga"),
        alias="kuasi_identifier",
    )  # fmt: skip
    age_band: int = Field(default=5, ge=1, le=20, alias="lebar_kelompok_umur")
    sandbox_seconds: float = Field(default=10.0, gt=0, le=600, alias="batas_waktu_detik")
    sandbox_memory: str = Field(default="512MB", pattern=r"^\d+(MB|GB)$", alias="batas_memori")


def primary_reasons(
    count: NDArray[np.float64],
    total: NDArray[np.float64],
    top1: NDArray[np.float64],
    top2: NDArray[np.float64],
    rules: SdcRules,
    magnitude: bool,
) -> list[str | None]:
    """Reason code per cell: `ambang` (threshold), `dominasi` (nk), `p_rasio`, or None."""
    out: list[str | None] = [None] * len(count)
    small = (count > 0) & (count < rules.threshold)
    dom = np.zeros(len(count), dtype=bool)
    pr = np.zeros(len(count), dtype=bool)
    if magnitude:
        top_n = top1 + (top2 if rules.dominance_n == 2 else 0)
        pos = total > 0
        dom = pos & (top_n > rules.dominance_k * total)
        pr = pos & ((total - top1 - top2) < rules.p_ratio * top1)
    for i in np.flatnonzero(small | dom | pr):
        out[int(i)] = "ambang" if small[i] else ("dominasi" if dom[i] else "p_rasio")
    return out
