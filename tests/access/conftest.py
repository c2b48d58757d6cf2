"""Access fixtures: cheap argon2 parameters, a fixed clock, seeded institutions."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from argon2 import PasswordHasher
from sqlalchemy.orm import Session, sessionmaker

from simpul.access import passwords as pw
from simpul.access import service
from simpul.access.schemas import AccountCreate, IssuedSecret
from simpul.db import transaction
from simpul.kit.clock import FixedClock

# The production parameters cost ~0.1 s per hash; the behaviour under test is the same.
FAST = pw.Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1))
T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
ADMIN = "hub:uji"
REDIS_URL = "redis://127.0.0.1:6379/0"

MakeAccount = Callable[..., IssuedSecret]


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> pw.Passwords:
    monkeypatch.setattr(pw, "DEFAULT", FAST)
    return FAST


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def db(sessions: sessionmaker[Session], clock: FixedClock) -> sessionmaker[Session]:
    """A migrated database holding the shipped demo institutions.

    Use `with transaction(db) as s:` for each step: one committed unit of work, as an API
    request or a command is.
    """
    with transaction(sessions) as s:
        service._load_seed(s, clock=clock)
    return sessions


@pytest.fixture
def make_account(db: sessionmaker[Session], clock: FixedClock) -> MakeAccount:
    def make(
        username: str, institution: str = "bkn", role: str = "data_user", **kw: Any
    ) -> IssuedSecret:
        with transaction(db) as s:
            return service._create_account(
                s,
                AccountCreate.model_validate(
                    {"username": username, "institution": institution, "role": role, **kw}
                ),
                actor=ADMIN,
                clock=clock,
            )

    return make


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own; only its keys are deleted afterwards."""
    prefix = f"simpul-test:{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
