"""The entry-point inventory: every FastAPI route, portal route and Typer command is
classified in `simpul.kernel.inventory.ENTRIES`, and every data-bearing entry behaves as
the kernel promises, on SQLite and PostgreSQL:

- refused without a grant;
- refused on the next call after suspension, expiry, termination and account revocation;
- an audit record naming the disclosed subjects on success;
- an audit record on every refusal, validation refusals included.

The probes (tests/kernel/probes.py) drive each data-bearing entry as its user would."""

from __future__ import annotations

from datetime import timedelta

import pytest
import typer.main
from pydantic import SecretStr

from simpul.app import create_app
from simpul.cli import app as cli_app
from simpul.config import Settings
from simpul.federation.server import create_federation_app
from simpul.kernel.inventory import ENTRIES, Kind, cli_entries, http_entries
from tests.kernel.cli_probes import PROBES
from tests.kernel.probes import World, new_records

pytestmark = pytest.mark.xdist_group("inventory")


def found_entries(tmp_settings: Settings) -> set[str]:
    app = create_app(tmp_settings)
    # The federation listener is the node's other HTTP surface (simpul federation serve).
    fed = create_federation_app(tmp_settings.model_copy(update={
        "federation_member": "uji", "pseudonym_key": SecretStr("uji")}))  # fmt: skip
    return (set(http_entries(app)) | set(http_entries(fed))
            | set(cli_entries(typer.main.get_command(cli_app))))  # fmt: skip


def test_every_entry_point_is_classified(tmp_path) -> None:  # type: ignore[no-untyped-def]
    found = found_entries(Settings(data_dir=tmp_path))
    unclassified = sorted(found - set(ENTRIES))
    stale = sorted(set(ENTRIES) - found)
    assert not unclassified, f"classify these in simpul.kernel.inventory.ENTRIES: {unclassified}"
    assert not stale, f"no longer entry points, remove from ENTRIES: {stale}"


def test_every_data_entry_has_a_probe() -> None:
    data = {e for e, kind in ENTRIES.items() if kind is Kind.DATA}
    probed = {p.entry for p in PROBES}
    assert probed <= data, f"probes for entries not classified as data: {probed - data}"
    assert data <= probed, f"data-bearing entries without a probe: {sorted(data - probed)}"


def test_data_entries_are_decided_audited_and_closed(world: World) -> None:
    """One world per backend, all probes through the whole life of their agreements."""
    failures: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            failures.append(what)

    # In force: the granted account is answered and the log names whom it disclosed.
    for probe in PROBES:
        if probe.prepare is not None:
            probe.prepare(world)
        mark = world.head()
        resp = probe.send(world, probe.allowed)
        records = new_records(world, mark)
        check(probe.answered(resp), f"{probe.entry}: allowed call answered {resp.status_code}")
        check(
            any(r.decision == "izin" and r.subject_count >= probe.min_subjects for r in records),
            f"{probe.entry}: no allowance record with {probe.min_subjects}+ subjects: "
            f"{[(r.action, r.decision, r.subject_count) for r in records]}",
        )
        check(all(r.actor == probe.allowed for r in records if r.decision != "tindakan"),
              f"{probe.entry}: records name another actor")  # fmt: skip
    # Without a grant: refused, and the refusal is in the log.
    for probe in PROBES:
        mark = world.head()
        resp = probe.send(world, probe.denied)
        records = new_records(world, mark)
        check(resp.status_code >= 400, f"{probe.entry}: no-grant call answered {resp.status_code}")
        check(any(r.decision == "tolak" for r in records), f"{probe.entry}: no-grant unrecorded")
    # Bad input: refused and recorded (a NIK of 15 digits, an unknown element …).
    for probe in PROBES:
        if probe.invalid is None:
            continue
        mark = world.head()
        resp = probe.invalid(world, probe.allowed)
        records = new_records(world, mark)
        check(400 <= resp.status_code < 500, f"{probe.entry}: invalid answered {resp.status_code}")
        check(any(r.decision == "tolak" for r in records),
              f"{probe.entry}: validation refusal unrecorded")  # fmt: skip
    # Suspended, then resumed.
    governed = [p for p in PROBES if p.agreement is not None]
    for agreement in sorted({p.agreement for p in governed if p.agreement}):
        world.suspend(agreement)
        for probe in (p for p in governed if p.agreement == agreement):
            _refused(world, probe, "perjanjian_ditangguhkan", check)
        world.resume(agreement)
    # Past the end of every term: expired.
    world.clock.advance(timedelta(days=365 * 10))
    for probe in governed:
        _refused(world, probe, "perjanjian_berakhir", check)
    world.clock.advance(-timedelta(days=365 * 10))
    # Terminated: refused for good.
    for agreement in sorted({p.agreement for p in governed if p.agreement}):
        world.terminate(agreement)
    for probe in governed:
        _refused(world, probe, "perjanjian_diakhiri", check)
    # A revoked account is refused on its next call.
    for username in sorted({p.allowed for p in PROBES}):
        world.revoke(username)
    for probe in PROBES:
        resp = probe.send(world, probe.allowed)
        check(resp.status_code >= 300 and not probe.discloses(resp),
              f"{probe.entry}: revoked account answered {resp.status_code}")  # fmt: skip
    assert not failures, "\n".join(failures)


def _refused(world: World, probe, code: str, check) -> None:  # type: ignore[no-untyped-def]
    mark = world.head()
    resp = probe.send(world, probe.allowed)
    records = new_records(world, mark)
    check(resp.status_code >= 400 and not probe.discloses(resp),
          f"{probe.entry}: {code} expected, answered {resp.status_code}")  # fmt: skip
    check(any(r.decision == "tolak" and r.reason == code for r in records),
          f"{probe.entry}: no refusal {code} in the log: "
          f"{[(r.action, r.decision, r.reason) for r in records]}")  # fmt: skip
