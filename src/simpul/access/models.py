"""Tables for institutions, accounts, credentials and card-reader devices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from simpul.db import Base

JsonType = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend.

    SQLite keeps no offset: it would store an aware value's wall clock and hand back a naive
    one, so expiry and lockout comparisons would be wrong or raise. Values are converted to
    UTC on the way in and marked UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Institution(Base):
    __tablename__ = "institution"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))  # kementerian | lembaga | pemda
    address: Mapped[str] = mapped_column(Text)
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_position: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    access_cidrs: Mapped[list[str]] = mapped_column(JsonType)
    # Kode wilayah of the head office (a province at least): its time zone (WIB/WITA/WIT).
    region: Mapped[str | None] = mapped_column(String(13), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class InstitutionNameHistory(Base):
    """Every change of name: a recipient's new nomenclature can end a PKS (003 Pasal 6)."""

    __tablename__ = "institution_name_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    institution_code: Mapped[str] = mapped_column(
        ForeignKey("institution.code", ondelete="CASCADE")
    )
    old_name: Mapped[str] = mapped_column(String(300))
    new_name: Mapped[str] = mapped_column(String(300))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_institution_name_history_code", "institution_code", "changed_at"),)


class Account(Base):
    """A human user or a machine client. For clients `username` is the client_id."""

    __tablename__ = "account"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # user | client
    role: Mapped[str] = mapped_column(String(30))
    institution_code: Mapped[str] = mapped_column(ForeignKey("institution.code"), index=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    # The data user an operator works for (PKS 000 Pasal 6(3)f); null for every other role.
    operator_of: Mapped[str | None] = mapped_column(ForeignKey("account.id"), index=True)
    status: Mapped[str] = mapped_column(String(10))  # aktif | dicabut
    # "argon2id$…" (user password) or "sha256$<hex>" (generated client secret).
    secret_hash: Mapped[str] = mapped_column(String(200))
    secret_changed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(120))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(120))
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class AccountAgreement(Base):
    """Agreements an account may act under. No FK: agreements live in their own package."""

    __tablename__ = "account_agreement"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    agreement_id: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)
    bound_at: Mapped[datetime] = mapped_column(UtcDateTime())
    bound_by: Mapped[str] = mapped_column(String(120))


class ClientToken(Base):
    """Opaque bearer tokens, kept only as sha256 so a database leak yields no usable token."""

    __tablename__ = "client_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Device(Base):
    """A KTP-el card reader with its SAM (PKS 003 Pasal 2(1)g-h, Pasal 9)."""

    __tablename__ = "device"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    serial: Mapped[str] = mapped_column(String(80), unique=True)
    sam_id: Mapped[str] = mapped_column(String(80), unique=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institution.code"), index=True)
    status: Mapped[str] = mapped_column(String(12))  # terdaftar | aktif | nonaktif
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    registered_by: Mapped[str] = mapped_column(String(120))
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    activated_by: Mapped[str | None] = mapped_column(String(120))
    deactivated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deactivated_by: Mapped[str | None] = mapped_column(String(120))
    deactivation_reason: Mapped[str | None] = mapped_column(Text)


class QuotaCounter(Base):
    """Units taken in one quota window of one account's grant, when no Redis is configured
    (simpul.access.quota.DatabaseCounter; docs/adr/0011). Rows of closed windows are pruned."""

    __tablename__ = "quota_counter"

    window_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    used: Mapped[int] = mapped_column(Integer)
    window_end: Mapped[int] = mapped_column(BigInteger, index=True)  # epoch seconds


class LoginThrottle(Base):
    """Failed sign-ins per (User ID as typed, source address), shared by every process.

    Keyed by the name, not the account, so that an unknown name is throttled exactly as a
    known one is (the answer never tells which exists). `source = '*'` is the account-wide
    ceiling across all sources (simpul.access.throttle)."""

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SecondFactor(Base):
    """An account's TOTP second factor (RFC 6238; simpul.access.totp). The shared secret is
    kept encrypted under a key derived from the instance secret (it must be recoverable to
    check a code, so it cannot be hashed). `confirmed_at` is null while enrolment waits for
    the first correct code; `last_step` refuses a code that was already used."""

    __tablename__ = "second_factor"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    secret_enc: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_step: Mapped[int] = mapped_column(BigInteger, default=0)


class RecoveryCode(Base):
    """One-time recovery codes of a second factor, stored as their sha256 (50 random bits
    each, like a generated token: argon2 would add nothing but cost)."""

    __tablename__ = "recovery_code"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
