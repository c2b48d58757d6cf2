"""All registry queries."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from simpul.kit import jsonfast
from simpul.kit.repository import Repository, driver_fetchall, driver_fetchone
from simpul.registry.models import RegistryLoad, RegistryLoadIssue, RegistryRecord


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in values.items()}


class RegistryRepository(Repository):
    def add_load(self, load: RegistryLoad) -> None:
        self.session.add(load)
        self.session.flush()

    def add_issues(self, load_id: str, issues: Iterable[dict[str, Any]]) -> None:
        rows = [{"load_id": load_id, **i} for i in issues]
        if rows:
            self.session.execute(insert(RegistryLoadIssue), rows)

    def clear_dataset(self, dataset: str) -> None:
        self.session.execute(delete(RegistryRecord).where(RegistryRecord.dataset == dataset))

    def insert_records(
        self, dataset: str, load_id: str, rows: Sequence[dict[str, Any]], upsert: bool
    ) -> None:
        if not rows:
            return
        params = [
            {
                "dataset": dataset,
                "nik": r["nik"],
                "no_kk": r.get("no_kk"),
                "load_id": load_id,
                "data": _jsonable(r),
            }
            for r in rows
        ]
        if not upsert:
            self.session.execute(insert(RegistryRecord), params)
            return
        dialect = self.session.get_bind().dialect.name
        stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(RegistryRecord)
        stmt = stmt.on_conflict_do_update(
            index_elements=["dataset", "nik"],
            set_={
                "no_kk": stmt.excluded.no_kk,
                "load_id": stmt.excluded.load_id,
                "data": stmt.excluded.data,
            },
        )
        self.session.execute(stmt, params)

    def get(self, dataset: str, nik: str) -> dict[str, Any] | None:
        # The hot path of every single-NIK service: the driver's cursor, by primary key.
        row = driver_fetchone(
            self.session,
            "SELECT data FROM registry_record WHERE dataset = ? AND nik = ?",
            (dataset, nik),
        )
        return record_from_column(row[0]) if row is not None else None

    def get_many(self, dataset: str, niks: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Records by NIK for many NIKs at once (batch services), in chunks of 500, through
        the driver's cursor (the batch services' hot path)."""
        found: dict[str, dict[str, Any]] = {}
        unique = sorted(set(niks))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = driver_fetchall(
                self.session,
                f"SELECT nik, data FROM registry_record WHERE dataset = ? AND nik IN ({marks})",
                (dataset, *chunk),
            )
            for nik, data in rows:
                found[nik] = record_from_column(data)
        return found

    def family(self, dataset: str, no_kk: str) -> list[dict[str, Any]]:
        rows = self.session.execute(
            select(RegistryRecord.data)
            .where(RegistryRecord.dataset == dataset, RegistryRecord.no_kk == no_kk)
            .order_by(RegistryRecord.nik)
        ).scalars()
        return [record_from_column(r) for r in rows]

    def count(self, dataset: str) -> int:
        return int(
            self.session.execute(
                select(func.count()).where(RegistryRecord.dataset == dataset)
            ).scalar_one()
        )

    def count_families(self, dataset: str) -> int:
        return int(
            self.session.execute(
                select(func.count(func.distinct(RegistryRecord.no_kk))).where(
                    RegistryRecord.dataset == dataset
                )
            ).scalar_one()
        )

    def iter_records(self, dataset: str, batch: int = 10_000) -> Iterator[dict[str, Any]]:
        result = self.session.execute(
            select(RegistryRecord.data)
            .where(RegistryRecord.dataset == dataset)
            .order_by(RegistryRecord.nik)
            .execution_options(yield_per=batch)
        ).scalars()
        for data in result:
            yield record_from_column(data)

    def last_load(self, dataset: str) -> RegistryLoad | None:
        return self.session.execute(
            select(RegistryLoad)
            .where(RegistryLoad.dataset == dataset)
            .order_by(RegistryLoad.started_at.desc())
            .limit(1)
        ).scalar_one_or_none()

    def get_load(self, load_id: str) -> RegistryLoad | None:
        return self.session.get(RegistryLoad, load_id)

    def issues(self, load_id: str, limit: int | None = None) -> list[RegistryLoadIssue]:
        stmt = (
            select(RegistryLoadIssue)
            .where(RegistryLoadIssue.load_id == load_id)
            .order_by(RegistryLoadIssue.line, RegistryLoadIssue.id)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(self.session.execute(stmt).scalars())


def record_from_column(data: Any) -> dict[str, Any]:
    """A registry record from its `data` column as the driver returns it: JSON text
    (SQLite) or already parsed (PostgreSQL's JSONB)."""
    return jsonfast.loads(data) if isinstance(data, (str, bytes)) else dict(data)
