"""The CLI is a thin adapter: these check the wiring a user relies on, end to end."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from simpul.cli import app
from simpul.config import write_demo_secrets
from tests.conftest import init_instance
from tests.registry.builders import person, write_csv

runner = CliRunner()


def test_load_stats_issues_and_export(tmp_path: Path) -> None:
    data_dir = tmp_path / "inst"
    rows = [person(i) for i in range(5)]
    rows[2]["tanggal_lahir"] = "31-02-1990"
    src = write_csv(tmp_path / "pend.csv", rows)
    env = {"SIMPUL_DATA_DIR": str(data_dir)}
    write_demo_secrets(data_dir)  # load, snapshot and export are audited: the log needs its key
    init_instance(env)
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

    # Export is on behalf of the provider's administrator (Dukcapil provides kependudukan).
    assert runner.invoke(app, ["institution", "load-seed"], env=env).exit_code == 0
    created = runner.invoke(
        app,
        ["account", "create", "--institution", "dukcapil", "--role", "provider_admin",
         "--username", "dukcapil.admin"],
        env=env,
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    out = tmp_path / "ekspor.csv"
    exported = runner.invoke(
        app, ["registry", "export", "kependudukan", "-o", str(out), "--akun", "dukcapil.admin"],
        env=env,
    )  # fmt: skip
    assert exported.exit_code == 0, exported.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# Sumber: Direktorat Jenderal Kependudukan") and len(lines) == 6
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_unknown_dataset_is_a_clear_error(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "x.csv", [person(0)])
    env = {"SIMPUL_DATA_DIR": str(tmp_path / "d")}
    write_demo_secrets(tmp_path / "d")
    init_instance(env)
    result = runner.invoke(app, ["registry", "load", "penduduk", str(src)], env=env)
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    assert getattr(result.exception, "code", None) == "dataset_tidak_dikenal"
