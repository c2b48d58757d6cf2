"""`simpul agreement …`: thin adapters. Reads go to the agreement service; every change
is a governance action (`simpul.governance.actions`), audited in the same transaction."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from simpul.agreements import service
from simpul.agreements.lifecycle import WIB, State
from simpul.agreements.loader import AgreementFileError, demo_dir, seed_dir
from simpul.agreements.schemas import AgreementDocument
from simpul.governance import actions
from simpul.governance.actors import cli_actor
from simpul.runtime import Runtime, runtime

app = typer.Typer(
    help="Perjanjian Kerja Sama (PKS): muat, lihat, tangguhkan, akhiri, adendum.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

STATE_STYLE = {
    State.BERLAKU: "green",
    State.DITANGGUHKAN: "yellow",
    State.BERAKHIR: "red",
    State.DIAKHIRI: "red",
    State.DITANDATANGANI: "cyan",
    State.DRAF: "dim",
}

ReasonOption = Annotated[str, typer.Option("--reason", "--alasan", help="Alasan tindakan (wajib).")]


def _at(rt: Runtime, on: str | None) -> datetime:
    """Now, or noon (WIB) of a given date, to look at the agreements as of that day."""
    if on is None:
        return rt.clock.now()
    try:
        day = date.fromisoformat(on)
    except ValueError:
        raise typer.BadParameter("format tanggal TTTT-BB-HH", param_hint="--pada") from None
    return datetime.combine(day, time(12), WIB).astimezone(UTC)


def _local(at: datetime) -> datetime:
    """A stored time in WIB (SQLite hands back naive UTC)."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(WIB)


def _state(state: State) -> str:
    return f"[{STATE_STYLE[state]}]{state.value}[/]"


def _load(rt: Runtime, paths: list[Path]) -> None:
    rt.migrate()
    try:
        with rt.transaction() as session:
            results = actions.load_agreements(
                session, rt.settings, rt.clock, paths, actor=cli_actor()
            )
    except AgreementFileError as exc:
        err.print("[red]Berkas perjanjian tidak sah; tidak ada yang dimuat.[/red]")
        for issue in exc.issues:
            err.print(f"  {issue}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    words = {
        "dimuat": "dimuat",
        "diganti": "draf diganti",
        "tidak_berubah": "tidak berubah",
        "adendum": "adendum diterapkan",
    }
    for r in results:
        extra = f" ({r.addendum_id})" if r.addendum_id else ""
        out.print(f"{r.agreement_id} versi {r.version}: {words[r.outcome]}{extra}")


@app.command("load")
def load(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Berkas YAML perjanjian/adendum atau folder.")
    ] = None,
    seed: Annotated[bool, typer.Option("--seed", help="Muat empat PKS bawaan.")] = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="Terapkan juga adendum demo (bukan dokumen resmi).")
    ] = False,
) -> None:
    """Muat perjanjian dan adendum; satu berkas tidak sah berarti tidak ada yang dimuat."""
    chosen = list(paths or [])
    if seed:
        chosen.append(seed_dir())
    if demo:
        chosen.append(demo_dir())
    if not chosen:
        raise typer.BadParameter("sebutkan berkas/folder, atau --seed", param_hint="PATHS")
    _load(runtime(ctx), chosen)


