"""One settings object, built once by the entry point and passed in; never a global."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from simpul.errors import SimpulError

SECRET_FIELDS = ("secret_key", "audit_hmac_key", "pseudonym_key")
# Everything the node writes holds personal data or keys: only its own user reads it.
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
# The process-wide creation mask of every entry point (CLI, server workers): files any part
# of the node creates come out 0600 and folders 0700, whichever module writes them.
PRIVATE_UMASK = 0o077
INSTANCE_FILE = "instance.json"


class Settings(BaseSettings):
    """Read from `SIMPUL_*` environment variables and, if present, `DATA_DIR/simpul.env`."""

    model_config = SettingsConfigDict(env_prefix="SIMPUL_", extra="ignore")

    data_dir: Path = Path("./simpul-data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite file in the data dir."
    )
    # SQLite: FULL makes every commit durable against power loss, not only a crash.
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "FULL"
    # Secrets: no working default. `simpul demo` generates them into DATA_DIR/simpul.env.
    secret_key: SecretStr | None = None
    audit_hmac_key: SecretStr | None = None
    pseudonym_key: SecretStr | None = None
    demo: bool = False
    # Only `simpul init` / `simpul demo` create a database: any other command pointed at an
    # empty folder refuses (`basis_data_belum_diinisialisasi`). On, a command in a brand-new
    # folder (no instance record, snapshots or credentials) sets its database up as before
    # instance ids (a throwaway folder only). A folder that records its database is always
    # checked against it.
    implicit_init: bool = False
    # Grant quotas (per minute/day) are enforced; load tests switch this off explicitly.
    quota_enabled: bool = True
    # Where quotas are counted for every process and node (docs/adr/0011): a Redis URL
    # (`redis://127.0.0.1:6379/0`); unset, the database's quota_counter table. Several
    # instances sharing one Redis need their own key prefix.
    redis_url: str | None = None
    redis_key_prefix: str = "simpul:kuota"
    # The audit log's name in its signed checkpoints (C2SP tlog-checkpoint origin line): a
    # schema-less URL naming the node and its institution, unique among logs
    # (`simpul.dukcapil.go.id/dukcapil`). Unset: `simpul.local/<instance id>`.
    audit_origin: str | None = None
    # A checkpoint is signed at least this often while records arrive, and after every
    # `audit_checkpoint_records` records, whichever comes first (docs/audit.md).
    audit_checkpoint_seconds: float = Field(default=1.0, gt=0)
    audit_checkpoint_records: int = Field(default=10_000, ge=1)
    # `simpul audit verify` fails when records older than this are covered by no cosigned
    # checkpoint (seconds): a node whose witnesses stopped cosigning is not vouched for.
    audit_cosign_lag_seconds: float = Field(default=300.0, gt=0)
    # Web requests append their audit records through the group-commit writer.
    audit_group_commit: bool = True
    # How long the group-commit writer waits for more records once several are waiting
    # (milliseconds; 0: commit at once). See docs/performance.md for the trade-off.
    audit_linger_ms: float = 3.0
    # Single-item verification, status check and NIK look-up served ahead of FastAPI's
    # router, with one statement per call (simpul.services.hot); needs group commit.
    service_fast_path: bool = True
    # FastAPI's built-in OpenTelemetry instrumentation (traces, metrics, logs through the
    # process's OpenTelemetry providers). Off unless asked for: Simpul exports Prometheus
    # metrics itself, and with it on FastAPI asks the providers on every request (~5 % of a
    # verification's CPU even with no exporter configured).
    opentelemetry: bool = False
    # `simpul worker` (simpul.pemadanan.worker; the web process never runs a job): jobs run
    # at once per worker process, each in its own child process. The worker beats each job's
    # heartbeat every `worker_heartbeat_seconds`, whatever phase the job is in; a job whose
    # heartbeat is older than `worker_stale_seconds` has lost its lease and another worker
    # may reclaim it, at most `worker_max_attempts` runs in all. `worker_job_memory_mb` caps
    # the memory of each job's process (MB; 0: no cap): a job over it fails, the node stays.
    worker_concurrency: int = Field(default=1, ge=1, le=32)
    worker_heartbeat_seconds: float = Field(default=1.0, gt=0, le=10)
    worker_stale_seconds: float = Field(default=60.0, gt=0)
    worker_max_attempts: int = Field(default=3, ge=1, le=20)
    worker_job_memory_mb: int = Field(default=0, ge=0)
    # Every worker process brings the usage-report rollups up to the log's head this often
    # (seconds; 0 disables), so a report never has to fold a long backlog of the log itself.
    rollup_refresh_seconds: float = 300.0
    # Every worker process deletes stored outputs past their agreement's retention this
    # often (seconds; 0 disables; `simpul retensi jalankan` does it on demand).
    retention_sweep_seconds: float = 3600.0
    # Upload limits keep a bad file from exhausting a worker.
    max_upload_bytes: int = 200 * 1024 * 1024
    max_upload_rows: int = 5_000_000
    # A job matches its list this many good rows at a time (memory bounded by the chunk),
    # and a list whose estimated peak exceeds the budget is refused at submission.
    match_chunk_rows: int = 50_000
    match_memory_mb: int = 1024
    # Any other request body (JSON, forms), refused before it is read (simpul.kit.bodylimit).
    # A 1,000-item batch with every element filled is well under 1 MiB.
    max_json_bytes: int = 4 * 1024 * 1024
    # Auditor accounts (usernames) that read every agreement's records, not only those of
    # agreements their institution is party to (`SIMPUL_HUB_AUDITORS='["inspektorat.auditor"]'`).
    hub_auditors: list[str] = Field(default_factory=list)
    # Proxies (addresses or CIDRs) whose Forwarded / X-Forwarded-For headers are believed
    # (`SIMPUL_TRUSTED_PROXIES='["10.0.0.5"]'`). None by default: a caller's address is the
    # peer's, whatever headers it sends (simpul.kit.proxies).
    trusted_proxies: list[str] = Field(default_factory=list)
    # `simpul serve --workers N`: how long a worker may take to answer the supervisor's
    # health check before it is killed and replaced (uvicorn's default of 5 s killed
    # workers still starting on a busy node).
    worker_healthcheck_seconds: int = 60
    # Federation (docs/federation.md): this node's member code in the federation directory
    # (its institution's code); unset, the node is not federated and holds every dataset it
    # serves (the embedded, single-node mode).
    federation_member: str | None = None
    # Institutions without a node of their own that this node hosts as tenants: datasets
    # they provide are served here too.
    federation_tenants: list[str] = Field(default_factory=list)
    # Where the signed directory is read: a file path or an https:// URL (another node's
    # /federasi/v1/direktori, or the authority's publication point).
    federation_directory: str | None = None
    # The federation authority's verifier keys (C2SP vkey); a directory must be signed by
    # one of them. Several during a key rotation.
    federation_authority_keys: list[str] = Field(default_factory=list)
    # The node's TLS key, its certificate and the federation's CA (PEM files); default
    # DATA_DIR/federasi/{node.key,node.pem,ca.pem}.
    federation_tls_dir: Path | None = None
    # The federation listener (`simpul serve --federation-port`): mutual TLS, node-to-node.
    federation_host: str = "127.0.0.1"
    federation_port: int | None = None
    # A node-to-node request older or newer than this (seconds) is refused, and its id is
    # remembered for twice as long to refuse a replay (MOSIP uses 30 s).
    federation_window_seconds: float = Field(default=30.0, gt=0, le=3600)
    # How often the directory is read again (seconds), and how long a call to another node
    # may take (seconds).
    federation_refresh_seconds: float = Field(default=300.0, gt=0)
    federation_timeout_seconds: float = Field(default=30.0, gt=0)
    # The listener tells recipients of agreement changes and asks providers for theirs
    # (simpul.federation.agreements); off only for tests that drive a round by hand.
    federation_sync_agreements: bool = True

    @property
    def federation_folder(self) -> Path:
        return self.federation_tls_dir or self.data_dir / "federasi"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or default_database_url(self.data_dir)

    @property
    def registry_dir(self) -> Path:
        return self.data_dir / "registry"

    def require_secret(self, name: str) -> str:
        """The secret's value, or a clear error: secrets never fall back to a default."""
        value = getattr(self, name)
        if value is None or not value.get_secret_value():
            raise SimpulError(
                code="konfigurasi_rahasia_kosong",
                detail=f"Rahasia SIMPUL_{name.upper()} belum diatur.",
                status=500,
            )
        return str(value.get_secret_value())


def load_settings(data_dir: Path | None = None, **overrides: object) -> Settings:
    """Settings from the environment, then `DATA_DIR/simpul.env`, then explicit overrides."""
    base = Settings(**({"data_dir": data_dir} if data_dir else {}))  # type: ignore[arg-type]
    env_file = base.data_dir / "simpul.env"
    if env_file.exists():
        base = Settings(_env_file=env_file, **({"data_dir": base.data_dir}))  # type: ignore[arg-type]
    if overrides:
        base = base.model_copy(update=overrides)
    return base


def default_database_url(data_dir: Path) -> str:
    """The folder's own SQLite file."""
    return f"sqlite:///{(data_dir / 'simpul.db').resolve()}"


def private_umask() -> None:
    """Make every file this process creates from now on 0600 and every folder 0700."""
    os.umask(PRIVATE_UMASK)


def ensure_private_dir(path: Path) -> Path:
    """The folder, created 0700 (parents too), and made 0700 if it was looser."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(PRIVATE_DIR)
    return path


def write_private(path: Path, content: str) -> Path:
    """Write a text file that is 0600 from its creation (never briefly readable by others)."""
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)  # an existing file may have had other bits
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    return path


def write_demo_secrets(data_dir: Path) -> Path:
    """Create DATA_DIR/simpul.env (0600) with fresh random secrets, once."""
    ensure_private_dir(data_dir)
    env_file = data_dir / "simpul.env"
    if not env_file.exists():
        lines = [f"SIMPUL_{name.upper()}={secrets.token_urlsafe(32)}" for name in SECRET_FIELDS]
        write_private(env_file, "\n".join([*lines, "SIMPUL_DEMO=true", ""]))
    return env_file


def read_instance_record(data_dir: Path) -> dict[str, str] | None:
    """What the data folder records about its database (`instance.json`), if anything."""
    path = data_dir / INSTANCE_FILE
    if not path.exists():
        return None
    loaded = json.loads(path.read_text(encoding="utf-8"))
    return {"instance_id": str(loaded["instance_id"]), "database_url": str(loaded["database_url"])}


def write_instance_record(settings: Settings, instance_id: str, public_url: str) -> Path:
    """Record in the data folder which database it belongs to: `instance.json` (the URL
    without its password and the instance id) and, when the database is not the folder's
    own SQLite file, SIMPUL_DATABASE_URL in `simpul.env`, so that a new shell or a cron job
    without the variable finds the same database instead of a new empty one."""
    ensure_private_dir(settings.data_dir)
    record = {"instance_id": instance_id, "database_url": public_url}
    path = write_private(settings.data_dir / INSTANCE_FILE, json.dumps(record, indent=2) + "\n")
    if settings.effective_database_url != default_database_url(settings.data_dir):
        env_file = settings.data_dir / "simpul.env"
        old = env_file.read_text(encoding="utf-8").splitlines() if env_file.exists() else []
        kept = [line for line in old if not line.startswith("SIMPUL_DATABASE_URL=")]
        write_private(env_file, "\n".join([*kept, f"SIMPUL_DATABASE_URL={public_url}", ""]))
    return path
