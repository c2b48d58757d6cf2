from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simpul.matching.normalize import (
    address_similarity,
    clean_name,
    date_variants,
    name_columns,
    name_key,
    name_similarity,
    phonetic_key,
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


# --- NIK repair and dates ----------------------------------------------------------------
from datetime import date  # noqa: E402

from hypothesis import settings  # noqa: E402

from simpul.matching.normalize import (  # noqa: E402
    nik_date_consistent,
    nik_edits,
    nik_repair_candidates,
    parse_date,
    swapped_day_month,
)
from simpul.registry.identifiers import make_nik  # noqa: E402

_niks = st.from_regex(r"[1-9][0-9]{15}", fullmatch=True)


@settings(deadline=None)
@given(_niks)
def test_every_nik_edit_is_one_slip_and_can_be_undone(nik: str) -> None:
    edits = nik_edits(nik)
    assert len(edits) == len({e for e, _ in edits})
    for edited, how in edits:
        diff = [i for i in range(16) if edited[i] != nik[i]]
        assert edited[0] == nik[0]
        if how == "salah_digit":
            assert len(diff) == 1
        else:
            assert len(diff) == 2 and diff[1] == diff[0] + 1
        assert nik in {e for e, _ in nik_edits(edited)}


@settings(deadline=None)
@given(st.dates(min_value=date(1940, 1, 1), max_value=date(2020, 12, 31)), st.booleans())
def test_nik_date_part_agrees_with_birth_date_and_sex(born: date, female: bool) -> None:
    sex = "PEREMPUAN" if female else "LAKI-LAKI"
    nik = make_nik("320101", born, sex, 7)
    assert nik_date_consistent(nik, born, sex)
    assert not nik_date_consistent(nik, born, "LAKI-LAKI" if female else "PEREMPUAN")
    swapped = swapped_day_month(born)
    if swapped is not None:
        assert nik_date_consistent(nik, swapped, sex)  # the list may swap day and month


def test_repair_finds_the_existing_nik_whose_date_agrees() -> None:
    born = date(1985, 3, 14)
    real = make_nik("327301", born, "PEREMPUAN", 2)
    typed = real[:13] + ("9" if real[13] != "9" else "8") + real[14:]
    other = make_nik("327301", date(1985, 3, 15), "PEREMPUAN", 2)
    known = {real, other}
    found = nik_repair_candidates(typed, born, "PEREMPUAN", known.__contains__)
    assert found == [(real, "salah_digit")]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("25-12-1980", date(1980, 12, 25)),
        ("25/12/1980", date(1980, 12, 25)),
        ("1980-12-25", date(1980, 12, 25)),
        ("1980-12-25 00:00:00", date(1980, 12, 25)),
        ("31-02-1980", None),
        ("", None),
        ("kemarin", None),
    ],
)
def test_dates_as_lists_write_them(raw: str, expected: date | None) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("AHMAD", "ACHMAD"),
        ("AHMAD", "AKHMAT"),
        ("SYARIF", "SJARIF"),
        ("KHAIRUL", "HAIRUL"),
        ("WAHYUNI", "wahjuni"),
        ("FITRIANI", "PITRIANI"),
        ("ZAINAL", "SAINAL"),
        ("MUHAMMAD", "Moch."),
    ],
)
def test_spellings_of_one_token_share_a_sound_code(a: str, b: str) -> None:
    assert phonetic_key(name_key(a)) == phonetic_key(name_key(b))


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
def test_date_variants_hold_the_date_its_swap_and_every_one_digit_typo(d: date) -> None:
    got = date_variants(d)
    assert got[0] == d and len(set(got)) == len(got)
    text = f"{d.day:02d}{d.month:02d}{d.year:04d}"
    for v in got[1:]:
        other = f"{v.day:02d}{v.month:02d}{v.year:04d}"
        diff = sum(x != y for x, y in zip(text, other, strict=True))
        assert diff == 1 or v == swapped_day_month(d)
    # Every valid one-digit typo is there (the true date behind a typo can be found).
    for pos in range(8):
        for digit in "0123456789":
            typo = text[:pos] + digit + text[pos + 1 :]
            try:
                cand = date(int(typo[4:]), int(typo[2:4]), int(typo[:2]))
            except ValueError:
                continue
            if 1900 <= cand.year <= 2099:
                assert cand in got


def test_name_columns_fold_case_and_spelling_alike() -> None:
    keys, sounds = name_columns(["siti aminah", "SITI AMINAH", "Hj. Siti Aminah, S.Pd.", None])
    assert keys[:3] == ["SITI AMINAH"] * 3 and keys[3] == ""
    assert sounds[0] == sounds[1] == sounds[2] == " ".join(sorted(["ST", "AMN"]))
