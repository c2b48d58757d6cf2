"""The job table: a worker killed mid-job is replaced and the job finishes exactly once with
the same results; cancel; revocation reaches a queued job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from simpul import kernel
from simpul.access.auth import principal_for_account
from simpul.access.repository import AccountRepository
from simpul.agreements.schemas import Mechanism
from simpul.audit.models import AuditRecord
from simpul.governance import actions as governance
from simpul.kernel import AccountName, Node, Origin
from simpul.matching.engine import match
from simpul.pemadanan import runner, service
from simpul.pemadanan.models import MatchJob, MatchResultRow
from simpul.pemadanan.repository import JobRepository
from simpul.registry.synth import sample_list

from .conftest import Env


def _submit(env: Env, path: Path, workflow: str = "bpum") -> str:
    origin = Origin(Mechanism.BATCH, action="pemadanan.unggah", dataset="asn", internal=True)
    job = kernel.run(Node(env.rt), AccountName("kemenkop.operator"), origin, service.submit,
                     upload=path, filename=path.name, dataset=None, workflow=workflow)  # fmt: skip
    return job.id


def _results(env: Env, job_id: str) -> list[tuple[int, str, str | None, float | None]]:
    with env.rt.transaction() as s:
        rows = s.scalars(
            select(MatchResultRow).where(MatchResultRow.job_id == job_id)
            .order_by(MatchResultRow.line)
        ).all()  # fmt: skip
        return [(r.line, r.status, r.nik_cocok, r.probability) for r in rows]


def _job(env: Env, job_id: str) -> MatchJob:
    with env.rt.transaction() as s:
        job = JobRepository(s).get(job_id)
        assert job is not None
        s.expunge(job)
        return job


def _audits(env: Env, job_id: str) -> int:
    with env.rt.transaction() as s:
        return int(
            s.scalar(select(func.count()).select_from(AuditRecord)
                     .where(AuditRecord.request_id == job_id)) or 0
        )  # fmt: skip


def _worker(env: Env, *args: str, pause: float = 0.0) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "simpul", "--data-dir", str(env.settings.data_dir),
           "pemadanan", "worker", "--once", *args]  # fmt: skip
    child_env = {
        **os.environ,
        "SIMPUL_SECRET_KEY": "test-secret-key",
        "SIMPUL_AUDIT_HMAC_KEY": "test-audit-hmac-key",
        "SIMPUL_PSEUDONYM_KEY": "test-pseudonym-key",
        "SIMPUL_SQLITE_SYNCHRONOUS": "NORMAL",
        runner.PAUSE_ENV: str(pause),
    }
    if env.settings.database_url:
        child_env["SIMPUL_DATABASE_URL"] = env.settings.database_url
    return subprocess.Popen(cmd, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_killed_worker_is_replaced_and_the_job_finishes_once(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "bpum.csv"
    sample_list("bpum", 500, 8, env.world, path)
    reference = _submit(env, path)
    assert runner.run_pending(env.rt, limit=1) == 1
    assert _job(env, reference).status == "selesai"

    job_id = _submit(env, path)
    first = _worker(env, pause=0.4)
    deadline = time.monotonic() + 60
    while True:
        job = _job(env, job_id)
        if job.status == "berjalan" and job.progress >= 0.3:
            break
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, job.status
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    job = _job(env, job_id)
    assert job.status == "berjalan" and job.attempts == 1
    assert _results(env, job_id) == [] and _audits(env, job_id) == 0  # nothing half-written

    second = _worker(env, "--stale-seconds", "0")
    _out, errs = second.communicate(timeout=120)
    assert second.returncode == 0, errs.decode()
    job = _job(env, job_id)
    assert job.status == "selesai" and job.attempts == 2 and job.progress == 1.0
    assert job.counts == _job(env, reference).counts
    got = _results(env, job_id)
    assert [r[1:] for r in got] == [r[1:] for r in _results(env, reference)]
    assert _audits(env, job_id) == 1
    # A third worker finds nothing to do: the job is finished once.
    third = _worker(env, "--stale-seconds", "0")
    third.communicate(timeout=60)
    assert _job(env, job_id).attempts == 2 and _audits(env, job_id) == 1


def test_cancel_queued_and_running(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "bpum.csv"
    sample_list("bpum", 100, 2, env.world, path)
    queued = _submit(env, path)
    running = _submit(env, path)
    with env.rt.transaction() as s:
        acct = AccountRepository(s).by_username("kemenkop.operator")
        assert acct is not None
        principal = principal_for_account(s, acct.id)
        assert service.cancel(s, principal, queued).status == "dibatalkan"
        now = env.rt.clock.now()
        assert JobRepository(s).claim(running, "w-test", now, now)
        service.cancel(s, principal, running)
    runner.run_claimed(env.rt, running, "w-test")
    assert _job(env, running).status == "dibatalkan"
    assert _results(env, running) == []
    assert runner.run_pending(env.rt) == 0  # neither is picked up again
    with env.rt.transaction() as s, pytest.raises(service.SimpulError) as exc:
        service.cancel(s, principal, queued)
    assert exc.value.code == "pekerjaan_sudah_selesai"


def test_suspension_reaches_a_queued_job(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "bpum.csv"
    sample_list("bpum", 100, 2, env.world, path)
    job_id = _submit(env, path)
    with env.rt.transaction() as s:
        governance.suspend_agreement(
            s, env.settings, env.rt.clock, "pks-kemenkop-bkn", actor="bkn.admin",
            reason="dugaan penyalahgunaan",
        )  # fmt: skip
    assert runner.run_pending(env.rt) == 1
    job = _job(env, job_id)
    assert job.status == "gagal" and job.error_code == "perjanjian_ditangguhkan"
    assert _results(env, job_id) == []
    with env.rt.transaction() as s:
        refusals = s.scalars(select(AuditRecord).where(AuditRecord.request_id == job_id)).all()
        assert [r.decision for r in refusals] == ["tolak"]


def test_a_served_instance_resumes_queued_jobs_by_itself(env: Env, tmp_path: Path) -> None:
    """After a restart nobody has to poll: each web worker sweeps for queued or abandoned
    jobs (settings.job_sweep_seconds) and a job still runs once."""
    from fastapi.testclient import TestClient

    from simpul.app import create_app

    path = tmp_path / "bpum.csv"
    sample_list("bpum", 100, 4, env.world, path)
    job_id = _submit(env, path)
    assert _job(env, job_id).status == "antri"
    settings = env.settings.model_copy(update={"job_sweep_seconds": 0.2})
    with TestClient(create_app(settings, env.rt)):
        deadline = time.monotonic() + 60
        while _job(env, job_id).status != "selesai":
            assert time.monotonic() < deadline, _job(env, job_id).status
            time.sleep(0.1)
    assert _audits(env, job_id) == 1


def test_run_one_runs_that_job_only_with_the_matcher_given(env: Env, tmp_path: Path) -> None:
    """The CLI's `--engine` reaches the runner as a matcher for its own job; a job queued by
    someone else stays queued for the service's workers."""
    path = tmp_path / "bpum.csv"
    sample_list("bpum", 60, 3, env.world, path)
    other = _submit(env, path)
    mine = _submit(env, path)
    seen: list[int] = []

    def matcher(reg: Any, q: Any, opts: Any = None, **kw: Any) -> Any:
        seen.append(len(q))
        return match(reg, q, opts, **kw)

    assert runner.run_one(env.rt, mine, matcher=matcher)
    assert seen and _job(env, mine).status == "selesai"
    assert _job(env, other).status == "antri"
    assert not runner.run_one(env.rt, mine, matcher=matcher)  # ended: not run again
    assert len(seen) == 1
