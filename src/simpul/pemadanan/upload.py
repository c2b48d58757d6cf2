"""Reading a recipient's list defensively: CSV (encoding and delimiter sniffed by
`simpul.kit.tabular`) or XLSX (checked for zip bombs and oversized shared strings before
openpyxl sees it); columns mapped by element name or SIAK alias; every row validated.

File-level problems (no columns to match on, zero rows, too many rows, a hostile XLSX, not a
table at all) raise `InvalidInput` with a stable code: the whole upload is refused and nothing
is written. Row-level problems are reported by line; the good rows still run.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from simpul.errors import InvalidInput
from simpul.kit.masking import mask_nik
from simpul.kit.tabular import SNIFF_BYTES, Table, read_csv, row_problem
from simpul.matching.engine import STATUSES, Query
from simpul.matching.normalize import parse_date
from simpul.registry.datasets import LIST_ALIASES, canon_header
from simpul.registry.identifiers import parse_nik

# XLSX: a spreadsheet is a zip of XML. Limits on what it may expand to.
XLSX_MAX_UNCOMPRESSED = 512 * 1024 * 1024
XLSX_MAX_RATIO = 100  # uncompressed / compressed for any member over 1 MB
XLSX_MAX_SHARED_STRINGS = 32 * 1024 * 1024
MAX_CELL_CHARS = 1_000

USED = ("nik", "nama_lengkap", "tanggal_lahir", "jenis_kelamin", "alamat", "no_kk", "kode_wilayah")
# A row that could not be matched still has a result row: why, as its status.
DATA_TIDAK_CUKUP = "data_tidak_cukup"  # too little to match on (neither a valid NIK nor a name)
TIDAK_VALID = "tidak_valid"  # the row could not be read (quotes, a cell too long …)
ROW_STATUSES = (*STATUSES, DATA_TIDAK_CUKUP, TIDAK_VALID)


@dataclass
class Rejected:
    """A row that is not matched, kept for the output in its place: its line, its status
    (`data_tidak_cukup` or `tidak_valid`), the reason, and its cells as far as read."""

    line: int
    status: str
    reason: str
    cells: list[str]


@dataclass
class RowIssue:
    line: int
    severity: str  # galat (row skipped) | peringatan (row still matched)
    code: str
    detail: str


@dataclass
class ParsedList:
    header: list[str]
    mapping: dict[int, str]  # column index → element
    ignored: list[str]
    encoding: str | None
    delimiter: str | None
    lines: list[int] = field(default_factory=list)  # line of each good row
    cells: list[dict[str, str]] = field(default_factory=list)  # mapped raw values
    nik: list[str] = field(default_factory=list)
    nama: list[str] = field(default_factory=list)
    born: list[date | None] = field(default_factory=list)
    sex: list[str | None] = field(default_factory=list)
    alamat: list[str] = field(default_factory=list)
    wilayah: list[str] = field(default_factory=list)
    raw: list[list[str]] = field(default_factory=list)  # every cell of each good row, as text
    rejected: list[Rejected] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    rows_total: int = 0

    def query(self) -> Query:
        return Query(
            nik=self.nik,
            nama=self.nama,
            tanggal_lahir=self.born,
            jenis_kelamin=self.sex if "jenis_kelamin" in self.mapping.values() else None,
            alamat=self.alamat if "alamat" in self.mapping.values() else None,
            wilayah=self.wilayah if "kode_wilayah" in self.mapping.values() else None,
        )

    @property
    def elements(self) -> frozenset[str]:
        return frozenset(self.mapping.values())


def _canon(header: str) -> str:
    return canon_header(header)


def map_columns(header: list[str], aliases: dict[str, str]) -> tuple[dict[int, str], list[str]]:
    """Header → elements (element names, SIAK aliases, common list names); the rest ignored."""
    known = {**LIST_ALIASES, **{_canon(k): v for k, v in aliases.items()}}
    mapping: dict[int, str] = {}
    ignored: list[str] = []
    taken: set[str] = set()
    for i, name in enumerate(header):
        element = known.get(_canon(name))
        if element is None or element in taken or element not in USED:
            ignored.append(name)
            continue
        mapping[i] = element
        taken.add(element)
    if not taken & {"nik", "nama_lengkap"}:
        raise InvalidInput(
            "kolom_wajib_tidak_ada",
            "Daftar harus memuat kolom NIK atau kolom nama lengkap (sebaiknya juga tanggal "
            "lahir atau kode wilayah). Kolom yang ada: "
            f"{', '.join(header[:20]) or '(tidak ada)'}.",
        )
    return mapping, ignored


def _check_xlsx(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput("xlsx_tidak_terbaca", "Berkas XLSX rusak atau bukan XLSX.") from exc
    for m in members:
        if m.filename.endswith("sharedStrings.xml") and m.file_size > XLSX_MAX_SHARED_STRINGS:
            raise InvalidInput(
                "xlsx_teks_bersama_terlalu_besar",
                f"Tabel teks bersama XLSX {m.file_size:,} bita melebihi batas "
                f"{XLSX_MAX_SHARED_STRINGS:,} bita.",
                status=413,
            )
        if m.file_size > 1024 * 1024 and m.file_size > XLSX_MAX_RATIO * max(m.compress_size, 1):
            raise InvalidInput(
                "xlsx_bom_zip",
                f"Bagian {m.filename} XLSX mengembang {m.file_size // max(m.compress_size, 1)}"
                " kali: berkas ditolak sebagai bom zip.",
                status=413,
            )
    if sum(m.file_size for m in members) > XLSX_MAX_UNCOMPRESSED:
        raise InvalidInput(
            "xlsx_bom_zip", "Isi XLSX setelah diekstrak melebihi batas ukuran.", status=413
        )


def read_xlsx(path: Path) -> Table:
    _check_xlsx(path)
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise InvalidInput("xlsx_tidak_terbaca", "Berkas XLSX tidak terbaca.") from exc
    ws = wb.worksheets[0]
    # Read-only mode trusts the sheet's declared <dimension ref>, which writers leave stale
    # (a 2,000-row sheet declaring A1:C4 would be read as 4 rows): read to the real last row
    # and column instead.
    reset = getattr(ws, "reset_dimensions", None)
    if reset is not None:
        reset()
    it = ws.iter_rows(values_only=True)
    try:
        first = next(it)
    except StopIteration:
        wb.close()
        raise InvalidInput("berkas_kosong", "Lembar kerja pertama kosong.") from None
    header = ["" if c is None else str(c).strip() for c in first]

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            for line, values in enumerate(it, start=2):
                cells = ["" if c is None else c for c in values]
                if any(str(c).strip() for c in cells):
                    yield line, cells
        finally:
            wb.close()

    return Table(header, rows(), None, None, [])


def open_list(path: Path) -> Table:
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return read_xlsx(path)
    if suffix in {".csv", ".txt", ".tsv"}:
        with path.open("rb") as fh:
            sample = fh.read(SNIFF_BYTES)
        if b"\x00" in sample and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise InvalidInput(
                "berkas_bukan_teks",
                "Berkas bukan CSV teks (berisi bita biner); simpan ulang sebagai CSV UTF-8.",
            )
        return read_csv(path)
    raise InvalidInput(
        "format_berkas_tidak_didukung",
        f"Format berkas {suffix or '(tanpa akhiran)'} tidak didukung; gunakan CSV atau XLSX.",
    )


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a NIK a spreadsheet stored as a number
    return str(value).strip()


class ListReader:
    """A list read in chunks of good rows, for memory bounded by the chunk, not the list.
    File-level problems of the header raise on opening; too many rows and zero rows raise
    while reading (`baris_melebihi_batas`, 422; `tidak_ada_baris`)."""

    def __init__(self, path: Path, aliases: dict[str, str], max_rows: int) -> None:
        self._table = open_list(path)
        self.mapping, self.ignored = map_columns(self._table.header, aliases)
        self.max_rows = max_rows
        self.rows_total = 0
        self.rows_invalid = 0
        self.good_rows = 0

    @property
    def header(self) -> list[str]:
        return list(self._table.header)

    @property
    def encoding(self) -> str | None:  # as read so far: lines that were not UTF-8 change it
        return self._table.encoding

    @property
    def delimiter(self) -> str | None:
        return self._table.delimiter

    @property
    def elements(self) -> frozenset[str]:
        return frozenset(self.mapping.values())

    def _empty(self) -> ParsedList:
        t = self._table
        return ParsedList(t.header, self.mapping, self.ignored, t.encoding, t.delimiter)

    def chunks(self, size: int) -> Iterator[ParsedList]:
        """Consecutive chunks of at most `size` good rows each (with the issues of the
        lines read for it); the last may be empty but for its issues."""
        table = self._table
        out = self._empty()
        for line, cells in table.rows:
            self.rows_total += 1
            out.rows_total += 1
            if self.rows_total > self.max_rows:
                raise too_many_rows(self.max_rows)
            _read_row(out, table, line, cells, self.mapping)
            if len(out.lines) >= size:
                self._count(out)
                yield out
                out = self._empty()
        if self.rows_total == 0:
            raise InvalidInput("tidak_ada_baris", "Daftar tidak memuat satu pun baris data.")
        out.encoding = table.encoding
        self._count(out)
        yield out

    def _count(self, chunk: ParsedList) -> None:
        self.good_rows += len(chunk.lines)
        self.rows_invalid += sum(1 for i in chunk.issues if i.severity == "galat")


def too_many_rows(max_rows: int) -> InvalidInput:
    return InvalidInput(
        "baris_melebihi_batas",
        f"Daftar memuat lebih dari {max_rows:,} baris data (batas yang berlaku).",
        status=422,
    )


def parse_list(path: Path, aliases: dict[str, str], max_rows: int) -> ParsedList:
    """Read and validate the whole list at once. Raises for file-level problems only."""
    reader = ListReader(path, aliases, max_rows)
    out = reader._empty()
    for chunk in reader.chunks(max(max_rows, 1)):
        out.rows_total += chunk.rows_total
        out.issues.extend(chunk.issues)
        out.rejected.extend(chunk.rejected)
        for name in ("lines", "cells", "nik", "nama", "born", "sex", "alamat", "wilayah", "raw"):
            getattr(out, name).extend(getattr(chunk, name))
    out.encoding = reader.encoding
    return out


def _read_row(
    out: ParsedList, table: Table, line: int, cells: list[Any], mapping: dict[int, str]
) -> None:
    problem = row_problem(cells)
    if problem is not None:
        detail = (
            problem.detail
            if problem.code != "baris_tidak_terbaca"
            else "Baris tidak terbaca (terlalu panjang atau rusak)."
        )
        out.issues.append(RowIssue(line, "galat", problem.code, detail))
        out.rejected.append(Rejected(line, TIDAK_VALID, detail, []))
        return
    for note in table.warnings_for(line):
        out.issues.append(RowIssue(line, "peringatan", note.code, note.detail))
    width = len(table.header)
    raw = [_text(cells[i]) if i < len(cells) else "" for i in range(width)]
    values = {el: raw[i] if i < width else "" for i, el in mapping.items()}
    if any(len(v) > MAX_CELL_CHARS for v in raw):
        detail = "Isi sel melebihi 1.000 karakter."
        out.issues.append(RowIssue(line, "galat", "sel_terlalu_panjang", detail))
        out.rejected.append(Rejected(line, TIDAK_VALID, detail, [v[:MAX_CELL_CHARS] for v in raw]))
        return
    _validate_row(out, line, values, raw)


def _plain_nik(text: str) -> bool:
    """The common case without the full parse: 16 digits, a real date part, serial > 0."""
    if len(text) != 16 or not text.isdigit() or text.endswith("0000"):
        return False
    dd, mm = int(text[6:8]), int(text[8:10])
    day = dd - 40 if dd > 40 else dd
    return 1 <= mm <= 12 and 1 <= day <= (29 if mm == 2 else 30 if mm in (4, 6, 9, 11) else 31)


def _validate_row(out: ParsedList, line: int, values: dict[str, str], raw: list[str]) -> None:
    raw_nik = values.get("nik", "")
    nik = ""
    if raw_nik and _plain_nik(raw_nik):
        nik = raw_nik
    elif raw_nik:
        info = parse_nik(raw_nik)
        if info.valid:
            nik = info.nik
        else:
            shown = mask_nik(info.nik) if len(info.nik) == 16 else "(format salah)"
            out.issues.append(
                RowIssue(line, "peringatan", info.errors[0].code,
                         f"NIK {shown} tidak valid: {info.errors[0].detail} "
                         "Baris dipadankan dengan nama dan tanggal lahir.")
            )  # fmt: skip
    nama = values.get("nama_lengkap", "")
    raw_born = values.get("tanggal_lahir", "")
    born = parse_date(raw_born) if raw_born else None
    if raw_born and born is None:
        out.issues.append(
            RowIssue(line, "peringatan", "tanggal_lahir_tidak_valid",
                     "Tanggal lahir tidak terbaca (gunakan HH-BB-TTTT atau TTTT-BB-HH).")
        )  # fmt: skip
    region = "".join(ch for ch in values.get("kode_wilayah", "") if ch.isdigit())
    if not nik and not nama:
        detail = "Baris tanpa NIK yang sah harus memuat nama lengkap."
        out.issues.append(RowIssue(line, "galat", DATA_TIDAK_CUKUP, detail))
        out.rejected.append(Rejected(line, DATA_TIDAK_CUKUP, detail, raw))
        return
    out.lines.append(line)
    out.cells.append(values)
    out.raw.append(raw)
    out.nik.append(nik)
    out.nama.append(nama)
    out.born.append(born)
    out.sex.append(values.get("jenis_kelamin") or None)
    out.alamat.append(values.get("alamat", ""))
    out.wilayah.append(region)
