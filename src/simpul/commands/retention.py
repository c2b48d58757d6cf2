"""`simpul retensi …`: delete stored outputs past their agreement's retention."""

from __future__ import annotations

import typer
from rich.console import Console

from simpul.runtime import runtime

app = typer.Typer(
    no_args_is_help=True,
    help="Retensi keluaran tersimpan: hapus yang melewati masa retensi perjanjiannya.",
)
out = Console(soft_wrap=True)


@app.command("jalankan")
def run(ctx: typer.Context) -> None:
    """Hapus hasil pemadanan, ekstrak, keluaran pengolahan dan berkas data balikan yang
    melewati masa retensi perjanjiannya (setiap penghapusan dicatat di log audit)."""
    from simpul.retention import purge_all

    rt = runtime(ctx)
    rt.migrate()
    for name, count in purge_all(rt).items():
        out.print(f"{name}: {count:,} dihapus")
