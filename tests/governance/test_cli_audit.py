"""The commands an outside test found silent now write their records, naming the person at
the terminal (`cli:<os user>`), and adapters reach state only through the actions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import typer
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from simpul.commands.access import account_app, device_app, institution_app
from simpul.commands.agreements import app as agreement_app
from simpul.commands.registry import app as registry_app
from simpul.config import Settings
from simpul.governance.actors import cli_actor
from simpul.runtime import Runtime
from tests.agreements.helpers import today_clock
from tests.governance.conftest import records
from tests.registry.builders import person, write_csv

runner = CliRunner()
SRC = Path(__file__).parents[2] / "src" / "simpul"


@pytest.fixture
def cli(settings: Settings) -> typer.Typer:
    root = typer.Typer(pretty_exceptions_enable=False)

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = Runtime(settings, clock=today_clock())
        ctx.call_on_close(ctx.obj.close)

    for name, sub in [("institution", institution_app), ("account", account_app),
                      ("device", device_app), ("agreement", agreement_app),
                      ("registry", registry_app)]:  # fmt: skip
        root.add_typer(sub, name=name)
    return root


def _ok(cli: typer.Typer, *args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_each_command_writes_its_record_naming_the_cli_user(
    cli: typer.Typer, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    db = sessions
    people = write_csv(tmp_path / "pend.csv", [person(i) for i in range(3)])
    steps = [
        (["institution", "load-seed"], ["instansi.muat"]),
        (["agreement", "load", "--seed", "--demo"], ["perjanjian.muat"]),
        (["account", "create", "--institution", "bappenas", "--role", "hub_admin",
          "--username", "hub.admin"], ["akun.buat"]),
        (["account", "create", "--institution", "bkn", "--role", "data_user", "--kind",
          "client", "--username", "bkn.klien", "--agreement", "pks-dukcapil-bkn"],
         ["akun.buat"]),
        (["device", "register", "--institution", "bkn", "--serial", "KTP-1", "--sam", "S-1"],
         ["perangkat.daftar"]),
        (["device", "activate", "KTP-1"], ["perangkat.aktifkan"]),
        (["registry", "load", "kependudukan", str(people)],
         ["registri.muat", "registri.snapshot"]),
        (["registry", "snapshot", "kependudukan"], ["registri.snapshot"]),
        (["agreement", "suspend", "pks-dukcapil-bkn", "--reason", "uji"],
         ["perjanjian.tangguhkan"]),
        (["account", "revoke", "bkn.klien", "--reason", "uji"], ["akun.cabut"]),
    ]  # fmt: skip
    for args, expected in steps:
        before = len(records(db))
        _ok(cli, *args)
        got = records(db)[before:]
        assert [r["action"] for r in got] == expected, args
        assert {r["actor"] for r in got} == {cli_actor()}
        assert {r["decision"] for r in got} == {"tindakan"}


def _adapters() -> list[Path]:
    # Every command module, the portal's pages, and the demo's set-up.
    names = ["portal/pages_admin.py", "demo/service.py", "obligations/reports.py"]
    return sorted((SRC / "commands").glob("[!_]*.py")) + [SRC / n for n in names]


@pytest.mark.parametrize("path", _adapters(), ids=lambda p: str(p.relative_to(SRC)))
def test_adapters_change_state_only_through_governance_actions(path: Path) -> None:
    """No adapter calls a private mutator of the access service or writes audit records
    itself: either would let a change and its record part ways again."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = [
        f"{path.name}:{node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and (node.attr.startswith("_") and not node.attr.startswith("__"))
        and isinstance(node.value, ast.Name)
        and node.value.id in {"access", "service"}
    ]
    bad += [
        f"{path.name}:{node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Name | ast.alias)
        and getattr(node, "id", getattr(node, "name", "")) == "record_in_session"
    ]
    assert not bad
