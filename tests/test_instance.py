"""Files at rest are private, and an instance knows its own database (issue 17).

A data folder records which database it belongs to (`instance.json`: the URL without its
password and an instance id the database holds too). Any command or server pointed at
another or an uninitialised database refuses, naming both, instead of creating one."""

from __future__ import annotations

import json
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from simpul.app import create_app
from simpul.cli import app
from simpul.config import Settings, load_settings, read_instance_record, write_demo_secrets
from simpul.db import make_engine, public_url
from simpul.errors import SimpulError
from simpul.runtime import Runtime
from simpul.serve import checked_runtime
from tests.conftest import build_settings, pg_database

runner = CliRunner()
NO_DB_URL: dict[str, str | None] = {"SIMPUL_DATABASE_URL": None}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _restore_umask() -> Iterator[None]:
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def cli(folder: Path, *args: str, url: str | None = None) -> object:
    env = {"SIMPUL_DATA_DIR": str(folder), "SIMPUL_DATABASE_URL": url}
    return runner.invoke(app, list(args), env=env)


def init(folder: Path, url: str | None = None) -> str:
    write_demo_secrets(folder)
    result = cli(folder, "init", url=url)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    record = read_instance_record(folder)
    assert record is not None
    return record["instance_id"]


def refusal(result: object) -> SimpulError:
    exc = getattr(result, "exception", None)
    assert isinstance(exc, SimpulError), getattr(result, "output", "")
    return exc


def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


# -- files at rest -------------------------------------------------------------------------


def test_sqlite_database_and_its_wal_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    engine = make_engine(build_settings(folder))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    with engine.connect() as conn:  # keeps the WAL and shared-memory files in place
        conn.exec_driver_sql("SELECT * FROM t").all()
        assert mode(folder) == 0o700
        for name in ("simpul.db", "simpul.db-wal", "simpul.db-shm"):
            assert mode(folder / name) == 0o600, name
    engine.dispose()


