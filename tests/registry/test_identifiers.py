from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simpul.registry.identifiers import (
    LAKI_LAKI,
    PEREMPUAN,
    make_kk,
    make_nik,
    make_nip,
    nik_matches,
    nip_matches,
    parse_kk,
    parse_nik,
    parse_nip,
)
from simpul.registry.regions import load_regions

TODAY = date(2026, 11, 23)
districts = st.sampled_from(sorted(load_regions().districts))
births = st.dates(min_value=date(1927, 1, 1), max_value=TODAY)
sexes = st.sampled_from([LAKI_LAKI, PEREMPUAN])
serials = st.integers(min_value=1, max_value=9999)


@given(districts, births, sexes, serials)
def test_nik_round_trip(region: str, born: date, sex: str, serial: int) -> None:
    nik = make_nik(region, born, sex, serial)
    info = parse_nik(nik, reference=TODAY)
    assert info.valid and not info.warnings
    assert (info.region, info.birth_date, info.sex) == (region, born, sex)
    assert nik_matches(nik, born, sex)
    other_sex = PEREMPUAN if sex == LAKI_LAKI else LAKI_LAKI
    assert not nik_matches(nik, born, other_sex)


@given(st.text(alphabet="0123456789", min_size=0, max_size=30).filter(lambda t: len(t) != 16))
def test_nik_wrong_length_is_rejected(text: str) -> None:
    codes = {i.code for i in parse_nik(text).errors}
    assert codes & {"nik_panjang_salah", "nik_kosong"}


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "nik_kosong"),
        ("32730112AB900001", "nik_bukan_angka"),
        ("3273013202900001", "nik_tanggal_tidak_valid"),  # 32 February
        ("3273017202900001", "nik_tanggal_tidak_valid"),  # day 72 − 40 = 32
        ("3273011302900000", "nik_nomor_urut_nol"),
        ("3.27301E+15", "nik_notasi_ilmiah"),
        ("327301130290001", "nik_panjang_salah"),
    ],
)
def test_nik_errors_have_stable_codes(raw: str, code: str) -> None:
    assert code in {i.code for i in parse_nik(raw, reference=TODAY).errors}


def test_unknown_district_is_a_warning_not_an_error() -> None:
    info = parse_nik("9999991302900001", reference=TODAY)
    assert info.valid
    assert [w.code for w in info.warnings] == ["nik_wilayah_tidak_dikenal"]


def test_spreadsheet_damage_is_undone() -> None:
    assert parse_nik("'3273011302900001").nik == "3273011302900001"
    assert parse_nik("3273011302900001.0").nik == "3273011302900001"
    assert parse_nik(" 3273 0113 0290 0001 ").nik == "3273011302900001"


@given(districts, st.dates(min_value=date(1971, 1, 1), max_value=TODAY), serials)
def test_kk_round_trip(region: str, issued: date, serial: int) -> None:
    info = parse_kk(make_kk(region, issued, serial), reference=TODAY)
    assert info.valid and info.issued == issued and info.region == region


@given(
    st.dates(min_value=date(1960, 1, 1), max_value=date(2005, 12, 31)),
    sexes,
    st.integers(min_value=18, max_value=40),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=1, max_value=999),
)
def test_nip_round_trip(born: date, sex: str, age: int, month: int, serial: int) -> None:
    nip = make_nip(born, born.year + age, month, sex, serial)
    info = parse_nip(nip)
    assert info.valid
    assert (info.birth_date, info.sex, info.tmt_year, info.tmt_month) == (
        born,
        sex,
        born.year + age,
        month,
    )
    assert nip_matches(nip, born, sex)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("19850230201003 1007", "nip_tanggal_lahir_tidak_valid"),
        ("198505012010131007", "nip_tmt_tidak_valid"),
        ("198505011990031007", "nip_tmt_tidak_valid"),  # TMT before age 15
        ("198505012010033007", "nip_jenis_kelamin_tidak_valid"),
        ("198505012010031000", "nip_nomor_urut_nol"),
        ("19850501201003100", "nip_panjang_salah"),
    ],
)
def test_nip_errors_have_stable_codes(raw: str, code: str) -> None:
    assert code in {i.code for i in parse_nip(raw).errors}
