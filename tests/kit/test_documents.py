"""The shared document renderer: Indonesian formatting and a real PDF out of WeasyPrint."""

from __future__ import annotations

from datetime import date

from simpul.kit.documents import angka, document_environment, render_pdf, tanggal_indonesia


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
