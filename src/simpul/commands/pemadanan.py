"""`simpul match …` (one list, start to finish, with a progress bar) and
`simpul pemadanan …` (job status). The worker that runs queued jobs is `simpul worker`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from simpul import kernel
from simpul.access.auth import account_principal
from simpul.access.schemas import Principal
from simpul.agreements.schemas import Mechanism
from simpul.audit.receipts import ReceiptSigner, request_digest
from simpul.audit.service import Receipt
from simpul.kernel import AccountName, Node, Origin
from simpul.kernel.receipts import collecting
from simpul.kit.ids import new_id
from simpul.matching.engine import match as in_process
from simpul.pemadanan import reads, runner, service
from simpul.pemadanan.schemas import JobOut, OptionsIn
from simpul.runtime import Runtime, runtime

match_app = typer.Typer(
    help="Padankan satu daftar dengan dataset (PKS: pemadanan / cek status massal).",
    invoke_without_command=True,
)
app = typer.Typer(
    help="Pekerjaan pemadanan: status (pekerjanya: simpul worker).", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)


class Engine(StrEnum):
    proses = "proses"
    spark = "spark"


def spark_conf(pairs: list[str]) -> dict[str, str]:
    """`--spark-conf spark.driver.memory=4g` (repeatable) → {key: value}."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise typer.BadParameter(
                f"harus KUNCI=NILAI, diterima {pair!r}", param_hint="--spark-conf"
            )
        out[key.strip()] = value.strip()
    return out


@contextmanager
def _engine(
    engine: Engine, master: str, conf: dict[str, str] | None = None
) -> Iterator[runner.Matcher]:
    """The function this command's job is matched with: the in-process engine, or for
    `--engine spark` the same pipeline on a Spark session (stopped afterwards unless the
    caller already had one). Jobs from the API always run in process."""
    if engine is Engine.proses:
        yield in_process
        return
    try:
        from pyspark.sql import SparkSession

        from simpul.matching import spark as on_spark
    except ImportError as exc:
        err.print(f"[red]--engine spark butuh pyspark[/red] (pip install 'simpul[spark]'): {exc}")
        raise typer.Exit(2) from exc
    err.print(f"Spark: master {master}")
    existing = SparkSession.getActiveSession()  # a caller's session is left running
    spark = on_spark.session(master, conf)
    try:
        yield on_spark.matcher(spark)
    finally:
        if existing is None:
            spark.stop()


def _principal(rt: Runtime, username: str) -> Principal:
    with rt.read_transaction() as session:
        return account_principal(session, username)


def _origin(action: str, dataset: str | None) -> Origin:
    """A command on the node itself (no access point), for the account of `--akun`."""
    return Origin(Mechanism.BATCH, action=action, dataset=dataset,
                  request_id=new_id("cli-"), internal=True)  # fmt: skip


