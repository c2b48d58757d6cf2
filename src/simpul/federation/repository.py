"""Queries of the federation package."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from simpul.config import Settings
from simpul.db import make_engine
from simpul.federation.models import FederationRequest


def relaxed_engine(settings: Settings) -> Engine:
    """An engine whose commits do not wait for the disk (SQLite synchronous NORMAL in WAL
    mode, PostgreSQL synchronous_commit off): for the replay memory, not for records."""
    if settings.effective_database_url.startswith("sqlite"):
        return make_engine(
            settings.model_copy(update={"sqlite_synchronous": "NORMAL"}),
            pool_size=4,
            max_overflow=8,
        )
    return make_engine(
        settings, pool_size=4, max_overflow=8, connect_args={"options": "-c synchronous_commit=off"}
    )


@contextmanager
def session_on(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session, session.begin():
        yield session


def remember(session: Session, member: str, request_id: str, at: datetime) -> bool:
    """Note the request id; False when the member already sent it (a replay). One
    statement: the primary key decides, also between concurrent requests."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(FederationRequest)
        .values(member=member, request_id=request_id, received_at=at)
        .on_conflict_do_nothing()
        .returning(FederationRequest.request_id)  # rowcount is -1 through psycopg here
    )
    return session.execute(stmt).first() is not None


def forget_before(session: Session, before: datetime) -> int:
    """Drop the ids received before `before` (a replay of those is stale anyway)."""
    result = session.execute(
        delete(FederationRequest).where(FederationRequest.received_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
