"""The one query of the single-item web services' hot path, on a connection of its own."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.pool import PoolProxiedConnection

from simpul.kit.memo import EPOCH_SQL
from simpul.registry.service import record_from_column

log = logging.getLogger("simpul.services")

# The governance epoch and the registry record in one statement: one round trip, and on
# PostgreSQL one snapshot for both.
_EPOCH_AND_RECORD = (
    f"SELECT ({EPOCH_SQL}), (SELECT data FROM registry_record WHERE dataset = ? AND nik = ?)"
)


class HotReader:
    """Reads for the event loop's thread only (never shared between threads), on one driver
    connection held for the process's life in autocommit: no session, no pool checkout, no
    BEGIN/COMMIT per request. A failed read drops the connection and answers None, and the
    caller takes the ordinary path (which reconnects through the pool)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._held: PoolProxiedConnection | None = None
        self._sql = _EPOCH_AND_RECORD
        self._epoch_sql = EPOCH_SQL

    def _driver(self) -> Any:
        if self._held is None:
            held = self._engine.raw_connection()
            driver = held.driver_connection
            if self._engine.dialect.name == "postgresql":
                # Each statement its own transaction: an idle connection never sits
                # "idle in transaction" holding back vacuum.
                driver.autocommit = True  # type: ignore[union-attr]
            if self._engine.dialect.paramstyle != "qmark":
                self._sql = _EPOCH_AND_RECORD.replace("?", "%s")
            self._held = held
        return self._held.driver_connection

    def epoch_and_record(
        self, dataset: str, nik: str | None
    ) -> tuple[int, dict[str, Any] | None] | None:
        """The governance epoch and, for a NIK, its record in `dataset` (None: no such
        record); None when the database could not be read."""
        try:
            cur = self._driver().cursor()
            try:
                if nik is None:
                    cur.execute(self._epoch_sql)
                    row = cur.fetchone()
                    return int(row[0]), None
                cur.execute(self._sql, (dataset, nik))
                row = cur.fetchone()
            finally:
                cur.close()
        except Exception as exc:  # the driver's own error types differ by backend
            log.warning("hot-path read failed, reconnecting: %s", type(exc).__name__)
            self.close(invalidate=True)
            return None
        data = row[1]
        if data is None:
            return int(row[0]), None
        return int(row[0]), record_from_column(data)

    def close(self, *, invalidate: bool = False) -> None:
        held, self._held = self._held, None
        if held is None:
            return
        if invalidate:
            held.invalidate()
            return
        if self._engine.dialect.name == "postgresql":
            held.driver_connection.autocommit = False  # type: ignore[union-attr]
        held.close()
