"""How a Regsosek aggregate and a processing output are shown to a person: the table as a
pivot (rows × columns, suppressed cells marked), a ranked bar chart drawn on the server
(inline SVG, `simpul.obligations.charts`), the CSV and XLSX downloads carrying the source
line, and the output check as a list of the rules passed or failed. Pure functions of the
kernel's answer: no data is read here."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from openpyxl import Workbook
from openpyxl.styles import Font

from simpul.disclosure.rules import REGION_LENGTHS
from simpul.disclosure.schemas import TabelOut
from simpul.disclosure.variables import REGION, TOTAL
from simpul.obligations import charts
from simpul.portal import i18n
from simpul.registry.datasets import get_dataset

SUPPRESSED = "•"  # how a suppressed cell is written, on the page and in the files
Translate = Callable[..., str]


def dimension_labels(lang: str) -> dict[str, str]:
    """Each Regsosek dimension's name as the registry definition writes it (the catalogue
    for the two derived ones: region and age group)."""
    out = {e.name: e.label for e in get_dataset("regsosek").elements}
    for name in (REGION, "kelompok_umur", "jumlah", "persen", "jumlah_nilai", "rata_rata"):
        out[name] = i18n.translate(lang, f"reg.dim.{name}")
    return out


@dataclass
class Pivot:
    row_dim: str
    col_dim: str | None
    rows: list[tuple[str, str]] = field(default_factory=list)  # (key, label), total last
    cols: list[tuple[str, str]] = field(default_factory=list)
    cells: dict[tuple[str, str], int | None] = field(default_factory=dict)  # None: suppressed
    fixed: list[str] = field(default_factory=list)  # further dimensions, at their total

    def cell(self, r: str, c: str) -> int | str | None:
        return self.cells.get((r, c), "")


def _key_label(row: dict[str, Any], dim: str, t: Translate) -> tuple[str, str]:
    key = str(row[dim])
    if key == TOTAL:
        return key, t("reg.total")
    if dim == REGION:
        return key, f"{row.get('nama_wilayah') or key} ({key})"
    return key, key


def _ordered(keys: dict[str, str]) -> list[tuple[str, str]]:
    body = [(k, v) for k, v in keys.items() if k != TOTAL]
    return body + [(k, v) for k, v in keys.items() if k == TOTAL]


def _shown(row: dict[str, Any], dim: str, level: str) -> bool:
    """Regions at the table's level (and the national total), not the subtotals of the
    levels above it that the table also carries."""
    code = str(row.get(dim))
    return dim != REGION or code == TOTAL or len(code) == REGION_LENGTHS[level]


def pivot(table: TabelOut, t: Translate) -> Pivot:
    """The first dimension down, the second across; further dimensions at their totals.
    A region dimension shows the regions of the table's level, and the total."""
    dims = table.dimensi
    out = Pivot(dims[0], dims[1] if len(dims) > 1 else None, fixed=list(dims[2:]))
    rows: dict[str, str] = {}
    cols: dict[str, str] = {}
    for row in table.baris:
        if any(row.get(d) != TOTAL for d in dims[2:]):
            continue
        if not all(_shown(row, d, table.tingkat_wilayah) for d in dims[:2]):
            continue
        r, r_label = _key_label(row, dims[0], t)
        if out.col_dim is None:
            c, c_label = "jumlah", t("reg.dim.jumlah")
        else:
            c, c_label = _key_label(row, out.col_dim, t)
        rows.setdefault(r, r_label)
        cols.setdefault(c, c_label)
        out.cells[(r, c)] = None if row.get("jumlah") is None else int(row["jumlah"])
    out.rows, out.cols = _ordered(rows), _ordered(cols)
    return out


