"""`simpul obligations …`: thin adapters over the obligation services."""

from __future__ import annotations

import getpass
import json
import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from simpul import kernel
from simpul.agreements.lifecycle import local_date
from simpul.agreements.schemas import Mechanism
from simpul.kernel import AccountName, Node, Origin
from simpul.kit.ids import new_id
from simpul.obligations import enforcement, feedback, feedback_ops, outbox, reports, service
from simpul.obligations.deadlines import Deadline, Status
from simpul.runtime import Runtime, runtime

app = typer.Typer(
    help="Kewajiban PKS: tenggat, data balikan, laporan, evaluasi, penegakan.",
    no_args_is_help=True,
)
feedback_app = typer.Typer(help="Data balikan: terutang, unggah, unduh.", no_args_is_help=True)
report_app = typer.Typer(help="Laporan dan dokumen resmi (HTML/PDF).", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")
app.add_typer(report_app, name="report")
out = Console()
err = Console(stderr=True)

STYLE = {
    Status.TERLAMBAT: "red",
    Status.SEGERA: "yellow",
    Status.AKAN_DATANG: "cyan",
    Status.DIPENUHI: "green",
    Status.DIPENUHI_TERLAMBAT: "green",
    Status.TANPA_TENGGAT: "dim",
}
AgreementArg = Annotated[str, typer.Argument(help="Id perjanjian, mis. pks-dukcapil-bkn.")]
OutOption = Annotated[Path, typer.Option("--out", help="Berkas keluaran (.html atau .pdf).")]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _rt(ctx: typer.Context) -> Runtime:
    rt = runtime(ctx)
    rt.migrate()
    return rt


def _table(items: list[Deadline]) -> None:
    table = Table(show_lines=False)
    for col in ("perjanjian", "kewajiban", "periode", "oleh", "tenggat", "status", "keterangan"):
        table.add_column(col)
    for d in items:
        style = STYLE[d.status]
        table.add_row(
            d.agreement_id,
            d.label,
            d.period,
            ",".join(d.obligors),
            d.due_on.isoformat() if d.due_on else "-",
            f"[{style}]{d.status.value}[/]",
            d.note if d.outstanding is None else f"{d.outstanding} belum; {d.note}",
        )
    out.print(table)


@app.command("list")
def list_(
    ctx: typer.Context,
    agreement: Annotated[str | None, typer.Option("--agreement", "--perjanjian")] = None,
    institution: Annotated[
        str | None,
        typer.Option("--institution", "--instansi", help="Hanya kewajiban instansi ini."),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Termasuk yang dipenuhi dan PKS berakhir.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Keluaran JSON.")] = False,
) -> None:
    """Semua tenggat kewajiban, terdekat lebih dulu."""
    rt = _rt(ctx)
    with rt.transaction() as session:
        items = service.deadlines(
            session,
            rt.settings,
            rt.clock,
            agreement_ids=[agreement] if agreement else None,
            open_only=not all_,
            include_ended=all_ or bool(agreement),
            institution=institution,
        )
    if as_json:
        typer.echo(json.dumps([_json(d) for d in items], ensure_ascii=False, indent=1))
        return
    _table(items)


def _json(d: Deadline) -> dict[str, object]:
    return {
        "perjanjian": d.agreement_id, "kewajiban": d.duty_id, "uraian": d.label,
        "pasal": d.clause, "oleh": list(d.obligors), "periode": d.period,
        "tenggat": d.due_on.isoformat() if d.due_on else None, "status": d.status.value,
        "belum_dipenuhi": d.outstanding, "keterangan": d.note,
    }  # fmt: skip


@app.command()
def due(
    ctx: typer.Context,
    institution: Annotated[str | None, typer.Option("--institution", "--instansi")] = None,
) -> None:
    """Kewajiban yang terlambat atau jatuh tempo dalam 30 hari; keluar 1 bila ada yang terlambat."""
    rt = _rt(ctx)
    with rt.transaction() as session:
        items = [
            d
            for d in service.deadlines(
                session, rt.settings, rt.clock, open_only=True, institution=institution
            )
            if d.status in (Status.TERLAMBAT, Status.SEGERA)
        ]
    _table(items)
    if any(d.status is Status.TERLAMBAT for d in items):
        raise typer.Exit(1)


@app.command()
def notify(ctx: typer.Context) -> None:
    """Tulis pemberitahuan tenggat ke outbox dan kirim lewat SMTP bila dikonfigurasi."""
    rt = _rt(ctx)
    with rt.transaction() as session:
        made = outbox.queue(session, rt.settings, rt.clock)
    smtp = outbox.smtp_settings(rt.settings)
    with rt.transaction() as session:
        result = outbox.deliver(session, smtp, rt.clock)
    err.print(f"Pesan baru di outbox: {len(made)}.")
    if result.skipped:
        err.print("SMTP belum dikonfigurasi (SIMPUL_SMTP_HOST); pesan menunggu di outbox.")
    else:
        err.print(f"Terkirim: {result.sent}; gagal: {result.failed}.")


@app.command()
def record(
    ctx: typer.Context,
    agreement: AgreementArg,
    duty: Annotated[str, typer.Argument(help="Id kewajiban, mis. implementasi-teknis.")],
    note: Annotated[str, typer.Option("--note", "--keterangan")],
    period: Annotated[str, typer.Option("--period", "--periode")] = "",
    on: Annotated[str | None, typer.Option("--on", "--pada", help="TTTT-BB-HH")] = None,
) -> None:
    """Catat kewajiban bertenggat sebagai dipenuhi (implementasi, pemberitahuan, berita acara)."""
    rt = _rt(ctx)
    with rt.transaction() as session:
        row = service.record_fulfilment(
            session,
            rt.settings,
            rt.clock,
            agreement,
            duty,
            period=period,
            note=note,
            fulfilled_on=date.fromisoformat(on) if on else None,
            actor=_actor(),
        )
    err.print(f"Dicatat: {agreement} {duty} {period} dipenuhi {row.fulfilled_on.isoformat()}.")


@app.command()
def event(
    ctx: typer.Context,
    agreement: AgreementArg,
    kind: Annotated[str, typer.Argument(help="keadaan_kahar | perubahan_alamat")],
    party: Annotated[str, typer.Option("--party", "--pihak")],
    on: Annotated[
        str, typer.Option("--on", "--tanggal", help="Mulai peristiwa / berlaku alamat baru.")
    ],
    description: Annotated[str, typer.Option("--description", "--uraian")],
    notified_on: Annotated[str | None, typer.Option("--notified-on", "--diberitahukan")] = None,
) -> None:
    """Catat keadaan kahar atau perubahan alamat: membuka jendela pemberitahuannya."""
    rt = _rt(ctx)
    with rt.transaction() as session:
        row = service.record_event(
            session,
            rt.settings,
            rt.clock,
            agreement,
            kind,  # type: ignore[arg-type]
            party=party,
            occurred_on=date.fromisoformat(on),
            description=description,
            notified_on=date.fromisoformat(notified_on) if notified_on else None,
            actor=_actor(),
        )
    err.print(f"Peristiwa {row.id} dicatat.")


@app.command()
def enforce(ctx: typer.Context) -> None:
    """Jalankan aturan penegakan: kedaluwarsa, perubahan nomenklatur, data balikan terlambat."""
    rt = _rt(ctx)
    with rt.transaction() as session:
        rep = enforcement.run(session, rt.settings, rt.clock, actor=_actor())
    for a in rep.expired:
        out.print(f"berakhir   {a}")
    for a, why in rep.terminated:
        out.print(f"diakhiri   {a}: {why}")
    for a, why in rep.suspended:
        out.print(f"ditangguhkan {a}: {why}")
    err.print(
        f"Perangkat dinonaktifkan: {rep.devices_deactivated}; token dicabut: {rep.tokens_revoked}."
    )


@app.command()
def rule(
    ctx: typer.Context,
    agreement: AgreementArg,
    suspend_after_days: Annotated[
        int | None,
        typer.Option(
            "--suspend-after-days", help="Tangguhkan bila data balikan terlambat lebih dari N hari."
        ),
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Matikan penangguhan otomatis.")] = False,
) -> None:
    """Atur penangguhan otomatis per perjanjian."""
    if not off and suspend_after_days is None:
        raise typer.BadParameter("beri --suspend-after-days N atau --off")
    rt = _rt(ctx)
    with rt.transaction() as session:
        service.set_rule(
            session,
            rt.settings,
            rt.clock,
            agreement,
            suspend_after_days=None if off else suspend_after_days,
            actor=_actor(),
        )
    err.print("Aturan disimpan.")


@app.command()
def evaluate(
    ctx: typer.Context,
    agreement: AgreementArg,
    period: Annotated[str, typer.Option("--period", "--periode", help="mis. 2026-S1 atau 2026")],
    finding: Annotated[list[str], typer.Option("--finding", "--temuan")],
    recommendation: Annotated[
        str,
        typer.Option(
            "--recommendation", "--rekomendasi", help="lanjut | perbaiki | tangguhkan | akhiri"
        ),
    ],
) -> None:
    """Catat hasil evaluasi (temuan dan rekomendasi)."""
    rt = _rt(ctx)
    with rt.transaction() as session:
        row = reports.record_evaluation(
            session,
            rt.settings,
            rt.clock,
            agreement,
            period=period,
            findings=finding,
            recommendation=recommendation,
            evaluator=_actor(),
        )
    err.print(f"Evaluasi {row.id} dicatat: {row.recommendation}.")


# ---------------------------------------------------------------- feedback


@feedback_app.command("status")
def feedback_status(ctx: typer.Context, agreement: AgreementArg) -> None:
    """Kelengkapan data balikan dan jumlah subjek yang terlambat."""
    rt = _rt(ctx)
    today = local_date(rt.clock.now())
    with rt.transaction() as session:
        row = service.view(session, agreement, rt.clock.now())
        for duty in feedback.feedback_duties(row.doc):
            c = feedback.completeness(session, rt.settings, agreement, row.doc, duty, today)
            out.print(
                f"{duty.id}: terutang {c.owed}, diterima {c.received}, terlambat "
                f"{c.overdue}, kelengkapan {100 * c.ratio:.1f}% (kolom: "
                f"{', '.join(feedback.columns(duty))})"
            )


@feedback_app.command("overdue")
def feedback_overdue(ctx: typer.Context, agreement: AgreementArg) -> None:
    """Daftar data balikan terlambat: per hari akses pertama, jumlah subjek belum dibalas."""
    rt = _rt(ctx)
    today = local_date(rt.clock.now())
    table = Table()
    for col in ("kewajiban", "diakses", "tenggat", "belum"):
        table.add_column(col)
    with rt.transaction() as session:
        row = service.view(session, agreement, rt.clock.now())
        for duty in feedback.feedback_duties(row.doc):
            for day in feedback.overdue_by_day(
                session, rt.settings, agreement, row.doc, duty, today
            ):
                table.add_row(duty.id, day.first_access.isoformat(), day.due_on.isoformat(),
                              str(day.outstanding))  # fmt: skip
    out.print(table)


AccountOption = Annotated[
    str,
    typer.Option("--akun", help="Akun yang bertindak (dicatat di log audit bersama NIK berkas)."),
]


def _node_call(rt: Runtime, account: str, action: str, op: Any, *args: Any, **kw: Any) -> Any:
    """One feedback operation through the kernel on behalf of `account` (the shell on the
    node is the credential, as for every `--akun` command)."""
    origin = Origin(Mechanism.WEB_SERVICE, action=action, request_id=new_id("cli-"),
                    internal=True)  # fmt: skip
    return kernel.run(Node(rt), AccountName(account), origin, op, *args, **kw)


@feedback_app.command("upload")
def feedback_upload(
    ctx: typer.Context,
    agreement: AgreementArg,
    path: Path,
    account: AccountOption,
    duty: Annotated[str | None, typer.Option("--duty", "--kewajiban")] = None,
    errors: Annotated[
        Path | None, typer.Option("--errors", help="Tulis baris ditolak (CSV).")
    ] = None,
) -> None:
    """Unggah data balikan (CSV) atas nama akun pihak yang wajib (admin penerima, operator,
    pengguna data); baris yang tidak terutang ditolak dengan alasannya."""
    rt = _rt(ctx)
    result: feedback.UploadResult = _node_call(
        rt, account, feedback_ops.UPLOAD, feedback_ops.upload, agreement, path.read_bytes(),
        filename=path.name, duty_id=duty,
    )  # fmt: skip
    out.print(
        f"Unggahan {result.upload_id}: {result.rows_total} baris, diterima "
        f"{result.rows_accepted}, ditolak {result.rows_rejected}."
    )
    for v in result.errors[:20]:
        err.print(f"  baris {v.line}: [{v.code}] {v.detail}", markup=False)
    if errors is not None:
        errors.write_text(feedback.rejections_csv(result), encoding="utf-8")


@feedback_app.command("download")
def feedback_download(
    ctx: typer.Context,
    agreement: AgreementArg,
    target: Annotated[Path, typer.Option("--out")],
    account: AccountOption,
    duty: Annotated[str | None, typer.Option("--duty", "--kewajiban")] = None,
) -> None:
    """Unduh data balikan yang diterima (CSV, mode 0600, baris pertama sumbernya) atas nama
    admin penyedia yang dituju."""
    rt = _rt(ctx)
    found: feedback.FeedbackFile = _node_call(
        rt, account, feedback_ops.DOWNLOAD, feedback_ops.download, agreement, duty
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file may have had other bits
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(found.text)
    err.print(f"Ditulis: {target} ({found.rows} baris)")


# ---------------------------------------------------------------- reports


def _write(target: Path, html: str) -> None:
    if target.suffix.lower() == ".pdf":
        target.write_bytes(reports.pdf(html))
    else:
        target.write_text(html, encoding="utf-8")
    err.print(f"Ditulis: {target}")


@report_app.command("usage")
def report_usage(
    ctx: typer.Context,
    agreement: AgreementArg,
    year: Annotated[int, typer.Option("--year", "--tahun")],
    semester: Annotated[int, typer.Option("--semester")],
    target: OutOption,
) -> None:
    """Laporan penggunaan penyedia per perjanjian dan semester (dengan grafik)."""
    rt = _rt(ctx)
    with rt.transaction() as session:
        html = reports.usage_html(
            reports.usage(session, rt.settings, rt.clock, agreement, year, semester)
        )
    _write(target, html)


@report_app.command("submit")
def report_submit(
    ctx: typer.Context,
    agreement: AgreementArg,
    year: Annotated[int, typer.Option("--year", "--tahun")],
    semester: Annotated[int, typer.Option("--semester")],
    institution: Annotated[str, typer.Option("--as", "--instansi")],
    narrative: Annotated[str, typer.Option("--narrative", "--uraian")],
    target: Annotated[Path | None, typer.Option("--out")] = None,
) -> None:
    """Sampaikan laporan semester penerima; angka pemanfaatan diisi dari log."""
    rt = _rt(ctx)
    with rt.transaction() as session:
        row = reports.submit_semester_report(
            session,
            rt.settings,
            rt.clock,
            agreement,
            year,
            semester,
            narrative=narrative,
            actor=_actor(),
            institution=institution,
        )
        html = reports.semester_report_html(session, row)
    err.print(f"Laporan semester {semester} {year} disampaikan ({row.figures['catatan']} catatan).")
    if target is not None:
        _write(target, html)


@report_app.command("summary")
def report_summary(ctx: typer.Context, target: OutOption) -> None:
    """Ringkasan evaluasi seluruh perjanjian untuk Menteri (PKS 000 Pasal 10(4))."""
    rt = _rt(ctx)
    with rt.transaction() as session:
        html = reports.evaluation_summary_html(session, rt.settings, rt.clock)
    _write(target, html)


@report_app.command("berita-acara")
def report_designation(ctx: typer.Context, agreement: AgreementArg, target: OutOption) -> None:
    """Berita acara penetapan pengguna data dan operator (PKS 000 Pasal 3(4))."""
    rt = _rt(ctx)
    with rt.transaction() as session:
        html = reports.designation_html(session, rt.clock, agreement)
    _write(target, html)
