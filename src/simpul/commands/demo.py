"""`simpul demo`: build the synthetic demo world, then serve it (`simpul.serve`) with one
matching worker (`simpul worker`) and one audit-log witness per recipient institution
(`simpul audit witness run`) beside the server, stopped when the server stops."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from simpul.config import load_settings, write_demo_secrets
from simpul.demo.service import build_world, demo_witnesses, howto
from simpul.pemadanan.worker import spawn_beside, spawn_worker, stop_process
from simpul.runtime import Runtime, runtime
from simpul.serve import serve_folder


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
    federated: Annotated[
        bool,
        typer.Option(
            "--federated",
            help="Satu node per instansi (federasi di mesin ini), bukan satu node tertanam.",
        ),
    ] = False,
    base_port: Annotated[
        int,
        typer.Option(help="--federated: port API node pertama; listener federasi +100."),
    ] = 8100,
) -> None:
    """Bangun dunia demo (registri sintetis, instansi, PKS, akun, riwayat pemakaian) lalu
    layani API dan portal. Tanpa --federated: satu node tertanam memegang semuanya (untuk
    satu instansi atau untuk mencoba); dengan --federated: satu node per instansi."""
    if federated:
        from simpul.commands.demo_federated import federated_demo

        root = data_dir or Path(f"{runtime(ctx).settings.data_dir}-federasi")
        federated_demo(root, people, seed, base_port, serve=not no_serve, fresh=fresh)
        return
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
        typer.echo("Pekerja pemadanan dijalankan di samping server (simpul worker).")
        children = [spawn_worker(folder)]
        try:
            children += _witnesses(folder, host, port)
            serve_folder(folder, host, port, workers=1)
        finally:
            for child in children:
                stop_process(child)


def _witnesses(folder: Path, host: str, port: int) -> list[subprocess.Popen[bytes]]:
    """One `simpul audit witness run` per recipient institution (docs/audit.md)."""
    from simpul.commands.witness import SECRET_ENV

    rt = Runtime(load_settings(folder))
    try:
        found = demo_witnesses(rt, f"http://{host}:{port}")
    finally:
        rt.close()
    procs = []
    for state_dir, client_id, secret in found:
        args = ["audit", "witness", "run", str(state_dir), "--client-id", client_id]
        procs.append(spawn_beside(args, env={**os.environ, SECRET_ENV: secret}))
    if procs:
        typer.echo(f"{len(procs)} saksi log audit dijalankan (satu per instansi penerima).")
    return procs