def chart(p: Pivot, t: Translate, dim_label: str, limit: int = 20) -> Markup:
    """The rows ranked by their total (suppressed totals left out and counted)."""
    total_col = TOTAL if p.col_dim is not None else "jumlah"
    ranked = sorted(
        ((label, float(v)) for key, label in p.rows
         if key != TOTAL and isinstance(v := p.cells.get((key, total_col)), int)),
        key=lambda kv: -kv[1],
    )[:limit]  # fmt: skip
    title = t("reg.chart_alt", title=dim_label)
    return charts.bar_chart(ranked, title=title, width=720)


def _matrix(p: Pivot, labels: dict[str, str], t: Translate) -> list[list[Any]]:
    head = [labels.get(p.row_dim, p.row_dim) + (f" \\ {labels.get(p.col_dim, p.col_dim)}"
                                                if p.col_dim else "")]  # fmt: skip
    lines: list[list[Any]] = [head + [label for _, label in p.cols]]
    for key, label in p.rows:
        values = [p.cells.get((key, c)) for c, _ in p.cols]
        lines.append([label, *[SUPPRESSED if v is None else v for v in values]])
    return lines


def as_csv(table: TabelOut, lang: str) -> bytes:
    """The pivot as CSV: the source line first (a `#` comment, PKS 000 Pasal 7 ayat (2)),
    suppressed cells written •."""
    t = i18n.translator(lang)
    p = pivot(table, t)
    buf = io.StringIO()
    buf.write(f"# {table.sumber}\n")
    buf.write(f"# {t('reg.suppressed_mark')}\n")
    csv.writer(buf).writerows(_matrix(p, dimension_labels(lang), t))
    return buf.getvalue().encode("utf-8")


def as_xlsx(table: TabelOut, lang: str) -> bytes:
    t = i18n.translator(lang)
    p = pivot(table, t)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Regsosek"
    sheet.append([table.sumber])
    sheet.append([t("reg.suppressed_mark")])
    sheet.append([])
    for n, line in enumerate(_matrix(p, dimension_labels(lang), t)):
        sheet.append(line)
        if n == 0:
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class Rule:
    text: str
    passed: bool
    failures: int


def check_rules(checks: dict[str, Any], lang: str) -> list[Rule]:
    """The processing facility's output check, rule by rule, in words."""
    t = i18n.translator(lang)
    rules = checks.get("aturan") or {}
    failed: dict[str, int] = {}
    for f in checks.get("gagal") or []:
        reason = str(f.get("alasan", ""))
        failed[reason] = failed.get(reason, 0) + 1
    total = int(checks.get("jumlah_gagal") or sum(failed.values()))
    shown_count = sum(failed.values())
    if total > shown_count and failed:  # only the first 200 are kept: scale the last
        last = next(reversed(failed))
        failed[last] += total - shown_count
    pct = i18n.number(lang, round(100 * float(rules.get("dominasi_k", 0.9))))
    texts: list[tuple[str, str]] = [
        ("keluaran_tingkat_individu", t("reg.rule.keluaran_tingkat_individu")),
        ("statistik_individu", t("reg.rule.statistik_individu")),
        ("ambang", t("reg.rule.ambang", value=i18n.number(lang, rules.get("ambang", 10)))),
        ("dominasi", t("reg.rule.dominasi", n=rules.get("dominasi_n", 2), k=pct)),
        ("p_rasio", t("reg.rule.p_rasio",
                      value=i18n.number(lang, round(100 * float(rules.get("p_rasio", 0.1)))))),
    ]  # fmt: skip
    if rules.get("nol_disklosif", True):
        texts.append(("nol_disklosif", t("reg.rule.nol_disklosif")))
    out = [Rule(text, code not in failed, failed.get(code, 0)) for code, text in texts]
    known = {code for code, _ in texts}
    out += [Rule(t("reg.rule.other", code=code), False, n)
            for code, n in failed.items() if code not in known]  # fmt: skip
    if rules.get("pembulatan"):
        out.append(Rule(t("reg.rule.pembulatan", value=rules["pembulatan"]), True, 0))
    return out


def labelled(values: Sequence[str], labels: dict[str, str]) -> list[tuple[str, str]]:
    return [(v, labels.get(v, v)) for v in values]
