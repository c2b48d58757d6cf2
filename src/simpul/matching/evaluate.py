"""Scoring a matching run against a truth file (the synthetic generator writes one)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(predicted: Sequence[str], truth: Sequence[str]) -> Score:
    """Per row: the NIK the engine links to ("" for none) against the true NIK ("" when the
    person is not in the registry). A wrong link is a false positive and, when the person
    is in the registry, also a false negative."""
    tp = fp = fn = 0
    for pred, true in zip(predicted, truth, strict=True):
        if pred and pred == true:
            tp += 1
            continue
        if pred:
            fp += 1
        if true:
            fn += 1
    return Score(tp, fp, fn)


def read_truth(path: Path) -> tuple[list[str], list[str]]:
    """(true NIK per data row, noise labels per data row) from a `*.truth.csv` file."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["nik_benar"] for r in rows], [r["noise"] for r in rows]
