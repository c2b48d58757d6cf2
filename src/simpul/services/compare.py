"""Compare what a recipient sends with what the registry holds, element by element.

Verification never discloses: the outcome per element is only `sesuai` / `tidak_sesuai`
(plus a 0–100 score where the grant allows it), never the stored value.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, NamedTuple

from simpul.matching.normalize import address_similarity, fold, name_similarity
from simpul.registry.datasets import Dataset, ElementType
from simpul.registry.identifiers import clean_number_text
from simpul.registry.validation import parse_date

Outcome = Literal["sesuai", "tidak_sesuai"]
SESUAI: Outcome = "sesuai"
TIDAK_SESUAI: Outcome = "tidak_sesuai"

# Default similarity thresholds where the grant sets none (0–100).
DEFAULT_THRESHOLDS = {ElementType.NAMA: 90.0, ElementType.TEKS: 90.0, ElementType.ALAMAT: 80.0}


_NUMBERS = frozenset({ElementType.NIK, ElementType.KK, ElementType.NIP, ElementType.WILAYAH})


class ElementResult(NamedTuple):  # a tuple: built three times per verification, cheaply
    outcome: Outcome
    score: float  # 0–100; exact types score 100 or 0


def _norm_code(value: Any) -> str:
    return fold(str(value))


def compare_value(kind: ElementType, stored: Any, given: Any, threshold: float) -> ElementResult:
    if stored is None or given is None or (isinstance(given, str) and not given.strip()):
        return ElementResult(TIDAK_SESUAI, 0.0)
    score: float
    if kind is ElementType.NAMA or kind is ElementType.TEKS:  # the most asked, first
        score = name_similarity(str(stored), str(given))
    elif kind in _NUMBERS:
        score = 100.0 if clean_number_text(str(given)) == str(stored) else 0.0
    elif kind is ElementType.TANGGAL:
        a = stored if isinstance(stored, date) else parse_date(stored)
        # The same text as stored (the usual case) is the same date: parse it once.
        b = a if given == stored and type(given) is str else parse_date(given)
        score = 100.0 if a is not None and a == b else 0.0
    elif kind in (ElementType.BILANGAN, ElementType.DESIMAL):
        try:
            score = 100.0 if float(str(given).replace(",", ".")) == float(stored) else 0.0
        except ValueError:
            score = 0.0
    elif kind is ElementType.BOOLEAN:
        score = 100.0 if _norm_code(given) in _truthy(bool(stored)) else 0.0
    elif kind is ElementType.KODE:
        score = 100.0 if _norm_code(given) == _norm_code(stored) else 0.0
    elif kind is ElementType.ALAMAT:
        score = address_similarity(str(stored), str(given))
    else:  # any other kind: its text, by similarity
        score = name_similarity(str(stored), str(given))
    return ElementResult(SESUAI if score >= threshold else TIDAK_SESUAI, score)


def _truthy(flag: bool) -> set[str]:
    return {"1", "Y", "YA", "TRUE", "BENAR"} if flag else {"0", "N", "TIDAK", "FALSE", "SALAH"}


def compare_elements(
    dataset: Dataset,
    stored: dict[str, Any],
    given: dict[str, Any],
    thresholds: dict[str, float] | None = None,
) -> dict[str, ElementResult]:
    """One result per given element. Thresholds by element name override the defaults."""
    thresholds = thresholds or {}
    types = dataset.element_types
    out: dict[str, ElementResult] = {}
    for name, value in given.items():
        kind = types.get(name) or dataset.element(name).type  # unknown: element() raises
        limit = thresholds.get(name, DEFAULT_THRESHOLDS.get(kind, 100.0))
        out[name] = compare_value(kind, stored.get(name), value, limit)
    return out
