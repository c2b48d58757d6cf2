"""The `simpul` command. Each capability adds its own sub-commands (thin adapters).

The sub-commands are loaded lazily: `simpul --help` and `simpul version` import neither the
web app nor the database layer nor any capability, and a command imports only its own
capability (`simpul registry stats` does not import the portal or Spark). The root keeps a
table of each lazy command's module and its help line, which is what `--help` lists;
tests/test_cli_startup.py checks that the table matches the commands themselves.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

from simpul import __version__
from simpul.errors import SimpulError
from simpul.kit.masking import mask_niks_in_text

if TYPE_CHECKING:
    from rich.console import Console
    from typer._click import Command, Context, HelpFormatter  # typer's own copy of click


class LazyCommand(NamedTuple):
    """Where a lazily loaded command lives and the help line `--help` shows for it."""

    module: str
    attr: str  # a Typer sub-app or a command function
    help: str


# Command name → where it lives, in the order `--help` and docs/cli.md list them after the
# root's own commands. Each capability owns its sub-commands; the help text must equal the
# command's own (tests/test_cli_startup.py).
LAZY_COMMANDS: dict[str, LazyCommand] = {
    "demo": LazyCommand(
        "simpul.commands.demo",
        "demo",
        "Bangun dunia demo (registri sintetis, instansi, PKS, akun, riwayat pemakaian) lalu\n"
        "layani API dan portal. Tanpa --federated: satu node tertanam memegang semuanya (untuk\n"
        "satu instansi atau untuk mencoba); dengan --federated: satu node per instansi.",
    ),
    "serve": LazyCommand(
        "simpul.serve", "serve", "Layani instans yang sudah ada (API dan portal)."
    ),
    "registry": LazyCommand("simpul.commands.registry", "app", "Registri (dataset) penyedia data."),
    "agreement": LazyCommand(
        "simpul.commands.agreements",
        "app",
        "Perjanjian Kerja Sama (PKS): muat, lihat, tangguhkan, akhiri, adendum.",
    ),
    "institution": LazyCommand(
        "simpul.commands.access", "institution_app", "Instansi: identitas, kontak, titik akses."
    ),
    "account": LazyCommand(
        "simpul.commands.access", "account_app", "Akun pengguna, operator, dan klien mesin."
    ),
    "device": LazyCommand("simpul.commands.access", "device_app", "Pembaca kartu KTP-el (SAM)."),
    "audit": LazyCommand(
        "simpul.commands.audit", "app", "Log audit: pemeriksaan, riwayat akses subjek, bukti."
    ),
    "match": LazyCommand(
        "simpul.commands.pemadanan",
        "match_app",
        "Padankan satu daftar dengan dataset (PKS: pemadanan / cek status massal).",
    ),
    "pemadanan": LazyCommand(
        "simpul.commands.pemadanan",
        "app",
        "Pekerjaan pemadanan: status (pekerjanya: simpul worker).",
    ),
    "worker": LazyCommand(
        "simpul.commands.worker",
        "worker",
        "Pekerja pemadanan: ambil pekerjaan antri dari basis data dan jalankan masing-masing\n"
        "di proses anaknya sendiri.",
    ),
    "face": LazyCommand(
        "simpul.commands.face",
        "app",
        "Verifikasi wajah: penyimpanan foto wajah penyedia dan pemeriksaan mesin.",
    ),
    "federation": LazyCommand(
        "simpul.commands.federation",
        "app",
        "Federasi: otoritas, direktori anggota, listener antarnode.",
    ),
    "retensi": LazyCommand(
        "simpul.commands.retention",
        "app",
        "Retensi keluaran tersimpan: hapus yang melewati masa retensi perjanjiannya.",
    ),
    "obligations": LazyCommand(
        "simpul.commands.obligations",
        "app",
        "Kewajiban PKS: tenggat, data balikan, laporan, evaluasi, penegakan.",
    ),
    "regsosek": LazyCommand(
        "simpul.commands.disclosure",
        "app",
        "Akses berjenjang Regsosek: agregat, mikro, BNBA, fasilitas pengolahan.",
    ),
}


def load_command(name: str) -> Command:
    """Import the module of a lazy command and build its click command, exactly as
    `app.add_typer(sub_app, name=name)` / `app.command(name)(function)` would."""
    entry = LAZY_COMMANDS[name]
    target = getattr(importlib.import_module(entry.module), entry.attr)
    holder = typer.Typer(add_completion=False)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    return typer.main.get_group(holder).commands[name]


class LazyGroup(TyperGroup):
    """The root group: the commands of `LAZY_COMMANDS` are imported on first use.

    While the root's own help is being written, a lazy command is a stand-in carrying only
    its name and help line; anything else (running it, its own `--help`, `typer utils docs`,
    shell completion) gets the real command."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._loaded: dict[str, Command] = {}
        self._writing_help = False

    def list_commands(self, ctx: Context) -> list[str]:
        own = super().list_commands(ctx)
        return [*own, *(name for name in LAZY_COMMANDS if name not in own)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in LAZY_COMMANDS:
            return command
        if self._writing_help:
            return TyperCommand(cmd_name, help=LAZY_COMMANDS[cmd_name].help)
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = load_command(cmd_name)
        return self._loaded[cmd_name]

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self._writing_help = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._writing_help = False


app = typer.Typer(
    name="simpul",
    cls=LazyGroup,
    help="Simpul — berbagi data antarinstansi sesuai Perjanjian Kerja Sama (PKS).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def err() -> Console:
    """Standard error, for messages (rich is imported only when one is written)."""
    from rich.console import Console

    return Console(stderr=True)


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", envvar="SIMPUL_DATA_DIR", help="Folder data instans."),
    ] = None,
) -> None:
    """Pengaturan dibaca dari variabel SIMPUL_* dan DATA_DIR/simpul.env."""
    if ctx.invoked_subcommand == "version":
        return  # needs no instance: no settings, no database layer
    from simpul.config import load_settings, private_umask
    from simpul.runtime import Runtime

    private_umask()  # every file the node writes holds personal data or keys
    # Only `init` and `demo` create a database; any other command refuses one that is not
    # the data folder's own (simpul.runtime.check_instance).
    creates = ctx.invoked_subcommand in ("init", "demo")
    ctx.obj = Runtime(load_settings(data_dir), guard=not creates)
    if ctx.obj.settings.federation_member:  # a member node: other nodes' datasets forwarded
        from simpul.federation.node import attach

        attach(ctx.obj)
    ctx.call_on_close(ctx.obj.close)


@app.command()
def init(ctx: typer.Context) -> None:
    """Buat atau perbarui skema basis data (migrasi Alembic)."""
    # Also gives the database its instance id and records both in the data folder.
    from simpul.db import public_url
    from simpul.runtime import runtime

    rt = runtime(ctx)
    instance_id = rt.initialise()
    err().print(
        f"Skema basis data mutakhir: {public_url(rt.settings.effective_database_url)} "
        f"(instans {instance_id})"
    )


@app.command()
def version() -> None:
    """Tampilkan versi Simpul."""
    typer.echo(__version__)


def main() -> None:
    """Console entry point: a SimpulError becomes a clear message and exit code 2."""
    try:
        app()
    except SimpulError as exc:
        err().print(f"[red]Galat[/red] [{exc.code}] {mask_niks_in_text(exc.detail)}")
        raise SystemExit(2) from None
