"""Where microdata and BNBA extracts live: `DATA_DIR/disclosure/ekstrak/` (mode 0700).

Each extract is three files, all mode 0600: the data (`<id>.csv` / `<id>.parquet`), its
metadata (`<id>.json`: owner, agreement and version, grant, service, region, row count,
source line, risk report, creation time) and its subjects (`<id>.subjek`: the NIKs of the
persons whose rows are in the file, one per line), so that every download is decided
against the agreement the extract was made under and recorded with the persons it hands
out. The subjects file is read only by the node (the data user never receives it)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from simpul.config import Settings

MEDIA = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv"}
PRIVATE = 0o600


@dataclass(frozen=True)
class ExtractMeta:
    """What the node keeps about one extract (the JSON sidecar)."""

    id: str
    account_id: str
    username: str
    service: str  # "mikro" | "bnba" (`agreements.schemas.Service` values)
    format: str  # "csv" | "parquet"
    berkas: str  # file name inside the extract folder
    agreement_id: str
    agreement_version: int
    grant_id: str
    rows: int
    created_at: datetime
    source: str  # the PKS 000 Pasal 7 ayat (2) line carried by the file
    region: str | None = None  # the region asked for (None: the grant's whole scope)
    scope: tuple[str, ...] = ()  # the region prefixes the rows were taken from
    elements: tuple[str, ...] = ()  # the grant's elements the file was made from
    report: dict[str, Any] | None = field(default=None)  # microdata risk report

    def to_json(self) -> str:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["scope"] = list(self.scope)
        data["elements"] = list(self.elements)
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ExtractMeta:
        data = json.loads(text)
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        data["scope"] = tuple(data.get("scope") or ())
        data["elements"] = tuple(data.get("elements") or ())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def extract_dir(settings: Settings) -> Path:
    path = settings.data_dir / "disclosure" / "ekstrak"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)  # files are staged here before they are made 0600
    return path


def valid_id(extract_id: str) -> bool:
    return 0 < len(extract_id) <= 64 and extract_id.replace("-", "").isalnum()


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` as a 0600 file, atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    os.fchmod(fd, PRIVATE)  # a stale staging file may have had other bits
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def save(settings: Settings, meta: ExtractMeta, subjects: Iterable[str]) -> None:
    """The sidecar and the subjects of an extract whose data file is already written."""
    folder = extract_dir(settings)
    write_private(folder / f"{meta.id}.subjek", "".join(f"{n}\n" for n in subjects))
    write_private(folder / f"{meta.id}.json", meta.to_json())  # last: makes it reachable


def load(settings: Settings, extract_id: str) -> ExtractMeta | None:
    """The metadata of an extract, or None (unknown id, or a file from before the metadata
    named the agreement: such an extract cannot be decided and is not handed out)."""
    if not valid_id(extract_id):
        return None
    path = extract_dir(settings) / f"{extract_id}.json"
    try:
        return ExtractMeta.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def subjects(settings: Settings, meta: ExtractMeta) -> tuple[str, ...]:
    path = extract_dir(settings) / f"{meta.id}.subjek"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    return tuple(line for line in text.splitlines() if line)


def data_path(settings: Settings, meta: ExtractMeta) -> Path:
    return extract_dir(settings) / meta.berkas


def files_of(settings: Settings, extract_id: str) -> list[Path]:
    folder = extract_dir(settings)
    return [p for p in folder.iterdir() if p.name.split(".", 1)[0] == extract_id]


def every(settings: Settings) -> Iterator[tuple[str, ExtractMeta | None, Path]]:
    """Every extract in the folder: (id, metadata or None, sidecar or data file)."""
    folder = extract_dir(settings)
    seen: set[str] = set()
    for path in sorted(folder.iterdir()):
        extract_id = path.name.split(".", 1)[0]
        if extract_id in seen or not valid_id(extract_id):
            continue
        seen.add(extract_id)
        yield extract_id, load(settings, extract_id), path


def delete(settings: Settings, extract_id: str) -> None:
    """Remove every file of an extract (the sidecar first: it is what makes it reachable)."""
    files = files_of(settings, extract_id)
    files.sort(key=lambda p: not p.name.endswith(".json"))
    for path in files:
        path.unlink(missing_ok=True)
