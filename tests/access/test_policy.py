"""The policy decision over the four seed agreements.

The oracle below is written by hand from the PKS texts (not read from the YAML), so a
wrong grant in a seed file or a wrong branch in `decide` both show up here.
"""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from simpul.access import service as access
from simpul.access.auth import resolve_principal
from simpul.access.policy import AccessRequest, Decision, decide
from simpul.access.quota import QuotaLimiter
from simpul.access.schemas import AccountCreate, Principal
from simpul.agreements import service as agreements
from simpul.agreements.schemas import Mechanism, Service
from simpul.db import transaction
from simpul.errors import SimpulError
from simpul.kit.clock import FixedClock
from simpul.registry.datasets import get_dataset

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
AFTER_DEMO_TERM = datetime(2028, 1, 15, 9, 0, tzinfo=UTC)
ADMIN = "hub:uji"

VERIF_10 = frozenset(
    "nik no_kk nama_lengkap jenis_kelamin agama tempat_lahir tanggal_lahir status_perkawinan "
    "status_hubungan_keluarga alamat".split()
)
SCREEN = frozenset({"nik", "nama_lengkap", "tanggal_lahir"})
# (recipient, dataset, service, mechanism) → input elements the PKS grants.
GRANTED: dict[tuple[str, str, str, str], frozenset[str]] = {
    ("bkn", "kependudukan", "verifikasi", "web_service"): VERIF_10,  # 003 Pasal 2(1)a
    ("bkn", "kependudukan", "verifikasi_wajah", "web_service"): frozenset({"nik", "foto_wajah"}),
    ("bkn", "kependudukan", "akses_nik", "web_portal"): frozenset({"nik"}),  # 2(1)c
    ("bkn", "kependudukan", "akses_nik", "web_service"): frozenset({"nik"}),  # 2(1)d IKD
    ("bkn", "dtks", "cek_status", "web_service"): frozenset({"nik"}),  # 001: BKN reads DTKS
    ("kemenkop", "asn", "cek_status", "web_service"): SCREEN,  # 004 Pasal 3-5
    ("kemenkop", "asn", "cek_status", "batch"): SCREEN,
    ("kemensos", "asn", "cek_status", "web_service"): SCREEN,  # 001 Pasal 3(1)c
    ("kemensos", "asn", "cek_status", "batch"): SCREEN,
    ("pemprov-jabar", "regsosek", "agregat", "web_portal"): frozenset(),  # 000 Pasal 2
    ("pemprov-jabar", "regsosek", "mikro", "web_portal"): frozenset(),
    ("pemprov-jabar", "regsosek", "bnba", "web_portal"): frozenset(),
}
NOT_GRANTED = [
    ("kemenkop", "kependudukan", "verifikasi", "web_service"),
    ("kemensos", "kependudukan", "akses_nik", "web_service"),
    ("bkn", "kependudukan", "verifikasi", "batch"),  # granted only by web service
    ("bkn", "regsosek", "bnba", "web_portal"),
    ("pemprov-jabar", "asn", "cek_status", "web_service"),
]
AGREEMENTS = {
    "bkn": ["pks-dukcapil-bkn", "pks-kemensos-bkn"],
    "kemenkop": ["pks-kemenkop-bkn"],
    "kemensos": ["pks-kemensos-bkn"],
    "pemprov-jabar": ["pks-bappenas-jabar"],
}
ROLES = ["data_user", "operator", "recipient_admin", "auditor"]
STATES = ["berlaku", "ditangguhkan", "diakhiri", "berakhir"]
PASSWORD = "Sandi-uji-yang-panjang-1"


@dataclass
class World:
    db: sessionmaker[Session]
    clock: FixedClock

    def principal(self, username: str) -> Principal:
        with transaction(self.db) as s:
            return resolve_principal(s, basic=(username, PASSWORD), clock=self.clock)

    def decide(self, username: str, req: AccessRequest, at: datetime = NOW) -> Decision:
        principal = self.principal(username)
        with transaction(self.db) as s:
            return decide(s, principal, req, at=at)


def build_world(sessions: sessionmaker[Session]) -> World:
    clock = FixedClock(NOW)
    with transaction(sessions) as s:
        access._load_seed(s, clock=clock)
        agreements.load_seed(s, actor=ADMIN, clock=clock, demo=True)
    for inst, ids in AGREEMENTS.items():
        users = [
            ("data_user", {"agreement_ids": ids}),
            ("operator", {"operator_of": f"{inst}.data_user"}),
            ("recipient_admin", {}),
            ("auditor", {}),
        ]
        for role, extra in users:
            with transaction(sessions) as s:
                access._create_account(
                    s,
                    AccountCreate.model_validate(
                        {
                            "username": f"{inst}.{role}",
                            "institution": inst,
                            "role": role,
                            "password": PASSWORD,
                            **extra,
                        }
                    ),
                    actor=ADMIN,
                    clock=clock,
                )
    return World(sessions, clock)


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> World:
    return build_world(sessions)


