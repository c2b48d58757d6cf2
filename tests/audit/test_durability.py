"""SIGKILL while writers run: every acknowledged record survives and the chain verifies."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy.engine import Engine

from simpul.audit import service, signing
from simpul.config import Settings
from simpul.kit.clock import SystemClock
from tests.audit import event, rows

ROOT = Path(__file__).resolve().parents[2]

# The child appends from several threads and prints each acknowledged seq, flushed, the
# moment `append` returns: a line on stdout is a promise that the record is durable.
CHILD = """
import sys, threading
from pydantic import SecretStr
from simpul.audit.service import AuditWriter
from simpul.config import Settings
from simpul.db import make_engine
from simpul.kit.clock import SystemClock
from tests.audit import event

data_dir, url = sys.argv[1], sys.argv[2] or None
settings = Settings(data_dir=data_dir, database_url=url, sqlite_synchronous="NORMAL",
                    audit_hmac_key=SecretStr("test-audit-hmac-key"))
writer = AuditWriter(make_engine(settings), settings, SystemClock(), batch_max=32,
                     checkpoint_every=40, checkpoint_seconds=0.2)
lock = threading.Lock()

def work(k):
    i = 0
    while True:
        seq = writer.append(event(k * 1_000_000 + i, subjects=i % 3)).seq
        with lock:
            sys.stdout.write(f"{seq}\\n")
            sys.stdout.flush()
        i += 1

threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


def run_and_kill(settings: Settings, after_acks: int) -> set[int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(settings.data_dir), settings.database_url or ""],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    buffer = b""
    deadline = time.monotonic() + 60
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while buffer.count(b"\n") < after_acks and time.monotonic() < deadline:
            if selector.select(timeout=1):
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                buffer += chunk
    proc.send_signal(signal.SIGKILL)  # mid-run: threads are appending right now
    buffer += proc.stdout.read()  # whatever was acknowledged before the kill
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    lines = buffer.split(b"\n")[:-1]  # a line cut by the kill carries no promise
    acked = {int(line) for line in lines}
    assert len(acked) >= after_acks, "the writer child did not get going"
    return acked


def test_sigkill_loses_no_acknowledged_record(settings: Settings, engine: Engine) -> None:
    acked = run_and_kill(settings, after_acks=300)
    stored = {seq for (seq,) in rows(engine, "SELECT seq FROM audit_record")}
    assert acked <= stored
    assert stored == set(range(1, len(stored) + 1))
    trusted = signing.trusted_key_ids(settings)
    result = service.verify(engine, trusted_key_ids=trusted)
    assert result.ok, result
    assert result.checkpoints_checked >= 1
    # After the restart the log carries on from where it stopped, and a second crash too.
    with service.AuditWriter(engine, settings, SystemClock()) as writer:
        assert writer.append(event(1)).seq == len(stored) + 1
    acked_again = run_and_kill(settings, after_acks=100)
    stored = {seq for (seq,) in rows(engine, "SELECT seq FROM audit_record")}
    assert acked_again <= stored and stored == set(range(1, len(stored) + 1))
    assert service.verify(engine, trusted_key_ids=trusted).ok
