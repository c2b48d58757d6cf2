"""Neutralise spreadsheet formulas in exported cells (CSV/XLSX injection, OWASP)."""

from __future__ import annotations

from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def safe_cell(value: Any) -> Any:
    """Prefix formula-like text with a quote so a spreadsheet shows it, never runs it.

    Plain numbers such as `-5` or `+62` stay as they are: they cannot run anything.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _is_number(value):
        return "'" + value
    return value


def safe_row(row: dict[str, Any]) -> dict[str, Any]:
    return {key: safe_cell(val) for key, val in row.items()}
