"""What an entry point (CLI command, web app) builds once from settings and passes down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import typer
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from simpul.config import Settings, read_instance_record, write_instance_record
from simpul.db import (
    DatabaseState,
    claim_instance,
    database_exists,
    database_state,
    make_engine,
    public_url,
    run_migrations,
    session_factory,
    transaction,
)
from simpul.errors import SimpulError
from simpul.kit.clock import Clock, SystemClock
from simpul.kit.memo import SESSION_KEY, GovernanceCache


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    governance_cache: GovernanceCache = field(default_factory=GovernanceCache)
    # Entry points other than `simpul init` / `simpul demo` set this: the first use of the
    # database checks that it is the data folder's own (`check_instance`), never creating one.
    guard: bool = False
    # The federation (simpul.federation.node.Federation) when the node is a member: set by
    # the entry points (`attach`), read by the kernel for every call.
    peers: Any = None
    _engine: Engine | None = None
    _sessions: sessionmaker[Session] | None = None
    _read_engine: Engine | None = None
    _read_sessions: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            if self.guard:
                self._engine = open_checked(self.settings)
            else:
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

    def initialise(self) -> str:
        """`simpul init` / `simpul demo`: create or upgrade the schema, give the database its
        instance id (once) and record both in the data folder. Refuses a folder that
        already belongs to another database."""
        record = read_instance_record(self.settings.data_dir)
        if record is not None:
            state = DatabaseState(False, None)
            if database_exists(self.settings):
                state = database_state(self.engine)
            if state.instance_id != record["instance_id"]:
                # The folder's snapshots and keys belong to that other database.
                raise _other_database(self.settings, record, state.instance_id)
        self.migrate()
        instance_id = claim_instance(self.engine)
        write_instance_record(
            self.settings, instance_id, public_url(self.settings.effective_database_url)
        )
        return instance_id

    def close(self) -> None:
        if self.peers is not None:
            self.peers.close()  # its kept-alive connections to other nodes
        if self._read_engine is not None:
            self._read_engine.dispose()
            self._read_engine = None
        self._read_sessions = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sessions = None


def _other_database(
    settings: Settings, record: dict[str, str] | None, found: str | None
) -> SimpulError:
    current = public_url(settings.effective_database_url)
    if record is None:
        belongs = f"tidak mencatat basis data apa pun, sedangkan basis data {current}"
        fix = (
            "Pakai folder data instans itu (--data-dir / SIMPUL_DATA_DIR), atau jalankan "
            "`simpul init` untuk mengaitkan folder ini dengannya."
        )
    else:
        belongs = (
            f"milik basis data {record['database_url']} (instans {record['instance_id']}), "
            f"sedangkan basis data yang dituju adalah {current}"
        )
        fix = "Atur SIMPUL_DATABASE_URL ke basis data folder ini, atau pakai folder data lain."
    detail = (
        f"Folder data {settings.data_dir} {belongs} (instans {found or 'tanpa identitas'}). {fix}"
    )
    return SimpulError(code="basis_data_lain", detail=detail, status=503)


def _uninitialised(settings: Settings, record: dict[str, str] | None) -> SimpulError:
    current = public_url(settings.effective_database_url)
    recorded = (
        f"mencatat basis data {record['database_url']} (instans {record['instance_id']})"
        if record
        else "belum mencatat basis data apa pun"
    )
    detail = (
        f"Basis data {current} belum diinisialisasi; folder data {settings.data_dir} "
        f"{recorded}. Tidak ada yang dibuat. Atur SIMPUL_DATABASE_URL ke basis data yang "
        "benar, atau jalankan `simpul init` (atau `simpul demo`) untuk membuat instans baru."
    )
    return SimpulError(code="basis_data_belum_diinisialisasi", detail=detail, status=503)


def _looks_like_instance(settings: Settings) -> bool:
    """The folder already holds an instance's files (snapshots, credentials, keys)."""
    folder = settings.data_dir
    return any((folder / name).exists() for name in ("registry", "demo-credentials.json", "synth"))


def check_instance(settings: Settings, state: DatabaseState) -> None:
    """Refuse a database that is not the data folder's own, naming both.

    - The folder records an instance (`instance.json`): the database must hold the same id.
    - The folder records none: a database carrying an instance id is another folder's; an
      initialised one without an id (made before instance ids existed) is used as it is.
    - An uninitialised database is refused: only `simpul init` / `simpul demo` create one.
      The one exception, off by default (`SIMPUL_IMPLICIT_INIT=true`): a brand-new folder,
      holding no record, snapshots or credentials, whose first command sets up its
      database as before."""
    record = read_instance_record(settings.data_dir)
    if not state.initialised:
        if record is None and settings.implicit_init and not _looks_like_instance(settings):
            return
        raise _uninitialised(settings, record)
    if record is None:
        if state.instance_id is not None:
            raise _other_database(settings, None, state.instance_id)
        return
    if state.instance_id != record["instance_id"]:
        raise _other_database(settings, record, state.instance_id)


def open_checked(settings: Settings) -> Engine:
    """An engine for the configured database once it is checked to be the folder's own; an
    SQLite file that does not exist is refused before anything creates it."""
    if not database_exists(settings):
        check_instance(settings, DatabaseState(False, None))
    engine = make_engine(settings)
    try:
        check_instance(settings, database_state(engine))
    except BaseException:
        engine.dispose()
        raise
    return engine


def runtime(ctx: typer.Context) -> Runtime:
    """The runtime the CLI root callback built, for any sub-command."""
    root_obj = ctx.find_root().obj
    if not isinstance(root_obj, Runtime):
        raise RuntimeError("simpul CLI root callback did not run")
    return root_obj
