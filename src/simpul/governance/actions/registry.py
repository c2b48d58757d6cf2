"""Registry actions: load a provider file, rewrite the analytics snapshot, export records.

Files are written to a staging path and moved into place only when the transaction that
records them commits (`publish_on_commit`): a rolled-back action leaves no file.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from simpul.access import service as access
from simpul.access.policy import ProviderRequest
from simpul.config import Settings
from simpul.errors import InvalidInput
from simpul.governance.actions._audit import audit, publish_on_commit, staged_path
from simpul.kernel.call import Call
from simpul.kernel.core import writes
from simpul.kit.clock import Clock
from simpul.kit.csvsafe import safe_cell
from simpul.registry import service as registry
from simpul.registry.datasets import Dataset, get_dataset
from simpul.registry.schemas import LoadReport

EXPORT_FORMATS = (".csv", ".xlsx")


def load_registry(
    session: Session, settings: Settings, clock: Clock, dataset: str, path: Path, *,
    actor: str, mode: str = "ganti",
) -> LoadReport:  # fmt: skip
    """Validate and load a provider file (rows in the caller's transaction); the record
    names the file by name and hash and carries the counts, never a row."""
    report = registry.load_registry(session, settings, dataset, path, clock, mode=mode)
    audit(
        session, settings, clock, "registri.muat", actor, None, dataset=report.dataset,
        institution=get_dataset(report.dataset).provider,
        detail={"muatan": report.load_id, "berkas": report.source, "mode": report.mode,
                "baris": report.rows_total, "dimuat": report.rows_loaded,
                "ditolak": report.rows_rejected, "peringatan": report.rows_warned},
    )  # fmt: skip
    return report


def write_snapshot(
    session: Session, settings: Settings, clock: Clock, dataset: str, *, actor: str
) -> tuple[Path, int]:
    """Rewrite `DATA_DIR/registry/<dataset>.parquet` from the keyed store; the new file
    replaces the old one when the record commits."""
    code = get_dataset(dataset).code
    target = registry.snapshot_path(settings, code)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".staging-{code}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    # The registry service writes under settings.registry_dir: point a copy at the staging
    # folder so that the real snapshot is replaced only on commit.
    staged_settings = settings.model_copy(update={"data_dir": staging})
    staged, rows = registry.write_snapshot(session, staged_settings, code)
    audit(
        session, settings, clock, "registri.snapshot", actor, None, dataset=code,
        institution=get_dataset(code).provider, detail={"baris": rows},
    )  # fmt: skip
    keys = registry.name_keys_path(staged_settings, code)
    if keys.exists():  # the stored name keys first, so the snapshot never runs ahead of them
        publish_on_commit(session, keys, registry.name_keys_path(settings, code))
    publish_on_commit(session, staged, target, cleanup=staging)
    return target, rows


@dataclass(frozen=True)
class Export:
    """An export done: `rows` people written to `path`."""

    path: Path
    rows: int = 0


EXPORT = "registri.ekspor"


def source_line(session: Session, ds: Dataset) -> str:
    """PKS 000 Pasal 7 ayat (2): use of the data must cite its source."""
    name = " ".join((access.institution_name(session, ds.provider) or ds.provider).split())
    return (
        f"# Sumber: {name} ({ds.name}); penggunaan data wajib mencantumkan sumbernya "
        "(PKS 000 Pasal 7 ayat (2))."
    )


@writes  # the file is published when the call's transaction (with its record) commits
def export_registry(
    session: Session, call: Call, dataset: str, target: Path, *, via: str | None = None
) -> Export:
    """A kernel operation: export the keyed store to CSV or XLSX for the calling account
    (`via`: who ran it, e.g. `cli:<os user>`). Only a provider_admin of the registry's
    provider (`access.policy.decide_provider`); the refusal or the export is recorded, the
    export with every NIK exported as its subjects (keyed hashes in the log). The file is
    mode 0600 and its first line cites the source."""
    ds = get_dataset(dataset)
    req = ProviderRequest(resource=EXPORT, dataset=ds.code, provider=ds.provider)
    decision = call.authorize_provider(req)
    suffix = target.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise InvalidInput("format_ekspor_tidak_didukung", "Ekspor hanya ke .csv atau .xlsx.")
    names = [el.name for el in ds.tabular_elements]
    niks: list[str] = []

    def rows() -> Iterable[list[Any]]:
        for rec in registry.iter_records(session, ds.code):
            niks.append(str(rec[ds.key]))
            yield [rec.get(n) for n in names]

    target.parent.mkdir(parents=True, exist_ok=True)
    staged = staged_path(target)
    try:
        _write(staged, suffix, source_line(session, ds), names, rows())
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    detail = {"berkas": target.name, **({"melalui": via} if via else {})}
    call.disclose_provider(req, decision, subjects=tuple(niks), result={"baris": len(niks)},
                           detail=detail)  # fmt: skip
    publish_on_commit(session, staged, target)
    return Export(target, rows=len(niks))


def _write(
    path: Path, suffix: str, first: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Owner-only from creation (the export is personal data); formula-like text is
    neutralised, as in every other export (kit.csvsafe)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a stale staging file may have had other bits
    if suffix == ".csv":
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(first + "\n")
            writer = csv.writer(fh)
            writer.writerow(header)
            for row in rows:
                writer.writerow(["" if v is None else safe_cell(v) for v in row])
        return
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("data")
    ws.append([first])
    ws.append(list(header))
    for row in rows:
        ws.append([safe_cell(v) for v in row])
    with os.fdopen(fd, "wb") as fh:
        wb.save(fh)
