"""Registry service: load provider files with a row-level report, keep the keyed store and
the analytics snapshot (`DATA_DIR/registry/<dataset>.parquet`) in step."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from simpul.config import Settings
from simpul.errors import InvalidInput, NotFound
from simpul.kit.clock import Clock
from simpul.kit.ids import new_id
from simpul.kit.numbers import angka
from simpul.kit.tabular import open_table, row_unreadable
from simpul.matching.normalize import name_columns
from simpul.registry.datasets import Dataset, ElementType, builtin_datasets, get_dataset
from simpul.registry.identifiers import Issue
from simpul.registry.models import RegistryLoad
from simpul.registry.regions import load_regions
from simpul.registry.repository import RegistryRepository
from simpul.registry.repository import record_from_column as record_from_column
from simpul.registry.schemas import DatasetStats, LoadIssue, LoadReport
from simpul.registry.validation import RowValidator

BATCH = 5_000
REPORT_ISSUES_MAX = 1_000
MODES = ("ganti", "tambah")  # replace the dataset, or insert/update by NIK

ARROW_TYPES: dict[ElementType, pa.DataType] = {
    ElementType.TANGGAL: pa.date32(),
    ElementType.BILANGAN: pa.int64(),
    ElementType.DESIMAL: pa.float64(),
    ElementType.BOOLEAN: pa.bool_(),
}


# -- reads: the registry's records for the other capabilities ----------------------------
# Each takes the caller's session and asks the repository once: the single-NIK and batch
# web services run through `get` and `get_many` on their hot path, so nothing is added to a
# call but this function's own frame. `record_from_column` (re-exported above) decodes a
# record from the `data` column as a driver returns it (the web services' fast reader).


def get(session: Session, dataset: str, nik: str) -> dict[str, Any] | None:
    """The record of `nik` in `dataset`, or None: one primary-key read."""
    return RegistryRepository(session).get(dataset, nik)


def get_many(session: Session, dataset: str, niks: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Records by NIK for many NIKs at once (batch services), in chunks of 500."""
    return RegistryRepository(session).get_many(dataset, niks)


def family(session: Session, dataset: str, no_kk: str) -> list[dict[str, Any]]:
    """Every record on the family card `no_kk`, by NIK (the subject included)."""
    return RegistryRepository(session).family(dataset, no_kk)


def count(session: Session, dataset: str) -> int:
    """How many records the keyed store holds for `dataset`."""
    return RegistryRepository(session).count(dataset)


def iter_records(session: Session, dataset: str) -> Iterator[dict[str, Any]]:
    """Every record of `dataset` by NIK, streamed from the keyed store."""
    return RegistryRepository(session).iter_records(dataset)


def arrow_schema(dataset: Dataset) -> pa.Schema:
    return pa.schema(
        [(el.name, ARROW_TYPES.get(el.type, pa.string())) for el in dataset.tabular_elements]
    )


def snapshot_path(settings: Settings, dataset: str) -> Path:
    return settings.registry_dir / f"{dataset}.parquet"


def name_keys_path(settings: Settings, dataset: str) -> Path:
    """The snapshot's name keys (`nama_kunci`, `nama_fonetik`), row for row, beside it:
    the registry side of matching is normalised once, here, not per job. A file apart, so
    that what reads the snapshot (analytics, microdata) never sees them."""
    return settings.registry_dir / f"{dataset}.kunci-nama.parquet"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _map_header(dataset: Dataset, header: list[str]) -> tuple[dict[int, str], list[str]]:
    """Column index → element name; unknown columns are reported and ignored."""
    aliases = dataset.alias_map()
    mapping: dict[int, str] = {}
    ignored: list[str] = []
    for idx, col in enumerate(header):
        name = aliases.get(col.strip().lstrip("\ufeff").upper().replace(" ", "_"))
        if name is None:
            ignored.append(col)
        elif name in mapping.values():
            raise InvalidInput(
                "kolom_ganda", f"Kolom untuk elemen {name!r} muncul lebih dari sekali."
            )
        else:
            mapping[idx] = name
    missing = [
        el.name
        for el in dataset.tabular_elements
        if el.required and el.name not in mapping.values()
    ]
    if missing:
        raise InvalidInput(
            "kolom_wajib_tidak_ada",
            f"Kolom wajib tidak ada: {', '.join(missing)}. Tidak ada baris yang dimuat.",
            kolom=missing,
        )
    return mapping, ignored


