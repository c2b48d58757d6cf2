"""`simpul federation …`: the federation authority (its key, its CA, its members, the
signed directory) and this node's side (its listener, the directory it holds). Thin
adapters over simpul.federation (docs/federation.md)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simpul.config import ensure_private_dir, write_private
from simpul.runtime import runtime

app = typer.Typer(
    help="Federasi: otoritas, direktori anggota, listener antarnode.", no_args_is_help=True
)
authority_app = typer.Typer(
    help="Otoritas federasi: kunci, CA, anggota, direktori bertanda tangan.", no_args_is_help=True
)
app.add_typer(authority_app, name="authority")
out = Console()
Folder = Annotated[Path, typer.Option("--folder", help="Folder otoritas federasi (0700).")]


@authority_app.command("init")
def authority_init(
    folder: Folder,
    nama: Annotated[str, typer.Option(help="Nama federasi, mis. simpul-nasional.")],
) -> None:
    """Buat otoritas federasi baru: kunci penanda tangan direktori dan CA sertifikat node."""
    from simpul.federation.authority import Authority

    auth = Authority.create(folder, nama)
    out.print(f"Otoritas federasi {escape(auth.name)} dibuat di {folder}.")
    out.print("Kunci verifikasi direktori (SIMPUL_FEDERATION_AUTHORITY_KEYS di setiap node):")
    typer.echo(auth.verifier_key())


@authority_app.command("key")
def authority_key(folder: Folder) -> None:
    """Tampilkan kunci verifikasi direktori otoritas ini."""
    from simpul.federation.authority import Authority

    typer.echo(Authority.open(folder).verifier_key())


@authority_app.command("issue")
def issue(
    folder: Folder,
    kode: Annotated[str, typer.Option(help="Kode anggota (kode instansi), mis. bkn.")],
    nama: Annotated[str, typer.Option(help="Nama instansi.")],
    host: Annotated[list[str], typer.Option(help="Nama host / alamat IP node (boleh berulang).")],
    ke: Annotated[Path, typer.Option(help="Folder federasi node tujuan (DATA_DIR/federasi).")],
) -> None:
    """Terbitkan kunci dan sertifikat TLS node dari CA otoritas (demo; di produksi: dari
    CSR node kepada CA yang ditunjuk otoritas)."""
    from simpul.federation import pki
    from simpul.federation.authority import Authority

    auth = Authority.open(folder)
    issued = pki.issue_node(auth.ca_folder, ensure_private_dir(ke), kode, nama, host)
    shutil.copyfile(auth.ca_folder / pki.CA_CERT, ke / pki.CA_CERT)
    out.print(f"Sertifikat node {escape(kode)} di {issued.cert}; sematan:")
    typer.echo(issued.fingerprint)


@authority_app.command("member-add")
def member_add(
    folder: Folder,
    kode: Annotated[str, typer.Option(help="Kode anggota (kode instansi).")],
    nama: Annotated[str, typer.Option(help="Nama instansi.")],
    alamat: Annotated[str, typer.Option(help="Alamat listener federasi, https://host:port.")],
    node_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder data node: sertifikat, kunci tanda terima dan kunci log dibaca dari sana."
        ),
    ] = None,
    sertifikat: Annotated[
        list[str] | None, typer.Option(help="Sematan sertifikat sha256:… (tanpa --node-dir).")
    ] = None,
    kunci_tanda_terima: Annotated[
        str | None, typer.Option(help="Kunci publik tanda terima.")
    ] = None,
) -> None:
    """Daftarkan (atau perbarui) anggota federasi."""
    from simpul.federation.authority import Authority
    from simpul.federation.directory import Member

    auth = Authority.open(folder)
    pins, receipt_key, origin, log_key = list(sertifikat or []), kunci_tanda_terima, None, None
    if node_dir is not None:
        pins, receipt_key, origin, log_key = _node_keys(node_dir, pins, receipt_key)
    member = Member(
        kode=kode,
        nama=nama,
        alamat=alamat.rstrip("/"),
        sertifikat=tuple(pins),
        kunci_tanda_terima=receipt_key,
        asal_log=origin,
        kunci_log=log_key,
    )
    new = auth.put_member(member)
    out.print(
        f"Anggota {escape(kode)} {'didaftarkan' if new else 'diperbarui'}. "
        "Tanda tangani direktori baru agar berlaku: simpul federation authority sign."
    )


def _node_keys(
    node_dir: Path, pins: list[str], receipt_key: str | None
) -> tuple[list[str], str | None, str | None, str | None]:
    from simpul.audit import receipts, signing
    from simpul.config import load_settings
    from simpul.federation import pki

    settings = load_settings(node_dir)
    cert = settings.federation_folder / pki.NODE_CERT
    pin = pki.read_fingerprint(cert)
    key = receipts.b64(receipts.receipt_key(settings).public)
    return (
        [*pins, pin] if pin not in pins else pins,
        receipt_key or key,
        signing.log_origin(settings),
        signing.log_verifier_key(settings),
    )


@authority_app.command("member-remove")
def member_remove(folder: Folder, kode: Annotated[str, typer.Option()]) -> None:
    """Keluarkan anggota; berlaku di setiap node begitu direktori baru ditandatangani."""
    from simpul.federation.authority import Authority

    Authority.open(folder).remove_member(kode)
    out.print(f"Anggota {escape(kode)} dikeluarkan. Tanda tangani direktori baru.")


@authority_app.command("members")
def members(folder: Folder) -> None:
    """Daftar anggota yang akan masuk direktori berikutnya."""
    from simpul.federation.authority import Authority

    table = Table("Kode", "Nama", "Alamat", "Sertifikat")
    for m in Authority.open(folder).members():
        table.add_row(
            m.kode, escape(m.nama), m.alamat, "\n".join(p[:23] + "…" for p in m.sertifikat)
        )
    out.print(table)


@authority_app.command("sign")
def sign(
    folder: Folder,
    ke: Annotated[list[Path], typer.Option(help="Berkas tujuan direktori (boleh berulang).")],
    hari: Annotated[float, typer.Option(min=0.01, max=366, help="Masa berlaku (hari).")] = 7.0,
) -> None:
    """Tanda tangani dan terbitkan direktori berikutnya (nomor naik satu)."""
    from simpul.federation.authority import Authority

    signed = Authority.open(folder).sign_directory(days=hari)
    for path in ke:
        write_private(path, signed)
    out.print(
        f"Direktori ditandatangani, berlaku {hari:g} hari; ditulis ke "
        + ", ".join(str(p) for p in ke)
        + "."
    )


@app.command("show")
def show(
    berkas: Annotated[Path, typer.Argument(help="Berkas direktori bertanda tangan.")],
    kunci: Annotated[list[str], typer.Option(help="Kunci verifikasi otoritas.")],
) -> None:
    """Periksa direktori bertanda tangan dan tampilkan isinya."""
    from simpul.federation.directory import check

    checked = check(berkas.read_bytes(), kunci, now=dt.datetime.now(dt.UTC))
    d = checked.directory
    out.print(
        f"Direktori {escape(d.federasi)} nomor {d.nomor}: sah, berlaku sampai "
        f"{d.berlaku_sampai:%Y-%m-%d %H:%M} UTC."
    )
    table = Table("Kode", "Nama", "Alamat", "Kunci log")
    for m in d.anggota:
        table.add_row(m.kode, escape(m.nama), m.alamat, escape(m.asal_log or "-"))
    out.print(table)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Alamat listener (SIMPUL_FEDERATION_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port listener (SIMPUL_FEDERATION_PORT).")
    ] = None,
) -> None:
    """Layani listener federasi node ini (TLS timbal balik, panggilan antarnode)."""
    from simpul.errors import SimpulError
    from simpul.federation.server import serve_federation
    from simpul.serve import log_config

    rt = runtime(ctx)
    listen = port or rt.settings.federation_port
    if listen is None:
        raise SimpulError("port_federasi_kosong", "Port listener federasi belum diatur.", 422)
    typer.echo(f"Listener federasi di https://{host or rt.settings.federation_host}:{listen}/")
    serve_federation(rt, host or rt.settings.federation_host, listen, log_config())


@app.command("directory")
def directory(ctx: typer.Context) -> None:
    """Baca direktori dari sumbernya sekarang, periksa, dan tampilkan yang dipegang."""
    from simpul.federation.node import attach

    rt = attach(runtime(ctx))
    if rt.peers is None:
        from simpul.errors import SimpulError

        raise SimpulError("bukan_anggota_federasi", "Node ini bukan anggota federasi.", 422)
    d = rt.peers.refresh().directory
    out.print(
        f"Direktori {escape(d.federasi)} nomor {d.nomor}, berlaku sampai "
        f"{d.berlaku_sampai:%Y-%m-%d %H:%M} UTC; {len(d.anggota)} anggota."
    )
