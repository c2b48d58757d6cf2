"""A witness of other nodes' audit logs (`simpul audit witness …`, docs/audit.md).

It holds its own Ed25519 key and, per log it follows, the last checkpoint it cosigned, in a
small SQLite file of its own (0600). Each round it fetches the log's latest checkpoint,
checks the log's signature against the key it pinned, and asks for the consistency proof
from the size it last cosigned. It refuses a log that shrank, forked (same size, another
root) or cannot prove consistency, and says so loudly: a Prometheus counter and a log line.
Otherwise it cosigns (C2SP tlog-cosignature, cosignature/v1), stores the new state first,
then hands the cosignature to the node.

The witness pulls, rather than the node pushing to it as in C2SP tlog-witness: a recipient's
witness then needs no inbound access from its provider, only the outbound calls it already
makes (docs/adr/0014). The bodies are the same checkpoint, proof and cosignature.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from simpul.audit import merkle, note
from simpul.audit.signing import load_or_create, public_bytes
from simpul.config import ensure_private_dir, write_private

log = logging.getLogger("simpul.witness")
KEY_FILE = "saksi.key"
NAME_FILE = "saksi.nama"
STATE_FILE = "saksi.db"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    origin TEXT PRIMARY KEY,
    log_key TEXT NOT NULL,          -- the log's verifier key, pinned when first followed
    url TEXT NOT NULL,
    size INTEGER NOT NULL,          -- of the last checkpoint cosigned (0: none yet)
    root TEXT NOT NULL,             -- base64
    note TEXT,                      -- that checkpoint as the log signed it
    cosignature TEXT,               -- our signature line for it
    cosigned_at INTEGER
);
CREATE TABLE IF NOT EXISTS alert (
    at INTEGER NOT NULL, origin TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL
);
"""


class WitnessError(Exception):
    """The witness refuses to cosign: `reason` is a stable code (docs/audit.md)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Followed:
    origin: str
    log_key: str
    url: str
    size: int
    root: bytes
    note: str | None
    cosignature: str | None
    cosigned_at: int | None

    def checkpoint_text(self) -> str | None:
        return note.parse_note(self.note).text if self.note else None


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.refusals = Counter(
            "simpul_witness_refusals", "Checkpoints the witness refused to cosign, by reason.",
            ["origin", "reason"], registry=self.registry,
        )  # fmt: skip
        self.cosigned = Gauge(
            "simpul_witness_cosigned_size", "Tree size of the last checkpoint cosigned.",
            ["origin"], registry=self.registry,
        )  # fmt: skip
        self.failures = Counter(
            "simpul_witness_fetch_failures", "Rounds that could not reach the log.",
            ["origin"], registry=self.registry,
        )  # fmt: skip
        # Where a round's time goes: fetching the checkpoint, the consistency proof, and
        # cosigning it into the witness's own state (what an operator tunes against).
        self.steps = Histogram(
            "simpul_witness_round_step_seconds", "Seconds per step of a witness round.",
            ["origin", "step"], registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0),
        )  # fmt: skip


class WitnessState:
    """The witness's folder: its key, its name and its state database."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        if not (folder / NAME_FILE).exists():
            raise WitnessError(
                "saksi_belum_dibuat",
                f"Folder {folder} belum berisi saksi; jalankan `simpul audit witness init`.",
            )
        self.name = (folder / NAME_FILE).read_text(encoding="utf-8").strip()
        self.key: Ed25519PrivateKey = load_or_create(folder / KEY_FILE)

    @classmethod
    def create(cls, folder: Path, name: str) -> WitnessState:
        ensure_private_dir(folder)
        if (folder / NAME_FILE).exists():
            raise WitnessError("saksi_sudah_ada", f"Folder {folder} sudah berisi saksi.")
        note.verifier_key(name, bytes(32))  # the name must be a valid key name
        load_or_create(folder / KEY_FILE)
        write_private(folder / NAME_FILE, name + "\n")
        state = cls(folder)
        with state._db():
            pass
        return state

    @property
    def verifier_key(self) -> str:
        return note.cosignature_verifier_key(self.name, public_bytes(self.key))

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        path = self.folder / STATE_FILE
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
            yield conn
        finally:
            conn.close()

    def follow(self, origin: str, log_key: str, url: str, *, replace_key: bool = False) -> None:
        """Start following a log, pinning its key; re-following keeps what was cosigned.
        `replace_key`: the log announced a rotated key and the witness's operator accepts
        it (the consistency proof from what was cosigned must still hold)."""
        verifier = note.parse_verifier_key(log_key)
        if verifier.name != origin:
            raise WitnessError("kunci_log_salah", f"Kunci log bernama {verifier.name!r}.")
        with self._db() as db:
            db.execute(
                "INSERT INTO log (origin, log_key, url, size, root) VALUES (?, ?, ?, 0, ?) "
                "ON CONFLICT(origin) DO UPDATE SET url = excluded.url",
                (origin, log_key, url, base64.b64encode(merkle.EMPTY_ROOT).decode()),
            )
            if replace_key:
                db.execute("UPDATE log SET log_key = ? WHERE origin = ?", (log_key, origin))
            pinned = db.execute("SELECT log_key FROM log WHERE origin = ?", (origin,)).fetchone()
        if pinned[0] != log_key:
            raise WitnessError(
                "kunci_log_berubah",
                f"Log {origin} sudah diikuti dengan kunci lain; kunci baru tidak dipercaya.",
            )

    def logs(self) -> list[Followed]:
        with self._db() as db:
            rows = db.execute(
                "SELECT origin, log_key, url, size, root, note, cosignature, cosigned_at "
                "FROM log ORDER BY origin"
            ).fetchall()
        return [Followed(r[0], r[1], r[2], int(r[3]), base64.b64decode(r[4]), *r[5:]) for r in rows]

    def followed(self, origin: str) -> Followed | None:
        return next((f for f in self.logs() if f.origin == origin), None)

    def alerts(self, origin: str | None = None) -> list[tuple[int, str, str, str]]:
        with self._db() as db:
            rows = db.execute("SELECT at, origin, reason, detail FROM alert ORDER BY at").fetchall()
        return [tuple(r) for r in rows if origin is None or r[1] == origin]

    def alert(self, origin: str, reason: str, detail: str) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO alert VALUES (?, ?, ?, ?)", (int(time.time()), origin, reason, detail)
            )

    def cosign(self, origin: str, signed_note: str, size: int, root: bytes, old: int) -> str:
        """Cosign a checkpoint already checked, storing it first: the stored size only ever
        grows (a concurrent round that got further wins)."""
        text = note.parse_note(signed_note).text
        stamp = int(time.time())
        line = note.cosign(text, self.name, self.key, stamp)
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            cur = db.execute(
                "UPDATE log SET size = ?, root = ?, note = ?, cosignature = ?, cosigned_at = ? "
                "WHERE origin = ? AND size = ?",
                (size, base64.b64encode(root).decode(), signed_note, line, stamp, origin, old),
            )
            db.execute("COMMIT")
        if cur.rowcount != 1:
            raise WitnessError("status_saksi_berubah", "Status saksi berubah di tengah putaran.")
        return line


