"""`simpul audit …`: thin adapters over the audit service."""

from __future__ import annotations

import json
from pathlib import Path
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


def _add_witness_commands() -> None:
    from simpul.commands import witness

    app.add_typer(witness.app, name="witness")
    app.add_typer(witness.key_app, name="key")


_add_witness_commands()


@app.command("verify")
def verify(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Keluaran JSON.")] = False,
    workers: Annotated[
        int | None, typer.Option(help="Jumlah proses pemeriksa (bawaan: otomatis).", min=1)
    ] = None,
    saksi: Annotated[
        Path | None,
        typer.Option(help="Folder saksi: checkpoint terakhir yang dikosignaturnya jadi jangkar."),
    ] = None,
    checkpoint_file: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="Berkas checkpoint berkosignatur (catatan C2SP)."),
    ] = None,
    saksi_url: Annotated[
        str | None,
        typer.Option(help="Alamat saksi (`witness run --listen-port`): checkpoint terakhirnya."),
    ] = None,
    kunci_saksi: Annotated[
        list[str] | None,
        typer.Option(
            help="Kunci verifikasi saksi (cosignature/v1) untuk --checkpoint/--saksi-url."
        ),
    ] = None,
) -> None:
    """Periksa seluruh rantai hash, baris subjek, kepala log dan checkpoint bertanda tangan;
    dengan --saksi atau --checkpoint, juga terhadap checkpoint yang disaksikan di luar simpul:
    log harus mencapai ukurannya, menghasilkan akarnya, dan tercakup kosignatur saksi."""
    from simpul.audit import anchor as anchors
    from simpul.audit.signing import log_origin

    rt = runtime(ctx)
    rt.migrate()
    trusted = service.trusted_key_ids(rt.settings)
    held: anchors.Anchor | None = None
    if saksi is not None:
        held = anchors.from_witness(saksi, log_origin(rt.settings))
    elif checkpoint_file is not None:
        held = anchors.from_note(checkpoint_file.read_text(encoding="utf-8"), kunci_saksi or [])
    elif saksi_url is not None:
        held = anchors.from_url(saksi_url, log_origin(rt.settings), kunci_saksi or [])
    result = anchors.verify(
        rt.engine, trusted_key_ids=trusted, anchor=held, workers=workers,
        lag_seconds=rt.settings.audit_cosign_lag_seconds, now=rt.clock.now(),
    )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(result.__dict__, ensure_ascii=False, indent=2))
    elif result.ok:
        out.print(
            f"[green]Log audit utuh[/green]: {result.records_checked:,} rekaman, "
            f"{result.checkpoints_checked} checkpoint diperiksa"
            + (f", sesuai checkpoint saksi {result.witness}." if result.witness else ".")
        )
    else:
        where = f"rekaman #{result.first_bad_seq}" if result.first_bad_seq is not None else "log"
        if result.bad_checkpoint is not None:
            where += f" (checkpoint #{result.bad_checkpoint})"
        if result.witness is not None:
            where += f", jangkar saksi {result.witness}"
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
    from simpul.audit.tree import TreeCache

    history, proofs = kernel.run(kernel.Node(rt), kernel.AccountName(akun), origin,
                                 reading.subject_history_proven, nik, TreeCache())  # fmt: skip
    if as_json:
        rows = [{**h.__dict__, "ts": h.ts.isoformat(),
                 "bukti": proofs[h.seq].to_dict() if h.seq in proofs else None}
                for h in history]  # fmt: skip
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
        "bukti",
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
            _proof_cell(proofs.get(h.seq)),
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


# --- `simpul audit receipt …`: signed receipts (docs/receipts.md) ----------------------------

receipt_app = typer.Typer(
    help="Tanda terima bertanda tangan: kunci publik simpul dan pemeriksaan luring.",
    no_args_is_help=True,
)
app.add_typer(receipt_app, name="receipt")


def _given(value: str) -> bytes:
    """`@berkas` (or the name of an existing file) is read; anything else is the text."""
    from pathlib import Path as _Path

    name = value[1:] if value.startswith("@") else value
    if value.startswith("@") or (len(value) < 4096 and _Path(name).is_file()):
        try:
            return _Path(name).read_bytes()
        except OSError as exc:
            err.print(f"[red]Berkas {escape(name)} tak terbaca[/red]: {type(exc).__name__}")
            raise typer.Exit(1) from exc
    return value.encode()


def _receipt_line(raw: bytes) -> str:
    """A `.receipt` file's receipt: its first line that is not empty or a `#` comment."""
    lines = raw.decode("utf-8", "replace").splitlines()
    return next((s.strip() for s in lines if s.strip() and not s.startswith("#")), "")


