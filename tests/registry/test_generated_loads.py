"""The generator's output passes the project's own loader: no row rejected, none warned
about NIK/biodata consistency, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from simpul.config import Settings
from simpul.kit.clock import FixedClock
from simpul.registry import service
from simpul.registry.synth import generate_world

CLOCK = FixedClock(datetime(2026, 11, 23, tzinfo=UTC))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_world(3_000, 11, tmp_path_factory.mktemp("world"))


@pytest.mark.parametrize("dataset", ["kependudukan", "asn", "dtks", "regsosek"])
def test_generated_registry_loads_without_rejections(
    world: dict[str, Path], dataset: str, sessions: sessionmaker[Session], settings: Settings
) -> None:
    with sessions.begin() as s:
        report = service.load_registry(s, settings, dataset, world[dataset], CLOCK)
    assert report.rows_total > 0
    assert report.rows_rejected == 0, report.issues[:5]
    assert report.rows_loaded == report.rows_total
    assert not report.ignored_columns
    codes = {i.code for i in report.issues}
    assert "nik_tidak_cocok_biodata" not in codes
    assert "nik_wilayah_tidak_dikenal" not in codes
