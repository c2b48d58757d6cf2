"""A TOTP second factor for portal accounts (RFC 6238 through pyotp), with recovery codes.

- The shared secret must be recoverable to check a code, so it is kept encrypted
  (AES-GCM under a key derived with HKDF from the instance's `secret_key`, bound to the
  account id), never in clear and never hashed.
- A code is accepted one 30-second step either side of now (a phone's clock drifts), and
  only once: the step it matched is recorded with an atomic update
  (`SecondFactorRepository.use_step`), so a code seen over a shoulder or replayed by a
  proxy is refused.
- Ten recovery codes are issued at enrolment, shown once, stored as sha256 and each usable
  once. A new set replaces the old one.
- Enrolment is two-step: `begin` stores a fresh secret unconfirmed; `confirm` with a first
  correct code activates it. Until then the account has no second factor.

Who must have one is the portal's decision (simpul.portal.second_factor); the actions
that change it are governance actions with their audit records
(simpul.governance.actions.accounts)."""

from __future__ import annotations

import base64
import hmac
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from simpul.access import passwords as pw
from simpul.access.models import SecondFactor
from simpul.access.repository import SecondFactorRepository
from simpul.config import Settings
from simpul.errors import Conflict, SimpulError
from simpul.kit.clock import Clock

ISSUER = "Simpul"
INTERVAL = 30
DRIFT_STEPS = 1
RECOVERY_CODES = 10
# No look-alikes (0/o, 1/l/i): the codes are read off paper.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_CODE_LENGTH = 10


class Status(StrEnum):
    AKTIF = "aktif"  # confirmed: sign-in asks for a code
    MENUNGGU = "menunggu"  # enrolment begun, not yet confirmed
    TIDAK_ADA = "tidak_ada"


class Used(StrEnum):
    TOTP = "totp"
    PEMULIHAN = "pemulihan"


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, for manual entry
    uri: str  # otpauth:// for the QR code


def _key(settings: Settings) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"simpul totp v1")
    return hkdf.derive(settings.require_secret("secret_key").encode("utf-8"))


