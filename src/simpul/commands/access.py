"""`simpul institution|account|device …`: thin adapters. Reads go to the access service;
every change is a governance action (`simpul.governance.actions`), audited with it.

A generated password or client secret is written once to stdout for the operator to store;
everything else goes to stderr, and no secret is ever logged.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from simpul.access import service, totp
from simpul.access.schemas import (
    AccountCreate,
    AccountKind,
    DeviceIn,
    IssuedSecret,
    Role,
)
from simpul.errors import InvalidInput, SimpulError
from simpul.governance import actions
from simpul.governance.actors import cli_actor
from simpul.obligations import enforcement
from simpul.runtime import runtime

M = TypeVar("M", bound=BaseModel)

institution_app = typer.Typer(
    help="Instansi: identitas, kontak, titik akses.", no_args_is_help=True
)
account_app = typer.Typer(help="Akun pengguna, operator, dan klien mesin.", no_args_is_help=True)
device_app = typer.Typer(help="Pembaca kartu KTP-el (SAM).", no_args_is_help=True)
out = Console(soft_wrap=True)  # long names stay on one line for scripts
err = Console(stderr=True, soft_wrap=True)

ReasonOpt = Annotated[str, typer.Option("--reason", help="Alasan (dicatat).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Keluaran JSON.")]


def _build(model: type[M], **values: Any) -> M:
    """Validate options into a schema; a bad value becomes a clear error, not a traceback."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput("masukan_tidak_valid", f"Masukan tidak valid: {problems}.") from None


def _migrate(ctx: typer.Context) -> None:
    # Any of these may be the first command on a fresh data dir.
    runtime(ctx).migrate()


institution_app.callback()(_migrate)
account_app.callback()(_migrate)
device_app.callback()(_migrate)


# -- institution --------------------------------------------------------------------------


@institution_app.command("load-seed")
def load_seed(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Option("--file", help="YAML instansi; bawaan: instansi demo.")
    ] = None,
) -> None:
    """Muat instansi dari YAML: yang baru dibuat, yang ada diperbarui (kecuali nama)."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        report = actions.load_institutions(session, rt.settings, rt.clock, file, actor=cli_actor())
    out.print(
        f"{len(report.created)} dibuat, {len(report.updated)} diperbarui, "
        f"{len(report.unchanged)} tetap."
    )
    for code in report.name_differs:
        err.print(
            f"[yellow]Peringatan:[/yellow] nama {code} di berkas berbeda dari yang tercatat; "
            f"tidak diubah. Gunakan `institution rename {code} …` bila nomenklatur berubah."
        )


@institution_app.command("list")
def list_institutions(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Daftar instansi."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        items = service.list_institutions(session)
    if as_json:
        typer.echo(json.dumps([i.model_dump(mode="json") for i in items], indent=2))
        return
    table = Table("kode", "nama", "jenis", "titik akses")
    for i in items:
        table.add_row(i.code, i.name, i.kind.value, ", ".join(i.access_cidrs) or "-")
    out.print(table)


@institution_app.command("show")
def show_institution(ctx: typer.Context, code: str, as_json: JsonOpt = False) -> None:
    """Rincian satu instansi dengan riwayat namanya."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        inst = service.get_institution(session, code)
        history = service.name_history(session, code)
    if as_json:
        body = inst.model_dump(mode="json") | {
            "riwayat_nama": [h.model_dump(mode="json") for h in history]
        }
        typer.echo(json.dumps(body, indent=2))
        return
    c = inst.contact
    out.print(f"[bold]{inst.name}[/bold] ({inst.code}, {inst.kind.value})")
    out.print(f"Alamat      : {inst.address}")
    out.print(
        f"Kontak      : {c.name}, {c.position}, {c.email}" + (f", {c.phone}" if c.phone else "")
    )
    out.print(f"Titik akses : {', '.join(inst.access_cidrs) or '-'}")
    for h in history:
        out.print(
            f"Nama diubah {h.changed_at:%Y-%m-%d %H:%M}: {h.old_name} → {h.new_name} "
            f"({h.actor}: {h.reason})"
        )


