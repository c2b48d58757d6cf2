from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from simpul.app import create_app
from simpul.config import Settings
from tests.conftest import build_settings


def test_health_ready_and_index(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok", "pid": os.getpid()}
        assert client.get("/readyz").json() == {"status": "siap"}
        page = client.get("/")
        assert page.status_code == 200
        assert "kependudukan" in page.text


def test_unreachable_database_is_a_503_problem(tmp_path: Path) -> None:
    bad = build_settings(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none")
    with TestClient(create_app(bad)) as client:
        resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["code"] == "basis_data_tidak_siap"


def test_the_app_refuses_to_start_without_its_secrets(tmp_path: Path) -> None:
    from simpul.errors import SimpulError

    with pytest.raises(SimpulError) as exc, TestClient(create_app(Settings(data_dir=tmp_path))):
        pass
    assert exc.value.code == "konfigurasi_rahasia_kosong"


@pytest.mark.parametrize("opentelemetry", [False, True])
def test_opentelemetry_is_consulted_only_when_switched_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opentelemetry: bool
) -> None:
    """Off by default: FastAPI then never asks OpenTelemetry's providers about a request
    (that question cost ~5 % of a verification's CPU); `SIMPUL_OPENTELEMETRY=true` asks."""
    from opentelemetry import trace

    asked: list[int] = []
    real = trace.get_tracer_provider

    def counting() -> trace.TracerProvider:
        asked.append(1)
        return real()

    monkeypatch.setattr(trace, "get_tracer_provider", counting)
    settings = build_settings(tmp_path).model_copy(update={"opentelemetry": opentelemetry})
    with TestClient(create_app(settings)) as client:
        asked.clear()
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
    assert (len(asked) >= 3) is opentelemetry
