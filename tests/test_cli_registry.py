"""The CLI is a thin adapter: these check the wiring a user relies on, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from simpul.cli import app
from tests.registry.builders import person, write_csv

runner = CliRunner()


def test_load_stats_issues_and_export(tmp_path: Path) -> None:
    data_dir = tmp_path / "inst"
    rows = [person(i) for i in range(5)]
    rows[2]["tanggal_lahir"] = "31-02-1990"
    src = write_csv(tmp_path / "pend.csv", rows)
    env = {"SIMPUL_DATA_DIR": str(data_dir)}
    result = runner.invoke(
        app,
        ["registry", "load", "kependudukan", str(src), "--report", str(tmp_path / "r.csv")],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "4 dimuat" in result.output
    assert "tanggal_tidak_valid" in (tmp_path / "r.csv").read_text(encoding="utf-8")
    assert (data_dir / "registry" / "kependudukan.parquet").exists()

    stats = runner.invoke(app, ["registry", "stats", "--json"], env=env)
    assert stats.exit_code == 0, stats.output
    by_code = {d["dataset"]: d for d in json.loads(stats.output)}
    assert by_code["kependudukan"]["records"] == 4
    assert by_code["kependudukan"]["snapshot_rows"] == 4
    assert by_code["asn"]["records"] == 0

    out = tmp_path / "ekspor.csv"
    exported = runner.invoke(app, ["registry", "export", "kependudukan", "-o", str(out)], env=env)
    assert exported.exit_code == 0, exported.output
    assert len(out.read_text(encoding="utf-8").splitlines()) == 5


def test_unknown_dataset_is_a_clear_error(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "x.csv", [person(0)])
    result = runner.invoke(
        app,
        ["registry", "load", "penduduk", str(src)],
        env={"SIMPUL_DATA_DIR": str(tmp_path / "d")},
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    assert getattr(result.exception, "code", None) == "dataset_tidak_dikenal"