class NameShape:
    """How a file's names are written, against SIAK's (upper case, no digits): a registry
    written otherwise still loads (matching normalises both sides), but the load report
    says so, since it usually means the file came from another system."""

    def __init__(self) -> None:
        self.names = 0
        self.lower = 0
        self.digits = 0

    def see(self, name: Any) -> None:
        if not isinstance(name, str) or not name.strip():
            return
        self.names += 1
        if name != name.upper():
            self.lower += 1
        if any(ch.isdigit() for ch in name):
            self.digits += 1

    def notes(self) -> list[str]:
        if not self.names:
            return []
        out: list[str] = []

        def share(n: int) -> str:
            return f"{n:,} dari {self.names:,} nama".replace(",", ".")

        if self.lower * 2 >= self.names:
            out.append(
                f"Peringatan: {share(self.lower)} tidak ditulis dengan huruf kapital seperti "
                "data SIAK (mis. huruf kecil atau campuran). Nama tetap dimuat; pemadanan "
                "menormalkan huruf, diakritik, tanda baca dan gelar di kedua sisi. Periksa "
                "apakah berkas ini memang berasal dari sistem sumber yang disepakati."
            )
        if self.digits * 20 >= self.names:
            out.append(
                f"Peringatan: {share(self.digits)} memuat angka, tidak lazim pada data SIAK. "
                "Nama tetap dimuat."
            )
        return out


def load_registry(
    session: Session,
    settings: Settings,
    dataset_code: str,
    path: Path,
    clock: Clock,
    mode: str = "ganti",
) -> LoadReport:
    """Validate every row; load the good ones; report each bad one by line and reason.

    Runs in the caller's transaction: a file-level error (missing columns, unreadable file,
    over the row limit) raises and the caller's rollback leaves the registry as it was.
    """
    if mode not in MODES:
        raise InvalidInput("mode_tidak_dikenal", f"Mode harus salah satu dari {', '.join(MODES)}.")
    dataset = get_dataset(dataset_code)
    if not path.is_file():
        raise NotFound("berkas_tidak_ada", f"Berkas {path} tidak ditemukan.")
    if path.stat().st_size > settings.max_upload_bytes:
        raise InvalidInput(
            "berkas_terlalu_besar",
            f"Berkas lebih dari batas {angka(settings.max_upload_bytes)} bita.",
            status=413,
        )
    table = open_table(path)
    mapping, ignored = _map_header(dataset, table.header)
    repo = RegistryRepository(session)
    load = RegistryLoad(
        id=new_id("muat-"),
        dataset=dataset.code,
        source=path.name,
        sha256=_sha256(path),
        mode=mode,
        started_at=clock.now(),
        rows_total=0,
        rows_loaded=0,
        rows_rejected=0,
        rows_warned=0,
        encoding=table.encoding,
        delimiter=table.delimiter,
    )
    repo.add_load(load)
    if mode == "ganti":
        repo.clear_dataset(dataset.code)

    validator = RowValidator(dataset, load_regions(), clock.today())
    shape = NameShape()
    issues: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    pending: list[dict[str, Any]] = []
    width = len(table.header)

    def report(line: int, severity: str, element: str | None, item: Issue) -> None:
        issues.append(
            {
                "line": line,
                "severity": severity,
                "element": element,
                "code": item.code,
                "detail": item.detail,
            }
        )

    for line, cells in table.rows:
        load.rows_total += 1
        if load.rows_total > settings.max_upload_rows:
            raise InvalidInput(
                "baris_melebihi_batas",
                f"Berkas berisi lebih dari {angka(settings.max_upload_rows)} baris; "
                "tidak ada yang dimuat.",
                status=413,
            )
        unreadable = row_unreadable(cells)
        if unreadable is not None:
            report(line, "galat", None, Issue("baris_tidak_terbaca", "Baris tidak terbaca."))
            load.rows_rejected += 1
            continue
        if len(cells) > width and any(str(c).strip() for c in cells[width:]):
            report(
                line,
                "galat",
                None,
                Issue(
                    "jumlah_kolom_tidak_sesuai",
                    f"Baris berisi {len(cells)} kolom, judul hanya {width}.",
                ),
            )
            load.rows_rejected += 1
            continue
        raw = {name: cells[idx] for idx, name in mapping.items() if idx < len(cells)}
        result = validator.validate(raw)
        nik = result.values.get(dataset.key)
        if not result.errors and isinstance(nik, str):
            first = seen.get(nik)
            if first is not None:
                result.errors.append(
                    (dataset.key, Issue("nik_ganda", f"NIK sama dengan baris {first}."))
                )
            else:
                seen[nik] = line
        for element, item in result.errors:
            report(line, "galat", element, item)
        for element, item in result.warnings:
            report(line, "peringatan", element, item)
        if result.errors:
            load.rows_rejected += 1
            continue
        if result.warnings:
            load.rows_warned += 1
        pending.append(result.values)
        load.rows_loaded += 1
        shape.see(result.values.get("nama_lengkap"))
        if len(pending) >= BATCH:
            repo.insert_records(dataset.code, load.id, pending, upsert=mode == "tambah")
            pending.clear()
    repo.insert_records(dataset.code, load.id, pending, upsert=mode == "tambah")
    if load.rows_total == 0:
        raise InvalidInput("berkas_tanpa_data", "Berkas tidak berisi baris data.")
    repo.add_issues(load.id, issues)
    load.finished_at = clock.now()
    session.flush()
    return LoadReport(
        load_id=load.id,
        dataset=dataset.code,
        source=path.name,
        mode=mode,
        encoding=table.encoding,
        delimiter=table.delimiter,
        rows_total=load.rows_total,
        rows_loaded=load.rows_loaded,
        rows_rejected=load.rows_rejected,
        rows_warned=load.rows_warned,
        ignored_columns=ignored,
        notes=[*table.notes, *shape.notes()],
        issues=[LoadIssue(**i) for i in issues[:REPORT_ISSUES_MAX]],
    )


