"""Keep personal data out of logs, tracebacks and snapshots."""

from __future__ import annotations

import re

_NIK_RE = re.compile(r"(?<!\d)(\d{6})(\d{6})(\d{4})(?!\d)")


def mask_nik(nik: str) -> str:
    """`3171011203900001` → `317101******0001`: region and serial stay, birth date goes."""
    if len(nik) == 16 and nik.isdigit():
        return f"{nik[:6]}******{nik[12:]}"
    return "*" * len(nik)


def mask_niks_in_text(text: str) -> str:
    """Mask every 16-digit run in free text (error messages, log lines)."""
    return _NIK_RE.sub(lambda m: f"{m.group(1)}******{m.group(3)}", text)
