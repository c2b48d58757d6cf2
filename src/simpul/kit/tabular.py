"""Read tabular uploads (CSV, Parquet) defensively: sniff the delimiter, keep line numbers,
never let one bad row or a hostile file take the worker down, and never lose a row silently.

CSV text is decoded one physical line at a time: a line that is valid UTF-8 is read as UTF-8;
a line that is not is read as cp1252 (undefined bytes replaced) and reported for its row
(`utf8_tidak_valid`, a warning) — the rest of the file is not re-decoded. A record whose quoted
field does not close (or closes only after swallowing lines into a record wider than the
header) is reported for the line it starts on (`kutip_tidak_seimbang`) and reading resumes
at the next physical line, so the good rows after it are still read.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from charset_normalizer import from_bytes

from simpul.errors import InvalidInput
from simpul.kit.numbers import angka

SNIFF_BYTES = 256 * 1024
DELIMITERS = ",;\t|"
# A single CSV field longer than this is hostile or broken, not data.
MAX_FIELD_CHARS = 1_000_000
# A quoted field may hold line breaks (an address over two lines), but a record spanning more
# physical lines than this is an unclosed quote, not data.
MAX_RECORD_LINES = 10
# Per-row decoding: what a line that is not valid UTF-8 is read as.
FALLBACK_ENCODING = "cp1252"

CODE_UNREADABLE = "baris_tidak_terbaca"
CODE_QUOTE = "kutip_tidak_seimbang"
CODE_UTF8 = "utf8_tidak_valid"


@dataclass(frozen=True)
class RowNote:
    """A problem with one row found while reading it (not while validating its values)."""

    code: str
    detail: str


@dataclass
class Table:
    header: list[str]
    rows: Iterator[tuple[int, list[Any]]]  # (line number in the file, cells)
    encoding: str | None
    delimiter: str | None
    notes: list[str]
    # Warnings for rows that were still read (e.g. decoded as cp1252), by the row's line;
    # filled as `rows` is consumed: take them with `warnings_for(line)` after each row.
    warnings: dict[int, list[RowNote]] = field(default_factory=dict)

    def warnings_for(self, line: int) -> list[RowNote]:
        return self.warnings.pop(line, [])


def detect_encoding(sample: bytes) -> tuple[str, list[str]]:
    """UTF-8 (with or without BOM) when it decodes; otherwise the best guess, said aloud."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", []
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", ["Berkas berenkode UTF-16."]
    try:
        sample.decode("utf-8")
        return "utf-8", []
    except UnicodeDecodeError as exc:
        # A cut in the middle of a multi-byte character at the sample's end is still UTF-8.
        if exc.start >= len(sample) - 3:
            return "utf-8", []
    best = from_bytes(sample).best()
    guess = best.encoding if best is not None else "cp1252"
    # Windows spreadsheets in Indonesia write cp1252; latin-1 is its strict subset.
    if guess in {"latin_1", "iso8859_1", "cp1250", "cp1252", "iso8859_15"}:
        guess = "cp1252"
    return guess, [f"Berkas bukan UTF-8; dibaca sebagai {guess}."]


def sniff_delimiter(text: str) -> str:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        return max(counts, key=lambda d: counts[d]) if max(counts.values()) else ","


