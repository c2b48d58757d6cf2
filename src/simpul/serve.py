"""`simpul serve`: the web app (API and portal) under uvicorn.

uvicorn and the app are imported only when a server starts, so that the `simpul` command
itself starts quickly (see `simpul.cli`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from simpul.config import load_settings, private_umask
from simpul.runtime import Runtime, runtime

if TYPE_CHECKING:
    from fastapi import FastAPI


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
    serve_folder(folder, host, port, workers, access_log=access_log)


def serve_folder(
    folder: Path, host: str, port: int, workers: int, *, access_log: bool = False
) -> None:
    """Serve the instance in `folder` until interrupted (also what `simpul demo` ends with)."""
    import uvicorn

    # Refuse before listening: a database that is not the folder's own (or none at all)
    # would serve logins that all fail and an empty audit log.
    checked = checked_runtime(folder)
    typer.echo(f"Melayani di http://{host}:{port}/ (dokumentasi API: /docs)")
    # Every service call is in the audit log already; a per-request HTTP log line costs
    # throughput and is opt-in.
    # Forwarded headers are the app's to judge (simpul.kit.proxies, SIMPUL_TRUSTED_PROXIES):
    # uvicorn's own trusts 127.0.0.1 by default and drops the peer the log should name.
    options: dict[str, object] = {"host": host, "port": port, "access_log": access_log,
                                  "proxy_headers": False}  # fmt: skip
    if workers == 1:
        from simpul.app import create_app

        uvicorn.run(create_app(checked.settings, checked), log_level="info", **options)  # type: ignore[arg-type]
        return
    checked.close()
    # Several processes: each builds its own app (engine, audit writer) from the same data
    # dir; the audit chain serialises across processes (see simpul.audit).
    os.environ["SIMPUL_DATA_DIR"] = str(folder)
    uvicorn.run("simpul.serve:app_from_env", factory=True, workers=workers, **options)  # type: ignore[arg-type]


def app_from_env() -> FastAPI:
    """uvicorn's factory for each worker process: the app for `SIMPUL_DATA_DIR`."""
    from simpul.app import create_app

    private_umask()
    rt = checked_runtime(None)
    return create_app(rt.settings, rt)


def checked_runtime(folder: Path | None) -> Runtime:
    """The runtime of the instance in `folder`, its database checked to be the folder's own
    (simpul.runtime.check_instance); a SimpulError otherwise."""
    rt = Runtime(load_settings(folder), guard=True)
    try:
        _ = rt.engine
    except BaseException:
        rt.close()
        raise
    return rt
