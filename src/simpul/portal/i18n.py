"""The portal's message catalogue and formats: one gettext catalogue per language
(`locale/<lang>/LC_MESSAGES/portal.po`, Bahasa Indonesia by default and English), read with
Babel; numbers, percentages and dates formatted by Babel in id-ID or en. Message ids are
stable keys (`nav.beranda`, `svc.name.akses_nik`), so a template never carries text and a
code shown to a person always has a label. Domain terms from the PKS (sesuai, tidak_sesuai,
data_tidak_ditemukan, ASN, element labels) stay as the agreements write them.

Edit the `.po` files (any gettext tool, or `pybabel`); `tests/portal/test_catalogue.py`
checks that both languages have every key with the same placeholders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from simpul.kit.timezones import WIB, Zone

LANGS = ("id", "en")
DEFAULT_LANG = "id"
DOMAIN = "portal"
LOCALES = {"id": Locale.parse("id_ID"), "en": Locale.parse("en_GB")}


@cache
def catalogue(lang: str) -> dict[str, str]:
    """key → text of one language, read once per process from its .po file."""
    source = resources.files("simpul.portal") / "locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with source.open("rb") as fh:
        cat: Catalog = read_po(fh, locale=lang, domain=DOMAIN)
    return {str(m.id): str(m.string) for m in cat if m.id and m.string}


def keys() -> frozenset[str]:
    return frozenset(catalogue(DEFAULT_LANG)) | frozenset(catalogue("en"))


def translate(lang: str, key: str, **values: Any) -> str:
    text = catalogue(lang if lang in LANGS else DEFAULT_LANG).get(key)
    if text is None:
        return key
    return text.format(**values) if values else text


def translator(lang: str) -> Callable[..., str]:
    def t(key: str, **values: Any) -> str:
        return translate(lang, key, **values)

    return t


def has(key: str) -> bool:
    return key in catalogue(DEFAULT_LANG)


def label(lang: str, family: str, code: object) -> str:
    """The label of a code shown to a person (`svc.name`, `mech`, `match.status`, …); the
    code itself only when the catalogue has none (the catalogue test lists every family)."""
    raw = getattr(code, "value", code)
    key = f"{family}.{raw}"
    return translate(lang, key) if has(key) else str(raw)


# ---------------------------------------------------------------- formats (Babel)


def number(lang: str, value: object, digits: int | None = None) -> str:
    """1.000 in Indonesian, 1,000 in English; "—" for nothing."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    fmt = None if digits is None else "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(value, format=fmt, locale=LOCALES[lang])


def percent(lang: str, fraction: float | None, digits: int = 1) -> str:
    """0.1001 → "10,0%" (id) / "10.0%" (en)."""
    if fraction is None:
        return "—"
    return format_percent(fraction, format="#,##0." + "0" * digits + "%", locale=LOCALES[lang])


def when(lang: str, value: object, zone: Zone = WIB) -> str:
    """A date as "23 Nov 2026"; an instant in `zone` with the zone named, "23 Nov 2026
    16.00 WIB". Naive datetimes are UTC (the database stores UTC)."""
    if value is None:
        return "—"
    loc = LOCALES[lang]
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        local = aware.astimezone(zone.tz)
        day = format_date(local, format="medium", locale=loc)
        return f"{day} {format_time(local, format='short', locale=loc)} {zone.abbr}"
    if isinstance(value, date):
        return format_date(value, format="medium", locale=loc)
    return str(value)


def long_date(lang: str, value: date | None) -> str:
    return "—" if value is None else format_date(value, format="long", locale=LOCALES[lang])


def stamp(lang: str, value: datetime, zone: Zone = WIB) -> str:
    """An instant with seconds, for audit rows: "23/11/26 16.00.05 WIB"."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    local = aware.astimezone(zone.tz)
    loc = LOCALES[lang]
    day = format_date(local, format="short", locale=loc)
    return f"{day} {format_time(local, format='medium', locale=loc)} {zone.abbr}"
