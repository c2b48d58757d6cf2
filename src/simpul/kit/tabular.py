"""Read tabular uploads (CSV, Parquet) defensively: sniff encoding and delimiter, keep line
numbers, never let one bad row or a hostile file take the worker down."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charset_normalizer import from_bytes

from simpul.errors import InvalidInput

SNIFF_BYTES = 256 * 1024
DELIMITERS = ",;\t|"
# A single CSV field longer than this is hostile or broken, not data.
MAX_FIELD_CHARS = 1_000_000


@dataclass
class Table:
    header: list[str]
    rows: Iterator[tuple[int, list[Any]]]  # (line number in the file, cells)
    encoding: str | None
    delimiter: str | None
    notes: list[str]


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


def read_csv(path: Path) -> Table:
    with path.open("rb") as raw:
        sample = raw.read(SNIFF_BYTES)
    if not sample.strip():
        raise InvalidInput("berkas_kosong", "Berkas kosong: tidak ada baris judul maupun data.")
    encoding, notes = detect_encoding(sample)
    sample_text = sample.decode(encoding, errors="replace")
    delimiter = sniff_delimiter(sample_text)
    fh = path.open("r", encoding=encoding, errors="replace", newline="")
    csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(fh, delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        fh.close()
        raise InvalidInput("judul_kolom_tidak_terbaca", "Baris judul kolom tidak terbaca.") from exc
    header = [h.strip() for h in header]

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    # e.g. a field over the limit: report the line, keep reading the rest.
                    yield reader.line_num, [_CsvRowError(str(exc))]
                    continue
                if cells and any(c.strip() for c in cells):
                    yield reader.line_num, cells
        finally:
            fh.close()

    return Table(header, rows(), encoding, delimiter, notes)


class _CsvRowError:
    """Marker cell: the CSV parser could not read this row."""

    def __init__(self, message: str) -> None:
        self.message = message


def row_unreadable(cells: list[Any]) -> str | None:
    if len(cells) == 1 and isinstance(cells[0], _CsvRowError):
        return cells[0].message
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
