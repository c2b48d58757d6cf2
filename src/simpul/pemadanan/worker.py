"""`simpul worker`: matching jobs claimed from the database queue, each run in its own
child process under a supervisor.

The web process never runs a job: an upload is queued (`antri`) and a worker claims it by
compare-and-set (`JobRepository.claim`). The claim is a lease: the supervisor beats the
job's heartbeat every `worker_heartbeat_seconds` from its own loop, whatever the child is
doing (parsing, loading the registry, matching, writing), and a job whose heartbeat is
older than `worker_stale_seconds` may be claimed by another worker.

- **Cancel**: each beat reads `cancel_requested`; the child is sent SIGTERM, then SIGKILL
  after a grace, and once it is gone the job ends `dibatalkan` — within a few seconds,
  whatever phase it is in.
- **A child that dies** (out of memory, a crash) ends its job `gagal` (`pekerja_mati`); it
  is not run again, as it would most likely die again.
- **A worker that dies** (kill -9, a lost node) takes its children with it (Linux
  `PR_SET_PDEATHSIG`, and each child also watches its parent), so nothing keeps writing;
  its jobs keep their lease until it runs out, then another worker reclaims them, at most
  `worker_max_attempts` runs in all (`percobaan_habis` after that).
- **A worker that is stopped** (SIGTERM, SIGINT) stops its children and puts their jobs
  back in the queue.

Exactly once holds as before: the child writes results, status and the job's one audit
record in one transaction that succeeds only while its worker holds the job
(`JobRepository.finish`), and the supervisor ends a job only while it holds it and its
child is gone.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from simpul.config import Settings, private_umask
from simpul.errors import SimpulError
from simpul.pemadanan import runner
from simpul.pemadanan.repository import JobRepository
from simpul.runtime import Runtime

log = logging.getLogger(__name__)
# Seconds between SIGTERM and SIGKILL, for a cancelled job's process or a stopping worker.
GRACE = 5.0
TICK = 0.1  # the supervisor's loop: reap, beat when due, claim when due
POLL = 1.0  # how often an idle worker looks at the queue
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Options:
    concurrency: int = 1
    heartbeat: float = 1.0
    stale: float = 60.0
    max_attempts: int = 3
    memory_mb: int = 0
    grace: float = GRACE
    poll: float = POLL

    @classmethod
    def of(cls, settings: Settings, **given: Any) -> Options:
        """The settings' values, overridden by those given (not None)."""
        base = cls(
            concurrency=settings.worker_concurrency,
            heartbeat=settings.worker_heartbeat_seconds,
            stale=settings.worker_stale_seconds,
            max_attempts=settings.worker_max_attempts,
            memory_mb=settings.worker_job_memory_mb,
        )
        return cls(**{**base.__dict__, **{k: v for k, v in given.items() if v is not None}})

    def check(self) -> None:
        # A lease shorter than a few beats would be taken from a live worker.
        if self.stale < 3 * self.heartbeat:
            raise SimpulError(
                "setelan_pekerja_tidak_valid",
                f"Batas basi ({self.stale} detik) harus paling sedikit tiga kali selang detak "
                f"({self.heartbeat} detik).",
                status=422,
            )


@dataclass
class Child:
    job_id: str
    proc: subprocess.Popen[bytes]
    beaten: float  # monotonic time of the last heartbeat written
    ending: str | None = None  # why the supervisor stops it: batal | hilang | berhenti
    kill_at: float | None = None


@dataclass
class Supervisor:
    rt: Runtime
    options: Options
    name: str = field(default_factory=runner.worker_name)
    children: dict[str, Child] = field(default_factory=dict)
    ended: int = 0  # jobs this worker saw to their end
    stopping: bool = False

    def stop(self, *_: Any) -> None:
        """Stop claiming, stop the children, put their jobs back (also a signal handler)."""
        self.stopping = True

    def run(self, *, once: bool = False, until: Callable[[], bool] | None = None) -> int:
        """Claim and supervise until stopped (`once`: until nothing is queued or running);
        returns how many jobs ended here."""
        opts = self.options
        next_beat = next_claim = 0.0
        while True:
            now = time.monotonic()
            self._reap()
            if self.stopping or (until is not None and until()):
                self.stopping = True
                self._stop_all(now)
                if not self.children:
                    return self.ended
            if now >= next_beat:
                next_beat = now + opts.heartbeat
                self._beat()
            self._enforce(time.monotonic())
            if not self.stopping and now >= next_claim:
                next_claim = now + opts.poll
                claimed = self._fill()
                if once and not claimed and not self.children:
                    return self.ended
            time.sleep(TICK)

    # -- the queue

    def _fill(self) -> int:
        """Claim jobs while a slot is free; returns how many."""
        self._give_up_exhausted()
        claimed = 0
        while len(self.children) < self.options.concurrency:
            job_id = self._claim()
            if job_id is None:
                break
            self._start(job_id)
            claimed += 1
        return claimed

    def _stale_before(self) -> Any:
        return self.rt.clock.now() - timedelta(seconds=self.options.stale)

    def _claim(self) -> str | None:
        now, before = self.rt.clock.now(), self._stale_before()
        limit = self.options.max_attempts
        with self.rt.transaction() as s:
            ids = JobRepository(s).claimable(before, 10, limit)
        for job_id in ids:
            with self.rt.transaction() as s:
                if JobRepository(s).claim(job_id, self.name, now, before, limit):
                    log.info("pemadanan %s: diambil oleh %s", job_id, self.name)
                    return job_id
        return None

    def _give_up_exhausted(self) -> None:
        before = self._stale_before()
        with self.rt.transaction() as s:
            ids = JobRepository(s).exhausted(before, self.options.max_attempts)
        for job_id in ids:
            exc = exhausted(self.options.max_attempts)
            with self.rt.transaction() as s:
                done = JobRepository(s).give_up(job_id, before, _failed(self.rt, exc))
            if done:
                log.error("pemadanan %s: %s", job_id, exc.code)
                self.ended += 1

    # -- the children

    def _start(self, job_id: str) -> None:
        try:
            proc = spawn_job(self.rt.settings, job_id, self.name, self.options.memory_mb)
        except OSError as exc:
            log.error("pemadanan %s: proses tidak dapat dimulai: %s", job_id, exc)
            self._end(job_id, _failed(self.rt, died(None, str(exc))))
            return
        self.children[job_id] = Child(job_id, proc, time.monotonic())

    def _beat(self) -> None:
        if not self.children:
            return
        now = time.monotonic()
        for child in list(self.children.values()):
            try:
                with self.rt.transaction() as s:
                    mine, cancel = JobRepository(s).beat(
                        child.job_id, self.name, self.rt.clock.now()
                    )
            except Exception as exc:  # the database is away: the lease decides (_enforce)
                log.warning("pemadanan %s: detak gagal: %s", child.job_id, type(exc).__name__)
                continue
            child.beaten = now
            if child.ending is not None or child.proc.poll() is not None:
                continue
            if not mine:  # ended by its child, or reclaimed: nothing more to run here
                self._terminate(child, "hilang", now, grace=0.0)
            elif cancel:
                log.info("pemadanan %s: dibatalkan, proses dihentikan", child.job_id)
                self._terminate(child, "batal", now)

    def _enforce(self, now: float) -> None:
        for child in self.children.values():
            if child.proc.poll() is not None:
                continue
            if child.kill_at is not None and now >= child.kill_at:
                child.proc.kill()
                child.kill_at = None
            elif child.ending is None and now - child.beaten > self.options.stale:
                # No beat got through for a whole lease: another worker may hold the job now.
                self._terminate(child, "hilang", now, grace=0.0)

    def _terminate(self, child: Child, why: str, now: float, grace: float | None = None) -> None:
        child.ending = child.ending or why
        wait = self.options.grace if grace is None else grace
        if wait > 0:
            child.proc.terminate()
            child.kill_at = now + wait
        else:
            child.proc.kill()

    def _stop_all(self, now: float) -> None:
        for child in self.children.values():
            if child.ending is None and child.proc.poll() is None:
                self._terminate(child, "berhenti", now)

    def _reap(self) -> None:
        for job_id, child in list(self.children.items()):
            code = child.proc.poll()
            if code is None:
                continue
            del self.children[job_id]
            self._settle(child, code)

    def _settle(self, child: Child, code: int) -> None:
        """The child is gone: end its job if it did not (and the job is still ours)."""
        job_id = child.job_id
        with self.rt.transaction() as s:
            job = JobRepository(s).get(job_id)
            ours = job is not None and job.status == "berjalan" and job.worker == self.name
        if not ours:  # its child ended it (or another worker holds it now)
            self.ended += int(job is not None and job.worker == self.name)
            return
        if child.ending == "berhenti" or (self.stopping and child.ending is None):
            with self.rt.transaction() as s:
                JobRepository(s).release(job_id, self.name)
            log.info("pemadanan %s: dikembalikan ke antrean", job_id)
            return
        if child.ending == "batal":
            values = {"status": "dibatalkan", "error_code": "dibatalkan",
                      "error_detail": "Dibatalkan atas permintaan.",
                      "finished_at": self.rt.clock.now()}  # fmt: skip
        elif code == OUT_OF_MEMORY:
            values = _failed(self.rt, SimpulError(*runner.too_big(self.options.memory_mb)))
        else:
            values = _failed(self.rt, died(code))
        if self._end(job_id, values):
            log.error("pemadanan %s: %s (kode keluar %s)", job_id, values["error_code"], code)

    def _end(self, job_id: str, values: dict[str, Any]) -> bool:
        with self.rt.transaction() as s:
            done = JobRepository(s).finish(job_id, self.name, values)
        self.ended += int(done)
        return done


def _failed(rt: Runtime, exc: SimpulError) -> dict[str, Any]:
    return {"status": "gagal", "error_code": exc.code, "error_detail": exc.detail,
            "finished_at": rt.clock.now()}  # fmt: skip


def died(code: int | None, why: str | None = None) -> SimpulError:
    """The failure of a job whose process ended without ending it."""
    if why is None and code is not None and code < 0:
        why = f"dihentikan sinyal {_signal_name(-code)}"
        if -code == signal.SIGKILL:
            why += ", kemungkinan kehabisan memori"
    elif why is None:
        why = f"keluar dengan kode {code}"
    return SimpulError(
        "pekerja_mati",
        f"Proses pemadanan berhenti sebelum selesai ({why}); pekerjaan tidak diulang dan "
        "tidak ada hasil yang disimpan. Unggah ulang daftarnya atau hubungi operator.",
        status=500,
    )


def exhausted(attempts: int) -> SimpulError:
    return SimpulError(
        "percobaan_habis",
        f"Pekerjaan dihentikan setelah {attempts} kali dicoba: pekerjanya berhenti setiap "
        "kali. Unggah ulang daftarnya atau hubungi operator.",
        status=500,
    )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


# -- the child process

OUT_OF_MEMORY = 75  # a child's exit code when even recording its failure ran out of memory
_libc: Any = None


def _die_with_parent() -> None:
    """In the child before it executes Python (`preexec_fn`): SIGKILL when the parent
    dies. Linux ties this to the parent *thread*, so children are started from the
    supervisor's main loop only."""
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _load_libc() -> None:
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        _libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork, not in the child


def spawn_job(
    settings: Settings, job_id: str, worker: str, memory_mb: int
) -> subprocess.Popen[bytes]:
    """The child process of one job. Settings (with the secrets) go through a pipe, not
    the command line or the environment; the child has its own session, so a terminal's
    Ctrl-C reaches only the supervisor, which stops it."""
    _load_libc()
    cmd = [sys.executable, "-m", "simpul.pemadanan.worker", job_id, worker, str(os.getpid()),
           str(memory_mb)]  # fmt: skip
    proc = subprocess.Popen(  # noqa: S603
        cmd, stdin=subprocess.PIPE, preexec_fn=_die_with_parent, start_new_session=True
    )
    assert proc.stdin is not None
    try:
        proc.stdin.write(settings_json(settings).encode())
        proc.stdin.close()
    except BrokenPipeError:  # it died at once: reaped and failed as any dead child
        pass
    return proc


def spawn_worker(folder: Path, concurrency: int = 1) -> subprocess.Popen[bytes]:
    """`simpul worker` beside this process (`simpul demo`'s server): it dies with it."""
    return spawn_beside(["--data-dir", str(folder), "worker", "--concurrency", str(concurrency)])


def spawn_beside(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`simpul ARGS…` as a child process that dies with this one (the demo's server)."""
    _load_libc()
    cmd = [sys.executable, "-m", "simpul", *args]
    return subprocess.Popen(cmd, preexec_fn=_die_with_parent, start_new_session=True, env=env)  # noqa: S603


def stop_process(proc: subprocess.Popen[bytes], grace: float = 2 * GRACE) -> None:
    """SIGTERM, then SIGKILL after `grace`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)


def settings_json(settings: Settings) -> str:
    values = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        values[name] = value.get_secret_value() if isinstance(value, SecretStr) else value
    return json.dumps(values, default=str)


def _watch_parent(parent: int) -> None:
    """Exit when the parent is gone (where PR_SET_PDEATHSIG does not exist, or the parent
    died before it was set)."""

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(70)
            time.sleep(1.0)

    if os.getppid() != parent:
        os._exit(70)
    threading.Thread(target=watch, daemon=True, name="induk").start()


def child_main(argv: Sequence[str]) -> None:
    """One job in this process: `python -m simpul.pemadanan.worker JOB WORKER PARENT MB`."""
    job_id, worker, parent, memory_mb = argv[0], argv[1], int(argv[2]), int(argv[3])
    _watch_parent(parent)
    private_umask()
    if memory_mb:
        # Private writable memory (heap, arrays, thread stacks): an allocation past it
        # raises MemoryError, and the job fails cleanly instead of the node swapping.
        limit = memory_mb << 20
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings(**json.loads(sys.stdin.read()))
    rt = Runtime(settings)
    if settings.federation_member:
        from simpul.federation.node import attach

        attach(rt)
    try:
        runner.run_claimed(rt, job_id, worker)
    except MemoryError:
        os._exit(OUT_OF_MEMORY)
    finally:
        rt.close()


if __name__ == "__main__":
    child_main(sys.argv[1:])
