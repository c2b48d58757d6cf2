"""What real recipient lists do to names, NIKs and dates; each function says what it did.

Every function takes a `random.Random` and returns the new value, or None when the noise
does not apply to this value (so the caller never records a noise that changed nothing).
"""

from __future__ import annotations

import random
from datetime import date

from simpul.registry.synth.namepools import MUHAMMAD_VARIANTS

# Pre-1972 spellings, as (current, old); SY before Y so SYARIF becomes SJARIF, not SJARIF→…
OLD_SPELLINGS = (
    ("SY", "SJ"),
    ("KH", "CH"),
    ("NY", "NJ"),
    ("U", "OE"),
    ("J", "DJ"),
    ("C", "TJ"),
    ("Y", "J"),
)
MUHAMMAD = (*MUHAMMAD_VARIANTS, "MUHD.", "MHD.")
TITLES_BEFORE = {"pria": ("H.", "DRS.", "IR."), "wanita": ("HJ.", "DRA.", "IR.")}
DEGREES_AFTER = (", S.PD", ", S.E", ", S.H", ", SE", ", S.SOS", ", A.MD", ", S.KOM", ", S.PD.I")
LETTERS = "ABCDEFGHIJKLMNOPRSTUWY"
DATE_FORMATS = ("%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d")
DATE_FORMAT_WEIGHTS = (0.4, 0.3, 0.3)


def add_title(rng: random.Random, name: str, female: bool, muslim: bool, age: float) -> str | None:
    """H./HJ. for Muslims who have been on hajj, DRS./DRA./IR. for older graduates, or a degree."""
    choices: list[str] = []
    if muslim and age >= 35:
        choices += ["haji"] * 3
    if age >= 45:
        choices.append("old")
    if age >= 22:
        choices += ["degree"] * 2
    if not choices:
        return None
    kind = rng.choice(choices)
    before = TITLES_BEFORE["wanita" if female else "pria"]
    if kind == "haji":
        return f"{before[0]} {name}"
    if kind == "old":
        return f"{rng.choice(before[1:])} {name}"
    return name + rng.choice(DEGREES_AFTER)


def old_spelling(rng: random.Random, name: str) -> str | None:
    options = [(new, old) for new, old in OLD_SPELLINGS if new in name]
    if not options:
        return None
    new, old = rng.choice(options)
    changed = name.replace(new, old)
    return changed if changed != name else None


def muhammad_variant(rng: random.Random, name: str) -> str | None:
    tokens = name.split(" ")
    for i, tok in enumerate(tokens):
        if tok in MUHAMMAD:
            # A bare "M." reads as Muhammad only at the start of a name.
            tokens[i] = rng.choice([v for v in MUHAMMAD if v != tok and (i == 0 or v != "M.")])
            return " ".join(tokens)
    return None


def typo(rng: random.Random, name: str) -> str | None:
    """One letter changed, dropped or doubled, inside a word of four letters or more."""
    spans, start = [], 0
    for word in name.split(" "):
        if len(word) >= 4 and word.isalpha():
            spans.append((start, len(word)))
        start += len(word) + 1
    if not spans:
        return None
    begin, length = rng.choice(spans)
    i = begin + rng.randrange(1, length)  # keep the first letter: people rarely miss it
    kind = rng.randrange(3)
    if kind == 0:
        letter = rng.choice([c for c in LETTERS if c != name[i]])
        return name[:i] + letter + name[i + 1 :]
    if kind == 1:
        return name[:i] + name[i + 1 :]
    return name[:i] + name[i] + name[i:]


def recase(rng: random.Random, name: str) -> tuple[str, str]:
    if rng.random() < 0.5:
        return name.lower(), "huruf_kecil"
    return name.title(), "huruf_campur"


def nik_digit(rng: random.Random, nik: str, taken: set[str]) -> str | None:
    """One digit wrong (never the first, never yielding another real NIK)."""
    for _ in range(10):
        i = rng.randrange(1, 16)
        digit = rng.choice([d for d in "0123456789" if d != nik[i]])
        changed = nik[:i] + digit + nik[i + 1 :]
        if changed not in taken:
            return changed
    return None


def nik_transpose(rng: random.Random, nik: str, taken: set[str]) -> str | None:
    """Two adjacent, different digits swapped."""
    spots = [i for i in range(1, 15) if nik[i] != nik[i + 1]]
    rng.shuffle(spots)
    for i in spots:
        changed = nik[:i] + nik[i + 1] + nik[i] + nik[i + 2 :]
        if changed not in taken:
            return changed
    return None


def swap_day_month(born: date) -> date | None:
    if born.day > 12 or born.day == born.month:
        return None
    return date(born.year, born.day, born.month)


def format_date(rng: random.Random, born: date) -> str:
    fmt = rng.choices(DATE_FORMATS, weights=DATE_FORMAT_WEIGHTS)[0]
    return born.strftime(fmt)
