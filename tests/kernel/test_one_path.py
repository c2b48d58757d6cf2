"""One verification, one download and one CLI export each pass through the same kernel
function, `simpul.kernel.core.execute` (ADR 0009): every module that holds it is spied on,
and each call must reach it exactly once, with its own action. SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from simpul.kernel import core
from tests.kernel.cli_probes import _out, cli
from tests.kernel.probes import KEP, PADAN_OWNER, World, _padan_get, _padan_job, iso

pytestmark = pytest.mark.xdist_group("inventory")


def test_a_verification_a_download_and_an_export_share_one_kernel_function(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _padan_job(world)  # the job whose results are downloaded, made before the spying
    seen: list[str] = []
    original = core.execute

    def spy(session: Any, call: Any, op: Any, *args: Any, **kw: Any) -> Any:
        seen.append(call.action)
        return original(session, call, op, *args, **kw)

    holders = [m for m in list(sys.modules.values())
               if m is not None and getattr(m, "execute", None) is original]  # fmt: skip
    assert core in holders and len(holders) >= 2  # the kernel and the fast path at least
    for module in holders:
        monkeypatch.setattr(module, "execute", spy)

    p = world.people[7]
    body = {"nik": p["nik"], "elemen": {"tanggal_lahir": iso(p["tanggal_lahir"])}}
    stats = world.app.state.fast_path
    # The first call verifies the password (argon2, on the route); the second is answered
    # on the fast path: both reach the kernel's one function.
    for _ in range(2):
        verified = world.client.post(f"{KEP}/verifikasi", json=body,
                                     headers=world.basic("bkn.operator"))  # fmt: skip
        assert verified.status_code == 200, verified.text
    assert stats.handed_off >= 1 and stats.served >= 1
    downloaded = _padan_get(world, PADAN_OWNER, "hasil.csv")
    assert downloaded.status_code == 200, downloaded.text
    exported = cli(world, "registry", "export", "kependudukan", "-o", _out(world, "e.csv"),
                   "--akun", "dukcapil.admin")  # fmt: skip
    assert exported.status_code == 200, exported.text
    assert seen == ["verifikasi", "verifikasi", "pemadanan.unduh", "registri.ekspor"], seen
