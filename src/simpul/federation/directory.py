"""The federation directory: X-Road's global configuration for Simpul.

One JSON document lists the member institutions, each with its node's federation address,
the pins (SHA-256 fingerprints) of its TLS certificates, its receipt key and its log's
checkpoint key, and says when it was issued and until when it holds. The federation
authority signs it as a C2SP signed-note (Ed25519, key name `federasi.<name>`), so a node
checks it with one verifier key, and several authority keys can sign during a rotation.

A node takes a directory only when (`check`):
- a trusted authority key signed it and no trusted key's line fails;
- it is of this federation and within its validity period;
- its serial number is not lower than the one the node already holds (no rollback to a
  directory that still lists a removed member).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from simpul.audit import note
from simpul.errors import SimpulError

FORMAT = "simpul.federasi.direktori/v1"
_PIN = r"^sha256:[0-9a-f]{64}$"


class Member(BaseModel):
    """One member institution and its node."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kode: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    nama: str = Field(min_length=1, max_length=200)
    # The node's federation listener: https://host:port (no path).
    alamat: str = Field(pattern=r"^https://[^/\s]+$")
    sertifikat: tuple[str, ...] = Field(min_length=1, max_length=8)
    # The node's receipt public key (raw Ed25519, base64url) and its audit log's origin and
    # checkpoint verifier key (C2SP vkey), when it publishes them.
    kunci_tanda_terima: str | None = None
    asal_log: str | None = None
    kunci_log: str | None = None

    @field_validator("sertifikat")
    @classmethod
    def _pins(cls, pins: tuple[str, ...]) -> tuple[str, ...]:
        import re

        for pin in pins:
            if not re.fullmatch(_PIN, pin):
                raise ValueError("sertifikat harus berupa sha256:<64 digit heksadesimal>")
        return pins

    @field_validator("kunci_log")
    @classmethod
    def _vkey(cls, value: str | None) -> str | None:
        if value is not None:
            note.parse_verifier_key(value)
        return value


class Directory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str = FORMAT
    federasi: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    nomor: int = Field(ge=1)
    terbit: dt.datetime
    berlaku_sampai: dt.datetime
    anggota: tuple[Member, ...] = ()

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value != FORMAT:
            raise ValueError(f"format direktori harus {FORMAT}")
        return value

    def member(self, code: str) -> Member | None:
        return next((m for m in self.anggota if m.kode == code), None)

    def member_by_pin(self, pin: str) -> Member | None:
        return next((m for m in self.anggota if pin in m.sertifikat), None)

    def text(self) -> str:
        """The note text that is signed: the document as sorted, indented JSON."""
        body = self.model_dump(mode="json")
        return json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def key_name(federation: str) -> str:
    return f"federasi.{federation}"


class DirectoryRefused(SimpulError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code, detail, status=503)


def sign(directory: Directory, key: Any) -> str:
    """The signed directory (a signed-note) with the authority's Ed25519 key."""
    return note.sign_note(directory.text(), key_name(directory.federasi), key)


@dataclass(frozen=True)
class Checked:
    directory: Directory
    signed: str  # the note as received, to pass on to others


def check(
    signed: str | bytes,
    trusted: Sequence[str],
    *,
    now: dt.datetime,
    federation: str | None = None,
    held: int = 0,
) -> Checked:
    """The directory in `signed`, or a refusal saying why it cannot be used."""
    try:
        parsed = note.parse_note(signed)
        verifiers = [note.parse_verifier_key(k) for k in trusted]
    except ValueError as exc:
        raise DirectoryRefused(
            "direktori_tidak_terbaca", f"Direktori federasi tak terbaca: {exc}."
        ) from None
    results = [note.check_note_signature(parsed, v) for v in verifiers]
    if not verifiers or False in results or True not in results:
        raise DirectoryRefused(
            "direktori_tidak_sah", "Direktori federasi tidak ditandatangani otoritas federasi."
        )
    try:
        directory = Directory.model_validate_json(parsed.text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise DirectoryRefused(
            "direktori_tidak_terbaca", f"Direktori federasi tidak sah ({where}: {first['msg']})."
        ) from None
    signer_names = {v.name for v, ok in zip(verifiers, results, strict=True) if ok}
    if key_name(directory.federasi) not in signer_names or (
        federation is not None and directory.federasi != federation
    ):
        raise DirectoryRefused("direktori_federasi_lain", "Direktori ini milik federasi lain.")
    if now >= directory.berlaku_sampai:
        raise DirectoryRefused(
            "direktori_kedaluwarsa",
            "Direktori federasi sudah kedaluwarsa; otoritas federasi belum menerbitkan yang baru.",
        )
    if now < directory.terbit - dt.timedelta(minutes=5):
        raise DirectoryRefused("direktori_belum_berlaku", "Direktori federasi belum berlaku.")
    if directory.nomor < held:
        raise DirectoryRefused(
            "direktori_lebih_lama",
            f"Direktori nomor {directory.nomor} lebih lama dari yang dipegang (nomor {held}).",
        )
    text = signed.decode("utf-8") if isinstance(signed, bytes) else signed
    return Checked(directory, text)
