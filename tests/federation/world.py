"""A federated world on loopback for the tests: a federation authority with its CA, one node
per institution (its own data folder and database, its own registries, agreements and
accounts), the signed directory, and each node's `simpul serve` and `simpul federation
serve` as real processes on ephemeral ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq

from simpul.config import Settings
from simpul.demo.federated import build_node_governance, load_owned_registries, plan
from simpul.demo.federation_world import enrol_node
from simpul.federation import pki
from simpul.federation.authority import Authority
from simpul.registry.synth.world import generate_world
from simpul.runtime import Runtime
from tests.conftest import build_settings, pg_database

DATASETS = ("kependudukan", "asn", "dtks")
ACCOUNTS = [
    {
        "institution": "bkn",
        "role": "data_user",
        "kind": "client",
        "username": "bkn.klien",
        "agreement_ids": ["pks-dukcapil-bkn", "pks-kemensos-bkn"],
    },
    {
        "institution": "kemenkop",
        "role": "data_user",
        "kind": "client",
        "username": "kemenkop.klien",
        "agreement_ids": ["pks-kemenkop-bkn"],
    },
    {
        "institution": "kemensos",
        "role": "data_user",
        "kind": "client",
        "username": "kemensos.klien",
        "agreement_ids": ["pks-kemensos-bkn"],
    },
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(what: Callable[[], Any], timeout: float, about: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while not (got := what()):
        assert time.monotonic() < deadline, about
        time.sleep(0.1)
    return got


@dataclass
class Node:
    member: str
    settings: Settings
    api_port: int
    fed_port: int
    creds: dict[str, dict[str, Any]] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def listener(self) -> str:
        return f"https://127.0.0.1:{self.fed_port}"

    @property
    def folder(self) -> Path:
        return self.settings.federation_folder

    def env(self) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
        env.update(
            {
                "SIMPUL_DATA_DIR": str(s.data_dir),
                "SIMPUL_SECRET_KEY": s.require_secret("secret_key"),
                "SIMPUL_AUDIT_HMAC_KEY": s.require_secret("audit_hmac_key"),
                "SIMPUL_PSEUDONYM_KEY": s.require_secret("pseudonym_key"),
                "SIMPUL_AUDIT_ORIGIN": str(s.audit_origin),
                "SIMPUL_FEDERATION_MEMBER": self.member,
                "SIMPUL_FEDERATION_DIRECTORY": str(s.federation_directory),
                "SIMPUL_FEDERATION_AUTHORITY_KEYS": f'["{s.federation_authority_keys[0]}"]',
                "SIMPUL_FEDERATION_REFRESH_SECONDS": str(s.federation_refresh_seconds),
                "SIMPUL_FEDERATION_PORT": str(self.fed_port),
                "SIMPUL_ROLLUP_REFRESH_SECONDS": "0",
                "SIMPUL_RETENTION_SWEEP_SECONDS": "0",
            }
        )
        if s.database_url:
            env["SIMPUL_DATABASE_URL"] = s.database_url
        return env

    def runtime(self) -> Runtime:
        return Runtime(self.settings)

    def token(self, username: str) -> str:
        c = self.creds[username]
        got = httpx.post(
            f"{self.api}/api/v1/token",
            data={"client_id": c["client_id"], "client_secret": c["client_secret"]},
        )
        assert got.status_code == 200, got.text
        return str(got.json()["access_token"])

    def tls_client(self) -> httpx.Client:
        """A client with this node's certificate (for calling another node by hand)."""
        import ssl

        ctx = ssl.create_default_context(cafile=str(self.folder / pki.CA_CERT))
        ctx.load_cert_chain(str(self.folder / pki.NODE_CERT), str(self.folder / pki.NODE_KEY))
        return httpx.Client(verify=ctx, timeout=30)


@dataclass
class World:
    root: Path
    authority: Authority
    directory_file: Path
    nodes: dict[str, Node]
    people: list[dict[str, Any]]
    asn: list[dict[str, Any]]
    dtks: list[dict[str, Any]]

    def sign(self, days: float = 7.0, **kw: Any) -> str:
        signed = self.authority.sign_directory(days=days, **kw)
        tmp = self.directory_file.with_suffix(".tmp")
        tmp.write_text(signed, encoding="utf-8")
        tmp.replace(self.directory_file)
        return signed


def start(node: Node, args: list[str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simpul", *args],
        env=node.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    node.procs.append(proc)
    return proc


def up(url: str, proc: subprocess.Popen[bytes], client: httpx.Client | None = None) -> bool:
    if proc.poll() is not None:
        raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
    try:
        return (client or httpx).get(url, timeout=1).status_code == 200  # type: ignore[union-attr]
    except httpx.HTTPError:
        return False


@contextmanager
def federated_world(
    backend: str, tmp: Path, members: tuple[str, ...], *, pg_template: str | None = None
) -> Iterator[World]:
    with ExitStack() as stack:
        synth = generate_world(400, 11, tmp / "synth")
        auth = Authority.create(tmp / "otoritas", "simpul-uji")
        directory_file = tmp / "direktori.note"
        nodes: dict[str, Node] = {}
        for member in members:
            data = tmp / member
            data.mkdir()
            url = None
            if backend == "postgresql":
                url = stack.enter_context(pg_database(pg_template))
            else:
                assert pg_template is None
            base = build_settings(data, url)
            settings = base.model_copy(
                update={
                    "audit_origin": f"simpul.uji/{member}",
                    "federation_member": member,
                    "federation_directory": str(directory_file),
                    "federation_authority_keys": [auth.verifier_key()],
                    "federation_refresh_seconds": 1.0,
                }
            )
            node = Node(member, settings, free_port(), free_port())
            rt = Runtime(settings)
            rt.initialise()
            p = plan(member, DATASETS)
            load_owned_registries(rt, p, synth, lambda _m: None)
            creds = build_node_governance(rt, p, ACCOUNTS, lambda _m: None)
            node.creds = {c["username"]: c for c in creds}
            rt.close()
            enrol_node(auth, settings, node.listener)
            nodes[member] = node
        people = pq.read_table(synth["kependudukan"], columns=["nik", "nama_lengkap"]).to_pylist()
        asn = pq.read_table(synth["asn"], columns=["nik"]).to_pylist()
        dtks = pq.read_table(synth["dtks"], columns=["nik"]).to_pylist()
        world = World(tmp, auth, directory_file, nodes, people, asn, dtks)
        world.sign()
        try:
            for node in nodes.values():
                start(node, ["serve", "--port", str(node.api_port)])
                start(node, ["federation", "serve"])
            for node in nodes.values():
                api, fed = node.procs[-2], node.procs[-1]
                until(lambda n=node, p=api: up(f"{n.api}/readyz", p), 120, "API not ready")
                with node.tls_client() as c:
                    until(
                        lambda n=node, p=fed, c=c: up(f"{n.listener}/healthz", p, c),
                        120,
                        "listener not ready",
                    )
            yield world
        finally:
            for node in nodes.values():
                for proc in node.procs:
                    if proc.poll() is None:
                        proc.terminate()
                for proc in node.procs:
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
