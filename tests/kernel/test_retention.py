"""Stored outputs leave the node when their agreement's retention runs out (`retensi.hari`):
`simpul retensi jalankan` (and the app's sweep) runs every capability's purge; each deletion
is recorded. SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from simpul.app import create_app
from simpul.audit.models import AuditRecord
from simpul.retention import purge_all
from tests.kernel.cli_probes import cli
from tests.kernel.probes import JABAR, REG, World

pytestmark = pytest.mark.xdist_group("inventory")


def _actions(world: World) -> list[str]:
    with world.rt.sessions() as s:
        return list(s.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))


def test_outputs_past_retention_are_deleted_and_recorded(world: World) -> None:
    made = world.client.post(f"{REG}/bnba", json={"format": "csv"}, headers=world.basic(JABAR))
    extract = made.json()["ekstrak_id"]
    url = f"{REG}/ekstrak/{extract}"
    assert world.client.get(url, headers=world.basic(JABAR)).status_code == 200
    # Within PKS 000's retention (30 days, retensi.hari in its YAML) nothing goes.
    world.clock.advance(timedelta(days=29))
    assert purge_all(world.rt)["regsosek"] == 0
    assert world.client.get(url, headers=world.basic(JABAR)).status_code == 200
    # Past it, the command deletes the extract; the deletion is in the log.
    world.clock.advance(timedelta(days=2))
    ran = cli(world, "retensi", "jalankan")
    assert ran.status_code == 200 and "regsosek: 1 dihapus" in ran.text, ran.text
    assert "disklosur.hapus_retensi" in _actions(world)
    gone = world.client.get(url, headers=world.basic(JABAR))
    assert gone.status_code == 404 and gone.json()["code"] == "ekstrak_tidak_ada"
    # Nothing left to delete: a second run deletes nothing and records nothing.
    before = len(_actions(world))
    assert purge_all(world.rt) == {"pemadanan": 0, "regsosek": 0, "data_balikan": 0}
    assert len(_actions(world)) == before


def test_each_worker_process_sweeps_retention(world: World) -> None:
    """The app's own task (hourly by default) deletes what ran out, unasked."""
    made = world.client.post(f"{REG}/bnba", json={"format": "csv"}, headers=world.basic(JABAR))
    url = f"{REG}/ekstrak/{made.json()['ekstrak_id']}"
    world.clock.advance(timedelta(days=31))
    quick = world.rt.settings.model_copy(update={"retention_sweep_seconds": 0.05})
    with TestClient(create_app(quick, world.rt), client=("127.0.0.1", 50000)) as client:
        deadline = time.monotonic() + 10
        while "disklosur.hapus_retensi" not in _actions(world):
            assert time.monotonic() < deadline, "the sweep did not run"
            time.sleep(0.05)
        assert client.get(url, headers=world.basic(JABAR)).status_code == 404
