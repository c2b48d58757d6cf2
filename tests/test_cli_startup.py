"""`simpul --help` and `simpul version` start without importing the web app or the data
stack: the root loads each command group only when it runs (see `simpul.cli`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from textwrap import dedent

import pytest
import typer
from typer.testing import CliRunner

from simpul import __version__
from simpul.cli import LAZY_COMMANDS, LazyGroup, app, load_command

# What a command that needs none of them must not pay for.
HEAVY = [
    "fastapi",
    "uvicorn",
    "simpul.app",
    "simpul.portal",
    "sqlalchemy",
    "pandas",
    "duckdb",
    "splink",
    "pyspark",
    "weasyprint",
]
ROOT_COMMANDS = ["init", "version", *LAZY_COMMANDS]


def simpul(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simpul", *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "100"},
    )


def test_help_lists_every_command() -> None:
    out = simpul("--help").stdout
    for name in ROOT_COMMANDS:
        assert f" {name} " in out, name


def test_version() -> None:
    assert simpul("version").stdout.strip() == __version__


@pytest.mark.parametrize("args", [["--help"], ["version"], []])
def test_start_up_imports_nothing_heavy(args: list[str]) -> None:
    probe = dedent(
        f"""
        import json, sys
        import simpul.cli
        try:
            simpul.cli.app({args!r})
        except SystemExit:
            pass
        print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_root_table_matches_the_commands() -> None:
    """The help line `--help` shows without importing equals the command's own, and the
    loaded command is what `add_typer`/`command` would have registered."""
    for name, entry in LAZY_COMMANDS.items():
        command = load_command(name)
        assert command.name == name
        assert command.help == entry.help, name
    root = typer.main.get_command(app)
    assert isinstance(root, LazyGroup)
    ctx = typer.Context(root)
    assert root.list_commands(ctx) == ROOT_COMMANDS


def test_lazy_commands_keep_their_options() -> None:
    runner = CliRunner()
    serve = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert serve.exit_code == 0, serve.output
    for option in ("--data-dir", "--host", "--port", "--workers", "--access-log"):
        assert option in serve.output
    stats = runner.invoke(app, ["registry", "--help"], env={"COLUMNS": "200"})
    assert stats.exit_code == 0 and "stats" in stats.output
    typo = runner.invoke(app, ["registri"])
    assert typo.exit_code != 0
