"""`simpul demo` and `simpul serve`."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from simpul.app import create_app
from simpul.config import load_settings, write_demo_secrets
from simpul.demo.service import build_world, howto
from simpul.runtime import Runtime, runtime


def demo(
    ctx: typer.Context,
    people: Annotated[int, typer.Option(min=100, help="Jumlah penduduk sintetis.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Benih acak.")] = 42,
    data_dir: Annotated[Path | None, typer.Option("--data-dir")] = None,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Bangun saja, jangan layani.")
    ] = False,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Hapus dan bangun ulang dunia demo.")
    ] = False,
) -> None:
    """Bangun dunia demo (registri sintetis, instansi, PKS, akun) lalu layani API."""
    folder = data_dir or runtime(ctx).settings.data_dir
    creds = folder / "demo-credentials.json"
    if creds.exists() and not fresh:
        typer.echo(f"Dunia demo sudah ada di {folder} (pakai --fresh untuk membangun ulang).")
    else:
        if fresh and folder.exists():
            shutil.rmtree(folder)
        write_demo_secrets(folder)
        rt = Runtime(load_settings(folder))
        try:
            build_world(rt, people, seed, say=typer.echo)
        finally:
            rt.close()
        typer.echo(f"Dunia demo siap di {folder}. Kredensial: {creds} (mode 0600).")
    typer.echo(howto(folder, host, port))
    if not no_serve:
        _serve(folder, host, port, workers=1)


def serve(
    ctx: typer.Context,
    data_dir: Annotated[Path | None, typer.Option("--data-dir")] = None,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Layani instans yang sudah ada (API dan portal)."""
    folder = data_dir or runtime(ctx).settings.data_dir
    _serve(folder, host, port, workers)


def _serve(folder: Path, host: str, port: int, workers: int) -> None:
    typer.echo(f"Melayani di http://{host}:{port}/ (dokumentasi API: /docs)")
    if workers == 1:
        uvicorn.run(create_app(load_settings(folder)), host=host, port=port, log_level="info")
        return
    # Several processes: each builds its own app from the same data dir.
    import os

    os.environ["SIMPUL_DATA_DIR"] = str(folder)
    uvicorn.run("simpul.demo.cli:app_from_env", factory=True, host=host, port=port, workers=workers)


def app_from_env() -> object:
    return create_app(load_settings())