def decode_line(raw: bytes) -> tuple[str, bool]:
    """One line as UTF-8, or as cp1252 when it is not valid UTF-8 (True: it was not)."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode(FALLBACK_ENCODING, errors="replace"), True


def _encoding_name(utf8_non_ascii: int, fallback: int) -> str:
    if not fallback:
        return "utf-8"
    return FALLBACK_ENCODING if not utf8_non_ascii else f"utf-8+{FALLBACK_ENCODING}"


def _split_bytes(sample: bytes) -> bytes:
    # Old Mac files end lines with a bare CR; everything else has LF.
    return b"\r" if b"\n" not in sample and b"\r" in sample else b"\n"


class _LineSource:
    """Feeds csv.reader one physical line at a time, remembering the lines of the record being
    read so that a broken record can be given back (all but its first line) and re-read."""

    def __init__(self, lines: Iterator[tuple[int, str, bool]]) -> None:
        self._lines = lines
        self._back: deque[tuple[int, str, bool]] = deque()
        self.record: list[tuple[int, str, bool]] = []
        self.hit_end = False  # the reader asked past the end (EOF or the per-record cap)

    def begin(self) -> None:
        self.record = []
        self.hit_end = False

    def give_back_after_first(self) -> None:
        self._back.extendleft(reversed(self.record[1:]))
        self.record = self.record[:1]

    def __iter__(self) -> _LineSource:
        return self

    def __next__(self) -> str:
        if len(self.record) >= MAX_RECORD_LINES:
            self.hit_end = True
            raise StopIteration
        if self._back:
            item = self._back.popleft()
        else:
            try:
                item = next(self._lines)
            except StopIteration:
                self.hit_end = True
                raise
        self.record.append(item)
        return item[1]


def _numbered_bytes(raw: IO[bytes], sep: bytes, bom: bool) -> Iterator[tuple[int, str, bool]]:
    """(line number, text with its line end, True if it was not UTF-8) per physical line.
    Blocks of whole lines are decoded at once; a block that is not UTF-8 line by line."""
    text_sep = sep.decode()
    pending = b""
    no = 0
    first = True
    while True:
        chunk = raw.read(1 << 20)
        if first and bom and chunk.startswith(codecs.BOM_UTF8):
            chunk = chunk[len(codecs.BOM_UTF8) :]
        first = False
        if not chunk:
            if pending:
                text, fell_back = decode_line(pending)
                yield no + 1, text, fell_back
            return
        block = pending + chunk
        cut = block.rfind(sep) + 1
        if cut == 0:
            pending = block
            continue
        body, pending = block[:cut], block[cut:]
        try:
            decoded = body.decode("utf-8")
        except UnicodeDecodeError:
            for part in body.split(sep)[:-1]:
                no += 1
                text, fell_back = decode_line(part + sep)
                yield no, text, fell_back
            continue
        for line in decoded.split(text_sep)[:-1]:
            no += 1
            yield no, line + text_sep, False


def _numbered_text(fh: IO[str]) -> Iterator[tuple[int, str, bool]]:
    for no, line in enumerate(fh, start=1):
        yield no, line, False


def read_csv(path: Path) -> Table:
    with path.open("rb") as raw:
        sample = raw.read(SNIFF_BYTES)
    if not sample.strip():
        raise InvalidInput("berkas_kosong", "Berkas kosong: tidak ada baris judul maupun data.")
    return read_csv_stream(path.open("rb"), sample)


def read_csv_bytes(content: bytes) -> Table:
    """The same reader over bytes already in memory (small uploads such as feedback data)."""
    if not content.strip():
        raise InvalidInput("berkas_kosong", "Berkas kosong: tidak ada baris judul maupun data.")
    return read_csv_stream(io.BytesIO(content), content[:SNIFF_BYTES])


def read_csv_stream(raw: IO[bytes], sample: bytes) -> Table:
    """Read CSV from a binary stream (closed when the rows are exhausted or on error)."""
    notes: list[str] = []
    handle: IO[Any] = raw
    source_lines: Iterator[tuple[int, str, bool]]
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
        notes.append("Berkas berenkode UTF-16.")
        text = io.TextIOWrapper(raw, encoding="utf-16", errors="replace", newline="")
        handle = text
        source_lines = _numbered_text(text)
        sample_text = sample.decode("utf-16", errors="replace")
    else:
        bom = sample.startswith(codecs.BOM_UTF8)
        body = sample[len(codecs.BOM_UTF8) :] if bom else sample
        sep = _split_bytes(body)
        # What the sample says (updated once the whole file has been read).
        good = bad = 0
        for line in body.split(sep)[:-1] or [body]:
            if line.isascii():
                continue
            if decode_line(line)[1]:
                bad += 1
            else:
                good += 1
        encoding = "utf-8-sig" if bom and not bad else _encoding_name(good, bad)
        source_lines = _numbered_bytes(raw, sep, bom)
        sample_text = "".join(decode_line(ln)[0] for ln in body.split(sep)[:200])
    delimiter = sniff_delimiter(sample_text)
    csv.field_size_limit(MAX_FIELD_CHARS)
    source = _LineSource(source_lines)
    reader = csv.reader(source, delimiter=delimiter)
    header_cells: list[str] | None = None
    while header_cells is None:
        source.begin()
        try:
            cells = next(reader)
        except (StopIteration, csv.Error) as exc:
            handle.close()
            raise InvalidInput(
                "judul_kolom_tidak_terbaca", "Baris judul kolom tidak terbaca."
            ) from exc
        if len(source.record) > 1 or source.hit_end:
            handle.close()
            raise InvalidInput(
                "judul_kolom_tidak_terbaca",
                "Baris judul kolom tidak terbaca (tanda kutip tidak ditutup).",
            )
        if cells and any(c.strip() for c in cells):
            header_cells = cells
    if any(fell for _, _, fell in source.record):
        notes.append(f"Baris judul bukan UTF-8 yang sah; dibaca sebagai {FALLBACK_ENCODING}.")
    header = [h.strip() for h in header_cells]
    width = len(header)
    table = Table(header, iter(()), encoding, delimiter, notes)
    table.rows = _rows(table, reader, source, handle, width)
    return table


def _swallowed_rows(source: _LineSource, delimiter: str, width: int) -> bool:
    return any(text.count(delimiter) >= width - 1 for _, text, _ in source.record[1:])


def _rows(
    table: Table, reader: Any, source: _LineSource, handle: IO[Any], width: int
) -> Iterator[tuple[int, list[Any]]]:
    delimiter = table.delimiter or ","
    utf8_non_ascii = 0
    fallback_lines: list[int] = []
    try:
        while True:
            source.begin()
            try:
                cells = next(reader)
            except StopIteration:
                if not source.record:
                    break
                cells = None  # input ended inside a record the reader did not return
                error = None
            except csv.Error as exc:
                cells, error = None, str(exc)
            else:
                error = None
            start = source.record[0][0]
            spanned = len(source.record) > 1 or source.hit_end
            # A record that ran past the end of input never closed its quote; one that closed
            # only after swallowing whole rows (more cells than the header has, or a line
            # inside it that holds a row's worth of delimiters) did not either.
            if cells is not None and (
                source.hit_end
                or (spanned and (len(cells) > width or _swallowed_rows(source, delimiter, width)))
            ):
                cells = None
            if cells is None:
                first_line = source.record[0]
                if spanned:
                    yield start, [_CsvRowError(
                        CODE_QUOTE,
                        "Tanda kutip tidak ditutup pada baris ini; baris dilewati dan "
                        "pembacaan dilanjutkan pada baris berikutnya.",
                    )]  # fmt: skip
                else:
                    yield start, [_CsvRowError(CODE_UNREADABLE, error or "Baris tidak terbaca.")]
                source.give_back_after_first()
                if first_line[2]:
                    fallback_lines.append(start)
                continue
            bad_lines = [no for no, _, fell in source.record if fell]
            for _, text, fell in source.record:
                if not fell and not text.isascii():
                    utf8_non_ascii += 1
            if cells and any(c.strip() for c in cells):
                if bad_lines:
                    fallback_lines.extend(bad_lines)
                    table.warnings.setdefault(start, []).append(RowNote(
                        CODE_UTF8,
                        f"Baris bukan UTF-8 yang sah; hanya baris ini dibaca sebagai "
                        f"{FALLBACK_ENCODING} (periksa ejaan nama).",
                    ))  # fmt: skip
                yield start, cells
            elif bad_lines:
                fallback_lines.extend(bad_lines)
        if fallback_lines and table.encoding != "utf-16":
            table.encoding = _encoding_name(utf8_non_ascii, len(fallback_lines))
            shown = ", ".join(str(n) for n in fallback_lines[:10])
            more = " …" if len(fallback_lines) > 10 else ""
            table.notes.append(
                f"{angka(len(fallback_lines))} baris bukan UTF-8 yang sah; hanya baris itu yang "
                f"dibaca sebagai {FALLBACK_ENCODING} (baris {shown}{more})."
            )
    finally:
        handle.close()


class _CsvRowError:
    """Marker cell: the CSV parser could not read this row."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message


def row_unreadable(cells: list[Any]) -> str | None:
    if len(cells) == 1 and isinstance(cells[0], _CsvRowError):
        return cells[0].message
    return None


def row_problem(cells: list[Any]) -> RowNote | None:
    """Why the reader could not read this row (a stable code and a detail), or None."""
    if len(cells) == 1 and isinstance(cells[0], _CsvRowError):
        return RowNote(cells[0].code, cells[0].message)
    return None


def read_parquet(path: Path) -> Table:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise InvalidInput("parquet_tidak_terbaca", "Berkas Parquet tidak terbaca.") from exc
    header = list(pf.schema_arrow.names)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        line = 1
        for batch in pf.iter_batches(batch_size=50_000):
            columns = [col.to_pylist() for col in batch.columns]
            for i in range(batch.num_rows):
                line += 1
                yield line, [c[i] for c in columns]

    return Table(header, rows(), None, None, [])


def open_table(path: Path) -> Table:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return read_parquet(path)
    if suffix in {".csv", ".txt", ".tsv"}:
        return read_csv(path)
    raise InvalidInput(
        "format_berkas_tidak_didukung",
        f"Format berkas {suffix or '(tanpa akhiran)'} tidak didukung; gunakan CSV atau Parquet.",
    )
