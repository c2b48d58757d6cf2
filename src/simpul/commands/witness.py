"""`simpul audit witness …` and `simpul audit key …`: thin adapters.

A witness runs away from the node it watches (at a recipient institution, at the regulator):
`init`, `follow`, `run` and `show` work on the witness's own folder and need no node data.
`add`, `remove` and `list` are the node's side, governance actions on the node.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simpul.audit import witness as w
from simpul.runtime import runtime

app = typer.Typer(
    help="Saksi log audit: kosignatur checkpoint log simpul lain.", no_args_is_help=True
)
key_app = typer.Typer(help="Kunci checkpoint log audit simpul ini.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)
SECRET_ENV = "SIMPUL_SAKSI_CLIENT_SECRET"  # noqa: S105  # the variable's name
Folder = Annotated[Path, typer.Argument(help="Folder saksi (kunci dan statusnya, 0700).")]


def _fail(exc: w.WitnessError) -> typer.Exit:
    err.print(f"[red]Ditolak[/red]: {escape(exc.detail)} (kode {exc.reason})")
    return typer.Exit(1)


@app.command("init")
def init(
    folder: Folder,
    nama: Annotated[str, typer.Option(help="Nama kunci saksi, mis. saksi.bkn.go.id.")],
) -> None:
    """Buat saksi baru: kunci Ed25519 dan basis data statusnya sendiri."""
    try:
        state = w.WitnessState.create(folder, nama)
    except (w.WitnessError, ValueError) as exc:
        raise _fail(exc if isinstance(exc, w.WitnessError) else
                    w.WitnessError("nama_saksi_tidak_valid", str(exc))) from None  # fmt: skip
    out.print(f"Saksi {escape(state.name)} dibuat di {folder}.")
    out.print("Kunci verifikasi (daftarkan di simpul yang disaksikan):")
    typer.echo(state.verifier_key)


@app.command("follow")
def follow(
    folder: Folder,
    url: Annotated[str, typer.Option(help="Alamat simpul yang disaksikan.")],
    kunci_log: Annotated[
        str | None, typer.Option(help="Kunci verifikasi log (`simpul audit key show`).")
    ] = None,
    perjanjian: Annotated[
        Path | None,
        typer.Option(help="Berkas YAML PKS: ambil kunci dari `kunci_log` pihak --pihak."),
    ] = None,
    pihak: Annotated[str | None, typer.Option(help="Kode instansi penyedia di PKS itu.")] = None,
    ganti_kunci: Annotated[
        bool, typer.Option(help="Terima kunci log baru setelah rotasi yang diumumkan simpul.")
    ] = False,
) -> None:
    """Ikuti log satu simpul; kuncinya disematkan dan tidak berubah sesudahnya."""
    state = w.WitnessState(folder)
    if perjanjian is not None:
        kunci_log = _key_from_agreement(perjanjian, pihak)
    if not kunci_log:
        err.print("Perlu --kunci-log, atau --perjanjian dan --pihak.")
        raise typer.Exit(2)
    origin = kunci_log.split("+", 1)[0]
    try:
        state.follow(origin, kunci_log, url, replace_key=ganti_kunci)
    except (w.WitnessError, ValueError) as exc:
        raise _fail(exc if isinstance(exc, w.WitnessError) else
                    w.WitnessError("kunci_log_tidak_valid", str(exc))) from None  # fmt: skip
    out.print(f"Saksi {escape(state.name)} mengikuti log {escape(origin)} di {escape(url)}.")


def _key_from_agreement(path: Path, party: str | None) -> str:
    """The log key a party recorded in the agreement: what both sides signed, not what the
    network says."""
    import yaml

    from simpul.agreements.schemas import AgreementDocument

    doc = AgreementDocument.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    found = next((p for p in doc.parties if p.code == party), None)
    if found is None or not found.log_key:
        err.print(f"PKS {doc.id} tidak mencatat kunci_log untuk pihak {party!r}.")
        raise typer.Exit(2)
    return found.log_key


@app.command("run")
def run(
    folder: Folder,
    origin: Annotated[
        str | None, typer.Option(help="Log yang disaksikan (bawaan: satu-satunya).")
    ] = None,
    client_id: Annotated[str, typer.Option(help="client_id akun saksi di simpul itu.")] = "",
    interval: Annotated[float, typer.Option(help="Detik antarputaran.", min=0.05)] = 1.0,
    rounds: Annotated[int | None, typer.Option(help="Berhenti setelah N putaran.", min=1)] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Layani metrik Prometheus di 127.0.0.1:PORT.")
    ] = None,
    listen_port: Annotated[
        int | None,
        typer.Option(help="Layani checkpoint berkosignatur di 127.0.0.1:PORT/checkpoint/<origin>."),
    ] = None,
) -> None:
    """Jalankan saksi: ambil checkpoint, periksa bukti konsistensi, kosignatur, serahkan.
    Rahasia klien dibaca dari variabel lingkungan SIMPUL_SAKSI_CLIENT_SECRET."""
    from prometheus_client import start_http_server

    state = w.WitnessState(folder)
    logs = state.logs()
    chosen = [f for f in logs if origin in (None, f.origin)]
    if len(chosen) != 1:
        followed = ", ".join(f.origin for f in logs) or "tidak ada log"
        err.print(f"Sebutkan --origin: saksi ini mengikuti {escape(followed)}.")
        raise typer.Exit(2)
    secret = os.environ.get(SECRET_ENV, "")
    if not client_id or not secret:
        err.print(f"Perlu --client-id dan rahasia klien di {SECRET_ENV}.")
        raise typer.Exit(2)
    metrics = w.Metrics()
    if metrics_port is not None:
        start_http_server(metrics_port, addr="127.0.0.1", registry=metrics.registry)
    if listen_port is not None:
        w.serve_state(state, listen_port)
    client = w.NodeClient(chosen[0].url, client_id, secret)
    stop = threading.Event()
    try:
        w.run(state, chosen[0].origin, client, metrics, interval=interval, rounds=rounds, stop=stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        client.close()


@app.command("show")
def show(folder: Folder) -> None:
    """Status saksi: log yang diikuti, checkpoint terakhir yang dikosignatur, peringatan."""
    state = w.WitnessState(folder)
    out.print(f"Saksi {escape(state.name)}")
    typer.echo(state.verifier_key)
    table = Table()
    for column in ("log", "alamat", "ukuran disaksikan", "dikosignatur (UTC)"):
        table.add_column(column)
    for f in state.logs():
        when = (datetime.fromtimestamp(f.cosigned_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
                if f.cosigned_at else "-")  # fmt: skip
        table.add_row(escape(f.origin), escape(f.url), f"{f.size:,}".replace(",", "."), when)
    out.print(table)
    for at, origin, reason, detail in state.alerts()[-20:]:
        stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        err.print(f"[red]PERINGATAN[/red] {stamp} {escape(origin)}: {escape(detail)} ({reason})")


# --- the node's side -------------------------------------------------------------------------


@app.command("add")
def add(
    ctx: typer.Context,
    nama: Annotated[str, typer.Option(help="Nama kunci saksi.")],
    kunci: Annotated[str, typer.Option(help="Kunci verifikasi saksi (cosignature/v1).")],
    akun: Annotated[str, typer.Option(help="Akun klien berperan saksi yang menyerahkannya.")],
) -> None:
    """Terima kosignatur saksi ini untuk log simpul ini (tindakan tata kelola, diaudit)."""
    from simpul.governance import actions
    from simpul.governance.actors import cli_actor

    rt = runtime(ctx)
    rt.migrate()
    with rt.transaction() as session:
        actions.register_witness(
            session, rt.settings, rt.clock, nama, kunci, akun, actor=cli_actor()
        )
    out.print(f"Saksi {escape(nama)} terdaftar untuk akun {escape(akun)}.")


@app.command("remove")
def remove(
    ctx: typer.Context,
    nama: Annotated[str, typer.Option(help="Nama kunci saksi.")],
    alasan: Annotated[str, typer.Option("--reason", help="Alasan (dicatat).")],
) -> None:
    """Berhenti menerima kosignatur saksi ini (tindakan tata kelola, diaudit)."""
    from simpul.governance import actions
    from simpul.governance.actors import cli_actor

    rt = runtime(ctx)
    rt.migrate()
    with rt.transaction() as session:
        actions.remove_witness(
            session, rt.settings, rt.clock, nama, actor=cli_actor(), reason=alasan
        )
    out.print(f"Saksi {escape(nama)} dicabut.")


@app.command("list")
def list_witnesses(ctx: typer.Context) -> None:
    """Saksi yang kosignaturnya diterima simpul ini, dengan checkpoint terakhir mereka."""
    from simpul.audit import witnessed

    rt = runtime(ctx)
    rt.migrate()
    table = Table()
    for column in ("saksi", "akun", "instansi", "sejak (UTC)"):
        table.add_column(column)
    with rt.read_transaction() as session:
        for found in witnessed.witnesses(session):
            table.add_row(escape(found.name), escape(found.account or "-"),
                          escape(found.institution or "-"),
                          found.added_at.strftime("%Y-%m-%d %H:%M"))  # fmt: skip
        cosigned = witnessed.latest_cosigned(session)
    out.print(table)
    if cosigned is None:
        out.print("Belum ada checkpoint yang dikosignatur.")
    else:
        out.print(f"Checkpoint terakhir berkosignatur: #{cosigned.tree_size:,}".replace(",", "."))


@key_app.command("show")
def key_show(ctx: typer.Context) -> None:
    """Kunci verifikasi log simpul ini (C2SP): yang disematkan saksi dan dicatat di PKS."""
    from simpul.audit import signing

    rt = runtime(ctx)
    out.print(f"Origin log: {escape(signing.log_origin(rt.settings))}")
    typer.echo(signing.log_verifier_key(rt.settings))


@key_app.command("rotate")
def key_rotate(
    ctx: typer.Context,
    alasan: Annotated[str, typer.Option("--reason", help="Alasan (dicatat).")],
) -> None:
    """Ganti kunci checkpoint; kunci publik lama tetap dipercaya untuk yang ditandatanganinya."""
    from simpul.audit import signing
    from simpul.governance import actions
    from simpul.governance.actors import cli_actor

    rt = runtime(ctx)
    rt.migrate()
    with rt.transaction() as session:
        old, new = actions.rotate_checkpoint_key(
            session, rt.settings, rt.clock, actor=cli_actor(), reason=alasan
        )
    out.print(f"Kunci checkpoint diganti: {old[:16]}… → {new[:16]}…")
    out.print("Beri tahu para saksi kunci baru ini:")
    typer.echo(signing.log_verifier_key(rt.settings))
