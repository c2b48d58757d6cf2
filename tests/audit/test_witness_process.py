"""The witness as an operator runs it, over real sockets on loopback: `simpul serve` and
`simpul audit witness run` as processes. The witness pins the log key recorded in the PKS,
cosigns as records arrive, and when the log is rewritten it refuses and alerts (its
Prometheus counter and an ERROR log line); `audit verify --saksi` then fails."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import text, update
from typer.testing import CliRunner

from simpul.access.schemas import AccountCreate, AccountKind
from simpul.audit import service, signing
from simpul.audit import witness as w
from simpul.audit.models import AuditRecord
from simpul.config import Settings
from simpul.governance import actions
from simpul.runtime import Runtime
from tests.audit import event
from tests.audit.test_cli import cli
from tests.pemadanan.test_jobs import until
from tests.services.test_shared_quota import _env, _free_port

pytestmark = pytest.mark.xdist_group("serve")
runner = CliRunner()
SEED = Path(__file__).resolve().parents[2] / "src/simpul/agreements/seed/pks-dukcapil-bkn.yaml"


def _append(rt: Runtime, n: int) -> None:
    with rt.transaction() as s:
        for i in range(n):
            service.record_in_session(s, rt.settings, event(i, 1), rt.clock)


def _metric(port: int, name: str) -> dict[str, float]:
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = {}
    for line in body.splitlines():
        if line.startswith(name):
            labels, _, value = line.rpartition(" ")
            found[labels] = float(value)
    return found


def test_a_witness_process_cosigns_then_alerts_on_a_rewritten_log(
    settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"audit_origin": "simpul.uji/dukcapil"})
    rt = Runtime(settings)
    with rt.transaction() as s:
        actions.load_institutions(s, settings, rt.clock, actor="uji")
        spec = AccountCreate(username="bkn.saksi", institution="bkn", role="saksi",
                             kind=AccountKind.CLIENT)  # fmt: skip
        secret = actions.create_account(s, settings, rt.clock, spec, actor="uji").secret
    _append(rt, 20)
    app = cli(settings)
    # The node's log key, as both parties recorded it in their PKS.
    got = runner.invoke(app, ["audit", "key", "show"])
    assert got.exit_code == 0, got.output
    log_key = got.output.strip().splitlines()[-1]
    agreement = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    for party in agreement["pihak"]:
        if party["kode"] == "dukcapil":
            party["kunci_log"] = log_key
    pks = tmp_path / "pks.yaml"
    pks.write_text(yaml.safe_dump(agreement, allow_unicode=True), encoding="utf-8")

    folder = tmp_path / "saksi"
    got = runner.invoke(app, ["audit", "witness", "init", str(folder), "--nama", "saksi.bkn.uji"])
    assert got.exit_code == 0, got.output
    witness_key = got.output.strip().splitlines()[-1]
    assert (folder / "saksi.key").stat().st_mode & 0o777 == 0o600
    port = _free_port()
    got = runner.invoke(app, ["audit", "witness", "follow", str(folder), "--url",
                              f"http://127.0.0.1:{port}", "--perjanjian", str(pks),
                              "--pihak", "dukcapil"])  # fmt: skip
    assert got.exit_code == 0, got.output
    got = runner.invoke(app, ["audit", "witness", "add", "--nama", "saksi.bkn.uji",
                              "--kunci", witness_key, "--akun", "bkn.saksi"])  # fmt: skip
    assert got.exit_code == 0, got.output

    env = {**_env(settings), "SIMPUL_AUDIT_ORIGIN": "simpul.uji/dukcapil"}
    server = subprocess.Popen(
        [sys.executable, "-m", "simpul", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    metrics_port, listen_port = _free_port(), _free_port()
    log_file = tmp_path / "saksi.log"
    witness_env = {**env, "SIMPUL_SAKSI_CLIENT_SECRET": secret.get_secret_value()}
    with log_file.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simpul", "audit", "witness", "run", str(folder),
             "--client-id", "bkn.saksi", "--interval", "0.2",
             "--metrics-port", str(metrics_port), "--listen-port", str(listen_port)],
            env=witness_env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        state = w.WitnessState(folder)

        def cosigned() -> int:
            found = state.followed("simpul.uji/dukcapil")
            return found.size if found else 0

        # The server's writer signs a checkpoint within a second; the witness cosigns it.
        until(lambda: cosigned() >= 20, 60, about=lambda: log_file.read_text())
        _append(rt, 7)
        signing.checkpoint(rt.engine, rt.settings, rt.clock)
        until(lambda: cosigned() >= 27, 30, about=lambda: log_file.read_text())
        ok = runner.invoke(app, ["audit", "verify", "--saksi", str(folder)])
        assert ok.exit_code == 0, ok.output
        # The same anchor, from the witness's own HTTP view: trusted by its key alone.
        by_url = ["audit", "verify", "--saksi-url", f"http://127.0.0.1:{listen_port}",
                  "--kunci-saksi", witness_key]  # fmt: skip
        ok = runner.invoke(app, by_url)
        assert ok.exit_code == 0, ok.output
        assert "saksi.bkn.uji" in ok.output

        # The operator rewrites record 3 and re-signs: a fork of what the witness saw.
        before = cosigned()
        with rt.transaction() as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(text("SET LOCAL session_replication_role = replica"))
            else:
                s.execute(text("DROP TRIGGER IF EXISTS audit_record_no_update"))
                s.execute(text("DROP TRIGGER IF EXISTS audit_checkpoint_no_delete"))
            s.execute(update(AuditRecord).where(AuditRecord.seq == 3).values(actor="pemalsu"))
            from tests.audit.test_witnessed import rechain, resign

            rechain(s, 3)
            resign(s)
        _append(rt, 2)
        signing.checkpoint(rt.engine, rt.settings, rt.clock)

        def refusals() -> dict[str, float]:
            return _metric(metrics_port, "simpul_witness_refusals_total")

        until(lambda: any(v >= 1 for v in refusals().values()), 30,
              about=lambda: (refusals(), log_file.read_text()))  # fmt: skip
        (labels,) = [k for k, v in refusals().items() if v >= 1]
        assert 'reason="bukti_konsistensi_gagal"' in labels
        assert 'origin="simpul.uji/dukcapil"' in labels
        assert "witness ALERT" in log_file.read_text()
        assert cosigned() == before  # it cosigns nothing of the rewritten log
        for how in (["--saksi", str(folder)], by_url[2:]):
            bad = runner.invoke(app, ["audit", "verify", *how])
            assert bad.exit_code == 1
            assert "log_tidak_konsisten_dengan_saksi" in bad.output
            assert "saksi.bkn.uji" in bad.output
        shown = runner.invoke(app, ["audit", "witness", "show", str(folder)])
        assert "PERINGATAN" in shown.output
    finally:
        for p in (proc, server):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        rt.close()