@match_app.callback()
def match(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Option(help="Dataset: kependudukan, asn, regsosek, dtks.")],
    input: Annotated[Path, typer.Option("--input", help="Daftar CSV atau XLSX.", exists=True)],
    output: Annotated[Path, typer.Option("--output", help="Berkas hasil CSV.")],
    akun: Annotated[str, typer.Option(help="Akun pengguna data/operator yang memadankan.")],
    alur: Annotated[str, typer.Option(help="umum | bpum | kpm | regsosek")] = "umum",
    berita_acara_pdf: Annotated[
        Path | None, typer.Option("--berita-acara", help="Tulis berita acara PDF ke sini.")
    ] = None,
    ambang: Annotated[
        float, typer.Option(min=0.05, max=0.999, help="Ambang kemungkinan_cocok (tinjauan).")
    ] = 0.5,
    ambang_terima: Annotated[
        float | None,
        typer.Option(
            min=0.5,
            max=1.0,
            help="Ambang cocok tanpa tinjauan (bawaan: ambang hibah, atau 0,95); hanya dapat "
            "dinaikkan; 1 = semua kemungkinan cocok ditinjau.",
        ),
    ] = None,
    engine: Annotated[
        Engine,
        typer.Option(
            help="proses: mesin dalam proses; spark: pipeline yang sama di Spark "
            "(butuh pyspark dan Java 17+; lihat docs/matching.md)."
        ),
    ] = Engine.proses,
    spark_master: Annotated[
        str,
        typer.Option(help="Master Spark untuk --engine spark: local[*], spark://host:7077, yarn."),
    ] = "local[*]",
    spark_conf_pairs: Annotated[
        list[str] | None,
        typer.Option(
            "--spark-conf",
            help="Setelan Spark KUNCI=NILAI untuk --engine spark, boleh berulang "
            "(mis. spark.driver.memory=4g).",
        ),
    ] = None,
) -> None:
    """Unggah, padankan dengan bilah progres, tulis hasil (dan berita acara)."""
    conf = spark_conf(spark_conf_pairs or [])  # refuse a bad setting before submitting
    rt = runtime(ctx)
    rt.migrate()
    node, who = Node(rt), AccountName(akun)
    with collecting() as uploaded:
        job = kernel.run(
            node, who, _origin("pemadanan.unggah", service.workflow_dataset(alur, dataset)),
            service.submit, upload=input, filename=input.name, dataset=dataset, workflow=alur,
            options=OptionsIn(ambang=ambang, ambang_terima=ambang_terima),
        )  # fmt: skip
    principal = _principal(rt, akun)
    with _engine(engine, spark_master, conf) as matcher:
        state = _run(rt, principal, job.id, matcher)
    if state.status != "selesai":
        err.print(f"[red]Pekerjaan {state.status}[/red]: {state.galat} — {state.keterangan}")
        raise typer.Exit(1)
    # Each file is its own governed download: decided now, recorded with the people in it.
    with collecting() as downloaded:
        hasil = kernel.run(node, who, _origin("pemadanan.unduh", job.dataset),
                           reads.results_csv, job.id)  # fmt: skip
    pdf, minuted = None, []
    if berita_acara_pdf is not None:
        with collecting() as minuted:
            pdf = kernel.run(node, who, _origin("pemadanan.berita_acara", job.dataset),
                             reads.minutes, job.id)  # fmt: skip
    with rt.read_transaction() as session:
        issues = service.issue_count(session, principal, job.id)
    output.parent.mkdir(parents=True, exist_ok=True)
    service.write_private(output, hasil.content)
    # The node's signed receipts of the calls, beside what they gave (docs/receipts.md).
    signer = ReceiptSigner(rt.settings)
    kept = [_keep(signer, downloaded, "pemadanan.unduh", hasil.content, output, output)]
    kept.append(_keep(signer, uploaded, "pemadanan.unggah", input.read_bytes(), input,
                      output.with_name(output.name + ".unggah")))  # fmt: skip
    if pdf is not None and berita_acara_pdf is not None:
        berita_acara_pdf.parent.mkdir(parents=True, exist_ok=True)
        service.write_private(berita_acara_pdf, pdf.content)
        kept.append(_keep(signer, minuted, "pemadanan.berita_acara", pdf.content,
                          berita_acara_pdf, berita_acara_pdf))  # fmt: skip
    _summary(state.jumlah or {}, issues)
    err.print(f"Hasil: {output}" + (f"; berita acara: {berita_acara_pdf}" if pdf else ""))
    err.print("Tanda terima: " + ", ".join(str(k) for k in kept if k is not None))


def _keep(
    signer: ReceiptSigner,
    got: list[Receipt],
    action: str,
    data: bytes | str,
    covered: Path,
    beside: Path,
) -> Path | None:
    """`<beside>.receipt` (0600): the signed receipt of the call's last allowed record, its
    digest over the bytes of `covered` as for a request `CLI <action>` with them as body."""
    if not got:
        return None
    raw = data.encode("utf-8") if isinstance(data, str) else data
    header = signer.sign(got[-1], request_digest("CLI", action, raw))
    path = beside.with_name(beside.name + ".receipt")
    check = (f"# simpul audit receipt verify --receipt @{path.name} --kunci KUNCI "
             f"--metode CLI --jalur {action} --isi @{covered.name}")  # fmt: skip
    service.write_private(path, f"{check}\n{header}\n")
    return path


def _run(rt: Runtime, principal: Principal, job_id: str, matcher: runner.Matcher) -> JobOut:
    """Run this job (only this one) in a worker thread, with a progress bar, until it ends."""
    worker = threading.Thread(
        target=runner.run_one, args=(rt, job_id), kwargs={"matcher": matcher}, daemon=True
    )
    worker.start()
    with Progress(
        TextColumn("[bold]Pemadanan[/bold] {task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
    ) as bar:
        task = bar.add_task(job_id, total=1.0)
        while True:
            with rt.read_transaction() as session:
                state = service.job_detail(session, principal, job_id)
            bar.update(task, completed=state.progres)
            if state.status in ("selesai", "gagal", "dibatalkan"):
                break
            if worker.is_alive():
                worker.join(timeout=0.2)  # returns at once when the job's thread is done
            else:  # another worker holds the job: watch it finish
                time.sleep(0.2)
    worker.join(timeout=5)
    return state


def _summary(counts: dict[str, int], issues: int) -> None:
    table = Table("status", "jumlah")
    for status, n in counts.items():
        table.add_row(status, f"{n:,}")
    table.add_row("baris bermasalah", f"{issues:,}")
    out.print(table)


@app.command("status")
def status(
    ctx: typer.Context,
    job_id: str,
    akun: Annotated[str, typer.Option(help="Akun pemilik pekerjaan.")],
) -> None:
    """Status dan jumlah per status satu pekerjaan."""
    rt = runtime(ctx)
    principal = _principal(rt, akun)
    state = service.owner_step(rt, principal, "pemadanan.status", service.job_detail, job_id)
    out.print_json(state.model_dump_json())