@receipt_app.command("key")
def receipt_key(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Keluaran JSON.")] = False,
) -> None:
    """Cetak kunci publik tanda terima simpul ini (base64, 32 bita) dan id kuncinya.

    Kunci dibuat (DATA_DIR/audit-receipt.key, 0600) bila belum ada; terpisah dari kunci
    checkpoint. Berikan kunci publik ini kepada penerima untuk memeriksa tanda terima."""
    import base64

    from simpul.audit import receipts

    key = receipts.receipt_key(runtime(ctx).settings)
    public = base64.b64encode(key.public).decode()
    if as_json:
        shown = {"kunci_publik": public, "id_kunci": key.key_id, "asal": key.origin}
        typer.echo(json.dumps(shown, indent=2))
        return
    typer.echo(public)
    err.print(f"id kunci {key.key_id}, asal {escape(key.origin)}")


@receipt_app.command("verify")
def receipt_verify(
    receipt: Annotated[
        str, typer.Option("--receipt", help="Teks header Simpul-Receipt, atau @berkas.")
    ],
    kunci: Annotated[
        str,
        typer.Option(help="Kunci publik tanda terima (base64, `audit receipt key`) atau berkas."),
    ],
    metode: Annotated[
        str | None, typer.Option(help="Metode permintaan (POST), atau CLI untuk keluaran perintah.")
    ] = None,
    jalur: Annotated[
        str | None, typer.Option(help="Jalur permintaan tanpa query (/api/v1/…), atau aksi CLI.")
    ] = None,
    isi: Annotated[
        str | None, typer.Option(help="Isi permintaan: teks, atau @berkas (bawaan: kosong).")
    ] = None,
    bukti: Annotated[
        str | None,
        typer.Option(help="Bukti inklusi JSON (`simpul audit proof SEQ`), teks atau @berkas."),
    ] = None,
) -> None:
    """Periksa tanda terima secara luring: format, tanda tangan kunci simpul dan — dengan
    --metode dan --jalur — bahwa tanda terima itu untuk permintaan (dan isi) tersebut.
    Dengan --bukti, juga bahwa rekamannya tercakup pohon Merkle bukti itu. Keluar 1 bila
    tidak sah."""
    from simpul.audit import receipts
    from simpul.errors import SimpulError

    if (metode is None) != (jalur is None) or (isi is not None and metode is None):
        raise typer.BadParameter("--metode dan --jalur diberikan bersama (--isi butuh keduanya)")
    header = _receipt_line(_given(receipt))
    try:
        public = receipts.read_public_key(_given(kunci).decode("utf-8", "replace"))
    except SimpulError as exc:
        err.print(f"[red]Kunci tidak terbaca[/red]: {escape(exc.detail)} (kode {exc.code})")
        raise typer.Exit(1) from exc
    body = _given(isi) if isi is not None else b""
    code = receipts.verify_receipt(header, public, metode, jalur, body)
    if code is None and bukti is not None:
        try:
            proof = json.loads(_given(bukti))
        except ValueError:
            proof = None
        code = receipts.included_in_proof(header, proof if isinstance(proof, dict) else {})
    if code is not None:
        detail = receipts.PROBLEMS[code].detail
        err.print(f"[red]Tanda terima TIDAK SAH[/red]: {escape(detail)} (kode {code})")
        raise typer.Exit(1)
    got = receipts.parse(header)
    assert got is not None
    out.print(
        f"[green]Tanda terima SAH[/green]: rekaman #{got.seq} log audit {escape(got.origin)}, "
        f"waktu {got.ts}, kunci {got.key_id}."
    )
    if metode is None:
        out.print("Permintaan tidak diperiksa: berikan --metode, --jalur (dan --isi).")
    else:
        out.print(f"Untuk permintaan {escape(metode.upper())} {escape(str(jalur))} dengan isinya.")
    if bukti is not None:
        out.print("Rekaman tercakup pohon Merkle bukti inklusi yang diberikan.")


def _proof_cell(proof: object) -> str:
    """How an entry is proven: included in a checkpoint that witnesses cosigned."""
    from simpul.audit.witnessed import EntryProof

    if not isinstance(proof, EntryProof):
        return "belum tercakup checkpoint"
    if not proof.verified:
        return "TIDAK SAH"
    if not proof.witnesses:
        return f"checkpoint #{proof.tree_size}, belum dikosignatur"
    return f"terverifikasi, checkpoint #{proof.tree_size} ({len(proof.witnesses)} saksi)"
