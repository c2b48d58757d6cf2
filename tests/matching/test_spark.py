"""The Spark pipeline gives the in-process engine's results, row for row, in Spark local
mode (two cores, loopback, no UI, nothing downloaded). Joins are forced to shuffle
(no automatic broadcast), so the registry and the list are partitioned on NIK and on
birth-date blocks as they would be with a registry too large to broadcast."""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from simpul.matching.engine import (
    COCOK,
    COCOK_ELEMEN_BERBEDA,
    KEMUNGKINAN_COCOK,
    TIDAK_DITEMUKAN,
    MatchOptions,
    MatchResult,
    Query,
    RegistryIndex,
    match,
)
from simpul.matching.normalize import nik_edits, swapped_day_month
from simpul.matching.spark import _numbered, ensure_java_home, match_spark, session
from simpul.registry.synth import generate_world, sample_list
from tests.matching.lists import read_list

# Both SparkSession users in one xdist worker (`--dist loadgroup`): one JVM, started once.
# (With pytest 9.2 / xdist 3.8 the grouping is ignored, pytest-xdist#1386: a worker that
# gets a test here then starts its own local JVM, which works, only slower.)
pytestmark = pytest.mark.xdist_group("spark")

COLUMNS = ["nik", "nama_lengkap", "tanggal_lahir", "jenis_kelamin", "alamat", "rt", "rw"]


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    spark = session(
        "local[2]",
        {"spark.sql.shuffle.partitions": "2", "spark.sql.autoBroadcastJoinThreshold": "-1"},
    )
    yield spark
    spark.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("world")
    generate_world(4_000, 7, folder)
    return folder


@pytest.fixture(scope="module")
def table(world: Path) -> pa.Table:
    return pq.read_table(world / "kependudukan.parquet", columns=COLUMNS)


def _assert_same(got: MatchResult, want: MatchResult) -> None:
    assert got.status == want.status
    assert got.registry_index.tolist() == want.registry_index.tolist()
    assert got.probability == want.probability
    assert got.differing == want.differing
    assert got.method == want.method
    assert got.weights == want.weights
    assert got.blocking == want.blocking  # the same candidates, pass by pass
    assert got.candidates == want.candidates  # and the same ones shown to a reviewer


def test_java_home_is_found_from_the_java_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    ensure_java_home()
    assert (Path(os.environ["JAVA_HOME"]) / "bin" / "java").exists()


def test_a_noisy_list_matches_as_in_process(
    spark: SparkSession, world: Path, table: pa.Table
) -> None:
    listing = world / "bpum.csv"
    truth = sample_list("bpum", 700, 3, world, listing)
    with truth.open(encoding="utf-8", newline="") as fh:
        noise = Counter(n for r in csv.DictReader(fh) for n in r["noise"].split(";") if n)
    # The noises this test is about are in the list.
    for kind in ("nik_salah_digit", "nik_tertukar", "nik_hilang", "tanggal_tertukar"):
        assert noise[kind] >= 3, noise
    q = read_list(listing)
    # An acceptance threshold of 1: every probable match waits for review, so the
    # statuses below show each stage's path.
    opts = MatchOptions(accept=1.0)
    want = match(RegistryIndex(table), q, opts)
    got = match_spark(spark, table, q, opts)
    _assert_same(got, want)
    # Every path of the pipeline was taken, so the equality above covers them all.
    assert {COCOK, COCOK_ELEMEN_BERBEDA, KEMUNGKINAN_COCOK, TIDAK_DITEMUKAN} == set(got.status)
    assert {"nik", "perbaikan_nik", "probabilistik"} <= set(got.method)
    assert "tanggal_lahir" in {d for diff in got.differing for d in diff}


