from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simpul.matching.normalize import (
    address_similarity,
    clean_name,
    name_key,
    name_similarity,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("MUHAMMAD RIZKI", "M. RIZKI"),
        ("MUHAMMAD RIZKI", "MOCH. RIZKI"),
        ("MUHAMMAD RIZKI", "Muhamad Rizki"),
        ("MUHAMMAD RIZKI", "MOHAMMAD RIZKY"),
        ("SUHARTO", "SOEHARTO"),
        ("JOKO WIDODO", "DJOKO WIDODO"),
        ("CAHYO KUMOLO", "TJAHJO KUMOLO"),
        ("SYARIFUDDIN", "SJARIFUDIN"),
        ("KHAIRUL ANWAR", "CHAIRUL ANWAR"),
        ("I NYOMAN SUDANA", "I NJOMAN SUDANA"),
        ("YUSUF KALLA", "JUSUF KALLA"),
        ("SITI NURHALIZA", "Hj. Siti Nurhaliza"),
        ("BUDI SANTOSO", "Drs. H. BUDI SANTOSO, S.Pd., M.Si."),
        ("AHMAD FAUZI", "AHMAD FAUZI BIN ABDULLAH"),
        ("NUR'AINI", "NURAINI"),
        ("ABDULLAH", "ABDULAH"),
    ],
)
def test_spellings_of_one_name_score_high(a: str, b: str) -> None:
    assert name_similarity(a, b) >= 90


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("SITI AMINAH", "SRI WAHYUNI"),
        ("BUDI SANTOSO", "AGUS SALIM"),
        ("I WAYAN SUDARMA", "NI MADE SURYANI"),
        ("MUHAMMAD RIZKI", "MUHAMMAD FAUZAN"),
    ],
)
def test_different_names_score_low(a: str, b: str) -> None:
    assert name_similarity(a, b) < 85


def test_titles_and_degrees_are_removed_but_names_kept() -> None:
    assert clean_name("Drs. H. BUDI SANTOSO, S.Pd., M.Si.") == "BUDI SANTOSO"
    assert clean_name("Hj. SITI AMINAH") == "SITI AMINAH"
    assert clean_name("RADEN AJENG KARTINI") == "RADEN AJENG KARTINI"
    # A comma followed by a real name part is not a degree list.
    assert clean_name("SANTOSO, BUDI") == "SANTOSO BUDI"


def test_initials() -> None:
    assert name_similarity("S. WAHYUNI", "SRI WAHYUNI") == 95.0


def test_addresses() -> None:
    assert address_similarity("Jalan Mawar Nomor 12", "JL. MAWAR NO. 12") == 100.0
    assert address_similarity("JL. MAWAR NO. 12", "GG. MELATI 3") < 70


names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ .,'-", min_size=0, max_size=40)


@given(names)
def test_key_is_idempotent(raw: str) -> None:
    key = name_key(raw)
    assert name_key(key) == key


@given(names, names)
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    score = name_similarity(a, b)
    assert 0.0 <= score <= 100.0
    assert score == name_similarity(b, a)
