"""Bad uploads get a clear error and nothing is half-read; bad rows are reported by line
while the good rows still run."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from simpul.errors import InvalidInput
from simpul.pemadanan.upload import parse_list
from simpul.registry.datasets import get_dataset

ALIASES = get_dataset("kependudukan").alias_map()
GOOD = "3273015203900001"


def _csv(tmp_path: Path, text: str, name: str = "daftar.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def _code(path: Path, max_rows: int = 1000) -> str:
    with pytest.raises(InvalidInput) as exc:
        parse_list(path, ALIASES, max_rows)
    return exc.value.code


def test_zero_rows(tmp_path: Path) -> None:
    assert _code(_csv(tmp_path, "NIK,NAMA,TANGGAL_LAHIR\n")) == "tidak_ada_baris"
    assert _code(_csv(tmp_path, "")) == "berkas_kosong"


def test_missing_columns(tmp_path: Path) -> None:
    assert _code(_csv(tmp_path, "ALAMAT,NO_HP\nJL MAWAR,0812\n")) == "kolom_wajib_tidak_ada"
    # A name with an address (no NIK, no birth date) is a list that can be matched.
    parsed = parse_list(_csv(tmp_path, "NAMA,ALAMAT\nBUDI,JL MAWAR\n"), ALIASES, 10)
    assert parsed.lines == [2] and not parsed.rejected


def test_more_rows_than_the_limit(tmp_path: Path) -> None:
    rows = "".join(f"{GOOD},BUDI {i},01-01-1990\n" for i in range(11))
    assert _code(_csv(tmp_path, "NIK,NAMA,TANGGAL_LAHIR\n" + rows), max_rows=10) == (
        "baris_melebihi_batas"
    )


def test_binary_file_named_csv(tmp_path: Path) -> None:
    path = tmp_path / "daftar.csv"
    path.write_bytes(b"NIK,NAMA\x00\x01\x02" * 100)
    assert _code(path) == "berkas_bukan_teks"


def test_unsupported_format(tmp_path: Path) -> None:
    assert _code(_csv(tmp_path, "x", name="daftar.pdf")) == "format_berkas_tidak_didukung"


def test_windows_encoding_and_semicolons_are_read(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"NIK;NAMA_LGKP;TGL_LHR\n{GOOD};JOSÉ RAMOS;12-03-1990\n",
                encoding="cp1252")  # fmt: skip
    parsed = parse_list(path, ALIASES, 10)
    assert parsed.nama == ["JOSÉ RAMOS"] and parsed.delimiter == ";"
    assert parsed.encoding == "cp1252"


def test_a_ten_megabyte_line_is_reported_and_the_good_rows_run(tmp_path: Path) -> None:
    huge = "A" * (10 * 1024 * 1024)
    path = _csv(
        tmp_path,
        "NIK,NAMA,TANGGAL_LAHIR\n"
        f"{GOOD},SITI AMINAH,12-03-1990\n"
        f'3273015203900002,"{huge}",12-03-1990\n'
        f"3273015203900003,BUDI SANTOSO,12-03-1990\n",
    )
    parsed = parse_list(path, ALIASES, 100)
    assert parsed.nama == ["SITI AMINAH", "BUDI SANTOSO"]
    assert parsed.lines == [2, 4]
    assert [(i.line, i.severity) for i in parsed.issues] == [(3, "galat")]


def test_bad_niks_are_reported_by_line_masked_and_still_matched_by_name(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "NIK,NAMA,TANGGAL_LAHIR,JENIS_KLMIN\n"
        f"{GOOD},SITI AMINAH,12-03-1990,PEREMPUAN\n"
        "3273019903900001,BUDI SANTOSO,12-03-1990,LAKI-LAKI\n"  # day 99: not a date
        "12345,ANI,01-01-1980,PEREMPUAN\n"
        ",,,\n"
        "abc,,,\n",
    )
    parsed = parse_list(path, ALIASES, 100)
    assert parsed.nik == [GOOD, "", ""]  # rows 3 and 4 run on name and birth date
    assert parsed.sex == ["PEREMPUAN", "LAKI-LAKI", "PEREMPUAN"]
    by_line = {i.line: i for i in parsed.issues}
    assert by_line[3].severity == "peringatan" and "327301******0001" in by_line[3].detail
    assert "3273019903900001" not in by_line[3].detail
    assert by_line[4].severity == "peringatan"
    assert by_line[6].severity == "galat" and by_line[6].code == "data_tidak_cukup"
    assert parsed.rows_total == 4  # the blank row is not a row


def _xlsx(path: Path, rows: list[list[object]]) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def test_xlsx_with_siak_names_and_numeric_nik(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "daftar.xlsx", [
        ["NIK", "NAMA_LGKP", "TGL_LHR"],
        [int(GOOD), "SITI AMINAH", "12-03-1990"],
    ])  # fmt: skip
    parsed = parse_list(path, ALIASES, 10)
    assert parsed.nik == [GOOD] and parsed.nama == ["SITI AMINAH"]
    assert str(parsed.born[0]) == "1990-03-12"


def _zip_with(path: Path, member: str, size: int) -> Path:
    base = _xlsx(tmp_path_xlsx := path.with_name("base.xlsx"), [["NIK", "NAMA"], [GOOD, "X"]])
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename != member:
                dst.writestr(item, src.read(item.filename))
        chunk = b"<x>" + b"A" * (1 << 20) + b"</x>"
        with dst.open(member, "w", force_zip64=True) as fh:
            for _ in range(size // len(chunk) + 1):
                fh.write(chunk)
    tmp_path_xlsx.unlink()
    return path


def test_xlsx_zip_bomb(tmp_path: Path) -> None:
    path = _zip_with(tmp_path / "bom.xlsx", "xl/worksheets/sheet1.xml", 200 * 1024 * 1024)
    assert path.stat().st_size < 2 * 1024 * 1024
    assert _code(path) == "xlsx_bom_zip"


def test_xlsx_huge_shared_strings(tmp_path: Path) -> None:
    path = _zip_with(tmp_path / "teks.xlsx", "xl/sharedStrings.xml", 40 * 1024 * 1024)
    assert _code(path) == "xlsx_teks_bersama_terlalu_besar"


def test_corrupt_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "rusak.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    assert _code(path) == "xlsx_tidak_terbaca"


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_HEADERS = st.sampled_from([b"NIK,NAMA,TANGGAL_LAHIR\n", b"NIK;NAMA_LGKP;TGL_LHR\n", b""])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(head=_HEADERS, body=st.binary(max_size=2000), suffix=st.sampled_from([".csv", ".xlsx"]))
def test_any_bytes_give_a_list_or_a_clear_error(
    tmp_path: Path, head: bytes, body: bytes, suffix: str
) -> None:
    """Whatever a file holds, the reader answers with rows or an InvalidInput, never a crash."""
    path = tmp_path / f"acak{suffix}"
    path.write_bytes(head + body)
    try:
        parsed = parse_list(path, ALIASES, 1000)
    except InvalidInput as exc:
        refusal = exc
    else:
        skipped = sum(i.severity == "galat" for i in parsed.issues)
        assert len(parsed.lines) + skipped <= parsed.rows_total
        return
    assert refusal.code and refusal.detail


# Issue 17: no silent row loss. Each of these lost rows (or re-decoded the file) before.


def _good_rows(start: int, count: int) -> str:
    return "".join(
        f"32730152039{n:05d},WARGA {n},12-03-1990\n" for n in range(start, start + count)
    )


def test_an_unterminated_quote_is_reported_for_its_row_and_every_good_row_after_it_runs(
    tmp_path: Path,
) -> None:
    """810 good rows, one broken quote after the 60th: 150 rows used to vanish into it."""
    body = (
        _good_rows(1, 60)
        + '3273015203999999,"BUDI SANTOSO,12-03-1990\n'  # the quote never closes
        + _good_rows(61, 750)
    )
    path = _csv(tmp_path, "NIK,NAMA,TANGGAL_LAHIR\n" + body)
    parsed = parse_list(path, ALIASES, 10_000)
    assert len(parsed.lines) == 810
    assert parsed.rows_total == 811
    assert [(i.line, i.severity, i.code) for i in parsed.issues] == [
        (62, "galat", "kutip_tidak_seimbang")
    ]
    assert parsed.lines[60] == 63 and parsed.nama[60] == "WARGA 61"


def test_a_quote_that_closes_rows_later_does_not_swallow_them(tmp_path: Path) -> None:
    body = (
        f'{GOOD},"SITI AMINAH,12-03-1990\n'  # opens a quote ...
        + _good_rows(1, 5)
        + '3273015203900009,BUDI " SANTOSO",12-03-1990\n'  # ... that a stray quote closes
        + _good_rows(6, 3)
    )
    parsed = parse_list(_csv(tmp_path, "NIK,NAMA,TANGGAL_LAHIR\n" + body), ALIASES, 100)
    assert [(i.line, i.code) for i in parsed.issues] == [(2, "kutip_tidak_seimbang")]
    assert parsed.lines == list(range(3, 12))


def test_a_quoted_address_over_two_lines_is_still_one_row(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "NIK,NAMA,TANGGAL_LAHIR,ALAMAT\n"
        f'{GOOD},SITI AMINAH,12-03-1990,"JL MAWAR 1\nRT 01 RW 02"\n'
        "3273015203900002,BUDI SANTOSO,12-03-1990,JL MELATI\n",
    )
    parsed = parse_list(path, ALIASES, 100)
    assert parsed.issues == []
    assert parsed.lines == [2, 4]  # a row's line is the line it starts on
    assert parsed.alamat[0] == "JL MAWAR 1\nRT 01 RW 02"


def test_an_unterminated_quote_on_the_last_line_is_reported(tmp_path: Path) -> None:
    path = _csv(tmp_path, f'NIK,NAMA,TANGGAL_LAHIR\n{GOOD},SITI,12-03-1990\n1,"BUDI,12-03')
    parsed = parse_list(path, ALIASES, 100)
    assert parsed.lines == [2]
    assert [(i.line, i.code) for i in parsed.issues] == [(3, "kutip_tidak_seimbang")]


def test_invalid_utf8_is_reported_for_its_row_and_the_rest_stays_utf8(tmp_path: Path) -> None:
    """One cp1252 row in a UTF-8 file used to turn the whole file into cp1252 mojibake."""
    path = tmp_path / "campur.csv"
    path.write_bytes(
        f"NIK,NAMA,TANGGAL_LAHIR\n{GOOD},JOSÉ RAMOS,12-03-1990\n".encode()
        + b"3273015203900002,MAR\xcdA LOPEZ,12-03-1990\n"  # cp1252 Í: not UTF-8
        + "3273015203900003,NUÑEZ,12-03-1990\n".encode()
    )
    parsed = parse_list(path, ALIASES, 100)
    assert parsed.nama == ["JOSÉ RAMOS", "MARÍA LOPEZ", "NUÑEZ"]
    assert [(i.line, i.severity, i.code) for i in parsed.issues] == [
        (3, "peringatan", "utf8_tidak_valid")
    ]
    assert parsed.encoding == "utf-8+cp1252"


def test_invalid_utf8_past_the_sniffed_sample_is_reported(tmp_path: Path) -> None:
    """Past the first 256 KB a bad byte used to become U+FFFD without a word."""
    head = "NIK,NAMA,TANGGAL_LAHIR\n" + _good_rows(1, 8000)
    assert len(head) > 256 * 1024
    path = tmp_path / "panjang.csv"
    path.write_bytes(head.encode() + b"3273015203999999,JOS\xc9,12-03-1990\n")
    parsed = parse_list(path, ALIASES, 10_000)
    assert len(parsed.lines) == 8001 and parsed.nama[-1] == "JOSÉ"
    assert [(i.line, i.code) for i in parsed.issues] == [(8002, "utf8_tidak_valid")]


def _stale_dimension(path: Path, rows: int, ref: str) -> Path:
    """An XLSX of `rows` data rows whose sheet XML declares <dimension ref=ref>."""
    table: list[list[object]] = [["NIK", "NAMA", "TGL_LHR"]]
    table += [[f"32730152039{n:05d}", f"WARGA {n}", "12-03-1990"] for n in range(1, rows + 1)]
    base = _xlsx(path.with_name("lengkap.xlsx"), table)
    sheet = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == sheet:
                text = data.decode()
                start = text.index("<dimension ref=")
                end = text.index("/>", start) + 2
                data = (text[:start] + f'<dimension ref="{ref}"/>' + text[end:]).encode()
            dst.writestr(item, data)
    base.unlink()
    return path


def test_xlsx_rows_beyond_a_stale_dimension_are_read(tmp_path: Path) -> None:
    """A 2,000-row sheet declaring A1:C4 used to be matched as 4 rows."""
    path = _stale_dimension(tmp_path / "basi.xlsx", 2000, "A1:C4")
    with zipfile.ZipFile(path) as zf:
        assert '<dimension ref="A1:C4"/>' in zf.read("xl/worksheets/sheet1.xml").decode()
    parsed = parse_list(path, ALIASES, 10_000)
    assert parsed.rows_total == 2000 and len(parsed.lines) == 2000
    assert parsed.lines[-1] == 2001 and parsed.nama[-1] == "WARGA 2000"
    assert parsed.issues == []


def test_xlsx_columns_beyond_a_stale_dimension_are_read(tmp_path: Path) -> None:
    path = _stale_dimension(tmp_path / "sempit.xlsx", 3, "A1:A1")
    parsed = parse_list(path, ALIASES, 100)
    assert parsed.header == ["NIK", "NAMA", "TGL_LHR"]
    assert parsed.nama == ["WARGA 1", "WARGA 2", "WARGA 3"]
