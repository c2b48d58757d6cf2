"""NIK, KK number and NIP: structure, validation with stable error codes, construction.

NIK  = region (6: province 2, regency 2, district 2) + DDMMYY (day + 40 for women) + serial 4.
KK   = region (6) + DDMMYY of issue + serial 4.
NIP  = birth date YYYYMMDD + TMT CPNS YYYYMM + sex digit (1 man, 2 woman) + serial 3.
A NIK keeps the district of first registration, so an unknown region is only a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from simpul.registry.regions import Regions, load_regions

LAKI_LAKI = "LAKI-LAKI"
PEREMPUAN = "PEREMPUAN"

_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")


@dataclass(frozen=True)
class Issue:
    code: str
    detail: str


MESSAGES = {
    "nik_kosong": "NIK kosong.",
    "nik_notasi_ilmiah": "NIK tertulis dalam notasi ilmiah (mis. 3.17E+15); digit aslinya hilang.",
    "nik_bukan_angka": "NIK hanya boleh berisi angka.",
    "nik_panjang_salah": "NIK harus 16 digit.",
    "nik_tanggal_tidak_valid": "Bagian tanggal lahir NIK (DDMMYY) tidak valid.",
    "nik_nomor_urut_nol": "Nomor urut NIK tidak boleh 0000.",
    "nik_wilayah_tidak_dikenal": "Kode kecamatan NIK tidak ada dalam daftar wilayah terkini.",
    "kk_kosong": "Nomor KK kosong.",
    "kk_bukan_angka": "Nomor KK hanya boleh berisi angka.",
    "kk_panjang_salah": "Nomor KK harus 16 digit.",
    "kk_tanggal_tidak_valid": "Bagian tanggal terbit nomor KK (DDMMYY) tidak valid.",
    "kk_nomor_urut_nol": "Nomor urut KK tidak boleh 0000.",
    "nip_kosong": "NIP kosong.",
    "nip_bukan_angka": "NIP hanya boleh berisi angka.",
    "nip_panjang_salah": "NIP harus 18 digit.",
    "nip_tanggal_lahir_tidak_valid": "Bagian tanggal lahir NIP (YYYYMMDD) tidak valid.",
    "nip_tmt_tidak_valid": "Bagian TMT CPNS NIP (YYYYMM) tidak valid.",
    "nip_jenis_kelamin_tidak_valid": "Digit jenis kelamin NIP harus 1 atau 2.",
    "nip_nomor_urut_nol": "Nomor urut NIP tidak boleh 000.",
}


def issue(code: str) -> Issue:
    return Issue(code, MESSAGES[code])


class NikInfo(NamedTuple):  # a tuple, not a frozen dataclass: parsed for every item of a batch
    nik: str
    region: str
    birth_date: date | None
    sex: str | None
    serial: str
    errors: tuple[Issue, ...] = ()
    warnings: tuple[Issue, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.errors


def clean_number_text(raw: str) -> str:
    """Undo what spreadsheets do to long numbers: spaces, dots, a leading quote, `.0`."""
    if raw.isdigit() and raw.isascii():  # already clean: the common case, and a hot one
        return raw
    text = raw.strip().lstrip("'").replace(" ", "").replace("-", "")
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text.replace(".", "") if _dotted_digits(text) else text


def _dotted_digits(text: str) -> bool:
    return (
        bool(text)
        and text.replace(".", "").isdigit()
        and "." in text
        and not _SCIENTIFIC.match(text)
    )


def century_year(yy: int, reference: date) -> int:
    """Two-digit year to four: the latest year not after the reference date's year."""
    year = 2000 + yy
    return year if year <= reference.year else year - 100


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_nik(
    raw: str, *, reference: date | None = None, regions: Regions | None = None
) -> NikInfo:
    """Everything a NIK says, with every problem found (errors and warnings)."""
    reference = reference or date.today()
    text = clean_number_text(raw) if raw else ""
    if not text:
        return NikInfo(raw, "", None, None, "", (issue("nik_kosong"),))
    if _SCIENTIFIC.match(text):
        return NikInfo(raw, "", None, None, "", (issue("nik_notasi_ilmiah"),))
    if not text.isdigit():
        return NikInfo(raw, "", None, None, "", (issue("nik_bukan_angka"),))
    if len(text) != 16:
        return NikInfo(text, "", None, None, "", (issue("nik_panjang_salah"),))
    errors: list[Issue] = []
    warnings: list[Issue] = []
    region, dd, mm, yy, serial = (
        text[:6],
        int(text[6:8]),
        int(text[8:10]),
        int(text[10:12]),
        text[12:],
    )
    sex = PEREMPUAN if dd > 40 else LAKI_LAKI
    day = dd - 40 if dd > 40 else dd
    birth = _safe_date(century_year(yy, reference), mm, day) if 1 <= day <= 31 else None
    if birth is None:
        errors.append(issue("nik_tanggal_tidak_valid"))
    if serial == "0000":
        errors.append(issue("nik_nomor_urut_nol"))
    if not (regions or load_regions()).district_known(region):
        warnings.append(issue("nik_wilayah_tidak_dikenal"))
    return NikInfo(
        text, region, birth, sex if birth else None, serial, tuple(errors), tuple(warnings)
    )


