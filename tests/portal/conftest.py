from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from simpul.access import passwords as pw
from simpul.app import create_app
from simpul.config import Settings
from simpul.kit.clock import FixedClock
from simpul.portal.settings import PortalSettings
from simpul.registry.service import snapshot_path
from simpul.registry.synth import generate_world
from simpul.runtime import Runtime
from tests.portal.helpers import sign_in
from tests.worlds import FAST_PASSWORDS, governed_runtime

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FAST = FAST_PASSWORDS


@pytest.fixture(scope="module")
def world_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_world(800, 11, tmp_path_factory.mktemp("world"))


@dataclass
class PortalEnv:
    rt: Runtime
    clock: FixedClock
    creds: dict[str, dict[str, Any]]
    people: list[dict[str, Any]]
    asn: list[dict[str, Any]]
    app: Any
    world: Path

    def client(self, username: str | None = None, **kwargs: Any) -> TestClient:
        """A browser-like client from the demo's access point, signed in if asked."""
        client = TestClient(self.app, client=("127.0.0.1", 50000), **kwargs)
        if username is not None:
            cred = self.creds[username]
            resp = sign_in(client, username, cred["password"], cred, self.clock.now())
            assert resp.status_code == 200, resp.text
            assert str(resp.url).endswith("/portal/beranda")
        return client

    def sign_in(self, client: TestClient, username: str) -> Any:
        """Password and second-factor code, as the account's user would."""
        cred = self.creds[username]
        return sign_in(client, username, cred["password"], cred, self.clock.now())


@pytest.fixture
def portal_env(
    settings: Settings, world_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[PortalEnv]:
    monkeypatch.setattr(pw, "DEFAULT", FAST_PASSWORDS)
    clock = FixedClock(NOW)
    files = {code: world_files[code] for code in ("kependudukan", "asn")}
    # The Regsosek tiers read the registry's Parquet snapshot (as in tests/disclosure).
    target = snapshot_path(settings, "regsosek")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(world_files["regsosek"], target)
    rt, creds = governed_runtime(settings, files, clock)
    tables = {k: pq.read_table(world_files[k]).to_pylist() for k in ("kependudukan", "asn")}
    cfg = PortalSettings(idle_minutes=30, absolute_hours=12, cookie_secure="auto")
    app = create_app(settings, rt)
    app.state.portal.cfg = cfg
    with TestClient(app):  # runs the lifespan (the audit writer) for every client below
        world = world_files["kependudukan"].parent
        yield PortalEnv(rt, clock, creds, tables["kependudukan"], tables["asn"], app, world)
    rt.close()
