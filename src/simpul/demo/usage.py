"""Several weeks of past usage for the demo world, so that reports, charts, feedback owed
and access histories are not empty on the first visit.

Nothing here writes audit records directly: every call goes through the real service
functions and the real policy decision, with the runtime's clock set to the moment of the
call. The outcomes are therefore genuine — a call made while an agreement had lapsed is
refused with `perjanjian_berakhir`, a call from outside the access point with
`titik_akses_tidak_sah` — and the hash chain grows in time order, as it would have.

The rhythm is an office's: weekdays 08:00-16:00 WIB with a lunch dip, little at weekends,
a weekly batch screening on Mondays. Inputs come from the synthetic registry, with typing
errors and unknown NIKs mixed in at the rates real lists show.
"""

from __future__ import annotations

import contextlib
import ipaddress
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from simpul.access.auth import account_principal
from simpul.access.schemas import Principal
from simpul.agreements.schemas import Mechanism
from simpul.errors import NotFound, SimpulError
from simpul.kernel.call import Call
from simpul.kernel.core import execute, write_in_session
from simpul.kit.clock import FixedClock
from simpul.kit.ids import new_id
from simpul.kit.numbers import angka
from simpul.runtime import Runtime
from simpul.services import batch, service
from simpul.services.schemas import CekStatusIn

WIB = timedelta(hours=7)
_HOURS = (8, 9, 9, 10, 10, 10, 11, 11, 13, 13, 14, 14, 15)  # office hours, a lunch dip


@dataclass(frozen=True)
class Flow:
    """One kind of call an institution makes, and how many per weekday."""

    account: str
    kind: str  # verifikasi | cek_status | akses_nik | cek_status_batch
    dataset: str
    mechanism: Mechanism
    per_day: float  # share of the day's scale
    outside_access_point: float = 0.0  # share of calls made from a wrong network


FLOWS = (
    # PKS 003: BKN verifies NIK elements and reads IKD profiles; operators look up by portal.
    Flow("bkn.klien", "verifikasi", "kependudukan", Mechanism.WEB_SERVICE, 1.0, 0.01),
    Flow("bkn.klien", "akses_nik", "kependudukan", Mechanism.WEB_SERVICE, 0.2),
    Flow("bkn.operator", "akses_nik", "kependudukan", Mechanism.WEB_PORTAL, 0.1),
    # PKS 001 both ways: BKN reads DTKS status; Kemensos screens proposed KPM against ASN.
    Flow("bkn.klien", "cek_status", "dtks", Mechanism.WEB_SERVICE, 0.2),
    Flow("kemensos.klien", "cek_status", "asn", Mechanism.WEB_SERVICE, 0.3),
    # PKS 004: Kemenkop screens BPUM candidates one by one and in a Monday batch.
    Flow("kemenkop.klien", "cek_status", "asn", Mechanism.WEB_SERVICE, 0.5, 0.01),
    Flow("kemenkop.klien", "cek_status_batch", "asn", Mechanism.BATCH, 0.0),
    # A service the agreement does not give: refused, and visible in the denials report.
    Flow("kemenkop.klien", "verifikasi", "kependudukan", Mechanism.WEB_SERVICE, 0.01),
)


@dataclass
class _People:
    kependudukan: list[dict[str, Any]]
    asn: list[dict[str, Any]]
    dtks: list[dict[str, Any]]


def _load_people(rt: Runtime, limit: int) -> _People:
    folder = rt.settings.data_dir / "registry"

    def rows(code: str, columns: list[str]) -> list[dict[str, Any]]:
        path = folder / f"{code}.parquet"
        if not path.exists():
            return []
        table = pq.read_table(path, columns=columns)
        return table.slice(0, limit).to_pylist()  # type: ignore[no-any-return]

    return _People(
        kependudukan=rows("kependudukan", ["nik", "nama_lengkap", "tanggal_lahir", "tempat_lahir"]),
        asn=rows("asn", ["nik", "nama_lengkap", "tanggal_lahir"]),
        dtks=rows("dtks", ["nik"]),
    )


def _typo(name: str, rng: random.Random) -> str:
    """A typing error as lists carry them: a dropped or doubled letter."""
    if len(name) < 4:
        return name
    i = rng.randrange(1, len(name) - 1)
    return name[:i] + name[i + 1 :] if rng.random() < 0.5 else name[:i] + name[i] + name[i:]


def _unknown_nik(nik: str, rng: random.Random) -> str:
    # Same region and birth date, a serial number no one holds.
    return nik[:12] + f"{rng.randrange(9000, 9999):04d}"


class _Caller:
    def __init__(self, rt: Runtime, clock: FixedClock, principals: dict[str, Principal]) -> None:
        self.rt, self.clock, self.principals = rt, clock, principals
        self.outcomes: Counter[str] = Counter()

    def ip(self, principal: Principal, inside: bool) -> str:
        if not inside or not principal.access_cidrs:
            return "203.0.113.10"  # TEST-NET-3: never an agency's access point
        network = ipaddress.ip_network(principal.access_cidrs[0])
        return str(network.network_address + 10)

    def call(self, session: Session, flow: Flow, body: Any, inside: bool) -> bool:
        """Make the call; True when it was served."""
        principal = self.principals[flow.account]
        call = Call(
            principal=principal,
            mechanism=flow.mechanism,
            source_ip=self.ip(principal, inside),
            request_id=new_id("demo-"),
            settings=self.rt.settings,
            clock=self.clock,
            action=flow.kind,
            dataset=flow.dataset,
        )
        fn: Callable[..., object] = {
            "verifikasi": lambda s, c: service.verify_elements(s, c, flow.dataset, *body),
            "cek_status": lambda s, c: service.check_status(s, c, flow.dataset, *body),
            "akses_nik": lambda s, c: service.lookup(s, c, flow.dataset, body),
        }.get(flow.kind, lambda s, c: batch.check_status_batch(s, c, flow.dataset, body))
        refused = None
        try:
            execute(session, call, fn)  # the kernel's one function, in the demo's transaction
        except SimpulError as exc:
            refused = exc
        write_in_session(session, call)
        self.outcomes["ditolak" if refused is not None else "dilayani"] += 1
        return refused is None


