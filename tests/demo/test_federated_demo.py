"""`simpul demo --federated`: six nodes, each its own processes and database; every curl
line of its how-to runs as printed against the recipient's own node and gets the
provider's answer with the provider's receipt; Ctrl-C stops every process it started."""

from __future__ import annotations

import json
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from simpul.demo.federation_world import MEMBERS, Manifest

pytestmark = pytest.mark.xdist_group("serve")


def _free_base() -> int:
    """A base port whose API block (base..base+5) and listener block (+100) are free,
    below the ephemeral range (where other tests' connections take ports at any time)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(50):
        base = random.randrange(10_000, low - 200)
        ports = [base + k for k in range(len(MEMBERS))]
        ports += [p + 100 for p in ports]
        free = True
        for port in ports:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    free = False
                    break
        if free:
            return base
    raise AssertionError("no free block of ports on loopback")


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """The demo's output up to the line holding `marker` (a thread reads the pipe: a
    select() on it would not see lines already buffered by the reader)."""
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    out: list[str] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=min(left, 1.0))
        except queue.Empty:
            continue
        if line is None:
            raise AssertionError(f"the demo exited ({proc.wait()}):\n" + "".join(out)[-6000:])
        out.append(line)
        if marker in line:
            return "".join(out)
    raise AssertionError(f"no {marker!r} in {timeout:.0f} s:\n" + "".join(out)[-3000:])


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid and stat[0] != "Z":
                found.add(int(entry.name))
    return found


def test_the_federated_demo_serves_each_institution_on_its_own_node(tmp_path: Path) -> None:
    root = tmp_path / "federasi"
    base = _free_base()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    env["PYTHONUNBUFFERED"] = "1"  # read line by line from a pipe
    proc = subprocess.Popen(
        [sys.executable, "-m", "simpul", "demo", "--federated", "--people", "300",
         "--data-dir", str(root), "--base-port", str(base)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        printed = _read_until(proc, "Semua node berjalan", 400)
        manifest = Manifest.load(root)
        assert [n.member for n in manifest.nodes] == list(MEMBERS)
        # Each node has its own folder, database and only its own registry.
        for node in manifest.nodes:
            folder = Path(node.folder)
            assert (folder / "simpul.db").stat().st_mode & 0o077 == 0
            held = {p.name.split(".")[0] for p in (folder / "registry").glob("*.parquet")}
            expected = {
                "dukcapil": {"kependudukan"}, "bkn": {"asn"}, "kemensos": {"dtks"},
                "bappenas": {"regsosek"},
            }.get(node.member, set())  # fmt: skip
            assert held == expected, (node.member, held)
        started = _children(proc.pid)
        # server + listener for six nodes, a worker on the four providers, the witnesses
        assert len(started) == 2 * 6 + 4 + len(manifest.witnesses) and manifest.witnesses
        commands = [
            line.strip() for line in printed.splitlines()
            if line.startswith("  curl") or re.match(r"  TOKEN_\w+=", line)
        ]  # fmt: skip
        script = "set -euo pipefail\n" + "\n".join(
            f"{c.replace('curl -sf', 'curl -sf -D /dev/stderr', 1)}; echo"
            if c.startswith("curl") else c
            for c in commands
        )  # fmt: skip
        run = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                             timeout=120, check=False)  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        answers = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
        assert len(answers) == sum(c.startswith("curl") for c in commands) == 5
        health, verified, dtks, asn, listed = answers
        assert health["status"] == "ok"
        both = {"nama_lengkap": "sesuai", "tanggal_lahir": "sesuai"}
        assert verified == {"hasil": "ditemukan", "elemen": both}
        assert dtks["hasil"] == "TERDAFTAR DTKS"
        assert asn["hasil"] == "ASN"
        assert [i["hasil"] for i in listed["item"]][:1] == ["ASN"] and len(listed["item"]) == 2
        # every forwarded answer carried the provider's receipt through the recipient's node
        assert run.stderr.lower().count("simpul-receipt:") == 4
    finally:
        children = _children(proc.pid)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=150)  # nineteen processes stopping on a loaded 2-core machine
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in children):
        assert time.monotonic() < deadline, "a node process outlived the demo"
        time.sleep(0.2)