def test_files_an_older_version_left_readable_are_made_private(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    db = folder / "simpul.db"
    db.touch()
    db.chmod(0o644)
    make_engine(build_settings(folder)).dispose()
    assert mode(folder) == 0o700
    assert mode(db) == 0o600


def test_init_writes_a_private_folder_and_sets_the_creation_mask(tmp_path: Path) -> None:
    folder = tmp_path / "inst"
    init(folder)
    assert mode(folder) == 0o700
    for name in ("simpul.db", "simpul.env", "instance.json"):
        assert mode(folder / name) == 0o600, name
    # Whatever module writes next (snapshots, uploads, extracts) creates 0600 / 0700.
    (folder / "later.bin").write_bytes(b"x")
    (folder / "sub").mkdir()
    assert mode(folder / "later.bin") == 0o600
    assert mode(folder / "sub") == 0o700


# -- an instance knows its own database ----------------------------------------------------


def test_init_records_the_database_in_the_folder_and_the_database(tmp_path: Path) -> None:
    folder = tmp_path / "inst"
    instance_id = init(folder)
    uuid.UUID(instance_id)
    record = read_instance_record(folder)
    assert record == {
        "instance_id": instance_id,
        "database_url": public_url(f"sqlite:///{(folder / 'simpul.db').resolve()}"),
    }
    # The folder's own SQLite file is the default: simpul.env does not need to name it.
    assert "SIMPUL_DATABASE_URL" not in (folder / "simpul.env").read_text(encoding="utf-8")
    # init again keeps the same identity.
    assert init(folder) == instance_id
    assert cli(folder, "agreement", "list").exit_code == 0  # type: ignore[attr-defined]


def test_postgresql_folder_is_found_again_without_the_variable(tmp_path: Path) -> None:
    folder = tmp_path / "inst"
    with pg_database() as url:
        instance_id = init(folder, url)
        env_text = (folder / "simpul.env").read_text(encoding="utf-8")
        assert f"SIMPUL_DATABASE_URL={public_url(url)}" in env_text
        assert read_instance_record(folder) == {
            "instance_id": instance_id,
            "database_url": public_url(url),
        }
        # A new shell or cron job: no SIMPUL_DATABASE_URL, only the folder.
        assert load_settings(folder).database_url == public_url(url)
        result = cli(folder, "agreement", "list")
        assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
        result = cli(folder, "audit", "verify")
        assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
        assert not (folder / "simpul.db").exists()  # never a new empty SQLite


def test_a_folder_made_before_instance_ids_refuses_instead_of_a_new_sqlite(
    tmp_path: Path,
) -> None:
    """The observed case: a PostgreSQL demo folder whose simpul.env holds only secrets."""
    folder = tmp_path / "inst"
    write_demo_secrets(folder)
    (folder / "registry").mkdir()
    (folder / "demo-credentials.json").write_text("[]", encoding="utf-8")
    for args in (["audit", "verify"], ["agreement", "suspend", "pks-dukcapil-bkn",
                                       "--reason", "darurat"]):  # fmt: skip
        exc = refusal(cli(folder, *args))
        assert exc.code == "basis_data_belum_diinisialisasi"
        assert "simpul.db" in exc.detail and str(folder) in exc.detail
    assert not (folder / "simpul.db").exists()


def test_a_swapped_sqlite_database_is_refused(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours_id, theirs_id = init(ours), init(theirs)
    shutil.copy(theirs / "simpul.db", ours / "simpul.db")
    exc = refusal(cli(ours, "agreement", "list"))
    assert exc.code == "basis_data_lain"
    assert ours_id in exc.detail and theirs_id in exc.detail
    # A deleted database is not quietly recreated.
    (ours / "simpul.db").unlink()
    exc = refusal(cli(ours, "audit", "verify"))
    assert exc.code == "basis_data_belum_diinisialisasi" and ours_id in exc.detail
    assert not (ours / "simpul.db").exists()
    # Nor does init take over a folder that belongs to another database.
    exc = refusal(cli(ours, "init"))
    assert exc.code == "basis_data_lain"
    assert not (ours / "simpul.db").exists()


def test_postgresql_another_or_an_empty_database_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "inst"
    with pg_database() as ours, pg_database() as other, pg_database() as empty:
        ours_id = init(folder, ours)
        init(tmp_path / "other", other)
        exc = refusal(cli(folder, "agreement", "list", url=other))
        assert exc.code == "basis_data_lain"
        assert public_url(ours) in exc.detail and public_url(other) in exc.detail
        assert ours_id in exc.detail
        for url in (empty, None):
            if url is None:  # the folder's recorded database, then emptied by hand
                (folder / "simpul.env").write_text(
                    (folder / "simpul.env").read_text(encoding="utf-8").replace(ours, empty),
                    encoding="utf-8",
                )
            exc = refusal(cli(folder, "audit", "verify", url=url))
            assert exc.code == "basis_data_belum_diinisialisasi"
            assert public_url(empty) in exc.detail and ours_id in exc.detail
        assert table_names(empty) == set()  # nothing was created
        exc = refusal(cli(folder, "init", url=empty))
        assert exc.code == "basis_data_lain"
        assert table_names(empty) == set()
        # A folder that records nothing, pointed at a database another folder owns.
        stranger = tmp_path / "stranger"
        write_demo_secrets(stranger)
        exc = refusal(cli(stranger, "agreement", "list", url=ours))
        assert exc.code == "basis_data_lain" and ours_id in exc.detail


def test_serve_refuses_before_listening(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    init(ours)
    init(theirs)
    checked_runtime(ours).close()
    shutil.copy(theirs / "simpul.db", ours / "simpul.db")
    with pytest.raises(SimpulError) as exc:
        checked_runtime(ours)
    assert exc.value.code == "basis_data_lain"


def test_readyz_checks_the_instance_id(settings: Settings) -> None:
    rt = Runtime(settings)
    instance_id = rt.initialise()
    with TestClient(create_app(settings, rt)) as client:
        assert client.get("/readyz").json() == {"status": "siap"}
        record = settings.data_dir / "instance.json"
        body = json.loads(record.read_text(encoding="utf-8"))
        record.write_text(json.dumps({**body, "instance_id": str(uuid.uuid4())}))
        resp = client.get("/readyz")
        assert resp.status_code == 503
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["code"] == "basis_data_lain"
        assert instance_id in resp.json()["detail"]


def test_only_init_creates_a_database(tmp_path: Path) -> None:
    """Found by an outside test: any command without SIMPUL_DATABASE_URL silently made an
    empty SQLite `simpul.db` in the folder and worked on it (`audit verify`: 0 records). By
    default now nothing but `simpul init` / `simpul demo` creates one."""
    folder = tmp_path / "fresh"
    env: dict[str, str | None] = {"SIMPUL_DATA_DIR": str(folder), "SIMPUL_DATABASE_URL": None,
                                  "SIMPUL_IMPLICIT_INIT": None}  # fmt: skip
    for command in (["agreement", "list"], ["audit", "verify"], ["registry", "stats"]):
        exc = refusal(runner.invoke(app, command, env=env))
        assert exc.code == "basis_data_belum_diinisialisasi", command
        assert "simpul init" in exc.detail
    assert not (folder / "simpul.db").exists()
    write_demo_secrets(folder)
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    assert runner.invoke(app, ["agreement", "list"], env=env).exit_code == 0


def test_implicit_init_is_only_an_explicit_opt_in(tmp_path: Path) -> None:
    """The old behaviour, kept behind SIMPUL_IMPLICIT_INIT=true for a throwaway folder."""
    folder = tmp_path / "fresh"
    env = {"SIMPUL_DATA_DIR": str(folder), "SIMPUL_DATABASE_URL": None,
           "SIMPUL_IMPLICIT_INIT": "true"}  # fmt: skip
    assert runner.invoke(app, ["agreement", "list"], env=env).exit_code == 0
    assert (folder / "simpul.db").exists()
