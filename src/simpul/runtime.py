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


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    _engine: Engine | None = None
    _sessions: sessionmaker[Session] | None = None

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

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    def migrate(self) -> None:
        run_migrations(self.engine)

    def close(self) -> None:
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
