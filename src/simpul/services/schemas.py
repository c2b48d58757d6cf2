"""Request and response bodies of the PKS web services (Indonesian field names)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class VerifikasiIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "nik": "3273015203900001",
                    "elemen": {"nama_lengkap": "SITI AMINAH", "tanggal_lahir": "1990-03-12"},
                }
            ]
        },
    )
    nik: str = Field(min_length=1, max_length=32)
    elemen: dict[str, Any] = Field(
        min_length=1, description="Elemen yang diverifikasi; nama SIAK diterima sebagai alias."
    )


class VerifikasiOut(BaseModel):
    hasil: Literal["ditemukan", "data_tidak_ditemukan"]
    elemen: dict[str, Literal["sesuai", "tidak_sesuai"]] | None = None
    skor: dict[str, float] | None = Field(
        default=None, description="0–100, bila hibah mengizinkan."
    )


class CekStatusIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"nik": "3273015203900001", "nama_lengkap": "SITI AMINAH",
                 "tanggal_lahir": "1990-03-12"}
            ]
        },
    )  # fmt: skip
    nik: str = Field(min_length=1, max_length=32)
    nama_lengkap: str | None = Field(default=None, max_length=200)
    tanggal_lahir: str | None = Field(default=None, max_length=20)


class CekStatusOut(BaseModel):
    hasil: str = Field(description="Label dataset (mis. `ASN`) atau `data_tidak_ditemukan`.")
    keterangan: str | None = Field(
        default=None,
        description="`nik_ditemukan_biodata_berbeda` bila NIK ada tetapi nama/tanggal lahir "
        "yang dikirim tidak sesuai.",
    )
    elemen_berbeda: list[str] | None = None
    data: dict[str, Any] | None = None


class AksesNikIn(BaseModel):
    """The NIK travels in the body, never in the URL (access logs, proxies, `instance`)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"nik": "3273015203900001"}]}
    )
    nik: str = Field(min_length=1, max_length=32)


class ProfilOut(BaseModel):
    hasil: Literal["ditemukan", "data_tidak_ditemukan"]
    data: dict[str, Any] | None = None
    anggota_keluarga: list[dict[str, Any]] | None = None


class ItemGalat(BaseModel):
    code: str
    detail: str


class VerifikasiBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: list[VerifikasiIn] = Field(min_length=1, description="Paling banyak 1.000 butir.")


class VerifikasiBatchItemOut(VerifikasiOut):
    indeks: int
    hasil: Literal["ditemukan", "data_tidak_ditemukan", "galat"]  # type: ignore[assignment]
    galat: ItemGalat | None = None


class VerifikasiBatchOut(BaseModel):
    jumlah: int
    item: list[VerifikasiBatchItemOut]


class CekStatusBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: list[CekStatusIn] = Field(min_length=1, description="Paling banyak 1.000 butir.")


class CekStatusBatchItemOut(CekStatusOut):
    indeks: int
    galat: ItemGalat | None = None


class CekStatusBatchOut(BaseModel):
    jumlah: int
    item: list[CekStatusBatchItemOut]
