"""The shared document renderer: Indonesian formatting and a real PDF out of WeasyPrint."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from simpul.kit.documents import (
    angka,
    document_environment,
    render_pdf,
    tanggal_indonesia,
    tanggal_terbilang,
    terbilang,
)


def test_indonesian_dates_and_numbers() -> None:
    assert tanggal_indonesia(date(2026, 11, 23)) == "23 November 2026"
    assert tanggal_indonesia(None) == "-"
    assert angka(1234567) == "1.234.567"
    assert angka(0.5) == "0,50"


def test_base_template_renders_to_a_pdf() -> None:
    env = document_environment()
    template = env.from_string(
        '{% extends "dokumen.html" %}{% block isi %}<h1>Berita Acara</h1>'
        "<p>{{ tanggal | tanggal }} — {{ n | angka }} baris</p>{% endblock %}"
    )
    html = template.render(tanggal=date(2026, 11, 23), n=1500, nomor_dokumen="BA/1/2026")
    assert "23 November 2026" in html and "1.500 baris" in html
    pdf = render_pdf(html)
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) > 1000


def test_numbers_in_words_as_the_pks_write_them() -> None:
    assert terbilang(12) == "dua belas"
    assert terbilang(2022) == "dua ribu dua puluh dua"
    assert terbilang(111) == "seratus sebelas"
    assert terbilang(1000) == "seribu"
    assert terbilang(1_250_000) == "satu juta dua ratus lima puluh ribu"
    # PKS 003 opens "Senin, tanggal dua belas bulan September tahun dua ribu dua puluh dua".
    assert tanggal_terbilang(date(2022, 9, 12)) == (
        "Senin, tanggal dua belas bulan September tahun dua ribu dua puluh dua"
    )


_WORD_VALUES = {
    "nol": 0, "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6,
    "tujuh": 7, "delapan": 8, "sembilan": 9, "sepuluh": 10, "sebelas": 11,
    "seratus": 100, "seribu": 1000,
}  # fmt: skip
_SCALES = {"belas": None, "puluh": 10, "ratus": 100}
_BIG = {"ribu": 10**3, "juta": 10**6, "miliar": 10**9, "triliun": 10**12}


def _parse(words: str) -> int:
    total, group = 0, 0
    for word in words.split():
        if word in _WORD_VALUES:
            value = _WORD_VALUES[word]
            if value in (100, 1000) and word.startswith("se"):
                if value == 1000:
                    total += 1000
                else:
                    group += 100
            else:
                group += value
        elif word == "belas":
            group += 10
        elif word in ("puluh", "ratus"):
            last = group % 10
            group += last * (_SCALES[word] or 1) - last
        else:
            total += group * _BIG[word]
            group = 0
    return total + group


@given(st.integers(min_value=0, max_value=10**13))
def test_words_read_back_to_the_number(n: int) -> None:
    assert _parse(terbilang(n)) == n
