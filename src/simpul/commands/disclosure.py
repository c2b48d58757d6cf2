"""`simpul regsosek …`: aggregate tables, microdata and BNBA extracts, the processing
facility and its review queue, and per-agreement disclosure settings — thin adapters that
run the same kernel operations as the API (decided as `web_portal`, audited). Writing an
extract to `--keluaran` is a download: decided and recorded like one over HTTP."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from simpul import kernel
from simpul.agreements.schemas import Mechanism
from simpul.disclosure import extracts, sandbox
from simpul.disclosure import service as svc
from simpul.disclosure.aggregate import TableSpec
from simpul.disclosure.store import write_private
from simpul.kernel import AccountName, Node, Origin
from simpul.kernel.core import Op
from simpul.kit.csvsafe import safe_cell
from simpul.kit.ids import new_id
from simpul.runtime import Runtime, runtime

app = typer.Typer(
    help="Akses berjenjang Regsosek: agregat, mikro, BNBA, fasilitas pengolahan.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)
R = TypeVar("R")

Akun = Annotated[str, typer.Option(help="Akun pengguna data yang meminta.")]


def _call(rt: Runtime, akun: str, action: str, op: Op[..., R], *args: Any) -> R:
    """One request on behalf of `akun`, through the kernel, as the portal makes it."""
    origin = Origin(Mechanism.WEB_PORTAL, action=action, dataset="regsosek",
                    request_id=new_id("cli-"), internal=True)  # fmt: skip
    return kernel.run(Node(rt), AccountName(akun), origin, op, *args)


@app.command("agregat")
def agregat(
    ctx: typer.Context,
    akun: Akun,
    dimensi: Annotated[str, typer.Option(help="Dipisah koma, mis. wilayah,jenis_kelamin.")],
    tingkat: Annotated[str, typer.Option(help="provinsi | kabupaten | kecamatan | desa")] = (
        "provinsi"
    ),
    wilayah: Annotated[str | None, typer.Option(help="Filter kode wilayah.")] = None,
    variabel: Annotated[str | None, typer.Option(help="Variabel numerik (rata-rata).")] = None,
    keluaran: Annotated[Path | None, typer.Option(help="Tulis tabel ke CSV ini.")] = None,
) -> None:
    """Tabel agregat dengan penekanan sel primer dan sekunder."""
    rt = runtime(ctx)
    spec = TableSpec(tuple(d.strip() for d in dimensi.split(",") if d.strip()), tingkat,
                     wilayah, variabel)  # fmt: skip
    table = _call(rt, akun, "agregat", svc.aggregate, spec)
    if keluaran:
        cols = list(table.baris[0]) if table.baris else []
        buffer = io.StringIO(newline="")
        buffer.write(svc.source_comment(table.sumber))  # PKS 000 Pasal 7 ayat (2)
        writer = csv.writer(buffer)
        writer.writerow(cols)
        for row in table.baris:
            writer.writerow([safe_cell("" if row.get(c) is None else row.get(c)) for c in cols])
        write_private(keluaran, buffer.getvalue())
    out.print(
        f"{table.sel:,} sel; [red]{table.ditekan_primer:,} ditekan primer[/red], "
        f"[yellow]{table.ditekan_sekunder:,} ditekan sekunder[/yellow]."
    )
    out.print(table.sumber)


def _extract(
    rt: Runtime, akun: str, action: str, op: Op[..., Any], fmt: str, wilayah: str | None,
    target: Path,
) -> None:  # fmt: skip
    result = _call(rt, akun, action, op, fmt, wilayah)
    got = _call(rt, akun, "ekstrak.unduh", extracts.extract_file, result.ekstrak_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(target.name + ".tmp")
    shutil.copyfile(got.path, staged)
    staged.chmod(0o600)
    staged.replace(target)
    out.print(f"{result.baris:,} baris → {target}")
    if result.laporan_risiko:
        report = target.with_suffix(".risiko.json")
        write_private(report, json.dumps(result.laporan_risiko, ensure_ascii=False, indent=2))
        out.print(f"Laporan risiko: {report} (k tercapai {result.laporan_risiko['k_tercapai']})")
    out.print(result.sumber)


@app.command("mikro")
def mikro(
    ctx: typer.Context,
    akun: Akun,
    keluaran: Annotated[Path, typer.Option(help="Berkas .parquet atau .csv.")],
    wilayah: Annotated[str | None, typer.Option(help="Filter kode wilayah.")] = None,
) -> None:
    """Ekstrak data mikro terpseudonimisasi dengan k-anonimitas dan laporan risiko."""
    fmt = "csv" if keluaran.suffix.lower() == ".csv" else "parquet"
    _extract(runtime(ctx), akun, "mikro", extracts.microdata, fmt, wilayah, keluaran)


@app.command("bnba")
def bnba(
    ctx: typer.Context,
    akun: Akun,
    keluaran: Annotated[Path, typer.Option(help="Berkas .parquet atau .csv.")],
    wilayah: Annotated[str | None, typer.Option(help="Filter kode wilayah.")] = None,
) -> None:
    """Ekstrak BNBA di dalam cakupan wilayah perjanjian."""
    fmt = "csv" if keluaran.suffix.lower() == ".csv" else "parquet"
    _extract(runtime(ctx), akun, "bnba", extracts.bnba, fmt, wilayah, keluaran)


@app.command("olah")
def olah(
    ctx: typer.Context,
    akun: Akun,
    sql: Annotated[str, typer.Option(help="Satu pernyataan SELECT atas view `regsosek`.")],
    tujuan: Annotated[str | None, typer.Option(help="Tujuan analisis.")] = None,
) -> None:
    """Jalankan SQL di fasilitas pengolahan; keluaran diperiksa sebelum dirilis."""
    result = _call(runtime(ctx), akun, "pengolahan", sandbox.submit, sql, tujuan)
    out.print(f"Keluaran {result.id}: [bold]{result.status}[/bold]")
    if result.baris is not None:
        out.print(", ".join(result.kolom))
        for row in result.baris[:50]:
            out.print(", ".join("" if v is None else str(v) for v in row))
    else:
        out.print(json.dumps(result.pemeriksaan["gagal"][:10], ensure_ascii=False))
    out.print(result.sumber)


@app.command("tinjauan")
def tinjauan(
    ctx: typer.Context, akun: Annotated[str, typer.Option(help="Admin penyedia.")]
) -> None:
    """Antrean keluaran yang menunggu tinjauan penyedia."""
    queue = _call(runtime(ctx), akun, sandbox.REVIEW, sandbox.review_queue)
    for item in queue:
        reasons = sorted({f["alasan"] for f in item.pemeriksaan["gagal"]})
        out.print(f"{item.id}  {item.pemeriksaan['baris']} baris  gagal: {', '.join(reasons)}")
    if not queue:
        out.print("Tidak ada keluaran yang menunggu tinjauan.")


@app.command("tinjau")
def tinjau(
    ctx: typer.Context,
    keluaran_id: Annotated[str, typer.Argument(help="ID keluaran.")],
    akun: Annotated[str, typer.Option(help="Admin penyedia.")],
    alasan: Annotated[str, typer.Option(help="Alasan keputusan (diaudit).")],
    setujui: Annotated[bool, typer.Option("--setujui/--tolak", help="Keputusan.")] = False,
) -> None:
    """Setujui atau tolak satu keluaran, dengan alasan."""
    result = _call(runtime(ctx), akun, sandbox.REVIEW, sandbox.review, keluaran_id, setujui,
                   alasan)  # fmt: skip
    out.print(f"Keluaran {result.id}: {result.status}")


@app.command("aturan")
def aturan(
    ctx: typer.Context,
    perjanjian: Annotated[str, typer.Argument(help="ID perjanjian.")],
    setel: Annotated[
        list[str] | None, typer.Option("--setel", help="kunci=nilai, mis. ambang=20.")
    ] = None,
    alasan: Annotated[str | None, typer.Option(help="Alasan perubahan (wajib bila --setel).")] = (
        None
    ),
    oleh: Annotated[str, typer.Option(help="Pelaku yang dicatat di log audit.")] = "admin",
) -> None:
    """Tampilkan atau ubah aturan pengendalian disklosur satu perjanjian (diaudit)."""
    rt = runtime(ctx)
    rt.migrate()
    with rt.transaction() as session:
        if setel:
            if not alasan:
                raise typer.BadParameter("--alasan wajib bila mengubah aturan.")
            values: dict[str, Any] = {}
            for item in setel:
                k, _, v = item.partition("=")
                values[k.strip()] = None if v.strip().lower() in ("", "none") else v.strip()
            rules = svc.set_rules(session, rt.settings, perjanjian, values, actor=oleh,
                                  reason=alasan, clock=rt.clock)  # fmt: skip
        else:
            rules = svc.rules_for(session, perjanjian)
    out.print(json.dumps(rules.model_dump(by_alias=True), ensure_ascii=False, indent=2))
