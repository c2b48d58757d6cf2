"""`simpul demo --federated`: build the federation (simpul.demo.federation_world) once, then
serve every node as its own processes — `simpul serve`, `simpul federation serve`, a
matching worker on each provider node, and the witnesses — until interrupted."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import typer

from simpul.demo.federation_world import MANIFEST, Manifest, build_federation, howto, sign_directory
from simpul.pemadanan.worker import spawn_beside

READY_TIMEOUT_S = 180.0  # six nodes starting at once on a two-core machine


def federated_demo(root: Path, people: int, seed: int, base_port: int, *, serve: bool,
                   fresh: bool) -> None:  # fmt: skip
    if (root / MANIFEST).exists() and not fresh:
        typer.echo(f"Federasi demo sudah ada di {root} (pakai --fresh untuk membangun ulang).")
        manifest = Manifest.load(root)
    else:
        if fresh and root.exists():
            shutil.rmtree(root)
        manifest = build_federation(root, people, seed, typer.echo, base_port=base_port)
    if not serve:
        typer.echo(howto(manifest))
        return
    sign_directory(root)  # a fresh validity period for this run
    children = start_nodes(manifest)
    try:
        wait_ready(manifest, children)
        typer.echo(howto(manifest))
        typer.echo("Semua node berjalan. Tekan Ctrl-C untuk berhenti.")
        while all(child.poll() is None for child in children):
            time.sleep(1.0)
        typer.echo("Sebuah proses node berhenti; federasi demo dihentikan.", err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        stop_all(children)


def stop_all(children: list[subprocess.Popen[bytes]], grace: float = 20.0) -> None:
    """SIGTERM to every process at once, then SIGKILL to any still there after `grace`:
    stopping nineteen processes one by one would take their graces end to end."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Each node reads its own simpul.env: no SIMPUL_* of this shell may override it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    return {**env, **(extra or {})}


def start_nodes(manifest: Manifest) -> list[subprocess.Popen[bytes]]:
    from simpul.commands.witness import SECRET_ENV

    children: list[subprocess.Popen[bytes]] = []
    env = _clean_env()
    for node in manifest.nodes:
        base = ["--data-dir", node.folder]
        children.append(spawn_beside([*base, "serve", "--port", str(node.api_port)], env=env))
        children.append(spawn_beside([*base, "federation", "serve"], env=env))
        if node.provider:
            children.append(spawn_beside([*base, "worker"], env=env))
    for w in manifest.witnesses:
        folder = manifest.node(w.member).folder
        args = ["--data-dir", folder, "audit", "witness", "run", w.state, "--client-id",
                w.client_id]  # fmt: skip
        children.append(spawn_beside(args, env=_clean_env({SECRET_ENV: w.secret})))
    typer.echo(
        f"{len(manifest.nodes)} node ({len(children)} proses: server, listener federasi, "
        f"pekerja pemadanan di node penyedia, {len(manifest.witnesses)} saksi)."
    )
    return children


def wait_ready(manifest: Manifest, children: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = {n.member: n.api for n in manifest.nodes}
    while waiting:
        for member, api in list(waiting.items()):
            try:
                if httpx.get(f"{api}/readyz", timeout=2).status_code == 200:
                    del waiting[member]
            except httpx.HTTPError:
                pass
        if not waiting:
            return
        if any(child.poll() is not None for child in children):
            typer.echo("Sebuah proses node berhenti saat mulai.", err=True)
            raise typer.Exit(1)
        if time.monotonic() > deadline:
            typer.echo(
                f"Node belum siap setelah {READY_TIMEOUT_S:.0f} s: {sorted(waiting)}", err=True
            )
            raise typer.Exit(1)
        time.sleep(0.5)
