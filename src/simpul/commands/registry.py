"""`simpul registry …`: thin adapters. Reads go to the registry service; load, snapshot
and export are governance actions (`simpul.governance.actions`), each audited."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simpul.governance import actions
from simpul.governance.actors import cli_actor
from simpul.kit.csvsafe import safe_cell
from simpul.kit.masking import mask_niks_in_text
from simpul.kit.numbers import angka
from simpul.registry import service
from simpul.registry.schemas import LoadIssue
from simpul.runtime import runtime

app = typer.Typer(help="Registri (dataset) penyedia data.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _write_issues(path: Path, issues: list[LoadIssue]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["baris", "tingkat", "elemen", "kode", "keterangan"])
        for i in issues:
            writer.writerow(
                [safe_cell(v) for v in (i.line, i.severity, i.element or "", i.code, i.detail)]
            )


@app.command("load")
def load(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="kependudukan | asn | dtks | regsosek")],
    file: Annotated[Path, typer.Argument(help="Berkas CSV atau Parquet.", exists=True)],
    mode: Annotated[str, typer.Option(help="ganti (seluruh dataset) | tambah (per NIK)")] = "ganti",
    report: Annotated[
        Path | None, typer.Option(help="Tulis seluruh temuan per baris ke CSV ini.")
    ] = None,
) -> None:
    """Muat berkas registri; baris yang baik dimuat, yang buruk dilaporkan per baris."""
    rt = runtime(ctx)
    rt.migrate()
    with rt.transaction() as session:
        result = actions.load_registry(
            session, rt.settings, rt.clock, dataset, file, actor=cli_actor(), mode=mode
        )
    with rt.transaction() as session:
        snap, rows = actions.write_snapshot(
            session, rt.settings, rt.clock, dataset, actor=cli_actor()
        )
    for note in result.notes:
        err.print(f"[yellow]Catatan:[/yellow] {note}")
    if result.ignored_columns:
        err.print(f"Kolom diabaikan: {', '.join(result.ignored_columns)}")
    out.print(
        f"[bold]{result.dataset}[/bold] ({result.load_id}): {angka(result.rows_total)} baris, "
        f"[green]{angka(result.rows_loaded)} dimuat[/green], "
        f"[red]{angka(result.rows_rejected)} ditolak[/red], "
        f"{angka(result.rows_warned)} dengan peringatan."
    )
    out.print(f"Snapshot analitik: {snap} ({angka(rows)} baris)")
    if result.issues:
        table = Table("baris", "tingkat", "elemen", "kode", "keterangan", title="Temuan pertama")
        for i in result.issues[:20]:
            table.add_row(str(i.line), i.severity, i.element or "", i.code, i.detail)
        out.print(table)
    if report is not None:
        with rt.transaction() as session:
            _write_issues(report, service.issues_for_load(session, result.load_id))
        out.print(f"Laporan lengkap: {report}")


@app.command("issues")
def issues(
    ctx: typer.Context,
    load_id: str,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Tampilkan atau simpan temuan per baris dari satu pemuatan."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        found = service.issues_for_load(session, load_id)
    if output is not None:
        _write_issues(output, found)
        out.print(f"{angka(len(found))} temuan ditulis ke {output}")
        return
    for i in found:
        out.print(f"baris {i.line}\t{i.severity}\t{i.element or '-'}\t{i.code}\t{i.detail}")


@app.command("stats")
def stats(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Ringkasan setiap dataset: jumlah rekaman, keluarga, pemuatan terakhir, snapshot."""
    rt = runtime(ctx)
    rt.migrate()
    with rt.transaction() as session:
        rows = service.stats(session, rt.settings)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    table = Table("dataset", "penyedia", "rekaman", "KK", "muat terakhir", "snapshot")
    for r in rows:
        table.add_row(
            r.dataset,
            r.provider,
            f"{angka(r.records)}",
            f"{angka(r.families)}" if r.families is not None else "-",
            f"{r.last_load_at:%Y-%m-%d %H:%M} {r.last_load_source}" if r.last_load_at else "-",
            f"{angka(r.snapshot_rows)}" if r.snapshot_rows is not None else "-",
        )
    out.print(table)


@app.command("snapshot")
def snapshot(ctx: typer.Context, dataset: str) -> None:
    """Tulis ulang snapshot Parquet dataset dari penyimpanan berkunci."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        path, rows = actions.write_snapshot(
            session, rt.settings, rt.clock, dataset, actor=cli_actor()
        )
    out.print(f"{path} ({angka(rows)} baris)")


@app.command("export")
def export(
    ctx: typer.Context,
    dataset: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="Berkas .csv atau .xlsx.")],
    akun: Annotated[
        str,
        typer.Option("--akun", help="Akun admin penyedia (provider_admin) pemilik registri."),
    ],
) -> None:
    """Ekspor dataset ke CSV/XLSX atas nama admin penyedianya: berkas mode 0600, baris
    pertama menyebut sumber (PKS 000 Pasal 7 ayat (2)), tercatat di log audit."""
    from simpul import kernel
    from simpul.agreements.schemas import Mechanism
    from simpul.errors import SimpulError
    from simpul.governance.actions.registry import EXPORT
    from simpul.kit.ids import new_id

    rt = runtime(ctx)
    rt.migrate()
    # One call of the kernel, as a web service or a download is (ADR 0009).
    origin = kernel.Origin(Mechanism.BATCH, action=EXPORT, dataset=dataset,
                           request_id=new_id("cli-"), internal=True)  # fmt: skip
    try:
        done = kernel.run(kernel.Node(rt), kernel.AccountName(akun), origin,
                          actions.export_registry, dataset, output, via=cli_actor())  # fmt: skip
    except SimpulError as no:  # recorded by the kernel before it was raised
        err.print(f"[red]Ditolak[/red] {escape(f'[{no.code}] {mask_niks_in_text(no.detail)}')}")
        raise typer.Exit(1) from None
    out.print(f"{angka(done.rows)} baris ditulis ke {done.path}")


@app.command("generate")
def generate(
    people: Annotated[int, typer.Option(min=1, help="Jumlah penduduk sintetis.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Benih acak; benih sama, data sama.")] = 42,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder keluaran.")] = Path("synth"),
) -> None:
    """Bangun Indonesia sintetis: kependudukan, asn, dtks, regsosek (Parquet)."""
    from simpul.registry.synth import generate_world

    paths = generate_world(people, seed, out_dir)
    for name, path in paths.items():
        out.print(f"{name}: {path}")


@app.command("sample-list")
def sample_list(
    kind: Annotated[str, typer.Option(help="bpum | kpm")],
    size: Annotated[int, typer.Option(min=1)] = 1_000,
    seed: Annotated[int, typer.Option()] = 7,
    world: Annotated[Path, typer.Option(help="Folder hasil `generate`.")] = Path("synth"),
    out_file: Annotated[Path, typer.Option("--out", help="Berkas CSV keluaran.")] = Path(
        "daftar.csv"
    ),
) -> None:
    """Tulis daftar usulan instansi penerima (dengan derau nyata) dan berkas kebenarannya."""
    from simpul.registry.synth import sample_list as make_list

    truth = make_list(kind, size, seed, world, out_file)
    out.print(f"Daftar: {out_file}\nKebenaran (untuk evaluasi): {truth}")
