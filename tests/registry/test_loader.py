"""Loading provider files: every bad row reported by line and reason, good rows loaded,
nothing dropped silently. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from simpul.config import Settings
from simpul.errors import InvalidInput
from simpul.kit.clock import FixedClock
from simpul.registry import service
from simpul.registry.repository import RegistryRepository
from simpul.registry.schemas import LoadReport
from tests.registry.builders import HEADER, person, write_csv

CLOCK = FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))


def load(
    sessions: sessionmaker[Session], settings: Settings, path: Path, mode: str = "ganti"
) -> LoadReport:
    with sessions.begin() as session:
        return service.load_registry(session, settings, "kependudukan", path, CLOCK, mode=mode)


def count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return RegistryRepository(session).count("kependudukan")


def by_line(report: LoadReport) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for i in report.issues:
        if i.severity == "galat":
            found.setdefault(i.line, set()).add(i.code)
    return found


def test_good_file_loads_and_snapshot_matches(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    rows = [person(i) for i in range(25)]
    report = load(sessions, settings, write_csv(tmp_path / "ok.csv", rows))
    assert (report.rows_total, report.rows_loaded, report.rows_rejected) == (25, 25, 0)
    with sessions() as session:
        rec = RegistryRepository(session).get("kependudukan", rows[3]["nik"])
        snap, n = service.write_snapshot(session, settings, "kependudukan")
    assert rec is not None and rec["tanggal_lahir"] == rows[3]["tanggal_lahir"]
    table = pq.read_table(snap)
    assert n == 25 and table.num_rows == 25
    assert table.schema.names[:3] == ["nik", "no_kk", "nama_lengkap"]
    assert str(table.schema.field("tanggal_lahir").type) == "date32[day]"


def test_each_bad_row_is_reported_by_line_and_good_rows_load(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    rows = [person(i) for i in range(6)]
    rows[1]["nik"] = rows[1]["nik"][:15]  # line 3: wrong length
    rows[2]["nik"] = rows[2]["nik"][:10] + "AB1234"  # line 4: non-digits
    rows[3]["tanggal_lahir"] = "1990-02-30"  # line 5: impossible date
    rows[4]["nik"] = rows[0]["nik"]  # line 6: duplicate of line 2
    rows[5]["nik"] = rows[5]["nik"][:6] + "320290" + rows[5]["nik"][12:]  # line 7: 32 Feb in NIK
    report = load(sessions, settings, write_csv(tmp_path / "bad.csv", rows))
    assert by_line(report) == {
        3: {"nik_panjang_salah"},
        4: {"nik_bukan_angka"},
        5: {"tanggal_tidak_valid"},
        6: {"nik_ganda"},
        7: {"nik_tanggal_tidak_valid"},
    }
    assert report.rows_loaded == 1 and report.rows_rejected == 5
    assert report.rows_total == report.rows_loaded + report.rows_rejected
    assert count(sessions) == 1
    dup = next(i for i in report.issues if i.code == "nik_ganda")
    assert "baris 2" in dup.detail


def test_latin1_file_is_read_with_its_encoding(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    rows = [person(0, name="JOSÉ MARÍA DA SILVA"), person(1, name="ÑOÑO")]
    report = load(sessions, settings, write_csv(tmp_path / "l1.csv", rows, encoding="latin-1"))
    assert report.rows_loaded == 2 and report.encoding not in {"utf-8", "utf-8-sig"}
    assert report.notes  # the user is told the file was not UTF-8
    with sessions() as session:
        rec = RegistryRepository(session).get("kependudukan", rows[0]["nik"])
    assert rec is not None and rec["nama_lengkap"] == "JOSÉ MARÍA DA SILVA"


def test_bom_and_semicolons_and_siak_headers(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    siak = {"nik": "NIK", "no_kk": "NO_KK", "nama_lengkap": "NAMA_LGKP",
            "jenis_kelamin": "JENIS_KLMIN", "tanggal_lahir": "TGL_LHR",
            "status_perkawinan": "STAT_KWN", "status_hubungan_keluarga": "STAT_HBKEL",
            "tempat_lahir": "TMPT_LHR", "agama": "AGAMA", "alamat": "ALAMAT",
            "kode_wilayah": "KODE_WILAYAH"}  # fmt: skip
    path = tmp_path / "siak.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow([siak[c] for c in HEADER])
        for i in range(4):
            p = person(i)
            p["tanggal_lahir"] = datetime.fromisoformat(p["tanggal_lahir"]).strftime("%d-%m-%Y")
            writer.writerow([p[c] for c in HEADER])
    report = load(sessions, settings, path)
    assert report.delimiter == ";" and report.encoding == "utf-8-sig"
    assert report.rows_loaded == 4 and not report.ignored_columns


def test_formula_cell_loads_as_text_and_is_neutralised_on_export(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    formula = '=HYPERLINK("http://contoh.invalid","klik")'
    rows = [person(0, name=formula), person(1)]
    report = load(sessions, settings, write_csv(tmp_path / "f.csv", rows))
    assert report.rows_loaded == 2
    assert any(i.code == "sel_formula" and i.line == 2 for i in report.issues)
    with sessions() as session:
        service.export_records(session, "kependudukan", tmp_path / "out.csv")
        service.export_records(session, "kependudukan", tmp_path / "out.xlsx")
    with (tmp_path / "out.csv").open(encoding="utf-8") as fh:
        names = [r["nama_lengkap"] for r in csv.DictReader(fh)]
    assert "'" + formula in names and formula not in names
    ws = load_workbook(tmp_path / "out.xlsx").active
    assert ws is not None
    col = [c.value for c in ws[1]].index("nama_lengkap")
    cells = [row[col] for row in ws.iter_rows(min_row=2)]
    assert all(c.data_type == "s" for c in cells)
    assert "'" + formula in [c.value for c in cells]


def test_missing_required_column_loads_nothing(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    load(sessions, settings, write_csv(tmp_path / "ok.csv", [person(i) for i in range(3)]))
    header = [c for c in HEADER if c != "tanggal_lahir"]
    bad = write_csv(tmp_path / "nodob.csv", [person(i) for i in range(9)], header=header)
    with pytest.raises(InvalidInput) as exc:
        load(sessions, settings, bad)
    assert exc.value.code == "kolom_wajib_tidak_ada"
    assert count(sessions) == 3  # the earlier load is untouched


def test_extra_cells_unknown_codes_and_unreadable_rows(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "mix.csv", [person(i) for i in range(3)])
    with path.open("a", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        extra = person(10)
        writer.writerow([*[extra[c] for c in HEADER], "surplus"])  # line 5
        odd = person(11)
        odd["agama"] = "JEDI"
        writer.writerow([odd[c] for c in HEADER])  # line 6
        huge = person(12)
        huge["alamat"] = "X" * 2_000_000
        writer.writerow([huge[c] for c in HEADER])  # line 7: one 2 MB field
        writer.writerow([person(13)[c] for c in HEADER])  # line 8
    report = load(sessions, settings, path)
    assert by_line(report) == {
        5: {"jumlah_kolom_tidak_sesuai"},
        6: {"nilai_kode_tidak_dikenal"},
        7: {"baris_tidak_terbaca"},
    }
    assert report.rows_loaded == 4


def test_upsert_mode_updates_by_nik(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    load(sessions, settings, write_csv(tmp_path / "a.csv", [person(i) for i in range(3)]))
    changed = person(1, name="NAMA BARU")
    load(
        sessions,
        settings,
        write_csv(tmp_path / "b.csv", [changed, person(7)]),
        mode="tambah",
    )
    assert count(sessions) == 4
    with sessions() as session:
        rec = RegistryRepository(session).get("kependudukan", changed["nik"])
    assert rec is not None and rec["nama_lengkap"] == "NAMA BARU"


def test_empty_and_header_only_files(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(InvalidInput) as exc:
        load(sessions, settings, tmp_path / "empty.csv")
    assert exc.value.code == "berkas_kosong"
    with pytest.raises(InvalidInput) as exc:
        load(sessions, settings, write_csv(tmp_path / "header.csv", []))
    assert exc.value.code == "berkas_tanpa_data"
