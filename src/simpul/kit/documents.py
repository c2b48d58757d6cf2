"""Official documents (berita acara, reports): Jinja2 HTML rendered to PDF by WeasyPrint.

Every capability that issues a document renders its own template that extends
`dokumen.html` (letterhead, numbering, signature block), then calls `render_pdf`.
Fonts come from the system (DejaVu is installed by `.ci/run`); nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape

_BULAN = (
    "Januari Februari Maret April Mei Juni Juli Agustus September Oktober November Desember"
).split()
_HARI = "Senin Selasa Rabu Kamis Jumat Sabtu Minggu".split()


def tanggal_indonesia(value: date | datetime | None) -> str:
    """`2026-11-23` → `23 November 2026` (the form used in official letters)."""
    if value is None:
        return "-"
    return f"{value.day} {_BULAN[value.month - 1]} {value.year}"


def hari_indonesia(value: date | datetime) -> str:
    return _HARI[value.weekday()]


def angka(value: int | float | None) -> str:
    """Thousands separated by dots, as Indonesian documents write them."""
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
    return f"{int(value):,}".replace(",", ".")


_SATUAN = "nol satu dua tiga empat lima enam tujuh delapan sembilan sepuluh sebelas".split()


def terbilang(n: int) -> str:
    """An integer in Indonesian words: 2022 → `dua ribu dua puluh dua`."""
    if n < 0:
        return "minus " + terbilang(-n)
    if n < 12:
        return _SATUAN[n]
    if n < 20:
        return f"{_SATUAN[n - 10]} belas"
    if n < 100:
        tens, rest = divmod(n, 10)
        return f"{_SATUAN[tens]} puluh" + (f" {_SATUAN[rest]}" if rest else "")
    if n < 200:
        return "seratus" + (f" {terbilang(n - 100)}" if n > 100 else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_SATUAN[hundreds]} ratus" + (f" {terbilang(rest)}" if rest else "")
    if n < 2000:
        return "seribu" + (f" {terbilang(n - 1000)}" if n > 1000 else "")
    for size, word in ((10**12, "triliun"), (10**9, "miliar"), (10**6, "juta"), (10**3, "ribu")):
        if n >= size:
            head, rest = divmod(n, size)
            return f"{terbilang(head)} {word}" + (f" {terbilang(rest)}" if rest else "")
    raise AssertionError(n)  # unreachable: every n >= 2000 meets a size above


def tanggal_terbilang(value: date | datetime) -> str:
    """The opening of a berita acara: `Senin, tanggal dua belas bulan September tahun dua ribu
    dua puluh dua`."""
    return (
        f"{hari_indonesia(value)}, tanggal {terbilang(value.day)} bulan "
        f"{_BULAN[value.month - 1]} tahun {terbilang(value.year)}"
    )


def document_environment(*packages: str) -> Environment:
    """A Jinja2 environment that finds the shared base template and each package's own."""
    loaders = [PackageLoader(pkg, "templates") for pkg in packages]
    loaders.append(PackageLoader("simpul.kit", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(["html", "xml"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tanggal"] = tanggal_indonesia
    env.filters["hari"] = hari_indonesia
    env.filters["angka"] = angka
    env.filters["terbilang"] = terbilang
    env.filters["tanggal_terbilang"] = tanggal_terbilang
    return env


def render_html(env: Environment, template: str, context: Mapping[str, Any]) -> str:
    return env.get_template(template).render(**context)


def render_pdf(html: str) -> bytes:
    """HTML → PDF bytes. Imported lazily: WeasyPrint loads Pango, which only documents need."""
    from weasyprint import HTML

    pdf = HTML(string=html, base_url=None).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf
