"""The job table and `simpul worker`: a worker killed mid-job is replaced and the job
finishes exactly once with the same results; two workers share a queue; cancel reaches a
running job's process; a dead job process fails its job; the web process never runs a job;
revocation reaches a queued job. Process tests run real `simpul worker` processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
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
from simpul.pemadanan import worker as worker_mod
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


def _worker(
    env: Env, *args: str, pause: float = 0.0, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "simpul", "--data-dir", str(env.settings.data_dir),
           "worker", *args]  # fmt: skip
    child_env = {
        **os.environ,
        "SIMPUL_SECRET_KEY": "test-secret-key",
        "SIMPUL_AUDIT_HMAC_KEY": "test-audit-hmac-key",
        "SIMPUL_PSEUDONYM_KEY": "test-pseudonym-key",
        "SIMPUL_SQLITE_SYNCHRONOUS": "NORMAL",
        runner.PAUSE_ENV: str(pause),
        **(extra or {}),
    }
    if env.settings.database_url:
        child_env["SIMPUL_DATABASE_URL"] = env.settings.database_url
    return subprocess.Popen(cmd, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def job_processes(job_id: str) -> list[int]:
    """Live processes running this job (`python -m simpul.pemadanan.worker JOB …`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"simpul.pemadanan.worker" in argv and job_id.encode() in argv and state != "Z":
            found.append(int(entry.name))
    return found


def until(what: Callable[[], Any], timeout: float, *, about: Any = None) -> Any:
    """Poll `what` until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (got := what()):
        assert time.monotonic() < deadline, about() if callable(about) else about
        time.sleep(0.05)
    return got


def _ended(proc: subprocess.Popen[bytes], timeout: float = 120) -> str:
    _out, errs = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, errs.decode()
    return errs.decode()


def test_killed_worker_is_replaced_and_the_job_finishes_once(env: Env, tmp_path: Path) -> None:
    """kill -9 of a worker mid-job takes its job process with it; another worker, already
    running, reclaims the job once its lease runs out and finishes it exactly once."""
    path = tmp_path / "bpum.csv"
    sample_list("bpum", 500, 8, env.world, path)
    reference = _submit(env, path)
    assert runner.run_pending(env.rt, limit=1) == 1
    assert _job(env, reference).status == "selesai"

    job_id = _submit(env, path)
    lease = ("--heartbeat-seconds", "0.25", "--stale-seconds", "2")
    first = _worker(env, *lease, pause=0.4)
    until(lambda: _job(env, job_id).status == "berjalan" and _job(env, job_id).progress >= 0.3,
          90, about=lambda: (_job(env, job_id).status, first.poll()))  # fmt: skip
    (child,) = job_processes(job_id)
    second = _worker(env, *lease)  # idle: the job is held
    time.sleep(1.0)
    assert _job(env, job_id).worker.split(":")[1] == str(first.pid)  # type: ignore[union-attr]
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    until(lambda: not job_processes(job_id), 5, about="the job process outlived its worker")
    assert child not in job_processes(job_id)
    until(lambda: _job(env, job_id).status == "selesai", 120, about=lambda: _job(env, job_id))
    second.send_signal(signal.SIGTERM)
    _ended(second, 30)
    job = _job(env, job_id)
    assert job.worker.split(":")[1] == str(second.pid)  # type: ignore[union-attr]
    assert job.attempts == 2 and job.progress == 1.0
    assert job.counts == _job(env, reference).counts
    got = _results(env, job_id)
    assert [r[1:] for r in got] == [r[1:] for r in _results(env, reference)]
    assert _audits(env, job_id) == 1
    # A third worker finds nothing to do: the job is finished once.
    _ended(_worker(env, "--once", "--heartbeat-seconds", "0.1", "--stale-seconds", "0.5"))
    assert _job(env, job_id).attempts == 2 and _audits(env, job_id) == 1
    assert not job_processes(job_id)


def test_two_workers_run_every_job_exactly_once(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "bpum.csv"
    sample_list("bpum", 120, 5, env.world, path)
    jobs = [_submit(env, path) for _ in range(6)]
    workers = [_worker(env, "--once", "--concurrency", "2", pause=0.05) for _ in range(2)]
    for proc in workers:
        _ended(proc, 240)
    pids = {str(p.pid) for p in workers}
    counts = None
    for job_id in jobs:
        job = _job(env, job_id)
        assert job.status == "selesai", (job.status, job.error_code, job.error_detail)
        assert job.attempts == 1 and job.worker.split(":")[1] in pids  # type: ignore[union-attr]
        assert _audits(env, job_id) == 1  # its one record: a second run would add one
        assert counts in (None, job.counts)
        counts = job.counts
        assert len(_results(env, job_id)) == job.rows_total
        assert not job_processes(job_id)


def test_cancel_stops_a_running_job_within_seconds(env: Env, tmp_path: Path) -> None:
    """`POST …/batal` on a job whose process is busy (here: asleep inside a step, as in a
    long parse or registry load that reports nothing) ends it within seconds."""
    path = tmp_path / "bpum.csv"
    sample_list("bpum", 200, 6, env.world, path)
    job_id = _submit(env, path)
    worker = _worker(env, "--once", "--heartbeat-seconds", "0.5", pause=600)
    until(lambda: _job(env, job_id).status == "berjalan" and job_processes(job_id), 60,
          about=lambda: (_job(env, job_id).status, worker.poll()))  # fmt: skip
    (child,) = job_processes(job_id)
    time.sleep(1.0)  # well into the job
    owner = env.basic("kemenkop.operator")
    asked = time.monotonic()
    resp = env.client.post(f"/api/v1/pemadanan/{job_id}/batal", headers=owner)
    assert resp.status_code == 200, resp.text
    until(lambda: _job(env, job_id).status == "dibatalkan", 8, about=lambda: _job(env, job_id))
    took = time.monotonic() - asked
    assert took < 8, took
    until(lambda: child not in job_processes(job_id), 5, about="the job process lives on")
    job = _job(env, job_id)
    assert job.error_code == "dibatalkan" and job.attempts == 1
    assert _results(env, job_id) == [] and _audits(env, job_id) == 0
    state = env.client.get(f"/api/v1/pemadanan/{job_id}", headers=owner).json()
    assert state["status"] == "dibatalkan"
    _ended(worker, 30)


def test_a_dead_job_process_fails_its_job_once(env: Env, tmp_path: Path) -> None:
    """The job's process killed (as the kernel's OOM killer does): the job ends `gagal`
    with `pekerja_mati`, is not run again, and the worker goes on with the next job."""
    path = tmp_path / "bpum.csv"
    sample_list("bpum", 100, 4, env.world, path)
    doomed = _submit(env, path)
    worker = _worker(env, "--heartbeat-seconds", "0.25", "--stale-seconds", "1", pause=600)
    until(lambda: job_processes(doomed), 60, about=lambda: (_job(env, doomed), worker.poll()))
    (child,) = job_processes(doomed)
    os.kill(child, signal.SIGKILL)
    until(lambda: _job(env, doomed).status == "gagal", 10, about=lambda: _job(env, doomed))
    job = _job(env, doomed)
    assert job.error_code == "pekerja_mati" and "SIGKILL" in (job.error_detail or "")
    assert job.attempts == 1 and _results(env, doomed) == [] and _audits(env, doomed) == 0
    time.sleep(1.5)  # longer than the lease: nobody takes it up again
    assert _job(env, doomed).attempts == 1 and worker.poll() is None
    worker.send_signal(signal.SIGTERM)
    _ended(worker, 30)
    state = env.client.get(f"/api/v1/pemadanan/{doomed}", headers=env.basic("kemenkop.operator"))
    assert state.json()["galat"] == "pekerja_mati", state.text


def test_a_job_over_its_memory_cap_fails_and_the_next_one_runs(env: Env, tmp_path: Path) -> None:
    """SIMPUL_WORKER_JOB_MEMORY_MB: a job whose process would grow past the cap fails with
    `pekerjaan_melebihi_memori`, and a normal job still runs under the same cap."""
    path = tmp_path / "bpum.csv"
    sample_list("bpum", 100, 4, env.world, path)
    greedy = _submit(env, path)
    cap = {"SIMPUL_WORKER_JOB_MEMORY_MB": "1024"}
    _ended(_worker(env, "--once", extra={**cap, runner.BALLAST_ENV: "4096"}))
    job = _job(env, greedy)
    assert job.status == "gagal" and job.error_code == "pekerjaan_melebihi_memori", job.error_detail
    assert "1.024 MB" in (job.error_detail or "")
    assert _results(env, greedy) == [] and _audits(env, greedy) == 0
    fine = _submit(env, path)
    _ended(_worker(env, "--once", extra=cap))
    assert _job(env, fine).status == "selesai"


def test_a_stopped_worker_puts_its_job_back(env: Env, tmp_path: Path) -> None:
    """SIGTERM (systemd stop, the demo's server stopping): the job's process stops and the
    job goes back to the queue, not counted as an attempt."""
    path = tmp_path / "bpum.csv"
    sample_list("bpum", 100, 4, env.world, path)
    job_id = _submit(env, path)
    worker = _worker(env, pause=600)
    until(lambda: job_processes(job_id), 60, about=lambda: (_job(env, job_id), worker.poll()))
    worker.send_signal(signal.SIGTERM)
    _ended(worker, 30)
    assert not job_processes(job_id)
    job = _job(env, job_id)
    assert job.status == "antri" and job.attempts == 0 and job.worker is None
    assert runner.run_pending(env.rt) == 1
    assert _job(env, job_id).status == "selesai" and _audits(env, job_id) == 1


def test_a_job_abandoned_too_often_is_given_up(env: Env, tmp_path: Path) -> None:
    """A job whose workers died `worker_max_attempts` times is not run again
    (`percobaan_habis`); one with attempts left is reclaimed and finished."""
    path = tmp_path / "bpum.csv"
    sample_list("bpum", 60, 3, env.world, path)
    spent, left = _submit(env, path), _submit(env, path)
    old = env.rt.clock.now() - timedelta(hours=1)
    with env.rt.transaction() as s:
        for job_id, attempts in ((spent, 3), (left, 2)):
            job = JobRepository(s).get(job_id)
            assert job is not None
            job.status, job.worker, job.attempts, job.heartbeat_at = (
                "berjalan", "mati:1:x", attempts, old,
            )  # fmt: skip
    options = worker_mod.Options(max_attempts=3, heartbeat=0.2, stale=60, poll=0.2)
    supervisor = worker_mod.Supervisor(env.rt, options)
    assert supervisor.run(once=True) == 2
    job = _job(env, spent)
    assert job.status == "gagal" and job.error_code == "percobaan_habis" and job.attempts == 3
    job = _job(env, left)
    assert job.status == "selesai" and job.attempts == 3 and _audits(env, left) == 1


def test_the_settings_reach_a_job_process_whole(env: Env) -> None:
    """The job's process gets the worker's settings (secrets too) through a pipe."""
    from simpul.config import Settings

    again = Settings(**json.loads(worker_mod.settings_json(env.settings)))
    assert again == env.settings


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


def test_the_web_app_never_runs_a_job(env: Env, tmp_path: Path) -> None:
    """An upload is answered 202 and the job waits `antri` for a worker, however often its
    status is read: the web process runs no job and starts no thread for one."""
    path = tmp_path / "bpum.csv"
    sample_list("bpum", 100, 4, env.world, path)
    before = {t.ident for t in threading.enumerate()}
    resp = env.submit("kemenkop.operator", path, alur="bpum")
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        got = env.client.get(f"/api/v1/pemadanan/{job_id}", headers=env.basic("kemenkop.operator"))
        assert got.json()["status"] == "antri", got.text
        time.sleep(0.2)
    job = _job(env, job_id)
    assert job.status == "antri" and job.attempts == 0 and job.worker is None
    assert job.progress == 0.0 and job.heartbeat_at is None
    new = [t.name for t in threading.enumerate() if t.ident not in before]
    assert not [n for n in new if "pemadanan" in n or "detak" in n], new
    assert runner.run_pending(env.rt) == 1  # a worker (here: in process) runs it
    assert _job(env, job_id).status == "selesai"


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