@app.command("addendum")
def addendum(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Berkas YAML adendum.")],
) -> None:
    """Terapkan adendum: perjanjian mendapat versi baru, riwayat tetap tersimpan."""
    rt = runtime(ctx)
    rt.migrate()
    try:
        with rt.transaction() as session:
            results = actions.apply_addendum(
                session, rt.settings, rt.clock, file, actor=cli_actor()
            )
    except AgreementFileError as exc:
        err.print("[red]Berkas adendum tidak sah; tidak ada yang diterapkan.[/red]")
        for issue in exc.issues:
            err.print(f"  {issue}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    for r in results:
        out.print(f"{r.agreement_id} versi {r.version}: {r.outcome} ({r.addendum_id or '-'})")


@app.command("list")
def list_(
    ctx: typer.Context,
    on: Annotated[str | None, typer.Option("--pada", help="Status per tanggal TTTT-BB-HH.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Keluaran JSON.")] = False,
) -> None:
    """Daftar perjanjian dengan status efektif."""
    rt = runtime(ctx)
    rt.migrate()
    at = _at(rt, on)
    with rt.transaction() as session:
        rows = service.list_agreements(session, at)
    if as_json:
        typer.echo(json.dumps([_summary_json(s) for s in rows], ensure_ascii=False, indent=2))
        return
    table = Table(title=f"Perjanjian per {at.astimezone(WIB):%Y-%m-%d %H:%M} WIB")
    # The id, state and dates must stay whole; the long official title gives way.
    wide = out.width >= 110  # on a narrow terminal the title gives way (see `show`)
    table.add_column("id", no_wrap=True, min_width=18)
    if wide:
        table.add_column("judul", overflow="ellipsis", no_wrap=True, max_width=24)
    table.add_column("pihak", min_width=14)
    table.add_column("versi", no_wrap=True, min_width=10)
    table.add_column("status efektif", no_wrap=True, min_width=12)
    table.add_column("berakhir", no_wrap=True, min_width=10)
    for s in rows:
        version = f"{s.version_in_force}/{s.current_version}" + (" (demo)" if s.demo else "")
        table.add_row(
            s.id,
            *([s.title] if wide else []),
            ", ".join(s.parties),
            version,
            _state(s.effective_state),
            s.ends_on.isoformat(),
        )
    out.print(table)


def _summary_json(s: service.AgreementSummary) -> dict[str, Any]:
    return {
        "id": s.id,
        "judul": s.title,
        "pihak": list(s.parties),
        "versi_terkini": s.current_version,
        "versi_berlaku": s.version_in_force,
        "status_tersimpan": s.stored_state.value,
        "status_efektif": s.effective_state.value,
        "mulai": s.starts_on.isoformat(),
        "berakhir": s.ends_on.isoformat(),
        "demo": s.demo,
    }


@app.command("show")
def show(
    ctx: typer.Context,
    agreement_id: Annotated[str, typer.Argument(metavar="ID", help="Id perjanjian.")],
    version: Annotated[int | None, typer.Option("--version", "--versi", help="Versi.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Keluaran JSON.")] = False,
) -> None:
    """Isi perjanjian (versi terkini atau --version N), riwayat versi dan peristiwa."""
    rt = runtime(ctx)
    rt.migrate()
    now = rt.clock.now()
    with rt.transaction() as session:
        row = service.get(session, agreement_id, version)
        summary = service.summary(session, agreement_id, now)
        history = service.versions(session, agreement_id)
        events = service.events(session, agreement_id)
        doc = service.document_of(row)
    if as_json:
        body = {
            **_summary_json(summary),
            "versi": row.version,
            "dokumen": row.document,
            "riwayat_versi": [
                {
                    "versi": v.version,
                    "adendum": v.addendum_id,
                    "alasan": v.reason,
                    "berlaku_sejak": v.effective_from.isoformat(),
                    "mulai": v.starts_on.isoformat(),
                    "berakhir": v.ends_on.isoformat(),
                    "sumber": v.source,
                    "sha256": v.sha256,
                    "dimuat": _local(v.loaded_at).isoformat(),
                    "demo": v.demo,
                }
                for v in history
            ],
            "peristiwa": [
                {
                    "waktu": _local(e.at).isoformat(),
                    "tindakan": e.action,
                    "dari": e.from_state,
                    "ke": e.to_state,
                    "pelaku": e.actor,
                    "alasan": e.reason,
                    "versi": e.version,
                }
                for e in events
            ],
        }
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    _print_document(doc, row.version, summary)
    versions_table = Table(title="Riwayat versi")
    for column in ("versi", "adendum", "berlaku sejak", "berakhir", "alasan"):
        versions_table.add_column(column)
    for v in history:
        versions_table.add_row(
            str(v.version),
            (v.addendum_id or "-") + (" (demo)" if v.demo else ""),
            v.effective_from.isoformat(),
            v.ends_on.isoformat(),
            v.reason or "-",
        )
    out.print(versions_table)
    events_table = Table(title="Peristiwa")
    for column in ("waktu", "tindakan", "status", "pelaku", "alasan"):
        events_table.add_column(column)
    for e in events:
        change = f"{e.from_state or '-'} → {e.to_state}"
        events_table.add_row(f"{_local(e.at):%Y-%m-%d %H:%M}", e.action, change, e.actor, e.reason)
    out.print(events_table)


def _print_document(doc: AgreementDocument, version: int, s: service.AgreementSummary) -> None:
    out.print(f"[bold]{doc.id}[/bold] versi {version} — {doc.title}")
    for p in doc.parties:
        out.print(f"  {p.designation}: {p.name} ({p.code}) nomor {p.number or '-'}")
        if p.log_key:  # the key the other party's witness pins (docs/audit.md)
            out.print(f"    kunci log audit: {p.log_key}")
    out.print(
        f"  Ditandatangani {doc.signed_on or '-'}; berlaku {doc.starts_on} s.d. "
        f"{doc.ends_on} ({doc.term.clause})"
    )
    out.print(
        f"  Status tersimpan {_state(s.stored_state)}, efektif {_state(s.effective_state)}"
        f" (versi berlaku {s.version_in_force})"
    )
    grants = Table(title="Hibah akses")
    for column in (
        "id",
        "penyedia → penerima",
        "dataset",
        "layanan",
        "mekanisme",
        "wilayah",
        "pasal",
    ):
        grants.add_column(column)
    for g in doc.grants:
        grants.add_row(
            g.id,
            f"{g.provider} → {g.recipient}",
            g.dataset,
            g.service.value,
            g.mechanism.value,
            ",".join(g.region_scope or ["nasional"]),
            g.clause,
        )
    out.print(grants)
    duties = Table(title="Kewajiban")
    for column in ("id", "jenis", "oleh", "pasal"):
        duties.add_column(column)
    for d in doc.duties:
        duties.add_row(d.id, d.kind, ", ".join(d.by), d.clause)
    out.print(duties)
    for ban in doc.prohibitions:
        out.print(f"  Larangan {ban.kind.value} ({', '.join(ban.bound)}) — {ban.clause}")
    for t in doc.triggers:
        out.print(f"  Pengakhiran: {t.kind.value} → {t.outcome} — {t.clause}")


def _govern(ctx: typer.Context, agreement_id: str, reason: str, verb: str) -> None:
    # Named governance actions: the state change and its audit record commit together.
    rt = runtime(ctx)
    rt.migrate()
    action = {
        "suspend": actions.suspend_agreement,
        "resume": actions.resume_agreement,
        "sign": actions.sign_agreement,
        "activate": actions.activate_agreement,
    }
    with rt.transaction() as session:
        if verb == "terminate":
            ended = actions.terminate_agreement(
                session, rt.settings, rt.clock, agreement_id, actor=cli_actor(), reason=reason
            )
            agreement = ended.agreement
            for dev in ended.devices_deactivated:
                out.print(f"Pembaca kartu {dev.serial} ({dev.institution}) dinonaktifkan.")
        else:
            agreement = action[verb](
                session, rt.settings, rt.clock, agreement_id, actor=cli_actor(), reason=reason
            )
        state = State(agreement.state)
    out.print(f"{agreement_id}: status sekarang {_state(state)}")


@app.command("suspend")
def suspend(
    ctx: typer.Context,
    agreement_id: Annotated[str, typer.Argument(metavar="ID")],
    reason: ReasonOption,
) -> None:
    """Tangguhkan perjanjian: semua hibahnya berhenti pada permintaan berikutnya."""
    _govern(ctx, agreement_id, reason, "suspend")


@app.command("resume")
def resume(
    ctx: typer.Context,
    agreement_id: Annotated[str, typer.Argument(metavar="ID")],
    reason: ReasonOption,
) -> None:
    """Pulihkan perjanjian yang ditangguhkan."""
    _govern(ctx, agreement_id, reason, "resume")


@app.command("terminate")
def terminate(
    ctx: typer.Context,
    agreement_id: Annotated[str, typer.Argument(metavar="ID")],
    reason: ReasonOption,
) -> None:
    """Akhiri perjanjian sebelum jangka waktunya (final)."""
    _govern(ctx, agreement_id, reason, "terminate")


@app.command("sign")
def sign(
    ctx: typer.Context,
    agreement_id: Annotated[str, typer.Argument(metavar="ID")],
    reason: ReasonOption,
) -> None:
    """Catat penandatanganan draf."""
    _govern(ctx, agreement_id, reason, "sign")


@app.command("activate")
def activate(
    ctx: typer.Context,
    agreement_id: Annotated[str, typer.Argument(metavar="ID")],
    reason: ReasonOption,
) -> None:
    """Berlakukan perjanjian yang sudah ditandatangani."""
    _govern(ctx, agreement_id, reason, "activate")


@app.command("expire")
def expire(ctx: typer.Context) -> None:
    """Catat status berakhir untuk perjanjian yang jangka waktunya sudah lewat."""
    rt = runtime(ctx)
    rt.migrate()
    with rt.transaction() as session:
        done = actions.expire_due(session, rt.settings, rt.clock, actor=cli_actor())
    ids = done.agreement_ids
    out.print(f"Berakhir: {', '.join(ids)}" if ids else "Tidak ada perjanjian yang berakhir.")
    for dev in done.devices_deactivated:
        out.print(f"Pembaca kartu {dev.serial} ({dev.institution}) dinonaktifkan.")
