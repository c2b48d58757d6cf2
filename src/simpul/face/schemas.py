"""What the face services answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field


class VerifikasiWajahOut(BaseModel):
    """PKS 003 Pasal 2(1)b: "data tidak ditemukan" or a similarity value (0-100)."""

    hasil: Literal["ditemukan", "data_tidak_ditemukan"]
    kemiripan: float | None = Field(
        default=None, ge=0, le=100, description="Nilai kemiripan wajah 0-100."
    )
    ambang: float | None = Field(
        default=None, description="Ambang kemiripan hibah (bila hibah menetapkannya)."
    )
    keputusan: Literal["sesuai", "tidak_sesuai"] | None = Field(
        default=None, description="Kemiripan terhadap ambang hibah (bila ditetapkan)."
    )


@dataclass(frozen=True)
class StoredPhoto:
    """A photo handed to an authorised caller (the portal), never logged."""

    content_type: str
    data: bytes
    sha256: str


@dataclass(frozen=True)
class EnrolOut:
    dataset: str
    nik: str
    engine: str
    replaced: bool
    width: int
    height: int


@dataclass(frozen=True)
class StoreStats:
    dataset: str
    photos: int
    by_engine: dict[str, int]
    current_engine: str