def _body(flow: Flow, people: _People, rng: random.Random) -> Any:
    if flow.kind == "cek_status_batch":
        pool = people.kependudukan
        picks = [pool[rng.randrange(len(pool))] for _ in range(min(200, len(pool)))]
        # Plant known ASN among the candidates, as a real BPUM list would hold them.
        picks += [people.asn[rng.randrange(len(people.asn))] for _ in range(8) if people.asn]
        return [
            CekStatusIn(
                nik=p["nik"],
                nama_lengkap=p["nama_lengkap"],
                tanggal_lahir=str(p["tanggal_lahir"]),
            )
            for p in picks
        ]
    if flow.dataset == "asn" and people.asn and rng.random() < 0.3:
        person = people.asn[rng.randrange(len(people.asn))]  # a screened person who is ASN
    elif flow.dataset == "dtks" and people.dtks and rng.random() < 0.5:
        person = {**people.dtks[rng.randrange(len(people.dtks))]}
        person.setdefault("nama_lengkap", None)
        person.setdefault("tanggal_lahir", None)
    else:
        person = people.kependudukan[rng.randrange(len(people.kependudukan))]
    nik = person["nik"]
    if rng.random() < 0.03:
        nik = _unknown_nik(nik, rng)
    name = person.get("nama_lengkap")
    if name and rng.random() < 0.05:
        name = _typo(name, rng)
    born = str(person["tanggal_lahir"]) if person.get("tanggal_lahir") else None
    if flow.kind == "verifikasi":
        elements: dict[str, Any] = {"nama_lengkap": name, "tanggal_lahir": born}
        if person.get("tempat_lahir"):
            elements["tempat_lahir"] = person["tempat_lahir"]
        return (nik, elements)
    if flow.kind == "cek_status":
        if flow.dataset == "dtks":
            return (nik, None, None)
        return (nik, name, born)
    return nik


def simulate_usage(
    rt: Runtime,
    clock: FixedClock,
    start: date,
    end: date,
    *,
    scale: int,
    seed: int,
    say: Callable[[str], None],
) -> Counter[str]:
    """Calls from `start` to `end` (inclusive), each at its own moment on `clock`.

    `rt` must run on `clock`. One transaction per simulated day: the audit records of a
    day commit together, in time order."""
    rng = random.Random(seed)
    people = _load_people(rt, limit=max(scale * 50, 2_000))
    if not people.kependudukan:
        return Counter()
    with rt.transaction() as session:
        principals: dict[str, Principal] = {}
        for flow in FLOWS:
            if flow.account in principals:
                continue
            with contextlib.suppress(NotFound):  # an account the demo did not create
                principals[flow.account] = account_principal(session, flow.account)
    caller = _Caller(rt, clock, principals)
    # An office whose calls were all refused yesterday tries far less today, and resumes
    # once a call goes through again (e.g. when an extension takes effect).
    damp: dict[str, float] = {}
    day = start
    while day <= end:
        weekend = day.weekday() >= 5
        calls: list[tuple[datetime, Flow]] = []
        for flow in FLOWS:
            if flow.account not in principals:
                continue
            if flow.kind == "cek_status_batch":
                count = 1 if day.weekday() == 0 else 0
            else:
                mean = flow.per_day * scale * (0.04 if weekend else 1.0)
                mean *= damp.get(flow.account, 1.0)
                count = int(mean) + (1 if rng.random() < mean - int(mean) else 0)
            for _ in range(count):
                local = datetime.combine(day, datetime.min.time()) + timedelta(
                    hours=rng.choice(_HOURS), seconds=rng.randrange(3600)
                )
                calls.append(((local - WIB).replace(tzinfo=UTC), flow))
        calls.sort(key=lambda c: c[0])
        served: Counter[str] = Counter()
        tried: Counter[str] = Counter()
        with rt.transaction() as session:
            for at, flow in calls:
                clock.set(at)
                inside = rng.random() >= flow.outside_access_point
                tried[flow.account] += 1
                served[flow.account] += caller.call(session, flow, _body(flow, people, rng), inside)
        for who, n in tried.items():
            if n >= 3 and not served[who]:
                damp[who] = 0.1
            elif served[who]:
                damp.pop(who, None)
        day += timedelta(days=1)
    total = sum(caller.outcomes.values())
    say(
        f"Riwayat pemakaian {start:%d-%m-%Y} s.d. {end:%d-%m-%Y}: {angka(total)} panggilan "
        f"({angka(caller.outcomes['dilayani'])} dilayani, "
        f"{angka(caller.outcomes['ditolak'])} ditolak)."
    )
    return caller.outcomes


def demo_scale(people: int) -> int:
    """Calls per weekday of the busiest flow: modest for a small world, capped for a big one."""
    return max(10, min(300, people // 100))
