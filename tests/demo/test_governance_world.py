"""The demo's institutions, agreements and accounts: every party and role can sign in."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from simpul.access import passwords as pw
from simpul.access.auth import issue_token, resolve_principal
from simpul.config import Settings
from simpul.demo.service import build_governance, write_credentials
from simpul.kit.clock import FixedClock
from simpul.runtime import Runtime


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        pw, "DEFAULT", pw.Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024))
    )


def test_every_role_of_every_party_signs_in(settings: Settings, tmp_path: Path) -> None:
    rt = Runtime(settings, clock=FixedClock(datetime(2026, 11, 23, 9, tzinfo=UTC)))
    creds = build_governance(rt, say=lambda _msg: None)
    roles = {(c["institution"], c["role"], c["kind"]) for c in creds}
    assert ("bappenas", "hub_admin", "user") in roles
    for inst in ("dukcapil", "bkn", "kemensos", "bappenas"):
        assert (inst, "provider_admin", "user") in roles
        assert (inst, "auditor", "user") in roles
    for inst in ("bkn", "kemensos", "kemenkop", "pemprov-jabar"):
        for role, kind in [("recipient_admin", "user"), ("data_user", "user"),
                           ("operator", "user"), ("data_user", "client")]:  # fmt: skip
            assert (inst, role, kind) in roles
    with rt.transaction() as s:
        for c in creds:
            if c["kind"] == "user":
                who = resolve_principal(s, basic=(c["username"], c["password"]), clock=rt.clock)
            else:
                token = issue_token(s, c["client_id"], c["client_secret"], clock=rt.clock)
                who = resolve_principal(
                    s, bearer=token.access_token.get_secret_value(), clock=rt.clock
                )
            assert who.institution == c["institution"]
            if c["role"] in {"data_user", "operator"}:
                assert who.agreement_ids == set(c["agreements"] or who.agreement_ids)
                assert "127.0.0.0/8" in who.access_cidrs
    path = write_credentials(tmp_path, creds)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rt.close()