def check_round(
    followed: Followed, signed_note: str, proof: list[bytes] | None
) -> tuple[note.CheckpointBody, str] | None:
    """Decide on a fetched checkpoint: None when it is the one already cosigned; the parsed
    body and its text when it may be cosigned. Raises WitnessError to refuse."""
    verifier = note.parse_verifier_key(followed.log_key)
    try:
        parsed = note.parse_note(signed_note)
        body = note.parse_checkpoint(parsed.text)
    except ValueError as exc:
        raise WitnessError("checkpoint_tidak_terbaca", str(exc)) from None
    if body.origin != followed.origin:
        raise WitnessError("origin_tidak_cocok", f"Checkpoint dari log {body.origin!r}.")
    if not note.verify_note(parsed, verifier):
        raise WitnessError("tanda_tangan_log_tidak_sah", "Tanda tangan log tidak sah.")
    if body.size < followed.size:
        raise WitnessError(
            "log_menyusut", f"Log menyusut dari {followed.size} ke {body.size} rekaman."
        )
    if body.size == followed.size:
        if body.root != followed.root:
            raise WitnessError(
                "log_bercabang", f"Ukuran {body.size} dengan akar lain: log bercabang."
            )
        return None
    if followed.size > 0:
        if proof is None:
            raise WitnessError("bukti_konsistensi_kosong", "Log tidak memberi bukti konsistensi.")
        ok = merkle.verify_consistency(followed.size, body.size, followed.root, body.root, proof)
        if not ok:
            raise WitnessError(
                "bukti_konsistensi_gagal",
                f"Log ukuran {body.size} tidak konsisten dengan {followed.size} yang disaksikan.",
            )
    return body, parsed.text


