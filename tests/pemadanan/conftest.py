"""A small synthetic world loaded into the database, the demo's institutions, PKS and
accounts, and an HTTP client; SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from simpul.access import passwords as pw
from simpul.app import create_app
from simpul.config import Settings
from simpul.kit.clock import FixedClock
from simpul.pemadanan import runner
from simpul.registry.synth import generate_world
from simpul.runtime import Runtime
from tests.worlds import FAST_PASSWORDS, basic_header, governed_runtime

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def world_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_world(4_000, 11, tmp_path_factory.mktemp("world"))


@dataclass
class Env:
    client: TestClient
    rt: Runtime
    settings: Settings
    creds: dict[str, dict[str, Any]]
    world: Path

    def basic(self, username: str) -> dict[str, str]:
        return basic_header(self.creds, username)

    def submit(self, username: str, path: Path, **form: Any) -> Any:
        with path.open("rb") as fh:
            return self.client.post(
                "/api/v1/pemadanan",
                files={"berkas": (path.name, fh, "text/csv")},
                data={k: str(v) for k, v in form.items()},
                headers=self.basic(username),
            )

    def wait(self, username: str, job_id: str, timeout: float = 60) -> dict[str, Any]:
        """Run the queue here (the web process never does: `simpul worker` does), then
        read the job's state through the API until it ends."""
        deadline = time.monotonic() + timeout
        while True:
            runner.run_pending(self.rt)
            got = self.client.get(f"/api/v1/pemadanan/{job_id}", headers=self.basic(username))
            assert got.status_code == 200, got.text
            body: dict[str, Any] = got.json()
            if body["status"] in ("selesai", "gagal", "dibatalkan"):
                return body
            assert time.monotonic() < deadline, body
            time.sleep(0.1)


@pytest.fixture
def env(
    settings: Settings, world_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Env]:
    monkeypatch.setattr(pw, "DEFAULT", FAST_PASSWORDS)
    rt, creds = governed_runtime(settings, world_files, FixedClock(NOW))
    world = next(iter(world_files.values())).parent
    with TestClient(create_app(settings, rt), client=("127.0.0.1", 50000)) as client:
        yield Env(client, rt, settings, creds, world)
    rt.close()
