"""The timing of a refused sign-in tells nothing: unknown name, wrong password and a
throttled source all pay the same argon2 work (issue 17: an existing, locked account used
to answer in ~50 ms, an unknown one in ~1 s)."""

from __future__ import annotations

import statistics
import time

import pytest
from argon2 import PasswordHasher
from sqlalchemy.orm import Session, sessionmaker

from simpul.access import auth, throttle
from simpul.access import passwords as pw
from simpul.db import transaction
from simpul.errors import SimpulError
from simpul.kit.clock import FixedClock
from tests.access.conftest import MakeAccount

# Costly enough that argon2 dominates the few queries around it, cheap enough for CI.
MEASURED = pw.Passwords(PasswordHasher(time_cost=2, memory_cost=32 * 1024, parallelism=1))
ROUNDS = 7


def _timed(db: sessionmaker[Session], clock: FixedClock, name: str, source: str) -> float:
    # The work the node does for the attempt, as this thread's CPU time: argon2 runs in the
    # calling thread, and unlike wall time it does not move when other tests share the
    # machine's two cores (wall-clock medians flaked under `pytest -n 2`).
    with transaction(db) as s:
        started = time.thread_time()
        with pytest.raises(SimpulError):
            auth.verify_password(s, name, "Salah-sandi-123", clock=clock, source=source)
        return time.thread_time() - started


def test_unknown_wrong_and_throttled_take_the_same_time(
    db: sessionmaker[Session], clock: FixedClock, make_account: MakeAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(pw, "DEFAULT", MEASURED)
    make_account("andi.bkn")
    for _ in range(throttle.FREE_FAILURES):  # throttle andi.bkn from one source
        _timed(db, clock, "andi.bkn", "203.0.113.1")
    samples: dict[str, list[float]] = {"unknown": [], "wrong": [], "throttled": []}
    for i in range(ROUNDS):  # interleaved, so load on the machine hits all three alike
        samples["unknown"].append(_timed(db, clock, f"tidak.ada.{i}", "198.51.100.1"))
        # A fresh source each round stays below the free failures: a plain wrong password.
        samples["wrong"].append(_timed(db, clock, "andi.bkn", f"198.51.100.{10 + i}"))
        samples["throttled"].append(_timed(db, clock, "andi.bkn", "203.0.113.1"))
    medians = {k: statistics.median(v) for k, v in samples.items()}
    fastest, slowest = min(medians.values()), max(medians.values())
    assert slowest <= fastest * 1.4, medians
