"""Stored outputs leave the node when their agreement's retention runs out (`retensi.hari`,
default 30 days; PKS 003 Pasal 2(2)h forbids keeping population data that was accessed):
pemadanan jobs and their files, Regsosek extracts and processing outputs, and what a feedback
upload kept only for its sender. Each capability deletes its own and writes its own audit
record when it deleted anything; this runs them all, each in its own transaction, so one
failing leaves the others done. The app runs it periodically; `simpul retensi jalankan` on
demand. (An output is unavailable from the moment its agreement stops being in force —
every download is decided — so retention only bounds how long the bytes stay on disk.)"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from simpul.config import Settings
from simpul.disclosure import service as disclosure
from simpul.kit.clock import Clock
from simpul.obligations import feedback
from simpul.pemadanan import service as pemadanan
from simpul.runtime import Runtime

Purge = Callable[[Session, Settings, Clock], int]
PURGES: dict[str, Purge] = {
    "pemadanan": pemadanan.purge_expired,
    "regsosek": disclosure.purge_expired,
    "data_balikan": feedback.purge_expired,
}


def purge_all(rt: Runtime) -> dict[str, int]:
    """What each capability deleted, by capability."""
    done: dict[str, int] = {}
    for name, purge in PURGES.items():
        with rt.transaction() as session:
            done[name] = purge(session, rt.settings, rt.clock)
    return done
