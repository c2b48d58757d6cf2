"""Numbers in Indonesian text as Indonesians read them (Babel, id-ID): 20.852, not 20,852."""

from __future__ import annotations

from babel.numbers import format_decimal


def angka(value: int | float) -> str:
    return format_decimal(value, locale="id_ID")