def _seal(settings: Settings, account_id: str, secret: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(settings)).encrypt(nonce, secret.encode(), account_id.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def _open(settings: Settings, row: SecondFactor) -> str:
    raw = base64.urlsafe_b64decode(row.secret_enc.encode("ascii"))
    try:
        plain = AESGCM(_key(settings)).decrypt(raw[:12], raw[12:], row.account_id.encode())
    except InvalidTag as exc:  # the instance secret changed since enrolment
        raise SimpulError(
            "faktor_kedua_tidak_terbaca",
            "Rahasia faktor kedua akun ini tidak dapat dibuka (kunci instans berubah); "
            "minta administrator mengatur ulang faktor kedua.",
            status=500,
        ) from exc
    return plain.decode("ascii")


def _uri(secret: str, username: str, institution: str) -> str:
    return pyotp.TOTP(secret, interval=INTERVAL).provisioning_uri(
        name=username, issuer_name=f"{ISSUER} {institution.upper()}"
    )


def status(session: Session, account_id: str) -> Status:
    row = SecondFactorRepository(session).get(account_id)
    if row is None:
        return Status.TIDAK_ADA
    return Status.AKTIF if row.confirmed_at is not None else Status.MENUNGGU


def enrolled(session: Session, account_ids: list[str]) -> set[str]:
    """The accounts among `account_ids` whose second factor is active."""
    return SecondFactorRepository(session).enrolled(account_ids)


def begin(
    session: Session, settings: Settings, account_id: str, username: str, institution: str,
    *, clock: Clock, secret: str | None = None,
) -> Enrolment:  # fmt: skip
    """A fresh secret, stored unconfirmed (replacing an unconfirmed one). An active second
    factor is never replaced this way: an administrator resets it first. `secret` is for
    the demo only, which writes the secrets it enrols into its credentials file."""
    repo = SecondFactorRepository(session)
    row = repo.get(account_id)
    if row is not None and row.confirmed_at is not None:
        raise Conflict("faktor_kedua_sudah_aktif", "Faktor kedua akun ini sudah aktif.")
    secret = secret or pyotp.random_base32()
    repo.put(SecondFactor(account_id=account_id, secret_enc=_seal(settings, account_id, secret),
                          created_at=clock.now(), confirmed_at=None, last_step=0))  # fmt: skip
    return Enrolment(secret, _uri(secret, username, institution))


def pending(
    session: Session, settings: Settings, account_id: str, username: str, institution: str
) -> Enrolment | None:
    """The enrolment begun and not yet confirmed (a reload shows the same QR code)."""
    row = SecondFactorRepository(session).get(account_id)
    if row is None or row.confirmed_at is not None:
        return None
    secret = _open(settings, row)
    return Enrolment(secret, _uri(secret, username, institution))


def _normal(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()[:64]


def _totp_step(settings: Settings, row: SecondFactor, code: str, now: float) -> int | None:
    """The time step `code` is valid for, within the drift allowed; None if none."""
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(_open(settings, row), interval=INTERVAL)
    current = int(now // INTERVAL)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * INTERVAL), code):
            return step
    return None


def confirm(
    session: Session, settings: Settings, account_id: str, code: str, *, clock: Clock
) -> list[str]:
    """Activate the enrolment with its first correct code; returns the recovery codes
    (shown once). Raises 422 `kode_faktor_kedua_salah` for a wrong code."""
    repo = SecondFactorRepository(session)
    row = repo.get(account_id)
    if row is None or row.confirmed_at is not None:
        raise Conflict("pendaftaran_faktor_kedua_tidak_ada",
                       "Tidak ada pendaftaran faktor kedua yang menunggu konfirmasi.")  # fmt: skip
    now = clock.now()
    step = _totp_step(settings, row, _normal(code), now.timestamp())
    if step is None or not repo.use_step(account_id, step):
        raise _wrong_code()
    repo.confirm(account_id, now)
    return new_recovery_codes(session, account_id, clock=clock)


def _wrong_code() -> SimpulError:
    return SimpulError(
        "kode_faktor_kedua_salah", "Kode faktor kedua salah atau sudah dipakai.", status=401
    )


def check(
    session: Session, settings: Settings, account_id: str, code: str, *, clock: Clock,
    recovery: bool = True,
) -> Used | None:  # fmt: skip
    """A sign-in's second factor: a current TOTP code not used before, or (if `recovery`)
    an unused recovery code, then spent. None when it is neither."""
    repo = SecondFactorRepository(session)
    row = repo.get(account_id)
    if row is None or row.confirmed_at is None:
        return None
    given = _normal(code)
    now = clock.now()
    step = _totp_step(settings, row, given, now.timestamp())
    if step is not None:
        return Used.TOTP if repo.use_step(account_id, step) else None
    if recovery and len(given) == _CODE_LENGTH and repo.use_code(account_id, pw.digest(given), now):
        return Used.PEMULIHAN
    return None


def new_recovery_codes(session: Session, account_id: str, *, clock: Clock) -> list[str]:
    """A new set of recovery codes, replacing every earlier one; shown once."""
    codes = ["".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
             for _ in range(RECOVERY_CODES)]  # fmt: skip
    SecondFactorRepository(session).replace_codes(
        account_id, [pw.digest(c) for c in codes], clock.now()
    )
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def codes_left(session: Session, account_id: str) -> int:
    return SecondFactorRepository(session).codes_left(account_id)


def reset(session: Session, account_id: str) -> bool:
    """Remove the second factor and its recovery codes (the account enrols again at its
    next sign-in if it must have one). True if there was one."""
    return SecondFactorRepository(session).delete(account_id)


def current_code(secret: str, at: float) -> str:
    """The code an authenticator app shows for `secret` at `at` (the demo's helper)."""
    return pyotp.TOTP(secret, interval=INTERVAL).at(int(at))
