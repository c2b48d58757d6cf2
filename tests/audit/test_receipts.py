"""Signed receipts (simpul.audit.receipts, simpul.kernel.receipts; docs/receipts.md).

Through the real HTTP app on SQLite and PostgreSQL — the fast path, the FastAPI route on the
event loop and the route with the records written in the call's own transaction: a 2xx
answer of a governed call carries a receipt that verifies against the node's receipt key
and names the record the log holds for that request; a refusal carries none. Offline: any
change to the receipt, the request or the key fails it; an old key verifies old receipts."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select
from typer.testing import CliRunner

from simpul.access import passwords as pw
from simpul.app import create_app
from simpul.audit import merkle, receipts
from simpul.audit.models import AuditRecord
from simpul.audit.receipts import PROBLEMS, parse, request_digest, verify_receipt
from simpul.audit.repository import ts_text
from simpul.audit.service import Receipt
from simpul.cli import app as cli_app
from simpul.config import Settings
from simpul.kernel.receipts import RECEIPTS, collecting
from simpul.kit.clock import FixedClock
from simpul.registry.synth import generate_world
from simpul.runtime import Runtime
from tests.worlds import FAST_PASSWORDS, basic_header, governed_runtime

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
VERIFY = "/api/v1/datasets/kependudukan/verifikasi"
MODES = ("fast", "route", "in_session")


@pytest.fixture(scope="module")
def world_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_world(200, 3, tmp_path_factory.mktemp("world"))


@dataclass
class Node:
    client: TestClient
    rt: Runtime
    settings: Settings
    creds: dict[str, dict[str, Any]]
    people: list[dict[str, Any]]
    mode: str

    def public_key(self) -> bytes:
        return receipts.receipt_key(self.settings).public

    def records(self, request_id: str) -> list[AuditRecord]:
        with self.rt.transaction() as s:
            found = s.execute(select(AuditRecord).where(AuditRecord.request_id == request_id)
                              .order_by(AuditRecord.seq)).scalars()  # fmt: skip
            return list(found)


@pytest.fixture(params=MODES)
def node(
    request: pytest.FixtureRequest,
    settings: Settings,
    world_files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Node]:
    monkeypatch.setattr(pw, "DEFAULT", FAST_PASSWORDS)
    mode = request.param
    if mode == "route":
        settings = settings.model_copy(update={"service_fast_path": False})
    elif mode == "in_session":
        # (Quotas off: on SQLite the database counter waits on the call's own write lock.)
        settings = settings.model_copy(update={"audit_group_commit": False, "quota_enabled": False})
    rt, creds = governed_runtime(settings, world_files, FixedClock(NOW))
    people = pq.read_table(world_files["kependudukan"]).to_pylist()
    with TestClient(create_app(settings, rt), client=("127.0.0.1", 50000)) as client:
        yield Node(client, rt, settings, creds, people, mode)
    rt.close()


def checked(
    node: Node, resp: Any, request_id: str, path: str, body: bytes
) -> receipts.ParsedReceipt:
    """The answer's receipt verifies and names the log's last allowed record of the request."""
    header = resp.headers["simpul-receipt"]
    assert verify_receipt(header, node.public_key(), "POST", path, body) is None
    got = parse(header)
    assert got is not None
    allowed = [r for r in node.records(request_id) if r.decision == "izin"]
    assert allowed, "no allowed record for the request"
    record = allowed[-1]
    assert got.seq == record.seq and got.leaf_index == record.seq - 1
    assert got.leaf_hash == merkle.leaf_hash(bytes(record.hash))
    assert got.record_ts == ts_text(record.ts)
    assert got.key_id == receipts.key_id(node.public_key())
    # Nothing personal in it: no NIK of the request, only digests.
    assert not any(p["nik"] in header for p in node.people[:50])
    return got


def test_a_served_call_carries_a_receipt_and_a_refusal_none(node: Node) -> None:
    bkn = basic_header(node.creds, "bkn.operator")
    p = node.people[3]
    single = json.dumps({"nik": p["nik"], "elemen": {"nama_lengkap": p["nama_lengkap"]}}).encode()
    headers = {**bkn, "X-Request-Id": "req-warm", "Content-Type": "application/json"}
    # The first Basic call checks the password (argon2: the route, in the thread pool);
    # the fast path serves the next ones.
    assert "simpul-receipt" in node.client.post(VERIFY, content=single, headers=headers).headers
    stats = node.client.app.state.fast_path  # type: ignore[attr-defined]
    served = stats.served
    headers["X-Request-Id"] = "req-single"
    resp = node.client.post(VERIFY, content=single, headers=headers)
    assert resp.status_code == 200, resp.text
    assert stats.served == served + (node.mode == "fast")  # the path this mode takes
    first = checked(node, resp, "req-single", VERIFY, single)
    # The receipt is for this request: another body or path does not verify.
    assert verify_receipt(resp.headers["simpul-receipt"], node.public_key(), "POST", VERIFY,
                          single + b" ") == "tanda_terima_permintaan_lain"  # fmt: skip
    assert verify_receipt(resp.headers["simpul-receipt"], node.public_key(), "POST",
                          VERIFY + "/batch", single) == "tanda_terima_permintaan_lain"  # fmt: skip
    # A batch (the thread pool): one receipt, for the batch's record.
    items = [{"nik": q["nik"], "elemen": {"nama_lengkap": q["nama_lengkap"]}}
             for q in node.people[:30]]  # fmt: skip
    batch = json.dumps({"item": items}).encode()
    headers = {**bkn, "X-Request-Id": "req-batch", "Content-Type": "application/json"}
    resp = node.client.post(VERIFY + "/batch", content=batch, headers=headers)
    assert resp.status_code == 200, resp.text
    assert checked(node, resp, "req-batch", VERIFY + "/batch", batch).seq > first.seq
    # Refusals: a NIK outside the grant's elements, no credential, a bad NIK. No receipt,
    # though the log records each refusal.
    for rid, body, creds in (
        ("req-outside", {"nik": p["nik"], "elemen": {"nama_ibu": "SITI"}}, bkn),
        ("req-anon", {"nik": p["nik"], "elemen": {"nama_lengkap": "A"}}, {}),
        ("req-short", {"nik": "123", "elemen": {"nama_lengkap": "A"}}, bkn),
    ):
        resp = node.client.post(VERIFY, json=body, headers={**creds, "X-Request-Id": rid})
        assert resp.status_code >= 400
        assert "simpul-receipt" not in resp.headers
    assert all(r.decision == "tolak" for r in node.records("req-outside"))
    assert node.records("req-outside")
    # An answer with no governed call (health) has none either.
    assert "simpul-receipt" not in node.client.get("/healthz").headers


# --- offline ---------------------------------------------------------------------------------


def signed(tmp_path: Path, body: bytes = b'{"nik":"x"}', seq: int = 7) -> tuple[str, bytes]:
    settings = Settings(data_dir=tmp_path)
    key = receipts.receipt_key(settings)
    entry = os.urandom(32)
    receipt = Receipt(seq, entry.hex(), "2026-11-23 09:00:00.123456")
    return receipts.sign(key, receipt, request_digest("POST", VERIFY, body)), key.public


def test_the_key_is_its_own_file_0600_and_rotation_keeps_old_receipts(tmp_path: Path) -> None:
    header, old = signed(tmp_path)
    path = tmp_path / "audit-receipt.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not (tmp_path / "audit-signing.key").exists()  # not the checkpoint key
    assert verify_receipt(header, old, "POST", VERIFY, b'{"nik":"x"}') is None
    path.unlink()  # rotated: a new key signs from now on
    newer, new = signed(tmp_path)
    assert new != old
    assert verify_receipt(header, old, "POST", VERIFY, b'{"nik":"x"}') is None
    assert verify_receipt(header, new) == "tanda_terima_kunci_lain"
    assert verify_receipt(newer, new) is None
    assert parse(header).key_id != parse(newer).key_id  # type: ignore[union-attr]


def test_every_field_is_covered(tmp_path: Path) -> None:
    header, public = signed(tmp_path)
    fields = dict(part.split("=", 1) for part in header.split(";")[1:])
    other = signed(tmp_path / "b", body=b"{}", seq=8)[0]
    changed = dict(part.split("=", 1) for part in other.split(";")[1:])
    for name in ("o", "i", "t", "l", "d"):
        value = {"o": "simpul.local/lain", "t": "2026-11-23T09:00:01.123456Z"}.get(
            name, changed[name]
        )
        forged = ";".join(["v1", *(f"{k}={value if k == name else v}" for k, v in fields.items())])
        assert verify_receipt(forged, public) == "tanda_terima_tanda_tangan_tidak_sah", name
    forged = header[: -len(fields["s"])] + changed["s"]
    assert verify_receipt(forged, public) == "tanda_terima_tanda_tangan_tidak_sah"
    assert verify_receipt(header.replace(f"k={fields['k']}", "k=" + "0" * 16), public) == (
        "tanda_terima_kunci_lain"
    )
    for broken in ("", "v2" + header[2:], header + ";x=1", header.replace(";", ",")):
        assert verify_receipt(broken, public) == "tanda_terima_tidak_terbaca"
    assert verify_receipt(header, public, "GET", VERIFY, b'{"nik":"x"}') == (
        "tanda_terima_permintaan_lain"
    )
    assert set(PROBLEMS) >= {"tanda_terima_tidak_terbaca", "tanda_terima_permintaan_lain"}


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=300),
    path=st.text(min_size=1, max_size=40).map(lambda s: "/" + s),
    seq=st.integers(min_value=1, max_value=2**62),
    bit=st.integers(min_value=0),
    method=st.sampled_from(["POST", "GET", "CLI"]),
)
def test_sign_then_verify_and_any_bit_flip_fails(
    tmp_path: Path, body: bytes, path: str, seq: int, bit: int, method: str
) -> None:
    key = receipts.receipt_key(Settings(data_dir=tmp_path))
    receipt = Receipt(seq, os.urandom(32).hex(), "2031-01-02 03:04:05.000006")
    header = receipts.sign(key, receipt, request_digest(method, path, body))
    assert verify_receipt(header, key.public, method, path, body) is None
    raw = bytearray(header.encode())
    at = bit % (len(raw) * 8)
    raw[at // 8] ^= 1 << (at % 8)
    flipped = raw.decode("latin-1")
    assert verify_receipt(flipped, key.public, method, path, body) is not None
    if body:
        changed = bytearray(body)
        changed[at % len(body)] ^= 1 << (at % 8)
        assert verify_receipt(header, key.public, method, path, bytes(changed)) is not None


def test_inclusion_of_the_receipts_leaf(tmp_path: Path) -> None:
    key = receipts.receipt_key(Settings(data_dir=tmp_path))
    entries = [os.urandom(32) for _ in range(11)]
    leaves = merkle.leaf_hashes(entries)
    root = merkle.root(leaves)
    header = receipts.sign(key, Receipt(6, entries[5].hex(), "2026-11-23 09:00:00.000000"),
                           request_digest("POST", VERIFY, b""))  # fmt: skip
    path = merkle.audit_path(5, leaves)
    assert receipts.included(header, leaf_index=5, tree_size=11, audit_path=path, root=root) is None
    proof = {"leaf_index": 5, "tree_size": 11, "audit_path": [n.hex() for n in path],
             "root": root.hex()}  # fmt: skip
    assert receipts.included_in_proof(header, proof) is None
    assert receipts.included_in_proof(header, {**proof, "leaf_index": 4}) == (
        "tanda_terima_tidak_tercakup"
    )
    other = merkle.audit_path(4, leaves)
    assert receipts.included(header, leaf_index=5, tree_size=11, audit_path=other,
                             root=root) == "tanda_terima_tidak_tercakup"  # fmt: skip


def test_collecting_is_scoped() -> None:
    assert RECEIPTS.get() is None
    with collecting() as got:
        assert RECEIPTS.get() is got
    assert RECEIPTS.get() is None


# --- the CLI ---------------------------------------------------------------------------------


def test_cli_key_and_verify_exit_codes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"SIMPUL_DATA_DIR": str(data)}
    runner = CliRunner()
    shown = runner.invoke(cli_app, ["audit", "receipt", "key", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    key = json.loads(shown.stdout)
    public = base64.b64decode(key["kunci_publik"])
    assert key["id_kunci"] == receipts.key_id(public)
    assert public == receipts.receipt_key(Settings(data_dir=data)).public
    body = b'{"nik":"3273011302900001","elemen":{}}'
    header = receipts.sign(receipts.receipt_key(Settings(data_dir=data)),
                           Receipt(3, os.urandom(32).hex(), "2026-11-23 09:00:00.000000"),
                           request_digest("POST", VERIFY, body))  # fmt: skip
    (tmp_path / "r.receipt").write_text(f"# a comment\n{header}\n")
    (tmp_path / "body.json").write_bytes(body)
    base = ["audit", "receipt", "verify", "--kunci", key["kunci_publik"]]
    ok = runner.invoke(cli_app, [*base, "--receipt", "@" + str(tmp_path / "r.receipt"),
                                 "--metode", "post", "--jalur", VERIFY,
                                 "--isi", "@" + str(tmp_path / "body.json")], env=env)  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "SAH" in ok.output
    bare = runner.invoke(cli_app, [*base, "--receipt", header], env=env)
    assert bare.exit_code == 0 and "tidak diperiksa" in bare.output
    bad_body = runner.invoke(cli_app, [*base, "--receipt", header, "--metode", "POST",
                                       "--jalur", VERIFY, "--isi", "{}"], env=env)  # fmt: skip
    assert bad_body.exit_code == 1 and "tanda_terima_permintaan_lain" in bad_body.output
    key_file = ["audit", "receipt", "verify", "--receipt", header,
                "--kunci", str(data / "audit-receipt.key")]  # fmt: skip
    with_key_file = runner.invoke(cli_app, key_file, env=env)
    assert with_key_file.exit_code == 0, with_key_file.output
    tampered = header[:-3] + ("AAA" if not header.endswith("AAA") else "BBB")
    bad = runner.invoke(cli_app, [*base, "--receipt", tampered], env=env)
    assert bad.exit_code == 1 and "TIDAK SAH" in bad.output
    no_key = runner.invoke(cli_app, ["audit", "receipt", "verify", "--receipt", header,
                                     "--kunci", "bukan-kunci"], env=env)  # fmt: skip
    assert no_key.exit_code == 1