def _batches(dataset: Dataset, records: Iterator[dict[str, Any]]) -> Iterator[pa.RecordBatch]:
    schema = arrow_schema(dataset)
    names = schema.names
    dates = {el.name for el in dataset.tabular_elements if el.type is ElementType.TANGGAL}
    chunk: list[dict[str, Any]] = []

    def flush() -> pa.RecordBatch:
        columns = {n: [r.get(n) for r in chunk] for n in names}
        for n in dates:
            columns[n] = [date.fromisoformat(v) if v else None for v in columns[n]]
        return pa.RecordBatch.from_pydict(columns, schema=schema)

    for rec in records:
        chunk.append(rec)
        if len(chunk) >= 50_000:
            yield flush()
            chunk = []
    if chunk:
        yield flush()


def write_snapshot(session: Session, settings: Settings, dataset_code: str) -> tuple[Path, int]:
    """Rewrite the Parquet snapshot from the keyed store (so it always equals it)."""
    dataset = get_dataset(dataset_code)
    target = snapshot_path(settings, dataset.code)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".parquet.tmp-{os.getpid()}")
    keyed = "nama_lengkap" in dataset.element_names
    keys_target = name_keys_path(settings, dataset.code)
    keys_tmp = keys_target.with_suffix(f".parquet.tmp-{os.getpid()}")
    rows = 0
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(
            pq.ParquetWriter(tmp, arrow_schema(dataset), compression="zstd")
        )
        keys_out = (
            stack.enter_context(pq.ParquetWriter(keys_tmp, _KEYS_SCHEMA, compression="zstd"))
            if keyed
            else None
        )
        for batch in _batches(dataset, RegistryRepository(session).iter_records(dataset.code)):
            writer.write_batch(batch)
            if keys_out is not None:
                key, sound = name_columns(batch.column("nama_lengkap").to_pylist())
                keys_out.write_batch(
                    pa.record_batch([pa.array(key), pa.array(sound)], schema=_KEYS_SCHEMA)
                )
            rows += batch.num_rows
    os.replace(tmp, target)
    if keyed:
        os.replace(keys_tmp, keys_target)
    return target, rows


_KEYS_SCHEMA = pa.schema([("nama_kunci", pa.string()), ("nama_fonetik", pa.string())])


def read_snapshot(settings: Settings, dataset: str, columns: Sequence[str]) -> pa.Table | None:
    """The snapshot's `columns` (those it has), with the stored name keys when asked for
    and present for every row; None when there is no snapshot."""
    snap = snapshot_path(settings, dataset)
    if not snap.exists():
        return None
    names = pq.read_schema(snap).names
    table = pq.read_table(snap, columns=[c for c in columns if c in names])
    keys = name_keys_path(settings, dataset)
    wanted = [c for c in _KEYS_SCHEMA.names if c in columns]
    if wanted and keys.exists() and pq.read_metadata(keys).num_rows == table.num_rows:
        stored = pq.read_table(keys, columns=wanted)
        for c in wanted:
            table = table.append_column(c, stored.column(c))
    return table


def issues_for_load(session: Session, load_id: str) -> list[LoadIssue]:
    repo = RegistryRepository(session)
    if repo.get_load(load_id) is None:
        raise NotFound("muatan_tidak_ada", f"Pemuatan {load_id} tidak ditemukan.")
    return [
        LoadIssue(line=i.line, severity=i.severity, element=i.element, code=i.code, detail=i.detail)
        for i in repo.issues(load_id)
    ]


def stats(session: Session, settings: Settings) -> list[DatasetStats]:
    repo = RegistryRepository(session)
    out: list[DatasetStats] = []
    for ds in builtin_datasets().values():
        last = repo.last_load(ds.code)
        snap = snapshot_path(settings, ds.code)
        snap_rows = pq.ParquetFile(snap).metadata.num_rows if snap.exists() else None
        has_kk = any(el.name == "no_kk" for el in ds.elements)
        out.append(
            DatasetStats(
                dataset=ds.code,
                name=ds.name,
                provider=ds.provider,
                records=repo.count(ds.code),
                families=repo.count_families(ds.code) if has_kk else None,
                last_load_at=last.finished_at if last else None,
                last_load_source=last.source if last else None,
                snapshot_rows=snap_rows,
                snapshot_path=str(snap) if snap.exists() else None,
            )
        )
    return out


def export_records(session: Session, dataset_code: str, target: Path) -> int:
    """Write the keyed store to CSV or XLSX; formula-like text is neutralised on the way."""
    from simpul.kit.export import write_rows

    dataset = get_dataset(dataset_code)
    names = [el.name for el in dataset.tabular_elements]
    records = RegistryRepository(session).iter_records(dataset.code)
    return write_rows(target, names, ([rec.get(n) for n in names] for rec in records))
