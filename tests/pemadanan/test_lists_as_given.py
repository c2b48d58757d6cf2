"""Issue 20: lists and registries nobody here generated. A lower-case registry loads (with a
warning) and still matches mixed-case lists; rows without a birth date are matched by NIK
or by name and region; every row comes back, in order, with the list's own columns; the
job's BPUM feedback file is accepted as the agreement's feedback upload as it is."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pydantic
import pytest
from typer.testing import CliRunner

from simpul.agreements.loader import read_documents, seed_dir
from simpul.agreements.schemas import MatchThresholds
from simpul.cli import app
from simpul.matching.evaluate import read_truth
from simpul.matching.normalize import name_key, nik_edits
from simpul.pemadanan.repository import JobRepository
from simpul.pemadanan.schemas import OptionsIn
from simpul.pemadanan.service import thresholds
from simpul.registry import service as registry
from simpul.registry.synth import sample_list

from .conftest import Env
from .test_cli import _env

KEMENKOP = "kemenkop.operator"  # PKS 004: BPUM candidates screened against ASN


def _csv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    first, _, rest = text.partition("\n")
    assert first.startswith("# Sumber: "), first
    reader = csv.DictReader(io.StringIO(rest))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def _linked(env: Env, job_id: str) -> dict[int, str | None]:
    with env.rt.transaction() as s:
        _, rows = JobRepository(s).results(job_id, limit=None)
        return {r.line: r.nik_cocok for r in rows}


def _asn(env: Env) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(env.world / "asn.parquet").to_pylist()
    return rows


def test_a_lower_case_registry_loads_with_a_warning_and_mixed_case_lists_match(
    env: Env, tmp_path: Path
) -> None:
    table = pq.read_table(env.world / "asn.parquet")
    lower = table.set_column(
        table.schema.get_field_index("nama_lengkap"), "nama_lengkap",
        pc.utf8_lower(table.column("nama_lengkap")),
    )  # fmt: skip
    source = tmp_path / "asn-huruf-kecil.parquet"
    pq.write_table(lower, source)
    result = CliRunner().invoke(app, ["registry", "load", "asn", str(source)], env=_env(env))
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "tidak ditulis dengan huruf kapital seperti data SIAK" in flat
    assert f"{table.num_rows:,} dari {table.num_rows:,} nama".replace(",", ".") in flat
    # The registry side is normalised once, at the snapshot: the keys are stored.
    keys = pq.read_table(registry.name_keys_path(env.settings, "asn"))
    snap = pq.read_table(registry.snapshot_path(env.settings, "asn"), columns=["nama_lengkap"])
    assert keys.num_rows == snap.num_rows == table.num_rows
    assert keys.column("nama_kunci").to_pylist() == [
        name_key(n) for n in snap.column("nama_lengkap").to_pylist()
    ]

    listing = tmp_path / "bpum.csv"
    truth_file = sample_list("bpum", 400, 3, env.world, listing)
    truth, _ = read_truth(truth_file)
    with listing.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for k, row in enumerate(rows):  # mixed case: Title Case and lower case, alternately
        row["NAMA"] = row["NAMA"].title() if k % 2 else row["NAMA"].lower()
    mixed = tmp_path / "bpum-campuran.csv"
    with mixed.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    job_id = env.submit(KEMENKOP, mixed, alur="bpum").json()["id"]
    assert env.wait(KEMENKOP, job_id)["status"] == "selesai"
    asn_niks = set(table.column("nik").to_pylist())
    linked = _linked(env, job_id)
    found = [line for line, nik in linked.items() if nik]
    assert all(linked[line] == truth[line - 2] for line in found)  # no false match
    wanted = [k + 2 for k, t in enumerate(truth) if t in asn_niks]
    assert len(found) >= 0.97 * len(wanted)
    # Rows found only through their names (no usable NIK) are among them.
    with env.rt.transaction() as s:
        methods = Counter(r.method for r in JobRepository(s).results(job_id, limit=None)[1])
    assert methods["probabilistik"] + methods["perbaikan_nik"] > 0


def _person_unique_by_name_and_region(people: list[dict[str, Any]]) -> dict[str, Any]:
    seen = Counter((name_key(p["nama_lengkap"]), p["nik"][:4]) for p in people)
    names = Counter(name_key(p["nama_lengkap"]) for p in people)
    return next(
        p for p in people
        if seen[(name_key(p["nama_lengkap"]), p["nik"][:4])] == 1
        and names[name_key(p["nama_lengkap"])] > 1  # the name alone is not enough
    )  # fmt: skip


def test_every_row_comes_back_in_order_with_its_own_columns(env: Env, tmp_path: Path) -> None:
    people = _asn(env)
    by_region = _person_unique_by_name_and_region(people)
    a, b, c = people[10], people[11], people[12]
    names = Counter(name_key(p["nama_lengkap"]) for p in people)
    rare = next(p for p in people if names[name_key(p["nama_lengkap"])] == 1 and " " in
                p["nama_lengkap"])  # fmt: skip
    slip = next(n for n, how in nik_edits(c["nik"]) if how == "tertukar")
    header = ["ref", "NIK", "NAMA", "TANGGAL_LAHIR", "KODE_WILAYAH", "status", "Baris"]
    lines = [
        ",".join(header),
        f"R-1,{a['nik']},{a['nama_lengkap'].title()},{a['tanggal_lahir']:%d-%m-%Y},,aktif,x1",
        f"R-2,{b['nik']},{b['nama_lengkap']},,,aktif,x2",  # NIK, no birth date
        f"R-3,{slip},{c['nama_lengkap']},,,aktif,x3",  # two digits swapped, no birth date
        f"R-4,,{by_region['nama_lengkap'].lower()},,{by_region['nik'][:6]}0001,baru,x4",
        "R-5,,,01-01-1980,,baru,x5",  # neither NIK nor name: too little to match on
        'R-6,,"BUDI SANTOSO,,,baru,x6',  # an unclosed quote
        f"R-7,{a['nik']},{a['nama_lengkap']},{a['tanggal_lahir']:%d-%m-%Y},,ulang,x7",
        f"R-8,,{rare['nama_lengkap']},,,baru,x8",  # a rare name and nothing else
    ]
    listing = tmp_path / "daftar.csv"
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    resp = env.submit(KEMENKOP, listing, alur="bpum")
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]
    state = env.wait(KEMENKOP, job_id)
    assert state["status"] == "selesai", state
    assert state["jumlah"]["data_tidak_cukup"] == 1 and state["jumlah"]["tidak_valid"] == 1
    assert state["blok"]["nama_wilayah"] >= 1  # the pass that found R-4
    h = env.basic(KEMENKOP)
    names, rows = _csv(env.client.get(f"/api/v1/pemadanan/{job_id}/hasil.csv", headers=h).text)
    # The list's columns first, as uploaded; result columns named like them kept apart.
    assert names[: len(header)] == header
    assert names[len(header) : len(header) + 3] == ["baris_simpul", "status_simpul", "alasan"]
    assert [r["ref"] for r in rows] == ["R-1", "R-2", "R-3", "R-4", "R-5", "", "R-7", "R-8"]
    assert [r["Baris"] for r in rows] == ["x1", "x2", "x3", "x4", "x5", "", "x7", "x8"]
    assert [int(r["baris_simpul"]) for r in rows] == [2, 3, 4, 5, 6, 7, 8, 9]
    assert rows[0]["NAMA"] == a["nama_lengkap"].title()  # the list's own spelling
    got = {r["ref"] or r["baris_simpul"]: r for r in rows}
    assert got["R-1"]["status_simpul"] == "cocok" and got["R-1"]["hasil"] == "ASN"
    assert got["R-2"]["status_simpul"] == "cocok" and got["R-2"]["hasil"] == "ASN"
    assert got["R-3"]["metode"] == "perbaikan_nik"
    assert got["R-4"]["metode"] == "probabilistik"
    assert got["R-5"]["status_simpul"] == "data_tidak_cukup"
    assert "nama lengkap" in got["R-5"]["alasan"]
    # A name alone is never accepted without review, however rare.
    assert got["R-8"]["status_simpul"] == "kemungkinan_cocok", got["R-8"]
    assert got["7"]["status_simpul"] == "tidak_valid" and got["7"]["alasan"]
    linked = _linked(env, job_id)
    assert [linked[line] for line in (2, 3, 4, 5, 9)] == [
        a["nik"], b["nik"], c["nik"], by_region["nik"], rare["nik"]
    ]  # fmt: skip
    # Per-row errors are listed with their line numbers too.
    issues = env.client.get(f"/api/v1/pemadanan/{job_id}/galat", headers=h).json()
    assert {(i["baris"], i["kode"]) for i in issues if i["tingkat"] == "galat"} == {
        (6, "data_tidak_cukup"), (7, "kutip_tidak_seimbang")
    }  # fmt: skip


def test_the_jobs_own_bpum_feedback_file_is_accepted_as_it_is(env: Env, tmp_path: Path) -> None:
    listing = tmp_path / "bpum.csv"
    sample_list("bpum", 300, 5, env.world, listing)
    job_id = env.submit(KEMENKOP, listing, alur="bpum").json()["id"]
    assert env.wait(KEMENKOP, job_id)["status"] == "selesai"
    h = env.basic(KEMENKOP)
    balikan = env.client.get(f"/api/v1/pemadanan/{job_id}/daftar/balikan.csv", headers=h)
    assert balikan.status_code == 200
    _names, rows = _csv(balikan.text)
    assert rows
    up = env.client.post(
        "/api/v1/perjanjian/pks-kemenkop-bkn/data-balikan",
        content=balikan.content,
        headers={**h, "Content-Type": "text/csv"},
        params={"kewajiban": "data-balikan-asn", "nama_berkas": "balikan.csv"},
    )
    assert up.status_code == 200, up.text
    got = up.json()
    assert got["jumlah_baris"] == len(rows)
    # Every row whose NIK the list gave right is the ASN accessed: accepted. A row found
    # through a mended NIK carries the list's own NIK, which was not accessed.
    by_nik = sum(1 for r in rows if r["metode"] == "nik")
    assert got["diterima"] >= by_nik > 0
    # The rest: rows the list gave no NIK for, or a mended one.
    assert {g["kode"] for g in got["galat"]} <= {"tidak_terutang", "nik_kosong",
                                                  "duplikat_dalam_berkas"}  # fmt: skip


def test_thresholds_come_from_the_grant_and_can_only_be_raised() -> None:
    agreements, _ = read_documents([seed_dir()])
    doc = next(a.document for a in agreements if a.document.id == "pks-kemensos-bkn")
    grant = doc.grants[0]
    assert grant.match_thresholds is None  # the seed sets none: the defaults
    assert thresholds(grant, OptionsIn()) == {"ambang": 0.5, "ambang_terima": 0.95}
    strict = grant.model_copy(
        update={"match_thresholds": MatchThresholds.model_validate({"terima": 0.99, "tinjau": 0.7})}
    )
    assert thresholds(strict, OptionsIn()) == {"ambang": 0.7, "ambang_terima": 0.99}
    # The submitter may review more, never less.
    assert thresholds(strict, OptionsIn(ambang=0.3, ambang_terima=0.9)) == {
        "ambang": 0.7, "ambang_terima": 0.99
    }  # fmt: skip
    assert thresholds(strict, OptionsIn(ambang=0.8, ambang_terima=1.0)) == {
        "ambang": 0.8, "ambang_terima": 1.0
    }  # fmt: skip
    with pytest.raises(pydantic.ValidationError):
        MatchThresholds.model_validate({"terima": 0.6, "tinjau": 0.8})
