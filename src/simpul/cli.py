"""The `simpul` command. Each capability adds its own sub-commands (thin adapters)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from simpul import __version__
from simpul.config import load_settings
from simpul.demo import cli as demo_cli
from simpul.errors import SimpulError
from simpul.kit.masking import mask_niks_in_text
from simpul.runtime import Runtime, runtime

app = typer.Typer(
    name="simpul",
    help="Simpul — berbagi data antarinstansi sesuai Perjanjian Kerja Sama (PKS).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)

# (command name, module, Typer app attribute): each capability owns its sub-commands.
SUBCOMMANDS = [
    ("registry", "simpul.registry.cli", "app"),
    ("agreement", "simpul.agreements.cli", "app"),
    ("institution", "simpul.access.cli", "institution_app"),
    ("account", "simpul.access.cli", "account_app"),
    ("device", "simpul.access.cli", "device_app"),
    ("audit", "simpul.audit.cli", "app"),
    ("match", "simpul.pemadanan.cli", "match_app"),
    ("pemadanan", "simpul.pemadanan.cli", "app"),
    ("face", "simpul.face.cli", "app"),
    ("obligations", "simpul.obligations.cli", "app"),
    ("regsosek", "simpul.disclosure.cli", "app"),
]


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", envvar="SIMPUL_DATA_DIR", help="Folder data instans."),
    ] = None,
) -> None:
    """Pengaturan dibaca dari variabel SIMPUL_* dan DATA_DIR/simpul.env."""
    ctx.obj = Runtime(load_settings(data_dir))
    ctx.call_on_close(ctx.obj.close)


@app.command()
def init(ctx: typer.Context) -> None:
    """Buat atau perbarui skema basis data (migrasi Alembic)."""
    rt = runtime(ctx)
    rt.migrate()
    err.print(f"Skema basis data mutakhir: {rt.settings.effective_database_url.split('://')[0]}")


@app.command()
def version() -> None:
    """Tampilkan versi Simpul."""
    typer.echo(__version__)


app.command("demo")(demo_cli.demo)
app.command("serve")(demo_cli.serve)

for _name, _module, _attr in SUBCOMMANDS:
    app.add_typer(getattr(importlib.import_module(_module), _attr), name=_name)


def main() -> None:
    """Console entry point: a SimpulError becomes a clear message and exit code 2."""
    try:
        app()
    except SimpulError as exc:
        err.print(f"[red]Galat[/red] [{exc.code}] {mask_niks_in_text(exc.detail)}")
        raise SystemExit(2) from None