def test_sex_missing_dates_slips_and_duplicate_niks_match_as_in_process(
    spark: SparkSession, table: pa.Table, tmp_path: Path
) -> None:
    # A second record with the NIK of record 5: the last record of a NIK is the one found.
    dup = table.slice(5, 1).to_pylist()[0] | {"nama_lengkap": "ZAINAB BINTI YUSUF"}
    registry = pa.concat_tables([table, pa.Table.from_pylist([dup], schema=table.schema)])
    people = registry.to_pylist()
    names = Counter(p["nama_lengkap"] for p in people)
    rare = next(i for i, p in enumerate(people) if names[p["nama_lengkap"]] == 1)
    rare_address = f"{people[rare]['alamat']} RT {people[rare]['rt']}/RW {people[rare]['rw']}"
    shared = next(i for i, p in enumerate(people) if names[p["nama_lengkap"]] >= 3)
    swap = next(
        i for i, p in enumerate(people)
        if p["tanggal_lahir"] and swapped_day_month(p["tanggal_lahir"]) and i != rare
    )  # fmt: skip
    mistyped = next(c for c, how in nik_edits(people[7]["nik"]) if how == "salah_digit")
    other_sex = "P" if people[0]["jenis_kelamin"].startswith("L") else "L"

    def row(i: int, **given: Any) -> dict[str, Any]:
        p = people[i]
        out = {"nik": p["nik"], "nama": p["nama_lengkap"], "born": p["tanggal_lahir"],
               "sex": p["jenis_kelamin"], "alamat": p["alamat"]}  # fmt: skip
        return out | given

    rows = [
        row(0, sex=other_sex),  # NIK found, sex differs
        row(len(people) - 1),  # the duplicated NIK
        row(rare, nik="", born=None, alamat=rare_address),  # no NIK or date: closest names
        row(shared, nik="", born=None, alamat=""),
        row(1, nama="ZZYZX QWERTY", born=date(1901, 1, 1)),  # a slip onto someone else
        row(7, nik=mistyped),  # one digit wrong
        row(swap, nik="", born=swapped_day_month(people[swap]["tanggal_lahir"])),
        row(9, nik="", nama="", born=None),  # nothing to go on
    ]
    q = Query(
        nik=[str(r["nik"]) for r in rows],
        nama=[str(r["nama"]) for r in rows],
        tanggal_lahir=[r["born"] for r in rows],
        jenis_kelamin=[str(r["sex"]) for r in rows],
        alamat=[str(r["alamat"]) for r in rows],
    )
    want = match(RegistryIndex(registry), q)
    # The registry as a cluster job reads it: a Parquet file, numbered by Spark.
    pq.write_table(registry, tmp_path / "registry.parquet")
    got = match_spark(spark, spark.read.parquet(str(tmp_path / "registry.parquet")), q)
    _assert_same(got, want)
    assert got.status[0] == COCOK_ELEMEN_BERBEDA and got.differing[0] == ("jenis_kelamin",)
    assert int(got.registry_index[1]) == len(people) - 1
    assert got.status[2] in (COCOK, KEMUNGKINAN_COCOK) and int(got.registry_index[2]) == rare
    assert got.status[4] == TIDAK_DITEMUKAN
    assert got.method[5] == "perbaikan_nik" and int(got.registry_index[5]) == 7
    assert got.method[6] == "probabilistik" and int(got.registry_index[6]) == swap
    assert got.status[7] == TIDAK_DITEMUKAN and got.probability[7] is None


def test_a_list_settled_by_its_niks_alone_needs_no_model(
    spark: SparkSession, table: pa.Table
) -> None:
    people = table.slice(0, 20).to_pylist()
    q = Query(
        nik=[p["nik"] for p in people],
        nama=[p["nama_lengkap"] for p in people],
        tanggal_lahir=[p["tanggal_lahir"] for p in people],
    )
    got = match_spark(spark, table, q)
    _assert_same(got, match(RegistryIndex(table), q))
    assert got.status == [COCOK] * 20 and got.weights == {}


def test_the_local_session_is_loopback_only_without_a_ui(spark: SparkSession) -> None:
    conf = spark.sparkContext.getConf()
    assert spark.sparkContext.master == "local[2]"
    assert conf.get("spark.driver.host") == conf.get("spark.driver.bindAddress") == "127.0.0.1"
    assert conf.get("spark.ui.enabled") == "false"
    assert spark.sparkContext.uiWebUrl is None


def test_a_registry_frame_without_positions_is_numbered_in_its_order(
    spark: SparkSession,
) -> None:
    frame = spark.range(0, 1_000, numPartitions=4).withColumnRenamed("id", "want")
    got = _numbered(frame).toArrow()
    assert got.column("_idx").to_pylist() == got.column("want").to_pylist()
    assert sorted(got.column("_idx").to_pylist()) == list(range(1_000))
