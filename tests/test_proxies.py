"""Forwarded addresses are believed only from configured proxies (issue 17). Found by an
outside test: with an institution's access point set to 10.40.0.0/24, a local call carrying
`X-Forwarded-For: 10.40.0.5` got 200 while the same call from 127.0.0.2 got 403 — any local
process could claim any source address. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from simpul.access import passwords as pw
from simpul.access.schemas import InstitutionUpdate
from simpul.app import create_app
from simpul.audit.models import AuditRecord
from simpul.config import Settings
from simpul.governance import actions
from simpul.kit.clock import FixedClock
from simpul.kit.proxies import forwarded_client, networks
from simpul.registry.synth import generate_world
from simpul.runtime import Runtime
from tests.worlds import FAST_PASSWORDS, basic_header, governed_runtime

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
VERIFY = "/api/v1/datasets/kependudukan/verifikasi"
INSIDE = "10.40.0.5"  # BKN's access point below


@pytest.fixture(scope="module")
def world_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_world(300, 9, tmp_path_factory.mktemp("world"))


@pytest.fixture
def world(
    settings: Settings, world_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Runtime, dict[str, Any], dict[str, Any]]]:
    monkeypatch.setattr(pw, "DEFAULT", FAST_PASSWORDS)
    rt, creds = governed_runtime(settings, {"kependudukan": world_files["kependudukan"]},
                                 FixedClock(NOW))  # fmt: skip
    with rt.transaction() as s:
        actions.update_institution(s, settings, rt.clock, "bkn",
                                   InstitutionUpdate(access_cidrs=["10.40.0.0/24"]),
                                   actor="uji")  # fmt: skip
    person = pq.read_table(world_files["kependudukan"]).slice(0, 1).to_pylist()[0]
    yield rt, creds, person
    rt.close()


def _verify(rt: Runtime, creds: dict[str, Any], person: dict[str, Any], peer: str,
            trusted: list[str], **headers: str) -> tuple[int, dict[str, Any]]:  # fmt: skip
    app = create_app(rt.settings.model_copy(update={"trusted_proxies": trusted}), rt)
    body = {"nik": person["nik"], "elemen": {"nama_lengkap": person["nama_lengkap"]}}
    with TestClient(app, client=(peer, 50000)) as client:
        resp = client.post(VERIFY, json=body, headers={**basic_header(creds, "bkn.operator"),
                                                       **headers})  # fmt: skip
    with rt.sessions() as s:
        last = s.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).one()
    return resp.status_code, {"reason": last.reason, "detail": json.loads(last.detail)}


def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(world: Any) -> None:
    rt, creds, person = world
    for peer in ("127.0.0.1", "127.0.0.2"):  # loopback is not trusted by default either
        status, rec = _verify(rt, creds, person, peer, [], **{"X-Forwarded-For": INSIDE})
        assert (status, rec["reason"]) == (403, "titik_akses_tidak_sah"), peer
        status, rec = _verify(rt, creds, person, peer, [], Forwarded=f"for={INSIDE}")
        assert (status, rec["reason"]) == (403, "titik_akses_tidak_sah"), peer
    # A trusted proxy does not make another peer trusted.
    status, rec = _verify(rt, creds, person, "127.0.0.2", ["127.0.0.1"],
                          **{"X-Forwarded-For": INSIDE})  # fmt: skip
    assert status == 403


def test_a_trusted_proxy_forwards_the_client_and_both_are_recorded(world: Any) -> None:
    rt, creds, person = world
    status, rec = _verify(rt, creds, person, "127.0.0.1", ["127.0.0.1/32"],
                          **{"X-Forwarded-For": f"203.0.113.9, {INSIDE}"})  # fmt: skip
    assert (status, rec["reason"]) == (200, "ok")
    assert rec["detail"] == {"alamat_asal": INSIDE, "perantara": "127.0.0.1"}
    # The same client outside the access point is refused, through the same proxy.
    status, rec = _verify(rt, creds, person, "127.0.0.1", ["127.0.0.1/32"],
                          Forwarded='for="203.0.113.9"')  # fmt: skip
    assert (status, rec["reason"]) == (403, "titik_akses_tidak_sah")
    assert rec["detail"] == {"alamat_asal": "203.0.113.9", "perantara": "127.0.0.1"}


def test_the_nearest_untrusted_hop_is_the_client() -> None:
    trusted = networks(["10.0.0.0/8"])
    h = {b"x-forwarded-for": b"1.2.3.4, 5.6.7.8, 10.0.0.7"}
    assert forwarded_client(h, trusted) == "5.6.7.8"  # the hop the trusted proxies received
    assert forwarded_client({b"x-forwarded-for": b"10.0.0.9, 10.0.0.7"}, trusted) == "10.0.0.9"
    assert forwarded_client({b"forwarded": b'for="[2001:db8::1]";proto=https'}, trusted) == (
        "2001:db8::1"
    )
    assert forwarded_client({b"x-forwarded-for": b"bukan-alamat"}, trusted) is None
    assert forwarded_client({}, trusted) is None


def test_serve_leaves_forwarded_headers_to_the_app(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:  # fmt: skip
    """uvicorn's own proxy headers trust 127.0.0.1 by default: `simpul serve` turns them off."""
    import uvicorn

    from simpul import serve

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(kw))
    monkeypatch.setattr(serve, "checked_runtime", lambda folder: Runtime(Settings(data_dir=folder)))
    monkeypatch.setattr("simpul.app.create_app", lambda *a, **kw: object())
    serve.serve_folder(tmp_path, "127.0.0.1", 0, 1)
    assert seen["proxy_headers"] is False