def apply_state(world: World, state: str) -> datetime:
    """Put every seed agreement in `state`; returns the moment to decide at."""
    if state == "berakhir":
        return AFTER_DEMO_TERM
    if state != "berlaku":
        action = agreements.suspend if state == "ditangguhkan" else agreements.terminate
        for agreement_id in {a for ids in AGREEMENTS.values() for a in ids}:
            with transaction(world.db) as s:
                action(s, agreement_id, actor=ADMIN, reason="uji matriks", clock=world.clock)
    return NOW


def expected(role: str, state: str, key: tuple[str, str, str, str], inputs: frozenset[str]) -> str:
    if role not in {"data_user", "operator"}:
        return "peran_tidak_berwenang"
    if state != "berlaku":
        return f"perjanjian_{state}"
    if key not in GRANTED:
        inst, dataset, service, _ = key
        other = any(k[:3] == (inst, dataset, service) for k in GRANTED)
        return "mekanisme_tidak_diizinkan" if other else "layanan_tidak_diizinkan"
    return "ok" if inputs <= GRANTED[key] else "elemen_di_luar_hibah"


@pytest.mark.parametrize("state", STATES)
def test_access_matrix(world: World, state: str) -> None:
    at = apply_state(world, state)
    keys = [*GRANTED, *NOT_GRANTED]
    mismatches = []
    for role, key in itertools.product(ROLES, keys):
        inst, dataset, service, mechanism = key
        within = GRANTED.get(key, SCREEN)
        outside = within | {"jenis_pekerjaan" if dataset != "asn" else "jabatan"}
        for inputs in (within, outside):
            req = AccessRequest(
                dataset=dataset,
                service=Service(service),
                mechanism=Mechanism(mechanism),
                input_elements=inputs,
                internal=True,
            )
            got = world.decide(f"{inst}.{role}", req, at)
            want = expected(role, state, key, inputs)
            if got.reason != want or got.allowed != (want == "ok"):
                mismatches.append((role, key, sorted(inputs - within), want, got.reason))
    assert not mismatches


def test_allowed_decision_names_agreement_version_and_grant(world: World) -> None:
    req = AccessRequest(
        dataset="asn",
        service=Service.CEK_STATUS,
        mechanism=Mechanism.WEB_SERVICE,
        input_elements=SCREEN,
        internal=True,
    )
    got = world.decide("kemenkop.operator", req)
    assert got.allowed
    assert (got.agreement_id, got.agreement_version) == ("pks-kemenkop-bkn", 2)  # demo addendum
    assert got.grant_id == "hibah-cek-status-bpum-ws"
    assert got.output_elements == {"instansi"}


def test_without_the_demo_addenda_every_seed_agreement_is_expired(
    sessions: sessionmaker[Session],
) -> None:
    clock = FixedClock(NOW)
    with transaction(sessions) as s:
        access._load_seed(s, clock=clock)
        agreements.load_seed(s, actor=ADMIN, clock=clock)
        access._create_account(
            s,
            AccountCreate.model_validate(
                {
                    "username": "bpum",
                    "institution": "kemenkop",
                    "role": "data_user",
                    "agreement_ids": ["pks-kemenkop-bkn"],
                    "password": PASSWORD,
                }
            ),
            actor=ADMIN,
            clock=clock,
        )
    world = World(sessions, clock)
    req = AccessRequest("asn", Service.CEK_STATUS, Mechanism.WEB_SERVICE, SCREEN, internal=True)
    got = world.decide("bpum", req)
    assert (got.allowed, got.reason, got.status) == (False, "perjanjian_berakhir", 403)


@pytest.mark.parametrize("action", ["suspend", "terminate", "revoke", "expire"])
def test_revocation_takes_effect_on_the_next_request(world: World, action: str) -> None:
    req = AccessRequest(
        "kependudukan", Service.VERIFIKASI, Mechanism.WEB_SERVICE, frozenset({"nik"}), internal=True
    )
    assert world.decide("bkn.operator", req).allowed
    at = NOW
    with transaction(world.db) as s:
        if action == "suspend":
            agreements.suspend(s, "pks-dukcapil-bkn", actor=ADMIN, reason="uji", clock=world.clock)
        elif action == "terminate":
            agreements.terminate(
                s, "pks-dukcapil-bkn", actor=ADMIN, reason="uji", clock=world.clock
            )
        elif action == "revoke":
            access._revoke_account(s, "bkn.data_user", actor=ADMIN, reason="uji", clock=world.clock)
        else:
            at = AFTER_DEMO_TERM
    if action == "revoke":
        # The operator acts for the revoked data user: refused at once.
        with pytest.raises(SimpulError) as exc:
            world.decide("bkn.operator", req, at)
        assert exc.value.status == 401
        return
    got = world.decide("bkn.operator", req, at)
    assert not got.allowed
    assert (
        got.reason
        == {
            "suspend": "perjanjian_ditangguhkan",
            "terminate": "perjanjian_diakhiri",
            "expire": "perjanjian_berakhir",
        }[action]
    )


def test_access_point_and_quota(world: World) -> None:
    principal = world.principal("bkn.operator")
    assert principal.access_cidrs  # the seed gives BKN one closed-network access point
    inside = str(next(ipaddress.ip_network(principal.access_cidrs[0]).hosts()))
    base = AccessRequest("kependudukan", Service.VERIFIKASI, Mechanism.WEB_SERVICE, VERIF_10)
    with transaction(world.db) as s:
        assert decide(s, principal, base, at=NOW).reason == "titik_akses_tidak_sah"
        outside = AccessRequest(**{**base.__dict__, "source_ip": "203.0.113.9"})
        assert decide(s, principal, outside, at=NOW).reason == "titik_akses_tidak_sah"
        ok = AccessRequest(**{**base.__dict__, "source_ip": inside})
        assert decide(s, principal, ok, at=NOW).allowed
        limiter = QuotaLimiter()
        per_minute = 600  # PKS 003 grant quota in the seed
        results = [decide(s, principal, ok, at=NOW, quota=limiter) for _ in range(per_minute + 1)]
    assert all(r.allowed for r in results[:per_minute])
    assert (results[-1].reason, results[-1].status) == ("kuota_terlampaui", 429)


def test_card_reader_needs_an_active_device_of_the_institution(world: World) -> None:
    # No seed grant uses card readers; a grant-level check needs one, so test the device gate
    # through the decision's own helper on a principal of BKN.
    from simpul.access.policy import _device_refusal
    from simpul.access.schemas import DeviceIn

    principal = world.principal("bkn.operator")
    with transaction(world.db) as s:
        access._register_device(
            s,
            DeviceIn(serial="KTP-001", sam_id="SAM-1", institution="bkn"),
            actor=ADMIN,
            clock=world.clock,
        )
    with transaction(world.db) as s:
        refusal = _device_refusal(s, principal, "KTP-001")
        assert refusal is not None
        assert refusal.reason == "perangkat_tidak_aktif"
        access._activate_device(s, "KTP-001", actor=ADMIN, clock=world.clock)
        assert _device_refusal(s, principal, "KTP-001") is None
        assert _device_refusal(s, principal, "TIDAK-ADA") is not None
        access._deactivate_device(s, "KTP-001", actor=ADMIN, reason="uji", clock=world.clock)
        assert _device_refusal(s, principal, "KTP-001") is not None


ALL_KEYS = sorted({k[:3] for k in GRANTED} | {k[:3] for k in NOT_GRANTED})


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_no_allowed_decision_covers_an_element_outside_its_grant(
    world: World, data: st.DataObject
) -> None:
    inst, dataset, service = data.draw(st.sampled_from(ALL_KEYS))
    mechanism = data.draw(st.sampled_from(list(Mechanism)))
    names = sorted(get_dataset(dataset).element_names)
    inputs = frozenset(data.draw(st.lists(st.sampled_from(names), max_size=6)))
    outputs = data.draw(st.none() | st.lists(st.sampled_from(names), max_size=6).map(frozenset))
    role = data.draw(st.sampled_from(["data_user", "operator"]))
    req = AccessRequest(dataset, Service(service), mechanism, inputs, outputs, internal=True)
    got = world.decide(f"{inst}.{role}", req)
    if got.allowed:
        key = (inst, dataset, service, mechanism.value)
        assert key in GRANTED
        assert inputs <= GRANTED[key]
        assert got.grant is not None
        assert got.output_elements <= set(got.grant.output_elements)
        if outputs is not None:
            assert got.output_elements == outputs
