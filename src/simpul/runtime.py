"""What an entry point (CLI command, web app) builds once from settings and passes down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import typer
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from simpul.config import Settings
from simpul.db import make_engine, run_migrations, session_factory, transaction
from simpul.kit.clock import Clock, SystemClock
from simpul.kit.memo import SESSION_KEY, GovernanceCache


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    governance_cache: GovernanceCache = field(default_factory=GovernanceCache)
    _engine: Engine | None = None
    _sessions: sessionmaker[Session] | None = None
    _read_engine: Engine | None = None
    _read_sessions: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings)
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        if self._sessions is None:
            self._sessions = session_factory(self.engine)
        return self._sessions

    @property
    def read_engine(self) -> Engine:
        """The engine of read-only work: on SQLite its own `query_only` engine."""
        if self._read_engine is None and self.settings.effective_database_url.startswith("sqlite"):
            self._read_engine = make_engine(self.settings, read_only=True)
        return self._read_engine or self.engine

    @property
    def read_sessions(self) -> sessionmaker[Session]:
        """Sessions for read-only transactions: the hot path of the web services.

        They carry the governance memo (see `simpul.kit.memo`) and, on SQLite, run
        on their own query-only engine so that they never queue for the write lock."""
        if self._read_sessions is None:
            self._read_sessions = sessionmaker(
                bind=self.read_engine,
                expire_on_commit=False,
                info={SESSION_KEY: self.governance_cache},
            )
        return self._read_sessions

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    @contextmanager
    def read_transaction(self) -> Iterator[Session]:
        """A read-only unit of work; any write in it fails (SQLite) or is a bug.

        On SQLite each statement reads the latest committed state (no snapshot across
        statements); on PostgreSQL it is a READ COMMITTED transaction, which is the same."""
        with transaction(self.read_sessions) as session:
            yield session

    def migrate(self) -> None:
        run_migrations(self.engine)

    def close(self) -> None:
        if self._read_engine is not None:
            self._read_engine.dispose()
            self._read_engine = None
        self._read_sessions = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sessions = None


def runtime(ctx: typer.Context) -> Runtime:
    """The runtime the CLI root callback built, for any sub-command."""
    root_obj = ctx.find_root().obj
    if not isinstance(root_obj, Runtime):
        raise RuntimeError("simpul CLI root callback did not run")
    return root_obj
