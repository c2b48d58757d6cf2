"""`simpul worker`: the process that runs matching jobs (simpul.pemadanan.worker)."""

from __future__ import annotations

import signal
from typing import Annotated

import typer
from rich.console import Console

from simpul.errors import SimpulError
from simpul.pemadanan.worker import Options, Supervisor
from simpul.runtime import runtime

err = Console(stderr=True)


def worker(
    ctx: typer.Context,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=32,
            help="Pekerjaan yang berjalan bersamaan, masing-masing di prosesnya sendiri "
            "(bawaan: SIMPUL_WORKER_CONCURRENCY, 1).",
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option(help="Jalankan yang antri sampai habis lalu berhenti.")
    ] = False,
    stale_seconds: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            help="Detak lebih tua dari ini = pekerjanya mati; pekerjaan diambil alih "
            "(bawaan: SIMPUL_WORKER_STALE_SECONDS, 60).",
        ),
    ] = None,
    heartbeat_seconds: Annotated[
        float | None,
        typer.Option(
            min=0.05,
            max=10,
            help="Selang detak tiap pekerjaan yang berjalan "
            "(bawaan: SIMPUL_WORKER_HEARTBEAT_SECONDS, 1).",
        ),
    ] = None,
    memory_mb: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Batas memori proses satu pekerjaan dalam MB, 0 = tanpa batas "
            "(bawaan: SIMPUL_WORKER_JOB_MEMORY_MB).",
        ),
    ] = None,
) -> None:
    """Pekerja pemadanan: ambil pekerjaan antri dari basis data dan jalankan masing-masing
    di proses anaknya sendiri."""
    rt = runtime(ctx)
    rt.migrate()
    options = Options.of(rt.settings, concurrency=concurrency, stale=stale_seconds,
                         heartbeat=heartbeat_seconds, memory_mb=memory_mb)  # fmt: skip
    try:
        options.check()
    except SimpulError as exc:
        raise typer.BadParameter(exc.detail, param_hint="--stale-seconds") from exc
    supervisor = Supervisor(rt, options)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    err.print(
        f"Pekerja {supervisor.name}: {options.concurrency} pekerjaan bersamaan, detak tiap "
        f"{options.heartbeat:g} detik, basi setelah {options.stale:g} detik."
    )
    ended = supervisor.run(once=once)
    err.print(f"Pekerja berhenti; {ended} pekerjaan selesai diproses.")
