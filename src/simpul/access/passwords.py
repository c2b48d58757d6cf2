"""Secrets: argon2 for human passwords, sha256 for generated high-entropy secrets and tokens.

Why two schemes. A human password has little entropy, so it needs a slow, memory-hard hash
(argon2id) to make guessing from a stolen table expensive. A client secret or bearer token
is 256 random bits generated here: no amount of guessing reaches it, so a slow hash would
add nothing but latency on the hot path, and a pepper would add nothing either (it only
helps low-entropy inputs). sha256 of the value is therefore enough, and lets a token be
found with one indexed equality lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from simpul.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 128  # bounds the work an attacker can make us do per attempt
SHA256_SCHEME = "sha256$"
# Prefixes make leaked secrets recognisable to secret scanners and in support requests.
CLIENT_SECRET_PREFIX = "spl_cs_"  # noqa: S105 - a label, not a secret
TOKEN_PREFIX = "spl_at_"  # noqa: S105 - a label, not a secret
TOKEN_BYTES = 32


def _char_class(char: str) -> str:
    # Unicode-aware, so "Ä" is an upper-case letter rather than a symbol.
    if char.islower():
        return "kecil"
    if char.isupper():
        return "besar"
    if char.isdigit():
        return "angka"
    return "simbol"


class Passwords:
    """argon2id hashing with a constant-time answer for unknown users.

    The default parameters are argon2-cffi's (RFC 9106 low-memory profile). When they
    change, `needs_rehash` tells the login path to store a fresh hash.
    """

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()

    @cached_property
    def _dummy(self) -> str:
        # Made with the same parameters, so an unknown user costs what a known one does.
        return self.hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return str(self.hasher.hash(password))

    def verify(self, stored: str, password: str) -> bool:
        try:
            return bool(self.hasher.verify(stored, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return bool(self.hasher.check_needs_rehash(stored))

    def burn(self, password: str) -> None:
        """Spend one verification's time and memory on nothing (unknown user path)."""
        self.verify(self._dummy, password)


DEFAULT = Passwords()


def default() -> Passwords:
    """The process-wide hasher, read at call time (tests swap in cheaper parameters)."""
    return DEFAULT


def check_policy(password: str, username: str | None = None) -> None:
    """Raise `kata_sandi_lemah` listing every rule the password breaks."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"panjang minimal {MIN_LENGTH} karakter")
    if len(password) > MAX_LENGTH:
        problems.append(f"panjang maksimal {MAX_LENGTH} karakter")
    if len(set(map(_char_class, password))) < 2:
        problems.append(
            "harus memuat paling sedikit dua jenis karakter "
            "(huruf kecil, huruf besar, angka, simbol)"
        )
    if username and len(username) >= 3 and username.lower() in password.lower():
        problems.append("tidak boleh memuat User ID")
    if problems:
        raise InvalidInput(
            "kata_sandi_lemah",
            "Kata sandi tidak memenuhi kebijakan: " + "; ".join(problems) + ".",
        )


def generate_password() -> str:
    """A random password that passes the policy, for an operator to hand over once."""
    while True:
        candidate = secrets.token_urlsafe(15)  # 20 characters, ~120 bits
        try:
            check_policy(candidate)
        except InvalidInput:  # pragma: no cover - all-one-class draws are vanishingly rare
            continue
        return candidate


def generate_client_secret() -> str:
    return CLIENT_SECRET_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def digest(value: str) -> str:
    """sha256 hex of a generated secret or token: the only form that is stored."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def hash_client_secret(secret: str) -> str:
    return SHA256_SCHEME + digest(secret)


def verify_client_secret(stored: str, secret: str) -> bool:
    if not stored.startswith(SHA256_SCHEME):
        return False
    return hmac.compare_digest(stored.removeprefix(SHA256_SCHEME), digest(secret))