@institution_app.command("rename")
def rename_institution(ctx: typer.Context, code: str, new_name: str, reason: ReasonOpt) -> None:
    """Catat perubahan nama/nomenklatur instansi; PKS yang menjadikannya alasan berakhir
    (PKS 003 Pasal 6) diakhiri saat itu juga: token dicabut, card reader dinonaktifkan."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        change, report = enforcement.rename_institution(
            session, rt.settings, rt.clock, code, new_name, actor=cli_actor(), reason=reason
        )
    out.print(f"{change.institution}: {change.old_name} → {change.new_name}")
    for agreement_id, why in report.terminated:
        err.print(f"[red]PKS {agreement_id} diakhiri:[/red] {why}")
    if report.terminated:
        err.print(
            f"{report.tokens_revoked} token dicabut, {report.devices_deactivated} card reader "
            "dinonaktifkan."
        )
    else:
        err.print(
            "Tidak ada PKS berlaku yang berakhir karena perubahan nomenklatur ini "
            "(PKS 003 Pasal 6 hanya berlaku bagi PKS yang memuatnya)."
        )


# -- account ------------------------------------------------------------------------------


def _print_secret(issued: IssuedSecret) -> None:
    label = "Rahasia klien" if issued.account.kind is AccountKind.CLIENT else "Kata sandi"
    err.print(f"{label} untuk {issued.account.username} (ditampilkan sekali, simpan sekarang):")
    typer.echo(issued.secret.get_secret_value())


@account_app.command("create")
def create_account(
    ctx: typer.Context,
    institution: Annotated[str, typer.Option("--institution", help="Kode instansi.")],
    role: Annotated[Role, typer.Option("--role")],
    username: Annotated[str, typer.Option("--username", help="User ID atau client_id.")],
    kind: Annotated[AccountKind, typer.Option("--kind")] = AccountKind.USER,
    agreement: Annotated[
        list[str] | None, typer.Option("--agreement", help="ID PKS (boleh berulang).")
    ] = None,
    operator_of: Annotated[
        str | None, typer.Option("--operator-of", help="Pengguna Data yang dilayani operator.")
    ] = None,
    full_name: Annotated[str | None, typer.Option("--full-name")] = None,
) -> None:
    """Buat akun; kata sandi atau rahasia klien dibangkitkan dan ditampilkan sekali."""
    rt = runtime(ctx)
    data = _build(
        AccountCreate,
        username=username,
        institution=institution,
        role=role,
        kind=kind,
        full_name=full_name,
        agreement_ids=agreement or [],
        operator_of=operator_of,
    )
    with rt.transaction() as session:
        issued = actions.create_account(session, rt.settings, rt.clock, data, actor=cli_actor())
    a = issued.account
    err.print(
        f"Akun {a.username} dibuat ({a.kind.value}, {a.role.value}, {a.institution})"
        + (f", operator untuk {a.operator_of}" if a.operator_of else "")
        + (f", PKS: {', '.join(a.agreement_ids)}" if a.agreement_ids else "")
        + "."
    )
    _print_secret(issued)


@account_app.command("list")
def list_accounts(
    ctx: typer.Context,
    institution: Annotated[str | None, typer.Option("--institution")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Daftar akun (tanpa rahasia)."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        items = service.list_accounts(session, institution=institution)
    if as_json:
        typer.echo(json.dumps([i.model_dump(mode="json") for i in items], indent=2))
        return
    table = Table("user ID", "jenis", "peran", "instansi", "operator untuk", "PKS", "status", "2FA")
    for a in items:
        table.add_row(
            a.username,
            a.kind.value,
            a.role.value,
            a.institution,
            a.operator_of or "-",
            ", ".join(a.agreement_ids) or "-",
            a.status.value,
            "ya" if a.second_factor else "-",
        )
    out.print(table)


@account_app.command("revoke")
def revoke_account(ctx: typer.Context, username: str, reason: ReasonOpt) -> None:
    """Cabut akun; berlaku pada panggilan berikutnya, seluruh tokennya mati."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        acct = actions.revoke_account(
            session, rt.settings, rt.clock, username, actor=cli_actor(), reason=reason
        )
    out.print(f"Akun {acct.username} dicabut.")


