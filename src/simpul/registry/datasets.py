"""Dataset definitions: the elements a registry holds, their types and disclosure classes.

Definitions are data (`definitions/*.yaml`), like agreements: a new registry needs no code.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property, lru_cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from simpul.errors import NotFound


class ElementType(StrEnum):
    NIK = "nik"
    KK = "kk"
    NIP = "nip"
    NAMA = "nama"  # a person's name: compared by similarity after normalisation
    TEKS = "teks"
    ALAMAT = "alamat"
    KODE = "kode"  # one of a fixed list of values
    TANGGAL = "tanggal"
    BILANGAN = "bilangan"  # integer
    DESIMAL = "desimal"
    BOOLEAN = "boolean"
    WILAYAH = "wilayah"  # a 10-digit village code
    CITRA = "citra"  # an image (face photo); never in tabular files


class ElementClass(StrEnum):
    """Disclosure class, used by microdata release and output checking."""

    IDENTIFIER = "identifier"
    DIRECT = "direct"
    QUASI = "quasi"
    SENSITIVE = "sensitive"
    BIOMETRIC = "biometric"


class Element(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = Field(alias="nama")
    label: str
    type: ElementType = Field(alias="tipe")
    klass: ElementClass = Field(alias="kelas")
    required: bool = Field(default=False, alias="wajib")
    aliases: tuple[str, ...] = Field(default=(), alias="alias")
    values: tuple[str, ...] | None = Field(default=None, alias="nilai")
    minimum: float | None = Field(default=None, alias="min")
    maximum: float | None = Field(default=None, alias="max")


class StatusCheck(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    found_label: str = Field(alias="label_ditemukan")
    outputs: tuple[str, ...] = Field(default=(), alias="keluaran")


class Dataset(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    code: str = Field(alias="kode")
    name: str = Field(alias="nama")
    provider: str = Field(alias="penyedia")
    key: str = Field(alias="kunci")
    elements: tuple[Element, ...] = Field(alias="elemen")
    profiles: dict[str, tuple[str, ...]] = Field(default_factory=dict, alias="profil")
    status_check: StatusCheck | None = Field(default=None, alias="cek_status")

    @model_validator(mode="after")
    def _consistent(self) -> Dataset:
        names = [e.name for e in self.elements]
        if len(set(names)) != len(names):
            raise ValueError("nama elemen ganda")
        if self.key not in names:
            raise ValueError(f"kunci {self.key!r} bukan elemen")
        return self

    def element(self, name: str) -> Element:
        for el in self.elements:
            if el.name == name:
                return el
        raise NotFound(
            "elemen_tidak_dikenal", f"Elemen {name!r} tidak ada pada dataset {self.code}."
        )

    @cached_property
    def element_types(self) -> dict[str, ElementType]:
        """Element name → type, for lookups on the services' hot path (treat as read-only)."""
        return {e.name: e.type for e in self.elements}

    @property
    def element_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.elements)

    @property
    def tabular_elements(self) -> tuple[Element, ...]:
        """Elements stored in rows and Parquet; images live in the photo store."""
        return tuple(e for e in self.elements if e.type is not ElementType.CITRA)

    @cached_property
    def _aliases(self) -> dict[str, str]:
        return self._build_alias_map()

    def alias_map(self) -> dict[str, str]:
        """Upper-cased input header (name or SIAK alias) → element name (a fresh copy)."""
        return dict(self._aliases)

    def alias_lookup(self, header: str) -> str | None:
        """The element a header names (name or SIAK alias, any case), without copying."""
        return self._aliases.get(header.strip().upper())

    def _build_alias_map(self) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for el in self.elements:
            mapping[el.name.upper()] = el.name
            for alias in el.aliases:
                mapping[alias.upper()] = el.name
        return mapping


# Column names lists use that are neither element names nor SIAK aliases (a list's upload,
# and the feedback files a job produces, which carry the list's own columns).
LIST_ALIASES = {
    "NIK": "nik",
    "NO_NIK": "nik",
    "NOMOR_NIK": "nik",
    "NAMA": "nama_lengkap",
    "NAMA_LENGKAP": "nama_lengkap",
    "NAMA_LGKP": "nama_lengkap",
    "NAMA_PENERIMA": "nama_lengkap",
    "TANGGAL_LAHIR": "tanggal_lahir",
    "TGL_LAHIR": "tanggal_lahir",
    "TGL_LHR": "tanggal_lahir",
    "JENIS_KELAMIN": "jenis_kelamin",
    "JENIS_KLMIN": "jenis_kelamin",
    "JK": "jenis_kelamin",
    "ALAMAT": "alamat",
    "NO_KK": "no_kk",
    "NOMOR_KK": "no_kk",
    "KODE_WILAYAH": "kode_wilayah",
    "KODE_KEL": "kode_wilayah",
    "TEMPAT_LAHIR": "tempat_lahir",
    "TMPT_LHR": "tempat_lahir",
}


def canon_header(header: str) -> str:
    """A column name as looked up: BOM and spaces trimmed, upper case, spaces and hyphens
    as underscores, dots dropped (`Tgl. Lahir` → `TGL_LAHIR`)."""
    text = header.strip().lstrip("\ufeff").strip().upper()
    return text.replace(" ", "_").replace(".", "").replace("-", "_")


def list_alias_map(dataset: Dataset) -> dict[str, str]:
    """Canonical column name (`canon_header`) → element, for lists against `dataset`: the
    common list names, then the dataset's element names and SIAK aliases."""
    return {**LIST_ALIASES, **{canon_header(k): v for k, v in dataset.alias_map().items()}}


@lru_cache(maxsize=1)
def builtin_datasets() -> dict[str, Dataset]:
    """The four shipped registry definitions, parsed once per process (immutable)."""
    folder = resources.files("simpul.registry") / "definitions"
    found: dict[str, Dataset] = {}
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            ds = Dataset.model_validate(yaml.safe_load(entry.read_text(encoding="utf-8")))
            found[ds.code] = ds
    return found


def get_dataset(code: str) -> Dataset:
    try:
        return builtin_datasets()[code]
    except KeyError:
        raise NotFound(
            "dataset_tidak_dikenal",
            f"Dataset {code!r} tidak dikenal. Pilihan: {', '.join(builtin_datasets())}.",
        ) from None
