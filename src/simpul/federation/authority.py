"""The federation authority's folder: its signing key, the members it has registered, the
serial of the last directory it signed, and (in the demo, or where the authority is also
the CA) the certificate authority for the nodes' TLS certificates.

    otoritas.key     Ed25519 signing key of the directory (0600)
    otoritas.nama    the federation's name
    anggota.json     the members, as they go into the directory
    nomor            the serial of the last directory signed
    ca/              ca.pem, ca.key: the nodes' TLS CA (`simpul.federation.pki`)

Every change is a file the operator can read and back up; nothing here needs a database.
Removing a member and signing a new directory is how a node is cut off from the federation:
every node drops the member's pins when it takes the new directory.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from simpul.audit import note
from simpul.audit.signing import load_or_create, public_bytes
from simpul.config import ensure_private_dir, write_private
from simpul.errors import InvalidInput, NotFound
from simpul.federation import pki
from simpul.federation.directory import Directory, Member, key_name, sign

KEY, NAME, MEMBERS, SERIAL, CA = "otoritas.key", "otoritas.nama", "anggota.json", "nomor", "ca"


class Authority:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def create(cls, folder: Path, name: str) -> Authority:
        """A new authority (its key and its CA) in an empty or new folder."""
        Directory.model_validate(
            {
                "federasi": name,
                "nomor": 1,
                "terbit": "2000-01-01T00:00:00Z",
                "berlaku_sampai": "2000-01-02T00:00:00Z",
            }
        )  # fmt: skip  (the name's rules)
        if (folder / KEY).exists():
            raise InvalidInput("otoritas_sudah_ada", f"Folder {folder} sudah berisi otoritas.")
        ensure_private_dir(folder)
        load_or_create(folder / KEY)
        write_private(folder / NAME, name + "\n")
        write_private(folder / MEMBERS, "[]\n")
        write_private(folder / SERIAL, "0\n")
        pki.create_ca(ensure_private_dir(folder / CA), name)
        return cls(folder)

    @classmethod
    def open(cls, folder: Path) -> Authority:
        if not (folder / KEY).exists():
            raise NotFound("otoritas_tidak_ada", f"Folder {folder} bukan folder otoritas federasi.")
        return cls(folder)

    @property
    def name(self) -> str:
        return (self.folder / NAME).read_text(encoding="utf-8").strip()

    @property
    def ca_folder(self) -> Path:
        return self.folder / CA

    def verifier_key(self) -> str:
        """The vkey nodes are configured with (`SIMPUL_FEDERATION_AUTHORITY_KEYS`)."""
        key = load_or_create(self.folder / KEY)
        return note.verifier_key(key_name(self.name), public_bytes(key))

    def members(self) -> list[Member]:
        raw = json.loads((self.folder / MEMBERS).read_text(encoding="utf-8"))
        return [Member.model_validate(m) for m in raw]

    def _save(self, members: list[Member]) -> None:
        body = [m.model_dump(mode="json", exclude_none=True) for m in members]
        write_private(self.folder / MEMBERS, json.dumps(body, indent=2, ensure_ascii=False) + "\n")

    def put_member(self, member: Member) -> bool:
        """Add the member, or replace its entry (new address, key or certificate). True when
        it is new. A pin already listed for another member is refused."""
        members = self.members()
        for other in members:
            shared = set(other.sertifikat) & set(member.sertifikat)
            if other.kode != member.kode and shared:
                raise InvalidInput(
                    "sertifikat_sudah_terdaftar",
                    f"Sertifikat itu sudah terdaftar untuk anggota {other.kode}.",
                )
        new = all(m.kode != member.kode for m in members)
        kept = [m for m in members if m.kode != member.kode]
        self._save(sorted([*kept, member], key=lambda m: m.kode))
        return new

    def remove_member(self, code: str) -> None:
        members = self.members()
        if all(m.kode != code for m in members):
            raise NotFound("anggota_tidak_dikenal", f"Anggota {code} tidak terdaftar.")
        self._save([m for m in members if m.kode != code])

    def sign_directory(self, *, days: float = 7.0, now: dt.datetime | None = None) -> str:
        """The next directory (serial + 1), valid for `days`, signed."""
        now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        serial = int((self.folder / SERIAL).read_text(encoding="utf-8").strip() or 0) + 1
        directory = Directory(
            federasi=self.name,
            nomor=serial,
            terbit=now,
            berlaku_sampai=now + dt.timedelta(days=days),
            anggota=tuple(self.members()),
        )
        signed = sign(directory, load_or_create(self.folder / KEY))
        write_private(self.folder / SERIAL, f"{serial}\n")
        return signed
