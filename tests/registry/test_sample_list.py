"""Recipient lists with real-world noise, and truth files that say exactly what was done."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from simpul.matching.normalize import name_key
from simpul.registry.synth import generate_world, sample_list, truth_path

PEOPLE = 20_000
SIZE = 800
FORMATS = ("%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d")
NIK_NOISE = {"nik_hilang", "nik_salah_digit", "nik_tertukar"}
NAME_NOISE = {
    "gelar",
    "ejaan_lama",
    "varian_muhammad",
    "salah_ketik",
    "huruf_kecil",
    "huruf_campur",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("world")
    generate_world(PEOPLE, 21, folder)
    return folder


@pytest.fixture(scope="module")
def registry(world: Path) -> dict[str, Any]:
    people = {r["nik"]: r for r in pq.read_table(world / "kependudukan.parquet").to_pylist()}
    asn = set(pq.read_table(world / "asn.parquet", columns=["nik"]).column("nik").to_pylist())
    dtks = set(pq.read_table(world / "dtks.parquet", columns=["nik"]).column("nik").to_pylist())
    return {"people": people, "asn": asn, "dtks": dtks}


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def parse_date(text: str) -> date:
    for fmt in FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise AssertionError(f"unparseable date {text!r}")


@pytest.fixture(scope="module", params=["bpum", "kpm"])
def made(
    request: pytest.FixtureRequest, world: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    kind = str(request.param)
    out = tmp_path_factory.mktemp(kind) / f"daftar_{kind}.csv"
    truth = sample_list(kind, SIZE, 7, world, out)
    header, rows = read(out)
    _, truths = read(truth)
    return {
        "kind": kind,
        "out": out,
        "truth": truth,
        "header": header,
        "rows": rows,
        "truths": truths,
    }


def test_files_header_and_row_numbers(made: dict[str, Any]) -> None:
    assert made["truth"] == truth_path(made["out"])
    assert made["truth"].name == f"daftar_{made['kind']}.truth.csv"
    expected = {
        "bpum": ["NIK", "NAMA", "TANGGAL_LAHIR", "NO_HP", "ALAMAT"],
        "kpm": ["NO_KK", "NIK", "NAMA_LENGKAP", "TGL_LAHIR", "ALAMAT", "KODE_WILAYAH"],
    }[made["kind"]]
    assert made["header"] == expected
    assert len(made["rows"]) == len(made["truths"]) == SIZE
    assert [int(t["row"]) for t in made["truths"]] == list(range(1, SIZE + 1))
    assert read(made["truth"])[0] == ["row", "nik_benar", "is_asn", "noise"]


def test_noise_is_applied_as_claimed(made: dict[str, Any], registry: dict[str, Any]) -> None:
    people = registry["people"]
    name_col = "NAMA" if made["kind"] == "bpum" else "NAMA_LENGKAP"
    date_col = "TANGGAL_LAHIR" if made["kind"] == "bpum" else "TGL_LAHIR"
    seen: set[str] = set()
    formats: set[str] = set()
    for row, truth in zip(made["rows"], made["truths"], strict=True):
        noise = set(filter(None, truth["noise"].split(";")))
        seen |= noise
        assert len(noise & NIK_NOISE) <= 1
        nik, true_nik = row["NIK"], truth["nik_benar"]
        if "tidak_terdaftar" in noise:
            assert true_nik == "" and truth["is_asn"] == "0"
            assert nik not in people
            continue
        person = people[true_nik]  # a non-empty truth NIK is a real person
        assert truth["is_asn"] == str(int(true_nik in registry["asn"]))
        if "nik_hilang" in noise:
            assert nik == ""
        elif "nik_salah_digit" in noise:
            diff = [i for i in range(16) if nik[i] != true_nik[i]]
            assert len(nik) == 16 and len(diff) == 1 and nik not in people
        elif "nik_tertukar" in noise:
            diff = [i for i in range(16) if nik[i] != true_nik[i]]
            assert len(diff) == 2 and diff[1] == diff[0] + 1
            assert nik[diff[0]] == true_nik[diff[1]] and nik[diff[1]] == true_nik[diff[0]]
        else:
            assert nik == true_nik
        born = parse_date(row[date_col])
        formats.add(next(f for f in FORMATS if _fits(row[date_col], f)))
        truth_born = person["tanggal_lahir"]
        if "tanggal_tertukar" in noise:
            assert (
                (born.day, born.month)
                == (truth_born.month, truth_born.day)
                != (
                    born.month,
                    born.day,
                )
            )
        else:
            assert born == truth_born
        name = row[name_col]
        if not noise & NAME_NOISE:
            assert name == person["nama_lengkap"]
        elif noise & NAME_NOISE == {"huruf_kecil"}:
            assert name == person["nama_lengkap"].lower()
        elif noise & NAME_NOISE <= {"gelar", "varian_muhammad", "huruf_kecil", "huruf_campur"}:
            # What the matcher's normaliser is built to undo, it undoes.
            assert name_key(name) == name_key(person["nama_lengkap"])
        if "gelar" in noise:
            assert name.upper() != person["nama_lengkap"].upper()
        if made["kind"] == "kpm":
            assert row["KODE_WILAYAH"] == person["kode_wilayah"]
            assert row["NO_KK"] == person["no_kk"]
    for expected in ("gelar", "salah_ketik", "nik_hilang", "nik_salah_digit", "nik_tertukar",
                     "tanggal_tertukar", "tidak_terdaftar", "duplikat", "ejaan_lama"):  # fmt: skip
        assert expected in seen, expected
    assert formats == set(FORMATS)


def _fits(text: str, fmt: str) -> bool:
    try:
        datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


def test_duplicates_repeat_an_earlier_row(made: dict[str, Any]) -> None:
    earlier: list[dict[str, str]] = []
    dups = 0
    for row, truth in zip(made["rows"], made["truths"], strict=True):
        if "duplikat" in truth["noise"].split(";"):
            assert row in earlier
            dups += 1
        earlier.append(row)
    assert 0 < dups < SIZE * 0.03


def test_who_is_on_each_list(made: dict[str, Any], registry: dict[str, Any]) -> None:
    truths = made["truths"]
    known = [t for t in truths if t["nik_benar"]]
    asn_share = sum(t["is_asn"] == "1" for t in truths) / len(truths)
    unknown = len(truths) - len(known)
    assert 0 < unknown < SIZE * 0.05
    if made["kind"] == "bpum":
        assert 0.05 <= asn_share <= 0.1
        for t in known:
            born = registry["people"][t["nik_benar"]]["tanggal_lahir"]
            assert 17 <= (date(2025, 12, 31) - born).days / 365.2425 <= 66
    else:
        assert 0.01 <= asn_share <= 0.06
        in_dtks = sum(t["nik_benar"] in registry["dtks"] for t in known) / len(known)
        assert in_dtks > 0.8
        planted = [t for t in known if t["is_asn"] == "1"]
        assert any(t["nik_benar"] in registry["dtks"] for t in planted)


def test_same_seed_same_list_and_unknown_kind_refused(world: Path, tmp_path: Path) -> None:
    a = sample_list("bpum", 200, 3, world, tmp_path / "a.csv")
    b = sample_list("bpum", 200, 3, world, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert a.read_bytes() == b.read_bytes()
    sample_list("bpum", 200, 4, world, tmp_path / "c.csv")
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()
    with pytest.raises(ValueError, match="tidak dikenal"):
        sample_list("bansos", 10, 1, world, tmp_path / "d.csv")
