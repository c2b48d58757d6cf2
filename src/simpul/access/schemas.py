"""What the access service takes in and hands back to its adapters and to the policy."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

CODE_PATTERN = r"^[a-z0-9][a-z0-9-]{1,39}$"
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InstitutionKind(StrEnum):
    KEMENTERIAN = "kementerian"
    LEMBAGA = "lembaga"
    PEMDA = "pemda"


class AccountKind(StrEnum):
    USER = "user"
    CLIENT = "client"


class Role(StrEnum):
    HUB_ADMIN = "hub_admin"
    PROVIDER_ADMIN = "provider_admin"
    RECIPIENT_ADMIN = "recipient_admin"
    OPERATOR = "operator"
    DATA_USER = "data_user"
    AUDITOR = "auditor"
    # A machine client that witnesses this node's audit log: reads checkpoints and
    # proofs, submits cosignatures (docs/audit.md). Nothing else.
    WITNESS = "saksi"


class AccountStatus(StrEnum):
    AKTIF = "aktif"
    DICABUT = "dicabut"


class DeviceStatus(StrEnum):
    TERDAFTAR = "terdaftar"
    AKTIF = "aktif"
    NONAKTIF = "nonaktif"


def normalise_cidr(value: str) -> str:
    """A CIDR in canonical form; host bits are cleared. 'Any address' is not an access point."""
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(f"CIDR tidak valid: {value!r}") from None
    if net.prefixlen == 0:
        raise ValueError(f"{value} mencakup seluruh alamat; titik akses harus jaringan tertutup")
    return str(net)


REGION_PATTERN = r"^\d{2}(\d{2}(\d{2}(\d{4})?)?)?$"


class Contact(BaseModel):
    """The correspondence contact named in the PKS (alamat korespondensi)."""

    name: str = Field(min_length=1, max_length=200)
    position: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=254)
    phone: str | None = Field(default=None, max_length=40)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL_RE.match(value):
            raise ValueError(f"alamat surel tidak valid: {value!r}")
        return value


class InstitutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=300)
    kind: InstitutionKind
    address: str = Field(min_length=1)
    contact: Contact
    access_cidrs: list[str] = Field(default_factory=list)
    # Kode wilayah of the head office (province "31", or below): the institution's time zone.
    region: str | None = Field(default=None, pattern=REGION_PATTERN)

    @field_validator("access_cidrs")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(normalise_cidr(v) for v in values))


class InstitutionUpdate(BaseModel):
    """Details that may change without a rename. The name changes only via `rename`."""

    model_config = ConfigDict(extra="forbid")

    kind: InstitutionKind | None = None
    address: str | None = Field(default=None, min_length=1)
    contact: Contact | None = None
    access_cidrs: list[str] | None = None
    region: str | None = Field(default=None, pattern=REGION_PATTERN)

    @field_validator("access_cidrs")
    @classmethod
    def _cidrs(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else list(dict.fromkeys(normalise_cidr(v) for v in values))


class InstitutionOut(BaseModel):
    code: str
    name: str
    kind: InstitutionKind
    address: str
    contact: Contact
    access_cidrs: list[str]
    region: str | None = None
    time_zone: str = "WIB"  # from the region: WIB, WITA or WIT
    created_at: datetime
    updated_at: datetime


class NameChange(BaseModel):
    """Returned by a rename: the fact the agreements capability must act on (PKS 003 Pasal 6)."""

    institution: str
    old_name: str
    new_name: str
    changed_at: datetime
    actor: str
    reason: str
    nomenclature_changed: bool = True


class SeedReport(BaseModel):
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    # Seed names that differ from the stored name: not applied, a rename must be explicit.
    name_differs: list[str]


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str
    institution: str
    role: Role
    kind: AccountKind = AccountKind.USER
    full_name: str | None = Field(default=None, max_length=200)
    agreement_ids: list[str] = Field(default_factory=list)
    operator_of: str | None = None  # the data user's username
    # None: generate one and hand it back once. Clients always get a generated secret.
    password: SecretStr | None = None

    @field_validator("username", "operator_of")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if not USERNAME_RE.match(value):
            raise ValueError(
                "User ID 3-64 karakter: huruf kecil, angka, titik, garis bawah atau tanda hubung"
            )
        return value

    @field_validator("agreement_ids")
    @classmethod
    def _agreements(cls, values: list[str]) -> list[str]:
        cleaned = [v.strip() for v in values]
        if any(not v or len(v) > 80 for v in cleaned):
            raise ValueError("ID PKS harus 1-80 karakter")
        return list(dict.fromkeys(cleaned))


class AccountOut(BaseModel):
    id: str
    username: str
    kind: AccountKind
    role: Role
    institution: str
    full_name: str | None
    operator_of: str | None  # the data user's username
    status: AccountStatus
    agreement_ids: list[str]
    failed_logins: int
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    # Whether a TOTP second factor is active (simpul.access.totp).
    second_factor: bool = False


class IssuedSecret(BaseModel):
    """A password or client secret, shown once. SecretStr keeps it out of reprs and logs."""

    account: AccountOut
    secret: SecretStr
    generated: bool


class IssuedToken(BaseModel):
    access_token: SecretStr
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type
    expires_at: datetime
    expires_in: int  # seconds, as OAuth 2.0 clients expect


class Principal(BaseModel):
    """Who is calling, with everything the policy decision needs, from one query."""

    model_config = ConfigDict(frozen=True)

    account_id: str
    username: str
    kind: AccountKind
    role: Role
    institution: str
    access_cidrs: tuple[str, ...]
    # For an operator: the agreements of the data user it works for.
    agreement_ids: frozenset[str]
    status: AccountStatus
    on_behalf_of: str | None = None  # an operator's data user (username)
    token_expires_at: datetime | None = None


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    serial: str = Field(min_length=1, max_length=80)
    sam_id: str = Field(min_length=1, max_length=80)
    institution: str

    @field_validator("serial", "sam_id")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("tidak boleh kosong")
        return value


class DeviceOut(BaseModel):
    id: str
    serial: str
    sam_id: str
    institution: str
    status: DeviceStatus
    registered_at: datetime
    registered_by: str
    activated_at: datetime | None
    activated_by: str | None
    deactivated_at: datetime | None
    deactivated_by: str | None
    deactivation_reason: str | None
