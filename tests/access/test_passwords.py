"""Password policy and the hashing wrapper (no database)."""

from __future__ import annotations

import string

import pytest
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st

from simpul.access import passwords as pw
from simpul.errors import InvalidInput


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("Pendek1", "panjang minimal 12"),
        ("semuahurufkecilsaja", "dua jenis karakter"),
        ("123456789012345", "dua jenis karakter"),
        ("x" * 120 + "Y" * 9, "panjang maksimal 128"),
        ("Rahasia-budi.santoso-2025", "tidak boleh memuat User ID"),
    ],
)
def test_policy_rejects_with_indonesian_reason(password: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        pw.check_policy(password, "budi.santoso")
    assert info.value.code == "kata_sandi_lemah"
    assert fragment in info.value.detail


def test_policy_lists_every_broken_rule() -> None:
    with pytest.raises(InvalidInput) as info:
        pw.check_policy("abc")
    assert "panjang minimal" in info.value.detail
    assert "dua jenis karakter" in info.value.detail


@pytest.mark.parametrize(
    "password", ["kopi-tubruk-pagi", "Garuda Pancasila", "20250317abcdef", "ÄÖÜäöüßéèêñõ"]
)
def test_policy_accepts_two_classes(password: str) -> None:
    pw.check_policy(password, "budi")


@given(
    st.sampled_from([string.ascii_lowercase, string.ascii_uppercase, string.digits]).flatmap(
        lambda alphabet: st.text(alphabet=alphabet, min_size=12, max_size=40)
    )
)
def test_any_single_class_password_is_refused(password: str) -> None:
    with pytest.raises(InvalidInput):
        pw.check_policy(password)


def test_generated_secrets_pass_policy_and_are_distinct() -> None:
    generated = {pw.generate_password() for _ in range(200)}
    assert len(generated) == 200
    for p in generated:
        pw.check_policy(p)
    secret, token = pw.generate_client_secret(), pw.generate_token()
    assert secret.startswith("spl_cs_") and len(secret) == 7 + 43
    assert token.startswith("spl_at_") and len(token) == 7 + 43


def test_argon2_hash_verify_and_rehash_on_new_parameters() -> None:
    old = pw.Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1))
    stored = old.hash("Kata-sandi-benar-1")
    assert stored.startswith("$argon2id$")
    assert "Kata-sandi-benar-1" not in stored
    assert old.verify(stored, "Kata-sandi-benar-1")
    assert not old.verify(stored, "Kata-sandi-salah-1")
    assert not old.verify("bukan-hash", "Kata-sandi-benar-1")
    assert not old.needs_rehash(stored)
    newer = pw.Passwords(PasswordHasher(time_cost=2, memory_cost=8 * 1024, parallelism=1))
    assert newer.verify(stored, "Kata-sandi-benar-1")  # old hashes keep working
    assert newer.needs_rehash(stored)


def test_production_parameters_are_the_rfc9106_profile() -> None:
    # argon2-cffi's defaults: RFC 9106 "second recommended option" (64 MiB, t=3, p=4).
    hasher = pw.Passwords().hasher
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 65536, 4)


def test_client_secret_hash_is_sha256_and_compares_exactly() -> None:
    secret = pw.generate_client_secret()
    stored = pw.hash_client_secret(secret)
    assert stored.startswith("sha256$") and len(stored) == 7 + 64
    assert secret not in stored
    assert pw.verify_client_secret(stored, secret)
    assert not pw.verify_client_secret(stored, secret[:-1])
    assert not pw.verify_client_secret("$argon2id$whatever", secret)