@account_app.command("reset-secret")
def reset_secret(
    ctx: typer.Context,
    username: str,
    reason: Annotated[
        str, typer.Option("--reason", help="Alasan (dicatat).")
    ] = "Atur ulang rahasia melalui CLI",
) -> None:
    """Bangkitkan kata sandi atau rahasia klien baru (ditampilkan sekali)."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        issued = actions.reset_secret(
            session, rt.settings, rt.clock, username, actor=cli_actor(), reason=reason
        )
    _print_secret(issued)


@account_app.command("reset-second-factor")
def reset_second_factor(ctx: typer.Context, username: str, reason: ReasonOpt) -> None:
    """Atur ulang faktor kedua (TOTP) akun, mis. ponsel hilang; pengguna mendaftar lagi
    saat masuk berikutnya."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        acct = actions.reset_second_factor(
            session, rt.settings, rt.clock, username, actor=cli_actor(), reason=reason
        )
    out.print(f"Faktor kedua akun {acct.username} diatur ulang.")


@account_app.command("demo-code")
def demo_code(ctx: typer.Context, username: str) -> None:
    """Kode TOTP saat ini untuk akun dunia demo (dari demo-credentials.json), pengganti
    aplikasi autentikator saat mencoba demo."""
    settings = runtime(ctx).settings
    creds_file = settings.data_dir / "demo-credentials.json"
    if not settings.demo or not creds_file.exists():
        raise SimpulError(
            "bukan_dunia_demo", "Perintah ini hanya untuk dunia demo (simpul demo).", status=404
        )
    creds = {c["username"]: c for c in json.loads(creds_file.read_text(encoding="utf-8"))}
    secret = creds.get(username.strip().lower(), {}).get("totp_secret")
    if not secret:
        raise SimpulError(
            "akun_tanpa_faktor_kedua",
            f"Akun demo {username!r} tidak memiliki faktor kedua.",
            status=404,
        )
    typer.echo(totp.current_code(secret, time.time()))


# -- device -------------------------------------------------------------------------------


@device_app.command("register")
def register_device(
    ctx: typer.Context,
    institution: Annotated[str, typer.Option("--institution")],
    serial: Annotated[str, typer.Option("--serial", help="Nomor seri pembaca kartu.")],
    sam: Annotated[str, typer.Option("--sam", help="ID SAM yang dipersonalisasi.")],
) -> None:
    """Daftarkan pembaca kartu KTP-el (status: terdaftar)."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        dev = actions.register_device(
            session,
            rt.settings,
            rt.clock,
            _build(DeviceIn, serial=serial, sam_id=sam, institution=institution),
            actor=cli_actor(),
        )
    out.print(f"Pembaca kartu {dev.serial} ({dev.institution}) {dev.status.value}.")


@device_app.command("activate")
def activate_device(ctx: typer.Context, serial: str) -> None:
    """Aktifkan pembaca kartu setelah personalisasi SAM."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        dev = actions.activate_device(session, rt.settings, rt.clock, serial, actor=cli_actor())
    out.print(f"Pembaca kartu {dev.serial} {dev.status.value}.")


@device_app.command("deactivate")
def deactivate_device(ctx: typer.Context, serial: str, reason: ReasonOpt) -> None:
    """Nonaktifkan pembaca kartu."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        dev = actions.deactivate_device(
            session, rt.settings, rt.clock, serial, actor=cli_actor(), reason=reason
        )
    out.print(f"Pembaca kartu {dev.serial} {dev.status.value}.")


@device_app.command("list")
def list_devices(
    ctx: typer.Context,
    institution: Annotated[str | None, typer.Option("--institution")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Daftar pembaca kartu."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        items = service.list_devices(session, institution=institution)
    if as_json:
        typer.echo(json.dumps([d.model_dump(mode="json") for d in items], indent=2))
        return
    table = Table("seri", "SAM", "instansi", "status", "aktif sejak", "nonaktif sejak")
    for d in items:
        table.add_row(
            d.serial,
            d.sam_id,
            d.institution,
            d.status.value,
            f"{d.activated_at:%Y-%m-%d %H:%M}" if d.activated_at else "-",
            f"{d.deactivated_at:%Y-%m-%d %H:%M}" if d.deactivated_at else "-",
        )
    out.print(table)
