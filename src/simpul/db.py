"""Engine, sessions and migrations. The caller (request or command) owns the transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from simpul.config import Settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def make_engine(
    settings: Settings, url: str | None = None, *, read_only: bool = False, **kwargs: Any
) -> Engine:
    """An engine for the configured database; SQLite gets WAL and durable commits.

    `read_only` (SQLite): statements outside any explicit transaction on `query_only`
    connections, so that reads run beside the single writer instead of queueing for its
    lock. On PostgreSQL readers
    never block, and the flag changes nothing."""
    url = url or settings.effective_database_url
    # Web workers run sync endpoints on a pool of threads; a connection pool smaller than
    # that pool opens and closes overflow connections on every burst (measured: ~10 % of a
    # worker's CPU under load).
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 20)
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine, settings.sqlite_synchronous, read_only=read_only)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine, synchronous: str, *, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN; take control so that
        # SQLAlchemy's BEGIN is real and writers serialise cleanly.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # 32 MiB of page cache instead of 2: the audit subject index takes random inserts,
        # and with the default cache every append batch re-reads its leaf pages.
        cur.execute("PRAGMA cache_size=-32768")
        cur.execute("PRAGMA wal_autocheckpoint=8000")
        if read_only:
            cur.execute("PRAGMA query_only=ON")
        cur.close()

    if read_only:
        # No BEGIN at all: each statement reads its own WAL snapshot and never waits for
        # the writer. The hot path needs no snapshot across statements (its governance
        # memo is read through an epoch counter, see simpul.kit.memo), and each
        # BEGIN/COMMIT pair would cost two statements per request.
        return

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that later writes
        # can fail with SQLITE_BUSY without waiting, which would lose a request.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("simpul") / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def run_migrations(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema to `revision` (every branch head by default); safe on every start."""
    command.upgrade(alembic_config(engine), revision)
