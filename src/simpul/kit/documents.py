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
    return env


def render_html(env: Environment, template: str, context: Mapping[str, Any]) -> str:
    return env.get_template(template).render(**context)


def render_pdf(html: str) -> bytes:
    """HTML → PDF bytes. Imported lazily: WeasyPrint loads Pango, which only documents need."""
    from weasyprint import HTML

    pdf = HTML(string=html, base_url=None).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf
