"""`simpul serve`: the web app (API and portal) under uvicorn.

uvicorn and the app are imported only when a server starts, so that the `simpul` command
itself starts quickly (see `simpul.cli`)."""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import unquote

import typer

from simpul.config import load_settings, private_umask
from simpul.kit.masking import mask_niks_in_text
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
                                  "proxy_headers": False, "log_config": log_config()}  # fmt: skip
    if workers == 1:
        from simpul.app import create_app

        uvicorn.run(create_app(checked.settings, checked), log_level="info", **options)  # type: ignore[arg-type]
        return
    checked.close()
    # Several processes: each builds its own app (engine, audit writer) from the same data
    # dir; the audit chain serialises across processes (see simpul.audit).
    os.environ["SIMPUL_DATA_DIR"] = str(folder)
    # The supervisor pings every worker and kills one that does not answer in time. Its 5 s
    # default killed workers still starting on a busy node over and over (11 kills, 75 s
    # to ready, observed): a starting worker gets as long as the setting says.
    _ping_until_answer_or_exit()
    uvicorn.run("simpul.serve:app_from_env", factory=True, workers=workers,
                timeout_worker_healthcheck=checked.settings.worker_healthcheck_seconds,
                **options)  # type: ignore[arg-type]  # fmt: skip


def _ping_until_answer_or_exit() -> None:
    """Have uvicorn's supervisor replace a killed worker at once, not a healthcheck later.

    Every half second the supervisor asks each worker whether it is alive (waitpid), then
    pings it over a pipe and waits up to `timeout_worker_healthcheck` for the answer. A
    worker killed with SIGKILL takes tens of milliseconds to become a zombie (its memory is
    torn down first); a check landing in that window pings a process that will never
    answer, and the pipe reports no EOF either (the supervisor holds both of its ends), so
    the worker stayed dead and unreplaced for the whole timeout, 60 s here (observed with
    kill -9 under load: tests/test_load_fault.py). The ping now waits for the answer or
    the worker's exit (its sentinel), whichever comes first; a worker that does not
    answer in time is still taken for hung, as before."""
    import pickle
    from multiprocessing.connection import wait

    from uvicorn.supervisors import multiprocess

    def ping(self: multiprocess.Process, timeout: float = 5) -> bool:
        try:
            self.parent_conn.send(b"ping")
            if self.parent_conn not in wait([self.parent_conn, self.process.sentinel], timeout):
                return False  # exited, or no answer in time
            self.parent_conn.recv()  # b"pong", or (uvicorn 0.55) whether it has started
            return True
        except (OSError, EOFError, pickle.UnpicklingError):
            return False

    multiprocess.Process.ping = ping  # type: ignore[method-assign]


class MaskNiks(logging.Filter):
    """Masks every 16-digit run (a NIK) in a log record's message and arguments: uvicorn's
    access log writes each request's path and query string, and a client may still put a
    NIK there (the retired `GET …/nik/{nik}`, a query parameter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _masked(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_masked(a) if isinstance(a, str) else a for a in record.args)
        return True


def _masked(text: str) -> str:
    if "%" in text:  # a percent-encoded NIK is a NIK too
        plain = unquote(text)
        if mask_niks_in_text(plain) != plain:
            return mask_niks_in_text(plain)
    return mask_niks_in_text(text)


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with every handler behind `MaskNiks` (workers rebuild it from
    this dict, so the filter is named by its import path)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["mask_nik"] = {"()": "simpul.serve.MaskNiks"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("mask_nik")
    return config


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
