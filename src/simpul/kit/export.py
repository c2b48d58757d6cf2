"""CSV and XLSX exports. Every text cell passes `safe_cell`, so a value such as
`=HYPERLINK(…)` that arrived in an upload is shown by a spreadsheet, never executed."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from simpul.errors import InvalidInput
from simpul.kit.csvsafe import safe_cell


def write_rows(target: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    suffix = target.suffix.lower()
    if suffix == ".csv":
        return _write_csv(target, header, rows)
    if suffix == ".xlsx":
        return _write_xlsx(target, header, rows)
    raise InvalidInput("format_ekspor_tidak_didukung", "Ekspor hanya ke .csv atau .xlsx.")


def _write_csv(target: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    count = 0
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else safe_cell(v) for v in row])
            count += 1
    return count


def _write_xlsx(target: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("data")
    ws.append(list(header))
    count = 0
    for row in rows:
        ws.append([safe_cell(v) for v in row])
        count += 1
    wb.save(target)
    return count
