"""The CSV reader loses no row silently: a broken quote costs only its own line, a line that
is not UTF-8 is decoded alone and said aloud, and every row keeps the line it starts on."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simpul.errors import InvalidInput
from simpul.kit.tabular import (
    MAX_RECORD_LINES,
    Table,
    read_csv,
    read_csv_bytes,
    row_problem,
)


def _read(table: Table) -> list[tuple[int, Any, list[str]]]:
    out = []
    for line, cells in table.rows:
        problem = row_problem(cells)
        notes = [n.code for n in table.warnings_for(line)]
        out.append((line, problem.code if problem else cells, notes))
    return out


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    return path


def test_rows_keep_their_lines_and_crlf_bom_work(tmp_path: Path) -> None:
    table = read_csv(_file(tmp_path, codecs.BOM_UTF8 + b'a;b\r\n1;2\r\n\r\n3;"x\r\ny"\r\n4;5'))
    assert table.header == ["a", "b"] and table.encoding == "utf-8-sig"
    assert _read(table) == [(2, ["1", "2"], []), (4, ["3", "x\r\ny"], []), (6, ["4", "5"], [])]


def test_bare_cr_line_endings(tmp_path: Path) -> None:
    table = read_csv(_file(tmp_path, b"a,b\r1,2\r3,4\r"))
    assert _read(table) == [(2, ["1", "2"], []), (3, ["3", "4"], [])]


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    table = read_csv(_file(tmp_path, "a,b\n1,É\n".encode("utf-16")))
    assert table.encoding == "utf-16" and _read(table) == [(2, ["1", "É"], [])]


def test_broken_quote_codes_and_resumption(tmp_path: Path) -> None:
    table = read_csv(_file(tmp_path, b'a,b,c\n1,"x,y\n2,q,r\n3,"open\n'))
    assert _read(table) == [
        (2, "kutip_tidak_seimbang", []),
        (3, ["2", "q", "r"], []),
        (4, "kutip_tidak_seimbang", []),
    ]


def test_a_quote_open_for_too_many_lines_is_broken(tmp_path: Path) -> None:
    inner = b"\n".join(b"baris" for _ in range(MAX_RECORD_LINES + 2))
    table = read_csv(_file(tmp_path, b'a,b\n1,"' + inner + b'"\n2,z\n'))
    rows = _read(table)
    assert rows[0] == (2, "kutip_tidak_seimbang", [])
    assert rows[-1] == (MAX_RECORD_LINES + 4, ["2", "z"], [])
    assert len(rows) == MAX_RECORD_LINES + 3  # every line after the broken one is read again


def test_a_broken_quote_in_the_header_refuses_the_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as exc:
        read_csv(_file(tmp_path, b'a,"b,c\n1,2,3\n'))
    assert exc.value.code == "judul_kolom_tidak_terbaca"


def test_invalid_utf8_only_that_line_is_cp1252_and_noted(tmp_path: Path) -> None:
    table = read_csv(_file(tmp_path, "a,b\n1,é\n".encode() + b"2,\xe9\n3,\x81\n"))
    assert table.encoding == "utf-8+cp1252"  # what the sample showed, before the rows
    rows = _read(table)
    assert rows == [
        (2, ["1", "é"], []),
        (3, ["2", "é"], ["utf8_tidak_valid"]),
        (4, ["3", "\ufffd"], ["utf8_tidak_valid"]),  # undefined in cp1252: replaced
    ]
    assert table.encoding == "utf-8+cp1252"
    assert table.notes and "baris 3, 4" in table.notes[-1]


def test_a_wholly_cp1252_file_reads_as_cp1252_with_every_row_flagged() -> None:
    table = read_csv_bytes("a,b\n1,JOSÉ\n2,BUDI\n3,ÑOÑO\n".encode("cp1252"))
    assert table.encoding == "cp1252"
    assert _read(table) == [
        (2, ["1", "JOSÉ"], ["utf8_tidak_valid"]),
        (3, ["2", "BUDI"], []),
        (4, ["3", "ÑOÑO"], ["utf8_tidak_valid"]),
    ]
    assert table.notes


def test_empty_bytes_are_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        read_csv_bytes(b"  \n")
    assert exc.value.code == "berkas_kosong"


_cell = st.text(alphabet="abcXYZ 0123456789éÑ", max_size=8)
_row = st.lists(_cell, min_size=3, max_size=3)


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(_row, min_size=1, max_size=40),
    broken_at=st.integers(min_value=0, max_value=39),
    latin=st.booleans(),
)
def test_one_broken_row_costs_only_itself(
    rows: list[list[str]], broken_at: int, latin: bool
) -> None:
    """Whatever the good rows hold, a row with an unclosed quote is the only row lost."""
    good = [",".join(r) + "\n" for r in rows]
    at = min(broken_at, len(good))
    broken = 'z,"never closed,z\n'
    lines = ["h1,h2,h3\n", *good[:at], broken, *good[at:]]
    data = b"".join(
        ln.encode("cp1252" if latin and i % 2 else "utf-8") for i, ln in enumerate(lines)
    )
    table = read_csv_bytes(data)
    out = _read(table)
    broken_lines = [ln for ln, cells, _ in out if cells == "kutip_tidak_seimbang"]
    assert broken_lines == [at + 2]
    read_back = [c for _, c, _ in out if c != "kutip_tidak_seimbang"]
    expected = [r for r in rows if any(x.strip() for x in r)]
    assert read_back == expected