def nik_date_part(birth_date: date, sex: str) -> str:
    day = birth_date.day + (40 if sex == PEREMPUAN else 0)
    return f"{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}"


def make_nik(region6: str, birth_date: date, sex: str, serial: int) -> str:
    if not (len(region6) == 6 and region6.isdigit()) or not 1 <= serial <= 9999:
        raise ValueError("region must be 6 digits and serial 1..9999")
    return f"{region6}{nik_date_part(birth_date, sex)}{serial:04d}"


def nik_matches(nik: str, birth_date: date, sex: str) -> bool:
    """Does the NIK's DDMMYY agree with this birth date and sex?"""
    return len(nik) == 16 and nik[6:12] == nik_date_part(birth_date, sex)


@dataclass(frozen=True)
class KkInfo:
    kk: str
    region: str
    issued: date | None
    errors: tuple[Issue, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_kk(raw: str, *, reference: date | None = None) -> KkInfo:
    reference = reference or date.today()
    text = clean_number_text(raw) if raw else ""
    if not text:
        return KkInfo(raw, "", None, (issue("kk_kosong"),))
    if not text.isdigit():
        return KkInfo(raw, "", None, (issue("kk_bukan_angka"),))
    if len(text) != 16:
        return KkInfo(text, "", None, (issue("kk_panjang_salah"),))
    errors: list[Issue] = []
    issued = _safe_date(century_year(int(text[10:12]), reference), int(text[8:10]), int(text[6:8]))
    if issued is None:
        errors.append(issue("kk_tanggal_tidak_valid"))
    if text[12:] == "0000":
        errors.append(issue("kk_nomor_urut_nol"))
    return KkInfo(text, text[:6], issued, tuple(errors))


def make_kk(region6: str, issued: date, serial: int) -> str:
    if not (len(region6) == 6 and region6.isdigit()) or not 1 <= serial <= 9999:
        raise ValueError("region must be 6 digits and serial 1..9999")
    return f"{region6}{issued.day:02d}{issued.month:02d}{issued.year % 100:02d}{serial:04d}"


@dataclass(frozen=True)
class NipInfo:
    nip: str
    birth_date: date | None
    tmt_year: int | None
    tmt_month: int | None
    sex: str | None
    serial: str
    errors: tuple[Issue, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_nip(raw: str) -> NipInfo:
    text = clean_number_text(raw) if raw else ""
    if not text:
        return NipInfo(raw, None, None, None, None, "", (issue("nip_kosong"),))
    if not text.isdigit():
        return NipInfo(raw, None, None, None, None, "", (issue("nip_bukan_angka"),))
    if len(text) != 18:
        return NipInfo(text, None, None, None, None, "", (issue("nip_panjang_salah"),))
    errors: list[Issue] = []
    birth = _safe_date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    if birth is None or birth.year < 1900:
        birth = None
        errors.append(issue("nip_tanggal_lahir_tidak_valid"))
    tmt_year, tmt_month = int(text[8:12]), int(text[12:14])
    tmt_ok = 1 <= tmt_month <= 12 and (birth is None or tmt_year >= birth.year + 15)
    if not tmt_ok:
        errors.append(issue("nip_tmt_tidak_valid"))
    sex = {"1": LAKI_LAKI, "2": PEREMPUAN}.get(text[14])
    if sex is None:
        errors.append(issue("nip_jenis_kelamin_tidak_valid"))
    if text[15:] == "000":
        errors.append(issue("nip_nomor_urut_nol"))
    return NipInfo(
        text,
        birth,
        tmt_year if tmt_ok else None,
        tmt_month if tmt_ok else None,
        sex,
        text[15:],
        tuple(errors),
    )


def make_nip(birth_date: date, tmt_year: int, tmt_month: int, sex: str, serial: int) -> str:
    if not 1 <= tmt_month <= 12 or not 1 <= serial <= 999:
        raise ValueError("tmt_month must be 1..12 and serial 1..999")
    sex_digit = "2" if sex == PEREMPUAN else "1"
    return f"{birth_date:%Y%m%d}{tmt_year:04d}{tmt_month:02d}{sex_digit}{serial:03d}"


def nip_matches(nip: str, birth_date: date, sex: str) -> bool:
    """Does the NIP agree with this person's birth date and sex?"""
    info = parse_nip(nip)
    return info.valid and info.birth_date == birth_date and info.sex == sex
