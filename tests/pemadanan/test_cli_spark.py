"""`simpul match --engine spark`: the same list through the CLI on Spark (local mode)
writes the same results file as the in-process engine."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from simpul.cli import app
from simpul.pemadanan.models import MatchJob
from simpul.registry.synth import sample_list

from .conftest import Env
from .test_cli import _env

# With tests/matching/test_spark.py in one xdist worker (`--dist loadgroup`): one JVM.
pytestmark = pytest.mark.xdist_group("spark")


@pytest.mark.parametrize("backend", ["sqlite"])  # the engine, not the database, is under test
def test_match_on_spark_writes_what_the_in_process_engine_writes(env: Env, tmp_path: Path) -> None:
    listing = tmp_path / "bpum.csv"
    sample_list("bpum", 600, 6, env.world, listing)
    written: dict[str, list[dict[str, str]]] = {}
    for engine in ("proses", "spark"):
        out = tmp_path / f"hasil-{engine}.csv"
        result = CliRunner().invoke(
            app,
            ["match", "--dataset", "asn", "--alur", "bpum", "--input", str(listing), "--output",
             str(out), "--akun", "kemenkop.operator", "--engine", engine,
             "--spark-master", "local[2]", "--spark-conf", "spark.sql.shuffle.partitions=4",
             "--ambang-terima", "1"],  # every probable match waits for review
            env=_env(env),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert ("Spark: master local[2]" in result.output) == (engine == "spark")
        with out.open(encoding="utf-8", newline="") as fh:
            assert fh.readline().startswith("# Sumber: ")  # PKS 000 Pasal 7(2)
            written[engine] = list(csv.DictReader(fh))
    assert written["spark"] == written["proses"]
    statuses = {r["status"] for r in written["spark"]}
    assert {"cocok", "kemungkinan_cocok", "tidak_ditemukan"} <= statuses, statuses


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_malformed_spark_setting_is_refused_before_any_job(env: Env, tmp_path: Path) -> None:
    listing = tmp_path / "bpum.csv"
    sample_list("bpum", 20, 1, env.world, listing)
    result = CliRunner().invoke(
        app,
        ["match", "--dataset", "asn", "--alur", "bpum", "--input", str(listing), "--output",
         str(tmp_path / "hasil.csv"), "--akun", "kemenkop.operator", "--engine", "spark",
         "--spark-conf", "spark.driver.memory"],
        env=_env(env),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "KUNCI=NILAI" in result.output
    assert not (tmp_path / "hasil.csv").exists()
    with env.rt.transaction() as s:
        assert s.scalar(select(func.count()).select_from(MatchJob)) == 0
