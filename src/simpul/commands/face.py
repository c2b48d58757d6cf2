"""`simpul face …`: the provider's photo store and an engine check (thin adapters)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from simpul import kernel
from simpul.agreements.schemas import Mechanism
from simpul.face import engine as face_engine
from simpul.face import samples, service
from simpul.kernel import AccountName, Node, Origin
from simpul.kit.ids import new_id
from simpul.kit.masking import mask_nik
from simpul.runtime import runtime

app = typer.Typer(
    help="Verifikasi wajah: penyimpanan foto wajah penyedia dan pemeriksaan mesin.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

DatasetOption = Annotated[str, typer.Option("--dataset", help="Dataset berfoto wajah.")]
ReasonOption = Annotated[str, typer.Option("--reason", "--alasan", help="Alasan tindakan (wajib).")]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _read(path: Path) -> bytes:
    limit = face_engine.MAX_PHOTO_BYTES
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise face_engine.too_large(limit)
    return data


@app.command("enrol")
def enrol(
    ctx: typer.Context,
    nik: Annotated[str, typer.Argument(help="NIK pemilik foto (16 digit).")],
    photo: Annotated[Path, typer.Argument(help="Foto wajah JPEG atau PNG.", exists=True)],
    reason: ReasonOption,
    dataset: DatasetOption = "kependudukan",
) -> None:
    """Simpan (atau ganti) foto wajah seseorang; embedding dihitung sekali di sini."""
    rt = runtime(ctx)
    rt.migrate()
    data = _read(photo)
    with rt.transaction() as session:
        done = service.enroll(
            session, rt.settings, rt.clock, dataset, nik, data, actor=_actor(), reason=reason
        )
    verb = "diganti" if done.replaced else "disimpan"
    out.print(f"Foto wajah NIK {mask_nik(done.nik)} {verb} ({done.width}×{done.height}, "
              f"mesin {done.engine}).")  # fmt: skip


@app.command("remove")
def remove(
    ctx: typer.Context,
    nik: Annotated[str, typer.Argument(help="NIK pemilik foto (16 digit).")],
    reason: ReasonOption,
    dataset: DatasetOption = "kependudukan",
) -> None:
    """Hapus foto wajah seseorang dari penyimpanan."""
    rt = runtime(ctx)
    rt.migrate()
    with rt.transaction() as session:
        service.remove(session, rt.settings, rt.clock, dataset, nik, actor=_actor(), reason=reason)
    out.print(f"Foto wajah NIK {mask_nik(nik.strip())} dihapus.")


@app.command("stats")
def stats(
    ctx: typer.Context,
    dataset: DatasetOption = "kependudukan",
    as_json: Annotated[bool, typer.Option("--json", help="Keluaran JSON.")] = False,
) -> None:
    """Jumlah foto tersimpan per mesin (embedding mesin lain perlu `reindex`)."""
    rt = runtime(ctx)
    rt.migrate()
    engine_name = face_engine.get_engine().name
    with rt.transaction() as session:
        result = service.stats(session, dataset, engine_name)
    if as_json:
        typer.echo(json.dumps(result.__dict__, ensure_ascii=False, indent=2))
        return
    out.print(f"{result.dataset}: {result.photos:,} foto wajah; mesin aktif {engine_name}.")
    for name, count in sorted(result.by_engine.items()):
        note = "" if name == engine_name else " (perlu reindex)"
        out.print(f"  {name}: {count:,}{note}")


@app.command("reindex")
def reindex(ctx: typer.Context, dataset: DatasetOption = "kependudukan") -> None:
    """Hitung ulang embedding foto yang dibuat mesin lain (setelah mengganti mesin)."""
    rt = runtime(ctx)
    rt.migrate()
    with rt.transaction() as session:
        result = service.reindex(session, rt.settings, rt.clock, dataset, actor=_actor())
    out.print(f"Embedding diperbarui: {result['diperbarui']:,}; gagal: {result['gagal']:,}.")


@app.command("compare")
def compare(
    photo_a: Annotated[Path, typer.Argument(help="Foto pertama.", exists=True)],
    photo_b: Annotated[Path, typer.Argument(help="Foto kedua.", exists=True)],
) -> None:
    """Kemiripan wajah (0-100) dua foto, tanpa data registri: pemeriksaan mesin."""
    engine = face_engine.get_engine()
    score = service.compare(_read(photo_a), _read(photo_b), engine)
    verdict = "sama" if score >= engine.recommended_threshold else "berbeda"
    out.print(f"Kemiripan {score:.1f} (mesin {engine.name}, ambang anjuran "
              f"{engine.recommended_threshold:g}: {verdict}).")  # fmt: skip


@app.command("verify")
def verify(
    ctx: typer.Context,
    nik: Annotated[str, typer.Option(help="NIK yang diverifikasi.")],
    foto: Annotated[Path, typer.Option(help="Foto wajah (JPEG/PNG).", exists=True)],
    akun: Annotated[str, typer.Option(help="Akun pengguna data/operator yang memeriksa.")],
    dataset: DatasetOption = "kependudukan",
) -> None:
    """Verifikasi wajah atas nama sebuah akun (PKS 003 Pasal 2(1)b): diputuskan terhadap
    perjanjiannya dan dicatat di log audit, seperti lewat API."""
    rt = runtime(ctx)
    rt.migrate()
    photo = _read(foto)
    origin = Origin(Mechanism.WEB_SERVICE, action="verifikasi_wajah", dataset=dataset,
                    request_id=new_id("cli-"), internal=True)  # fmt: skip
    answer = kernel.run(Node(rt), AccountName(akun), origin, service.verify_face,
                        dataset, nik, photo)  # fmt: skip
    out.print_json(answer.model_dump_json(exclude_none=True))


@app.command("samples")
def write_samples(
    folder: Annotated[Path, typer.Argument(help="Folder tujuan.")],
) -> None:
    """Tulis foto contoh (dari citra bawaan scikit-image, bukan orang sungguhan)."""
    written = samples.write_samples(folder)
    out.print(f"{len(written)} foto contoh ditulis ke {folder}.")
