"""`simpul registry …`: thin adapters over the registry service."""

from __future__ import annotations

import typer

app = typer.Typer(help="Registri (dataset) penyedia data.", no_args_is_help=True)
