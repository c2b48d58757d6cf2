"""`simpul agreement …` through a local Typer root (the lead registers the real one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from simpul.commands.agreements import app as agreement_app
from simpul.runtime import Runtime
from tests.agreements.helpers import SEED_IDS, line_of, replace_once, seed_text, today_clock, write
from tests.conftest import build_settings

runner = CliRunner()


@pytest.fixture
def cli(tmp_path: Path) -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        rt = Runtime(build_settings(tmp_path / "data"), clock=today_clock())
        ctx.obj = rt
        ctx.call_on_close(rt.close)

    root.add_typer(agreement_app, name="agreement")
    return root


def _invoke(cli: typer.Typer, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli, ["agreement", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_seed_list_demo_show_and_govern(cli: typer.Typer) -> None:
    code, output = _invoke(cli, "load", "--seed")
    assert code == 0, output
    assert output.count("versi 1: dimuat") == 4

    code, output = _invoke(cli, "list", "--json")
    listed = json.loads(output)
    assert [a["id"] for a in listed] == list(SEED_IDS)
    assert {a["status_efektif"] for a in listed} == {"berakhir"}

    code, output = _invoke(cli, "load", "--seed", "--demo")
    assert code == 0, output
    assert output.count("adendum diterapkan") == 4 and output.count("tidak berubah") == 4

    code, output = _invoke(cli, "list")
    assert code == 0 and "berlaku" in output and "2027-12-31" in output and "(demo)" in output
    # On 2025-06-01 the Kemenkop PKS had ended (before its extension); Dukcapil's was in force.
    code, output = _invoke(cli, "list", "--json", "--pada", "2025-06-01")
    states = {a["id"]: a["status_efektif"] for a in json.loads(output)}
    assert states["pks-kemenkop-bkn"] == "berakhir" and states["pks-dukcapil-bkn"] == "berlaku"

    code, output = _invoke(cli, "show", "pks-dukcapil-bkn", "--json")
    shown = json.loads(output)
    assert shown["versi"] == 2 and shown["status_efektif"] == "berlaku"
    assert [v["versi"] for v in shown["riwayat_versi"]] == [1, 2]
    assert shown["riwayat_versi"][1]["demo"] is True
    assert shown["dokumen"]["jangka_waktu"]["berakhir"] == "2027-12-31"
    code, output = _invoke(cli, "show", "pks-dukcapil-bkn", "--version", "1", "--json")
    assert json.loads(output)["dokumen"]["jangka_waktu"]["berakhir"] == "2026-06-30"
    code, output = _invoke(cli, "show", "pks-dukcapil-bkn")
    assert code == 0 and "Hibah akses" in output and "Riwayat versi" in output

    code, output = _invoke(cli, "suspend", "pks-dukcapil-bkn", "--reason", "Audit keamanan")
    assert code == 0 and "ditangguhkan" in output
    code, output = _invoke(cli, "resume", "pks-dukcapil-bkn", "--reason", "Audit selesai")
    assert code == 0 and "berlaku" in output
    code, output = _invoke(cli, "terminate", "pks-kemenkop-bkn", "--reason", "Program selesai")
    assert code == 0 and "diakhiri" in output
    events = json.loads(_invoke(cli, "show", "pks-dukcapil-bkn", "--json")[1])["peristiwa"]
    assert [e["tindakan"] for e in events][-2:] == ["tangguhkan", "pulihkan"]
    assert events[-2]["alasan"] == "Audit keamanan"


def test_bad_file_prints_file_line_key_and_loads_nothing(cli: typer.Typer, tmp_path: Path) -> None:
    text = replace_once(seed_text("pks-kemensos-bkn"), "mekanisme: batch", "mekanisme: pos")
    path = write(tmp_path, "salah.yaml", text)
    code, output = _invoke(cli, "load", str(path))
    assert code == 2
    assert f"salah.yaml:{line_of(text, 'mekanisme: pos')} hibah[1].mekanisme:" in output
    assert json.loads(_invoke(cli, "list", "--json")[1]) == []


def test_governance_needs_a_reason(cli: typer.Typer) -> None:
    _invoke(cli, "load", "--seed")
    code, output = _invoke(cli, "suspend", "pks-dukcapil-bkn")
    assert code != 0 and "--reason" in output
