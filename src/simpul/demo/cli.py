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
    usage_weeks: Annotated[
        int,
        typer.Option(min=0, max=26, help="Minggu riwayat pemakaian yang disimulasikan."),
    ] = 5,
) -> None:
    """Bangun dunia demo (registri sintetis, instansi, PKS, akun, riwayat pemakaian) lalu
    layani API dan portal."""
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
            build_world(rt, people, seed, say=typer.echo, usage_weeks=usage_weeks)
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
    workers: Annotated[
        int, typer.Option(min=1, help="Jumlah proses pekerja (aman di SQLite dan PostgreSQL).")
    ] = 1,
    access_log: Annotated[
        bool,
        typer.Option(help="Catat setiap permintaan HTTP di log (log audit selalu mencatat)."),
    ] = False,
) -> None:
    """Layani instans yang sudah ada (API dan portal)."""
    folder = data_dir or runtime(ctx).settings.data_dir
    _serve(folder, host, port, workers, access_log=access_log)


def _serve(folder: Path, host: str, port: int, workers: int, *, access_log: bool = False) -> None:
    typer.echo(f"Melayani di http://{host}:{port}/ (dokumentasi API: /docs)")
    # Every service call is in the audit log already; a per-request HTTP log line costs
    # throughput and is opt-in.
    options: dict[str, object] = {"host": host, "port": port, "access_log": access_log}
    if workers == 1:
        uvicorn.run(create_app(load_settings(folder)), log_level="info", **options)  # type: ignore[arg-type]
        return
    # Several processes: each builds its own app (engine, audit writer) from the same data
    # dir; the audit chain serialises across processes (see simpul.audit).
    import os

    os.environ["SIMPUL_DATA_DIR"] = str(folder)
    uvicorn.run("simpul.demo.cli:app_from_env", factory=True, workers=workers, **options)  # type: ignore[arg-type]


def app_from_env() -> object:
    return create_app(load_settings())
