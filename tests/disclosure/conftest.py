"""A small synthetic world with the Regsosek snapshot, the demo's institutions, PKS and
accounts, plus a test-only aggregate-only agreement (kemensos, province 33)."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from simpul.access import passwords as pw
from simpul.access import service as access
from simpul.access.schemas import AccountCreate
from simpul.agreements import service as agreements
from simpul.app import create_app
from simpul.config import Settings
from simpul.demo.service import build_governance
from simpul.kit.clock import FixedClock
from simpul.registry.service import snapshot_path
from simpul.registry.synth import generate_world
from simpul.runtime import Runtime

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def regsosek_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_world(3_000, 5, tmp_path_factory.mktemp("world"))["regsosek"]


@dataclass
class Env:
    client: TestClient
    rt: Runtime
    creds: dict[str, dict[str, Any]]

    def basic(self, username: str) -> dict[str, str]:
        raw = f"{username}:{self.creds[username]['password']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.fixture
def env(settings: Settings, regsosek_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setattr(
        pw, "DEFAULT", pw.Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024))
    )
    rt = Runtime(settings, clock=FixedClock(NOW))
    target = snapshot_path(settings, "regsosek")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(regsosek_file, target)
    creds = {c["username"]: c for c in build_governance(rt, say=lambda _m: None)}
    with rt.transaction() as s:
        agreements.load_files(s, [HERE / "pks-uji-agregat.yaml"], actor="uji", clock=rt.clock)
        issued = access._create_account(
            s,
            AccountCreate.model_validate({"institution": "kemensos", "role": "data_user",
                                          "username": "kemensos.analis",
                                          "agreement_ids": ["pks-uji-agregat"]}),
            actor="uji",
            clock=rt.clock,
        )  # fmt: skip
        creds["kemensos.analis"] = {"password": issued.secret.get_secret_value()}
    with TestClient(create_app(settings, rt), client=("127.0.0.1", 50000)) as client:
        yield Env(client, rt, creds)
    rt.close()
