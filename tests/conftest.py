"""Shared fixtures. Storage tests run on both SQLite and PostgreSQL, each test isolated.

PostgreSQL: one migrated template database per xdist worker; each test gets a fresh
database cloned from it (CREATE DATABASE … TEMPLATE), dropped afterwards.
SQLite: one migrated template file per session, copied for each test.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from simpul.config import Settings
from simpul.db import make_engine, run_migrations, session_factory

PG_ADMIN_URL = os.environ.get(
    "SIMPUL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]
_counter = itertools.count()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "gw0")


def _pg_admin() -> Engine:
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _pg_url(dbname: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=dbname).render_as_string(hide_password=False)


def build_settings(data_dir: Path, database_url: str | None = None) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=SecretStr("test-secret-key"),
        audit_hmac_key=SecretStr("test-audit-hmac-key"),
        pseudonym_key=SecretStr("test-pseudonym-key"),
        sqlite_synchronous="NORMAL",
        rollup_refresh_seconds=0,  # reports refresh their rollups themselves
        retention_sweep_seconds=0,  # tests purge themselves
    )


def init_instance(env: Mapping[str, str | None]) -> None:
    """`simpul init` in the data folder `env` names: the only way a command-line instance
    comes to be (no other command creates a database)."""
    from typer.testing import CliRunner

    from simpul.cli import app

    result = CliRunner().invoke(app, ["init"], env=dict(env))
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"simpul_tpl_{_worker()}_{os.getpid()}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(_pg_url(name))
    run_migrations(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sqlite-template")
    settings = build_settings(folder)
    engine = make_engine(settings)
    run_migrations(engine)
    engine.dispose()
    return folder / "simpul.db"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings pointing at a fresh, migrated database of the parametrised backend."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copy(template, data_dir / "simpul.db")
        yield build_settings(data_dir)
        return
    template_name: str = request.getfixturevalue("pg_template")
    with pg_database(template_name) as url:
        yield build_settings(data_dir, url)


@contextmanager
def pg_database(template: str | None = None) -> Iterator[str]:
    """A fresh PostgreSQL database, cloned from `template` or empty (no schema); yields its
    URL and drops it afterwards."""
    name = f"simpul_t_{_worker()}_{os.getpid()}_{next(_counter)}"
    clone = f' TEMPLATE "{template}"' if template else ""
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{clone}'))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)
