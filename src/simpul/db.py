"""Engine, sessions and migrations. The caller (request or command) owns the transaction."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from simpul.config import PRIVATE_FILE, Settings, ensure_private_dir

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
        ensure_private_dir(settings.data_dir)
        path = sqlite_path(url)
        if path is not None and not read_only:
            _private_sqlite_files(path)
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


INSTANCE_TABLE = "simpul_instance"


class DatabaseState(NamedTuple):
    """What a database says about itself: migrated at all, and the instance it belongs to."""

    initialised: bool
    instance_id: str | None


def public_url(url: str) -> str:
    """The URL without its password: what the data folder records and errors name."""
    return make_url(url).set(password=None).render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (None for in-memory databases and other backends)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _private_sqlite_files(path: Path) -> None:
    """Create the database file 0600 (SQLite gives its -wal and -shm the same mode) and take
    group and other bits off files an older version left readable."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(PRIVATE_FILE)
        except FileNotFoundError:
            continue


def database_exists(settings: Settings) -> bool:
    """False for an SQLite file that does not exist: checked without creating it."""
    path = sqlite_path(settings.effective_database_url)
    return path is None or path.exists()


def database_state(engine: Engine) -> DatabaseState:
    """Read-only: whether the schema exists and which instance id the database holds."""
    with engine.connect() as conn:
        inspector = inspect(conn)
        if not inspector.has_table("alembic_version"):
            return DatabaseState(False, None)
        if not inspector.has_table(INSTANCE_TABLE):
            return DatabaseState(True, None)
        found = conn.execute(text(f"SELECT instance_id FROM {INSTANCE_TABLE}")).scalar()
        return DatabaseState(True, None if found is None else str(found))


def claim_instance(engine: Engine) -> str:
    """The database's instance id, written first if it has none (`simpul init` / `demo`)."""
    with engine.begin() as conn:
        found = conn.execute(text(f"SELECT instance_id FROM {INSTANCE_TABLE}")).scalar()
        if found is not None:
            return str(found)
        new = str(uuid.uuid4())
        conn.execute(
            text(
                f"INSERT INTO {INSTANCE_TABLE} (singleton, instance_id, created_at) "
                "VALUES (1, :id, :at)"
            ),
            {"id": new, "at": datetime.now(UTC)},
        )
        return new
