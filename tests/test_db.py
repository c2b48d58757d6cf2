from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from simpul.config import Settings
from simpul.db import make_engine, run_migrations


def test_migrations_create_registry_tables(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {"registry_record", "registry_load", "registry_load_issue"} <= tables


def test_migrations_are_idempotent(engine: Engine) -> None:
    run_migrations(engine)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from alembic_version")).scalar_one() == 1


def test_sqlite_runs_in_wal_mode(settings: Settings, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("WAL is a SQLite setting")
    engine = make_engine(settings)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        # The audit log's append rate depends on these (docs/performance.md, audit log).
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -32768
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 8000
    engine.dispose()
