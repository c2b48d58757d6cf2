"""One settings object, built once by the entry point and passed in; never a global."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from simpul.errors import SimpulError

SECRET_FIELDS = ("secret_key", "audit_hmac_key", "pseudonym_key")


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
    # Grant quotas (per minute/day) are enforced; load tests switch this off explicitly.
    quota_enabled: bool = True
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
    # Every worker process looks for queued or abandoned matching jobs this often (seconds;
    # 0 disables): a job interrupted by a restart resumes without anyone polling it.
    job_sweep_seconds: float = 30.0
    # Every worker process brings the usage-report rollups up to the log's head this often
    # (seconds; 0 disables), so a report never has to fold a long backlog of the log itself.
    rollup_refresh_seconds: float = 300.0
    # Every worker process deletes stored outputs past their agreement's retention this
    # often (seconds; 0 disables; `simpul retensi jalankan` does it on demand).
    retention_sweep_seconds: float = 3600.0
    # Upload limits keep a bad file from exhausting a worker.
    max_upload_bytes: int = 200 * 1024 * 1024
    max_upload_rows: int = 5_000_000
    # Auditor accounts (usernames) that read every agreement's records, not only those of
    # agreements their institution is party to (`SIMPUL_HUB_AUDITORS='["inspektorat.auditor"]'`).
    hub_auditors: list[str] = Field(default_factory=list)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'simpul.db').resolve()}"

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


def write_demo_secrets(data_dir: Path) -> Path:
    """Create DATA_DIR/simpul.env (0600) with fresh random secrets, once."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env_file = data_dir / "simpul.env"
    if not env_file.exists():
        lines = [f"SIMPUL_{name.upper()}={secrets.token_urlsafe(32)}" for name in SECRET_FIELDS]
        env_file.write_text("\n".join([*lines, "SIMPUL_DEMO=true", ""]), encoding="utf-8")
        env_file.chmod(0o600)
    return env_file
