"""`simpul regsosek …` through a local Typer root over the same test world as the API."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from simpul.audit.models import AuditRecord
from simpul.commands.disclosure import app as regsosek_app
from tests.disclosure.conftest import Env

runner = CliRunner()


def _cli(env: Env) -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = env.rt

    root.add_typer(regsosek_app, name="regsosek")
    return root


def _invoke(env: Env, *args: str) -> tuple[int, str]:
    result = runner.invoke(_cli(env), ["regsosek", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_cli_tiers_and_settings(env: Env, tmp_path: Path) -> None:
    code, out = _invoke(env, "aturan", "pks-bappenas-jabar", "--setel", "ambang=20",
                        "--setel", "pembulatan=5", "--alasan", "kebijakan penyedia",
                        "--oleh", "bappenas.admin")  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["ambang"] == 20
    table = tmp_path / "tabel.csv"
    code, out = _invoke(env, "agregat", "--akun", "pemprov-jabar.pengguna", "--dimensi",
                        "wilayah,jenis_kelamin", "--keluaran", str(table))  # fmt: skip
    assert code == 0, out
    with table.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][0].startswith("# Sumber: Data Registrasi Sosial Ekonomi")  # first line
    assert "Pasal 7 ayat (2)" in ",".join(rows[0])
    assert table.stat().st_mode & 0o777 == 0o600
    at = rows[1].index("jumlah")
    counts = [r[at] for r in rows[2:]]
    assert counts and all(c == "" or int(c) % 5 == 0 for c in counts)  # rounding applies
    extract = tmp_path / "mikro.parquet"
    code, out = _invoke(env, "mikro", "--akun", "pemprov-jabar.pengguna", "--keluaran",
                        str(extract))  # fmt: skip
    assert code == 0, out
    assert pq.read_table(extract).num_rows > 0
    report = json.loads(extract.with_suffix(".risiko.json").read_text(encoding="utf-8"))
    assert report["k_anonimitas"] == 5
    code, out = _invoke(env, "olah", "--akun", "pemprov-jabar.pengguna", "--sql",
                        "SELECT kode_wilayah, count(*) AS n FROM regsosek GROUP BY 1")  # fmt: skip
    assert code == 0 and "menunggu_tinjauan" in out
    code, out = _invoke(env, "tinjauan", "--akun", "bappenas.admin")
    assert code == 0 and "ambang" in out
    with env.rt.transaction() as s:
        acts = list(s.scalars(select(AuditRecord).where(AuditRecord.action == "disklosur.atur")))
    assert len(acts) == 1 and acts[0].actor == "bappenas.admin"
