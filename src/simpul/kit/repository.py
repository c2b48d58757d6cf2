"""Base for repositories: the only place queries live. The session is the caller's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session


@lru_cache(maxsize=1024)
def _for_driver(sql: str, paramstyle: str) -> str:
    return sql if paramstyle == "qmark" else sql.replace("?", "%s")


@contextmanager
def _driver_cursor(session: Session, sql: str, params: tuple[Any, ...]) -> Iterator[Any]:
    """The driver's own cursor, with the statement executed, in the session's transaction."""
    conn = session.connection()
    raw = conn.connection.driver_connection
    assert raw is not None
    cur = raw.cursor()
    try:
        cur.execute(_for_driver(sql, conn.dialect.paramstyle), params)
        yield cur
    finally:
        cur.close()


def driver_fetchone(session: Session, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """One row of a fixed statement through the driver's own cursor, in the session's
    transaction. For the few statements of the web services' hot path only: it skips
    SQLAlchemy's statement compilation and result wrapping (about 100 µs a statement,
    measured), which there is most of a request's cost. `sql` uses `?` placeholders."""
    with _driver_cursor(session, sql, params) as cur:
        row = cur.fetchone()
    return tuple(row) if row is not None else None


def driver_fetchall(session: Session, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """All rows of a fixed statement through the driver's cursor; see `driver_fetchone`."""
    with _driver_cursor(session, sql, params) as cur:
        return [tuple(row) for row in cur.fetchall()]


class Repository:
    def __init__(self, session: Session) -> None:
        self.session = session
