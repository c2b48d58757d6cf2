"""Portal settings: read from `SIMPUL_PORTAL_*` (and DATA_DIR/simpul.env) when the app is
built, and passed in like `simpul.config.Settings`; never an import-time global."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from simpul.config import Settings


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIMPUL_PORTAL_", extra="ignore")

    # A session ends after this long without a request …
    idle_minutes: int = 30
    # … and in any case this long after sign-in.
    absolute_hours: int = 12
    # "auto": Secure when the request came over https (or X-Forwarded-Proto: https from a
    # proxy in SIMPUL_TRUSTED_PROXIES, simpul.kit.proxies); "always" / "never" force it.
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    # last_seen is written at most this often per session (a write on every page is waste).
    touch_seconds: int = 15
    audit_page_size: int = 100
    # Who must sign in with a second factor (TOTP, simpul.access.totp; docs/adr/0012): these
    # roles, and any user whose agreements grant their institution one of these services
    # (an operator: its data user's). An enrolled account is always asked for its code.
    second_factor_roles: list[str] = ["hub_admin", "provider_admin", "recipient_admin", "auditor"]
    second_factor_services: list[str] = ["akses_nik", "bnba", "mikro"]
    # How long a signed-in password waits for its code (or enrolment) before it is void.
    second_factor_minutes: int = 10

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.idle_minutes)

    @property
    def pending(self) -> timedelta:
        return timedelta(minutes=self.second_factor_minutes)

    @property
    def absolute(self) -> timedelta:
        return timedelta(hours=self.absolute_hours)


def load_portal_settings(settings: Settings) -> PortalSettings:
    env_file = settings.data_dir / "simpul.env"
    if env_file.exists():
        return PortalSettings(_env_file=env_file)
    return PortalSettings()
