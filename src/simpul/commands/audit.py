"""`simpul audit …`: thin adapters over the audit service."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simpul.audit import service
from simpul.kit.masking import mask_nik
from simpul.runtime import runtime

app = typer.Typer(help="Log audit: pemeriksaan, riwayat akses subjek, bukti.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


@app.command("verify")
def verify(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Keluaran JSON.")] = False,
    workers: Annotated[
        int | None, typer.Option(help="Jumlah proses pemeriksa (bawaan: otomatis).", min=1)
    ] = None,
) -> None:
    """Periksa seluruh rantai hash, baris subjek, kepala log dan checkpoint bertanda tangan."""
    rt = runtime(ctx)
    rt.migrate()
    trusted = service.trusted_key_ids(rt.settings)
    result = service.verify(rt.engine, trusted_key_ids=trusted, workers=workers)
    if as_json:
        typer.echo(json.dumps(result.__dict__, ensure_ascii=False, indent=2))
    elif result.ok:
        out.print(
            f"[green]Log audit utuh[/green]: {result.records_checked:,} rekaman, "
            f"{result.checkpoints_checked} checkpoint diperiksa."
        )
    else:
        where = f"rekaman #{result.first_bad_seq}" if result.first_bad_seq is not None else "log"
        if result.bad_checkpoint is not None:
            where += f" (checkpoint #{result.bad_checkpoint})"
        detail = escape(f"{result.detail} (kode {result.reason_code})")
        err.print(f"[red]Log audit RUSAK[/red] pada {where}: {detail}")
        if result.problems > 1:
            err.print(f"Ditemukan {result.problems} masalah; yang pertama ditampilkan.")
    if trusted is None and not as_json:
        err.print(
            "[yellow]Catatan:[/yellow] kunci penanda tangan instans ini tidak ditemukan; "
            "tanda tangan hanya diperiksa terhadap kunci publik yang tersimpan."
        )
    raise typer.Exit(0 if result.ok else 1)


@app.command("subject")
def subject(
    ctx: typer.Context,
    nik: Annotated[str, typer.Argument(help="NIK subjek (16 digit).")],
    akun: Annotated[
        str,
        typer.Option(
            "--akun",
            help="Akun admin penyedia atau auditor: riwayat sebatas perjanjian instansinya "
            "(auditor seluruh simpul: SIMPUL_HUB_AUDITORS), dan pencarian ini dicatat di log "
            "dengan orang tersebut sebagai subjek.",
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Keluaran JSON.")] = False,
) -> None:
    """Siapa mengakses data satu orang, kapan, dengan perjanjian dan elemen apa (UU PDP Ps. 32).

    Berjalan atas nama --akun, lewat kernel: dibatasi perannya dan dicatat di log, seperti di
    portal. Riwayat akses seseorang adalah data pribadi juga."""
    from simpul import kernel
    from simpul.agreements.schemas import Mechanism
    from simpul.kit.ids import new_id
    from simpul.oversight import reading

    rt = runtime(ctx)
    rt.migrate()
    origin = kernel.Origin(Mechanism.WEB_SERVICE, action=reading.SUBJECT_HISTORY,
                           request_id=new_id("cli-"), internal=True)  # fmt: skip
    history = kernel.run(kernel.Node(rt), kernel.AccountName(akun), origin,
                         reading.subject_history, nik)  # fmt: skip
    if as_json:
        rows = [{**h.__dict__, "ts": h.ts.isoformat()} for h in history]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"Riwayat akses NIK {mask_nik(nik.strip())}")
    for column in (
        "waktu (UTC)",
        "aktor",
        "instansi",
        "perjanjian",
        "layanan",
        "elemen",
        "keputusan",
    ):
        table.add_column(column)
    for h in history:
        agreement = f"{h.agreement_id} v{h.agreement_version}" if h.agreement_id else "-"
        decision = h.decision if h.decision != "tolak" else f"tolak ({h.reason})"
        cells = (
            h.actor or "-",
            h.institution or "-",
            agreement,
            h.service or h.action,
            ", ".join(h.elements) or "-",
            decision,
        )
        # Stored text is data, never Rich markup.
        table.add_row(h.ts.strftime("%Y-%m-%d %H:%M:%S"), *(escape(c) for c in cells))
    out.print(table)
    out.print(f"{len(history)} rekaman.")


@app.command("proof")
def proof(
    ctx: typer.Context,
    seq: Annotated[int, typer.Argument(help="Nomor urut rekaman.", min=1)],
) -> None:
    """Cetak bukti inklusi (RFC 6962) rekaman SEQ terhadap checkpoint terakhir, sebagai JSON."""
    rt = runtime(ctx)
    rt.migrate()
    with rt.transaction() as session:
        found = service.inclusion_proof(session, seq)
    typer.echo(json.dumps(found.to_dict(), indent=2))
    if service.verify_proof(found, service.trusted_key_ids(rt.settings)):
        err.print(f"Bukti sah: rekaman #{seq} tercakup checkpoint #{found.tree_size}.")
    else:
        err.print("[red]Bukti TIDAK sah[/red]: jalankan `simpul audit verify`.")
        raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint(ctx: typer.Context) -> None:
    """Tanda tangani checkpoint atas seluruh log sekarang."""
    rt = runtime(ctx)
    rt.migrate()
    made = service.checkpoint(rt.engine, rt.settings, rt.clock)
    if made is None:
        out.print("Log audit masih kosong: belum ada yang ditandatangani.")
        return
    out.print(
        f"Checkpoint #{made.tree_size} ({made.ts} UTC)\n  root  {made.root}\n  kunci {made.key_id}"
    )
