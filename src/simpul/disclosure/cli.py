"""`simpul regsosek …`: aggregate tables, microdata and BNBA extracts, the processing
facility and its review queue, and per-agreement disclosure settings — thin adapters over
the same service functions the API calls (decided as `web_portal`, audited)."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from simpul import kernel
from simpul.access.auth import principal_for_account
from simpul.access.repository import AccountRepository
from simpul.access.schemas import Principal
from simpul.agreements.schemas import Mechanism, Service
from simpul.disclosure import extracts, sandbox
from simpul.disclosure import service as svc
from simpul.disclosure.aggregate import TableSpec
from simpul.errors import NotFound
from simpul.kernel import AccountName, Node, Origin
from simpul.kernel.core import legacy
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


def _principal(rt: Runtime, username: str) -> Principal:
    with rt.transaction() as session:
        acct = AccountRepository(session).by_username(username.strip().lower())
        if acct is None:
            raise NotFound("akun_tidak_ditemukan", f"Akun {username!r} tidak ditemukan.")
        return principal_for_account(session, acct.id)


def _call(
    rt: Runtime, akun: str, service: Service, fn: Callable[..., tuple[R | None, Any]], *args: Any
) -> R:
    """One request on behalf of `akun`, through the kernel, as the portal makes it."""
    origin = Origin(Mechanism.WEB_PORTAL, action=service.value, dataset="regsosek",
                    request_id=new_id("cli-"))  # fmt: skip
    result = kernel.run(Node(rt), AccountName(akun), origin, legacy(fn), *args)
    assert result is not None
    return result


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
    table = _call(rt, akun, Service.AGREGAT, svc.aggregate, spec)
    if keluaran:
        cols = list(table.baris[0]) if table.baris else []
        with keluaran.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(cols)
            for row in table.baris:
                writer.writerow([safe_cell("" if row.get(c) is None else row.get(c)) for c in cols])
            writer.writerow([table.sumber])
    out.print(
        f"{table.sel:,} sel; [red]{table.ditekan_primer:,} ditekan primer[/red], "
        f"[yellow]{table.ditekan_sekunder:,} ditekan sekunder[/yellow]."
    )
    out.print(table.sumber)


def _extract(rt: Runtime, akun: str, fn: Any, fmt: str, wilayah: str | None, target: Path) -> None:
    service = Service.BNBA if fn is extracts.bnba else Service.MIKRO
    result = _call(rt, akun, service, fn, fmt, wilayah)
    path, _ = extracts.extract_file(rt.settings, _principal(rt, akun), result.ekstrak_id)
    shutil.copyfile(path, target)
    out.print(f"{result.baris:,} baris → {target}")
    if result.laporan_risiko:
        report = target.with_suffix(".risiko.json")
        report.write_text(json.dumps(result.laporan_risiko, ensure_ascii=False, indent=2))
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
    _extract(runtime(ctx), akun, extracts.microdata, fmt, wilayah, keluaran)


@app.command("bnba")
def bnba(
    ctx: typer.Context,
    akun: Akun,
    keluaran: Annotated[Path, typer.Option(help="Berkas .parquet atau .csv.")],
    wilayah: Annotated[str | None, typer.Option(help="Filter kode wilayah.")] = None,
) -> None:
    """Ekstrak BNBA di dalam cakupan wilayah perjanjian."""
    fmt = "csv" if keluaran.suffix.lower() == ".csv" else "parquet"
    _extract(runtime(ctx), akun, extracts.bnba, fmt, wilayah, keluaran)


@app.command("olah")
def olah(
    ctx: typer.Context,
    akun: Akun,
    sql: Annotated[str, typer.Option(help="Satu pernyataan SELECT atas view `regsosek`.")],
    tujuan: Annotated[str | None, typer.Option(help="Tujuan analisis.")] = None,
) -> None:
    """Jalankan SQL di fasilitas pengolahan; keluaran diperiksa sebelum dirilis."""
    result = _call(runtime(ctx), akun, Service.PENGOLAHAN, sandbox.submit, sql, tujuan)
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
    rt = runtime(ctx)
    principal = _principal(rt, akun)
    with rt.transaction() as session:
        queue = sandbox.review_queue(session, principal)
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
    rt = runtime(ctx)
    principal = _principal(rt, akun)
    with rt.transaction() as session:
        result = sandbox.review(session, rt.settings, principal, keluaran_id, setujui, alasan,
                                rt.clock)  # fmt: skip
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
