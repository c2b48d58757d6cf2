"""What the pemadanan API and service functions take and give."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# The statuses a job never leaves (its issues and results can be read).
TERMINAL = ("selesai", "gagal", "dibatalkan")


class OptionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ambang: float = Field(
        0.5, ge=0.05, le=0.999, description="Ambang probabilitas kemungkinan_cocok."
    )
    ambang_terima: float | None = Field(
        None, ge=0.5, le=1.0,
        description="Ambang probabilitas cocok tanpa tinjauan; hanya dapat dinaikkan dari "
        "ambang hibah (1 = semua kemungkinan cocok ditinjau).",
    )  # fmt: skip
    batas_baris: int | None = Field(None, ge=1, description="Batas baris (≤ batas instans).")


class JobOut(BaseModel):
    id: str
    status: str  # antri | berjalan | selesai | gagal | dibatalkan
    progres: float
    dataset: str
    alur: str
    layanan: str
    mekanisme: str
    perjanjian: str | None = None
    versi_perjanjian: int | None = None
    berkas: str
    jumlah_baris: int
    baris_galat: int
    jumlah: dict[str, int] | None = None
    blok: dict[str, int] | None = None  # candidate pairs found by each blocking pass
    ambang_terima: float | None = None  # posterior at or above which a row is cocok
    dibuat: datetime
    mulai: datetime | None = None
    selesai: datetime | None = None
    galat: str | None = None
    keterangan: str | None = None


class KandidatOut(BaseModel):
    """One candidate of a probable match, as the reviewer sees it."""

    urutan: int  # 1: the proposed match
    probabilitas: float
    elemen: dict[str, str]  # element → agreement level (sama, satu_digit, berbeda …)
    alasan: str
    dipilih: bool


class HasilOut(BaseModel):
    baris: int
    status: str
    alasan: str | None = None  # why a row was not matched (data_tidak_cukup, tidak_valid)
    kolom: list[str] | None = None  # the row's own cells, in the list's column order
    probabilitas: float | None = None
    elemen_berbeda: list[str] | None = None
    metode: str | None = None
    tinjauan: str | None = None
    nik_cocok: str | None = None
    masukan: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] | None = None
    kandidat: list[KandidatOut] | None = None  # a probable match's candidates, for review


class HasilPage(BaseModel):
    total: int
    item: list[HasilOut]


class TinjauIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keputusan: str = Field(pattern="^(diterima|ditolak)$")
    alasan: str = Field("", max_length=500)
