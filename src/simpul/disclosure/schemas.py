"""Request and response bodies of the tiered Regsosek access (Indonesian field names)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from simpul.disclosure.aggregate import TableSpec

Tingkat = Literal["provinsi", "kabupaten", "kecamatan", "desa"]


class TabelIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"dimensi": ["wilayah", "jenis_kelamin", "kelompok_umur"],
                 "tingkat_wilayah": "kabupaten", "wilayah": "32"}
            ]
        },
    )  # fmt: skip
    dimensi: list[str] = Field(min_length=1, max_length=4)
    tingkat_wilayah: Tingkat = "provinsi"
    wilayah: str | None = Field(default=None, max_length=10, description="Filter kode wilayah.")
    variabel: str | None = Field(default=None, description="Variabel numerik: rata-rata, jumlah.")
    margin: bool = Field(default=True, description="Sertakan semua total dan subtotal.")

    def spec(self) -> TableSpec:
        return TableSpec(
            dimensions=tuple(self.dimensi),
            region_level=self.tingkat_wilayah,
            region=self.wilayah,
            variable=self.variabel,
            margins=self.margin,
        )


class TabelOut(BaseModel):
    dimensi: list[str]
    tingkat_wilayah: str
    wilayah: str | None = None
    variabel: str | None = None
    baris: list[dict[str, Any]] = Field(
        description="Sel tabel: `jumlah` null bila ditekan; `status` aman / ditekan_primer / "
        "ditekan_sekunder; `JUMLAH` menandai total."
    )
    sel: int
    ditekan_primer: int
    ditekan_sekunder: int
    aturan: dict[str, Any]
    sumber: str


class MikroIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["parquet", "csv"] = "parquet"
    wilayah: str | None = Field(default=None, max_length=10)


class EkstrakOut(BaseModel):
    ekstrak_id: str
    layanan: str
    format: str
    baris: int
    unduh: str
    laporan_risiko: dict[str, Any] | None = None
    sumber: str


class BnbaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["parquet", "csv"] = "csv"
    wilayah: str | None = Field(default=None, max_length=10)


class KueriIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"sql": "SELECT pendidikan_tertinggi, count(*) AS n FROM mikro GROUP BY 1",
                 "tujuan": "Profil pendidikan"}
            ]
        },
    )  # fmt: skip
    sql: str = Field(min_length=1, max_length=20_000)
    tujuan: str | None = Field(default=None, max_length=500)


class KeluaranOut(BaseModel):
    id: str
    status: str
    kolom: list[str]
    baris: list[list[Any]] | None = None
    pemeriksaan: dict[str, Any]
    sumber: str
    ditinjau_oleh: str | None = None
    alasan_tinjauan: str | None = None


class TinjauanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keputusan: Literal["setujui", "tolak"]
    alasan: str = Field(min_length=3, max_length=1000)
