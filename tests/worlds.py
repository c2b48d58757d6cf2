"""A small synthetic world under the demo's governance, for tests that go over HTTP."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from simpul.access import passwords as pw
from simpul.config import Settings
from simpul.demo.service import build_governance
from simpul.kit.clock import Clock
from simpul.registry import service as registry
from simpul.runtime import Runtime

# argon2 at its cheapest: tests check the rules around passwords, not the hash's cost.
FAST_PASSWORDS = pw.Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024))


def governed_runtime(
    settings: Settings, files: Mapping[str, Path], clock: Clock
) -> tuple[Runtime, dict[str, dict[str, Any]]]:
    """A runtime with these registries loaded and the demo's institutions, PKS and
    accounts; the accounts' credentials by username."""
    rt = Runtime(settings, clock=clock)
    for code, path in files.items():
        with rt.transaction() as s:
            registry.load_registry(s, settings, code, path, clock)
    creds = {c["username"]: c for c in build_governance(rt, say=lambda _m: None)}
    return rt, creds


def basic_header(creds: Mapping[str, Mapping[str, Any]], username: str) -> dict[str, str]:
    """HTTP Basic with the account's User ID and password."""
    raw = f"{username}:{creds[username]['password']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
