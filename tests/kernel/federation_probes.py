"""Probes for the federation listener's routes (simpul.federation.server): the world's node
as the provider of every dataset, called by the nodes of BKN and Kemenkop as their own
`<kode>.node` accounts, named by their certificate's pin as the directory lists it.

The TLS handshake is uvicorn's (tests/federation/ drive it for real); here the app gets the
pin the handshake would have given it, so every probe goes through the same directory
look-up, time window, replay memory and kernel call as a real node-to-node call."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from simpul.access.schemas import AccountCreate
from simpul.federation.authority import Authority
from simpul.federation.directory import Member
from simpul.federation.server import PIN, create_federation_app
from simpul.governance import actions
from simpul.runtime import Runtime
from tests.kernel.probes import SHORT_NIK, Probe, World, iso

FED = "/federasi/v1/datasets"
PEERS = {"bkn": "bkn.klien", "kemenkop": "kemenkop.klien", "pemprov-jabar": "pemprov-jabar.klien"}


def _pin(member: str) -> str:
    return "sha256:" + hashlib.sha256(f"uji-{member}".encode()).hexdigest()


class _Pinned:
    """What `PeerCertProtocol` does after the handshake: the caller's pin in the scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        member = headers.get(b"x-uji-anggota", b"").decode()
        scope[PIN] = _pin(member) if member else None
        await self.app(scope, receive, send)


def federation_client(w: World) -> TestClient:
    """The world's node behind its federation listener (made once per world)."""
    if "federation" in w.state:
        client: TestClient = w.state["federation"]
        return client
    settings = w.rt.settings
    auth = Authority.create(settings.data_dir / "otoritas", "simpul-uji")
    with w.rt.transaction() as s:
        for member, like in PEERS.items():
            spec = {
                "institution": member,
                "role": "data_user",
                "kind": "client",
                "username": f"{member}.node",
                "agreement_ids": w.creds[like]["agreements"],
            }
            actions.create_account(
                s, settings, w.clock, AccountCreate.model_validate(spec), actor="uji"
            )
    for member in PEERS:
        auth.put_member(
            Member(
                kode=member, nama=member, alamat="https://127.0.0.1:9", sertifikat=(_pin(member),)
            )
        )
    directory = settings.data_dir / "direktori.note"
    directory.write_text(auth.sign_directory(), encoding="utf-8")
    fed_settings = settings.model_copy(
        update={
            "federation_member": "dukcapil",
            "federation_tenants": ["bkn", "kemensos", "bappenas"],  # every dataset is local
            "federation_directory": str(directory),
            "federation_authority_keys": [auth.verifier_key()],
        }
    )
    rt = Runtime(fed_settings, clock=w.clock)
    client = TestClient(
        _Pinned(create_federation_app(fed_settings, rt)), client=("127.0.0.1", 50001)
    )
    client.__enter__()
    w.state["federation"] = client
    w.state.setdefault("closers", []).extend([lambda: client.__exit__(None, None, None), rt.close])
    return client


def _send(w: World, user: str, path: str, body: dict[str, Any], agreement: str) -> Any:
    member = user.removesuffix(".node")
    headers = {
        "X-Uji-Anggota": member,
        "Simpul-Perjanjian": agreement,
        "Simpul-Pengguna": f"{member}:uji",
        "Simpul-Tujuan": "uji inventaris",
        "Simpul-Mekanisme": "web_service",
        "Simpul-Permintaan": uuid.uuid4().hex,
        "Simpul-Waktu": w.clock.now().isoformat(),
    }
    return federation_client(w).post(f"{FED}/{path}", json=body, headers=headers)


def _verify(w: World, user: str, nik: str | None = None) -> Any:
    p = w.people[3]
    body = {
        "nik": nik or p["nik"],
        "elemen": {"nama_lengkap": p["nama_lengkap"], "tanggal_lahir": iso(p["tanggal_lahir"])},
    }
    return _send(w, user, "kependudukan/verifikasi", body, "pks-dukcapil-bkn")


def _verify_batch(w: World, user: str, count: int = 3) -> Any:
    items = [
        {
            "nik": w.people[i % len(w.people)]["nik"],
            "elemen": {"nama_lengkap": w.people[i % len(w.people)]["nama_lengkap"]},
        }
        for i in range(count)
    ]
    return _send(w, user, "kependudukan/verifikasi/batch", {"item": items}, "pks-dukcapil-bkn")


def _check(w: World, user: str, nik: str | None = None) -> Any:
    return _send(w, user, "asn/cek-status", {"nik": nik or w.asn[0]["nik"]}, "pks-kemenkop-bkn")


def _check_batch(w: World, user: str, count: int = 3) -> Any:
    items = [{"nik": w.asn[i % len(w.asn)]["nik"]} for i in range(count)]
    return _send(w, user, "asn/cek-status/batch", {"item": items}, "pks-kemenkop-bkn")


def _lookup(w: World, user: str, nik: str | None = None) -> Any:
    return _send(
        w, user, "kependudukan/akses-nik", {"nik": nik or w.people[4]["nik"]}, "pks-dukcapil-bkn"
    )


FEDERATION_PROBES = [
    Probe(
        "POST /federasi/v1/datasets/{dataset}/verifikasi",
        "pks-dukcapil-bkn",
        "bkn.node",
        "kemenkop.node",
        _verify,
        lambda w, u: _verify(w, u, SHORT_NIK),
    ),
    Probe(
        "POST /federasi/v1/datasets/{dataset}/verifikasi/batch",
        "pks-dukcapil-bkn",
        "bkn.node",
        "kemenkop.node",
        _verify_batch,
        lambda w, u: _verify_batch(w, u, 1_001),
        min_subjects=3,
    ),
    Probe(
        "POST /federasi/v1/datasets/{dataset}/cek-status",
        "pks-kemenkop-bkn",
        "kemenkop.node",
        "pemprov-jabar.node",
        _check,
        lambda w, u: _check(w, u, SHORT_NIK),
    ),
    Probe(
        "POST /federasi/v1/datasets/{dataset}/cek-status/batch",
        "pks-kemenkop-bkn",
        "kemenkop.node",
        "pemprov-jabar.node",
        _check_batch,
        lambda w, u: _check_batch(w, u, 1_001),
        min_subjects=3,
    ),
    Probe(
        "POST /federasi/v1/datasets/{dataset}/akses-nik",
        "pks-dukcapil-bkn",
        "bkn.node",
        "kemenkop.node",
        _lookup,
        lambda w, u: _lookup(w, u, SHORT_NIK),
    ),
]
