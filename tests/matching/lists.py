"""Reading a generated list (CSV) into the engine's Query, as the tests need it."""

from __future__ import annotations

import csv
from pathlib import Path

from simpul.matching.engine import Query
from simpul.registry.identifiers import clean_number_text
from simpul.registry.validation import parse_date


def read_list(path: Path) -> Query:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))

    def nik(raw: str) -> str:
        text = clean_number_text(raw)
        return text if len(text) == 16 and text.isdigit() else ""

    return Query(
        nik=[nik(r["NIK"]) for r in rows],
        nama=[r.get("NAMA") or r.get("NAMA_LENGKAP") or "" for r in rows],
        tanggal_lahir=[parse_date(r.get("TANGGAL_LAHIR") or r.get("TGL_LAHIR")) for r in rows],
        alamat=[r["ALAMAT"] for r in rows],
    )
