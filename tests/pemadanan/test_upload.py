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
    assert _code(_csv(tmp_path, "NAMA,ALAMAT\nBUDI,JL MAWAR\n")) == "kolom_wajib_tidak_ada"


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
