"""Schemathesis on the face-verification operation alone: generated multipart bodies
never cause a 5xx, and a missing or wrong credential is always a 401 problem+json."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given, settings

from simpul.access import passwords as pw
from simpul.app import create_app
from simpul.config import Settings
from simpul.demo.service import build_governance
from simpul.runtime import Runtime

PATH = "/api/v1/datasets/{dataset}/verifikasi-wajah"
AUTH: dict[str, str] = {}


@pytest.fixture
def operation(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(
        pw, "DEFAULT", pw.Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024))
    )
    rt = Runtime(settings)
    creds = {c["username"]: c for c in build_governance(rt, say=lambda _m: None)}
    op = creds["bkn.operator"]
    AUTH["Authorization"] = (
        "Basic " + base64.b64encode(f"{op['username']}:{op['password']}".encode()).decode()
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings, rt))
    found = [r.ok() for r in schema.get_all_operations() if r.ok().path == PATH]
    assert len(found) == 1
    yield found[0]
    rt.close()


def test_generated_requests_never_fail_the_server(operation: Any) -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(headers=AUTH)
        assert response.status_code < 500, response.text
        assert "application/problem+json" in response.headers["content-type"]

    run()


def test_bad_credentials_are_refused(operation: Any) -> None:
    @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        for headers in ({}, {"Authorization": "Bearer salah"}, {"Authorization": "Basic !!"}):
            response = case.call(headers=headers)
            assert response.status_code == 401, response.text

    run()