class NodeClient:
    """The witness's calls to one node: client credentials, then a Bearer token."""

    def __init__(
        self, url: str, client_id: str, client_secret: str, *, timeout: float = 10,
        http: httpx.Client | None = None,
    ) -> None:  # fmt: skip
        self.url = url.rstrip("/")
        self._id, self._secret = client_id, client_secret
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        self._token: str | None = None

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kw: object) -> httpx.Response:
        for _ in range(2):
            if self._token is None:
                got = self._http.post(
                    f"{self.url}/api/v1/token",
                    data={"client_id": self._id, "client_secret": self._secret},
                )
                got.raise_for_status()
                self._token = str(got.json()["access_token"])
            headers = {"Authorization": f"Bearer {self._token}"}
            answer = self._http.request(method, self.url + path, headers=headers, **kw)  # type: ignore[arg-type]
            if answer.status_code != 401:
                return answer
            self._token = None  # expired or revoked: one fresh token, then give up
        return answer

    def checkpoint(self) -> str:
        answer = self._call("GET", "/api/v1/audit/checkpoint")
        answer.raise_for_status()
        return answer.text

    def consistency(self, old: int, new: int) -> list[bytes]:
        answer = self._call(
            "GET", "/api/v1/audit/bukti-konsistensi", params={"lama": old, "baru": new}
        )
        answer.raise_for_status()
        return [base64.b64decode(h) for h in answer.json()["bukti"]]

    def submit(self, size: int, line: str) -> None:
        answer = self._call(
            "POST", "/api/v1/audit/kosignatur", json={"ukuran_pohon": size, "baris": line}
        )
        answer.raise_for_status()


def run_round(state: WitnessState, origin: str, client: NodeClient, metrics: Metrics) -> int | None:
    """One round for one log: the size cosigned, or None when nothing was new. Refusals
    are raised after the alert is counted, logged and stored."""
    followed = state.followed(origin)
    if followed is None:
        raise WitnessError("log_tidak_diikuti", f"Saksi tidak mengikuti log {origin!r}.")
    steps = metrics.steps
    try:
        with steps.labels(origin, "checkpoint").time():
            signed = client.checkpoint()
        size = note.parse_checkpoint(note.parse_note(signed).text).size
        proof = None
        if followed.size and size > followed.size:
            with steps.labels(origin, "consistency").time():
                proof = client.consistency(followed.size, size)
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        metrics.failures.labels(origin).inc()
        log.warning("witness: log %s unreachable: %s", origin, type(exc).__name__)
        return None
    try:
        decided = check_round(followed, signed, proof)
    except WitnessError as exc:
        metrics.refusals.labels(origin, exc.reason).inc()
        log.error("witness ALERT: refused to cosign %s: %s (%s)", origin, exc.reason, exc.detail)
        state.alert(origin, exc.reason, exc.detail)
        raise
    if decided is None:
        # Nothing new; make sure the node holds our cosignature of what we cosigned.
        if followed.cosignature and followed.cosignature not in signed:
            with contextlib.suppress(httpx.HTTPError):
                client.submit(followed.size, followed.cosignature)
        return None
    body, _text = decided
    with steps.labels(origin, "cosign").time():
        line = state.cosign(origin, signed, body.size, body.root, followed.size)
    metrics.cosigned.labels(origin).set(body.size)
    try:
        client.submit(body.size, line)
    except httpx.HTTPError as exc:  # cosigned and stored; handed over next round
        log.warning("witness: cosignature for %s not delivered: %s", origin, type(exc).__name__)
    return body.size


def run(
    state: WitnessState,
    origin: str,
    client: NodeClient,
    metrics: Metrics,
    *,
    interval: float,
    rounds: int | None = None,
    stop: object = None,
) -> None:
    """Rounds every `interval` seconds (bounded by `rounds` when given). A refusal does not
    stop the witness: it keeps refusing, and alerting, until the log is consistent again."""
    done = 0
    while rounds is None or done < rounds:
        if stop is not None and getattr(stop, "is_set", lambda: False)():
            return
        started = time.monotonic()
        with contextlib.suppress(WitnessError):
            run_round(state, origin, client, metrics)
        done += 1
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def cosigned_note(state: WitnessState, origin: str) -> str | None:
    """The last checkpoint the witness cosigned for `origin`, with its cosignature: what
    `simpul audit verify --checkpoint` (or `--saksi-url`) takes as its anchor."""
    found = state.followed(origin)
    if found is None or found.note is None or found.cosignature is None:
        return None
    if found.cosignature in found.note:
        return found.note
    return note.add_signature(found.note, found.cosignature)


def serve_state(state: WitnessState, port: int, host: str = "127.0.0.1") -> Any:
    """A read-only HTTP view of the witness's state: `GET /checkpoint/<origin>` answers the
    cosigned checkpoint note (text/plain), 404 for a log it does not follow. Nothing secret
    is in it; it lets anyone check a node against this witness without its files."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import unquote

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            prefix = "/checkpoint/"
            text = None
            if self.path.startswith(prefix):
                text = cosigned_note(state, unquote(self.path[len(prefix) :]))
            body = (text or "tidak ada checkpoint untuk log itu\n").encode()
            self.send_response(200 if text else 404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # no access log: the origins asked for are not worth one

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="saksi-http", daemon=True).start()
    return server
