"""The single-item services' fast path (simpul.services.hot) answers exactly as the FastAPI
routes do, on SQLite and PostgreSQL: same status, same body, same audit; and whatever it
does not serve itself reaches the route with its body intact."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from simpul.access import passwords as pw
from simpul.access.auth import revoke_token
from simpul.app import create_app
from simpul.audit.models import AuditRecord
from simpul.config import Settings
from simpul.kit.clock import FixedClock
from simpul.registry.synth import generate_world
from simpul.runtime import Runtime
from tests.worlds import FAST_PASSWORDS, basic_header, governed_runtime

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
VERIFY = "/api/v1/datasets/kependudukan/verifikasi"


@pytest.fixture(scope="module")
def world_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_world(600, 3, tmp_path_factory.mktemp("world"))


@dataclass
class Pair:
    fast: TestClient
    route: TestClient
    rt: Runtime
    creds: dict[str, dict[str, Any]]
    people: list[dict[str, Any]]
    asn: list[dict[str, Any]]

    def basic(self, username: str) -> dict[str, str]:
        return basic_header(self.creds, username)

    def bearer(self, username: str) -> dict[str, str]:
        c = self.creds[username]
        form = {"client_id": c["client_id"], "client_secret": c["client_secret"]}
        token = self.route.post("/api/v1/token", data=form).json()["access_token"]
        return {"Authorization": f"Bearer {token}"}

    def audit_count(self) -> int:
        with self.rt.transaction() as s:
            return int(s.scalar(select(func.count()).select_from(AuditRecord)) or 0)


@pytest.fixture
def pair(
    settings: Settings, world_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Pair]:
    monkeypatch.setattr(pw, "DEFAULT", FAST_PASSWORDS)
    rt, creds = governed_runtime(settings, world_files, FixedClock(NOW))
    off = settings.model_copy(update={"service_fast_path": False})
    rt_off = Runtime(off, clock=rt.clock)
    people = pq.read_table(world_files["kependudukan"]).to_pylist()
    asn = pq.read_table(world_files["asn"]).to_pylist()
    peer = ("127.0.0.1", 50000)
    with (
        TestClient(create_app(settings, rt), client=peer) as fast,
        TestClient(create_app(off, rt_off), client=peer) as route,
    ):
        yield Pair(fast, route, rt, creds, people, asn)
    rt_off.close()
    rt.close()


def iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


# What a record says about a call; seq, time, hashes, request id and latency differ.
SAID = ("action", "decision", "reason", "actor", "institution", "agreement_id",
        "agreement_version", "grant_id", "service", "mechanism", "dataset", "subject_count",
        "elements", "result", "detail")  # fmt: skip


def records_after(pair: Pair, seq: int) -> list[tuple[Any, ...]]:
    with pair.rt.transaction() as s:
        rows = s.execute(select(AuditRecord).where(AuditRecord.seq > seq)
                         .order_by(AuditRecord.seq)).scalars()  # fmt: skip
        return [tuple(getattr(r, f) for f in SAID) for r in rows]


def head(pair: Pair) -> int:
    with pair.rt.transaction() as s:
        return int(s.scalar(select(func.max(AuditRecord.seq))) or 0)


def same(pair: Pair, method: str, path: str, **kw: Any) -> Any:
    """Send one request to both apps; status, headers, body and the audit records each
    writes must be identical."""
    mark = head(pair)
    a = pair.fast.request(method, path, **kw)
    by_fast = records_after(pair, mark)
    mark = head(pair)
    b = pair.route.request(method, path, **kw)
    by_route = records_after(pair, mark)
    assert a.status_code == b.status_code
    # Each answer signs a receipt of its own record (docs/receipts.md): both or neither.
    ha, hb = dict(a.headers), dict(b.headers)
    assert ("simpul-receipt" in ha) == ("simpul-receipt" in hb)
    ha.pop("simpul-receipt", None), hb.pop("simpul-receipt", None)
    assert ha == hb
    assert a.json() == b.json()
    assert by_fast == by_route, "the fast path's audit records differ from the route's"
    return a


def test_answers_and_refusals_match_the_routes(pair: Pair) -> None:
    bkn, kop = pair.basic("bkn.operator"), pair.bearer("kemenkop.klien")
    p, civil = pair.people[5], pair.asn[2]
    served = pair.fast.app.state.fast_path.served  # type: ignore[attr-defined]
    elements = {k: iso(p[k]) for k in ("nama_lengkap", "tanggal_lahir", "tempat_lahir")}
    ok = same(pair, "POST", VERIFY, json={"nik": p["nik"], "elemen": elements}, headers=bkn)
    assert ok.json()["elemen"] == dict.fromkeys(elements, "sesuai")
    wrong = {"NAMA_LGKP": "BUKAN NAMA INI", "tanggal_lahir": "1901-01-01"}
    same(pair, "POST", VERIFY, json={"nik": p["nik"], "elemen": wrong}, headers=bkn)
    absent = {"nik": "3273011302900999", "elemen": {"nama_lengkap": "X"}}
    assert same(pair, "POST", VERIFY, json=absent, headers=bkn).json() == {
        "hasil": "data_tidak_ditemukan"
    }
    status = {"nik": civil["nik"], "nama_lengkap": civil["nama_lengkap"]}
    assert same(pair, "POST", "/api/v1/datasets/asn/cek-status", json=status, headers=kop)
    lookup_token = pair.bearer("bkn.klien")
    profile = same(pair, "POST", "/api/v1/datasets/kependudukan/akses-nik",
                   json={"nik": p["nik"]}, headers=lookup_token)  # fmt: skip
    assert profile.json()["hasil"] == "ditemukan"
    # The look-up by NIK is served on the fast path too (its NIK now in the body).
    before = pair.fast.app.state.fast_path.served  # type: ignore[attr-defined]
    pair.fast.post("/api/v1/datasets/kependudukan/akses-nik", json={"nik": p["nik"]},
                   headers=lookup_token)  # fmt: skip
    assert pair.fast.app.state.fast_path.served == before + 1  # type: ignore[attr-defined]
    same(pair, "POST", "/api/v1/datasets/kependudukan/akses-nik", json={"nik": "12"},
         headers=lookup_token)  # fmt: skip
    # Refusals answered on the fast path: outside the grant, wrong dataset, bad NIK.
    outside = {"nik": p["nik"], "elemen": {"nama_ibu": "SITI"}}
    assert same(pair, "POST", VERIFY, json=outside, headers=bkn).status_code in (403, 422)
    unknown = "/api/v1/datasets/tidak-ada/verifikasi"
    body = {"nik": p["nik"], "elemen": elements}
    assert same(pair, "POST", unknown, json=body, headers=bkn).status_code == 404
    assert same(pair, "POST", VERIFY, json={"nik": "12", "elemen": elements},
                headers=bkn).status_code == 422  # fmt: skip
    assert pair.fast.app.state.fast_path.served >= served + 7  # type: ignore[attr-defined]


def test_what_it_does_not_serve_reaches_the_route_whole(pair: Pair) -> None:
    p = pair.people[8]
    body = {"nik": p["nik"], "elemen": {"nama_lengkap": p["nama_lengkap"]}}
    stats = pair.fast.app.state.fast_path  # type: ignore[attr-defined]
    before = stats.handed_off
    # No credential, a malformed body, an unexpected field, a text body.
    assert same(pair, "POST", VERIFY, json=body).status_code == 401
    bkn = pair.basic("bkn.operator")
    assert same(pair, "POST", VERIFY, content=b"{not json", headers=bkn).status_code == 422
    extra = {**body, "lain": 1}
    assert same(pair, "POST", VERIFY, json=extra, headers=bkn).status_code == 422
    text = {**bkn, "Content-Type": "text/plain"}
    assert same(pair, "POST", VERIFY, content=b"x", headers=text).status_code == 422
    assert stats.handed_off == before + 4
    # A wrong token is refused on the fast path itself, with the route's very answer.
    served = stats.served
    bad = {"Authorization": "Bearer nope"}
    assert same(pair, "POST", VERIFY, json=body, headers=bad).status_code == 401
    assert stats.served == served + 1


def test_a_password_not_yet_verified_is_checked_by_the_route_then_remembered(
    pair: Pair,
) -> None:
    p = pair.people[3]
    body = {"nik": p["nik"], "elemen": {"nama_lengkap": p["nama_lengkap"]}}
    stats = pair.fast.app.state.fast_path  # type: ignore[attr-defined]
    headers = pair.basic("kemensos.operator")
    first = pair.fast.post(VERIFY, json=body, headers=headers)
    handed, served = stats.handed_off, stats.served
    second = pair.fast.post(VERIFY, json=body, headers=headers)
    assert first.status_code == second.status_code
    assert (stats.handed_off, stats.served) == (handed, served + 1)


def test_every_answer_is_audited_before_it_leaves(pair: Pair) -> None:
    p = pair.people[11]
    bkn = pair.basic("bkn.operator")
    pair.fast.post(VERIFY, json={"nik": p["nik"], "elemen": {"nama_lengkap": "A"}}, headers=bkn)
    before = pair.audit_count()
    for k in range(5):
        nik = pair.people[k]["nik"]
        pair.fast.post(VERIFY, json={"nik": nik, "elemen": {"nama_lengkap": "A"}}, headers=bkn)
        assert pair.audit_count() == before + k + 1


def test_a_lost_database_connection_is_answered_by_the_route_then_reopened(pair: Pair) -> None:
    p = pair.people[2]
    body = {"nik": p["nik"], "elemen": {"nama_lengkap": p["nama_lengkap"]}}
    bkn = pair.basic("bkn.operator")
    assert pair.fast.post(VERIFY, json=body, headers=bkn).status_code == 200
    reader = pair.fast.app.state.hot_reader  # type: ignore[attr-defined]
    stats = pair.fast.app.state.fast_path  # type: ignore[attr-defined]
    reader._driver().close()  # the connection dies under the reader
    handed = stats.handed_off
    assert pair.fast.post(VERIFY, json=body, headers=bkn).json()["hasil"] == "ditemukan"
    assert stats.handed_off == handed + 1
    served = stats.served
    assert pair.fast.post(VERIFY, json=body, headers=bkn).json()["hasil"] == "ditemukan"
    assert stats.served == served + 1


def test_a_revoked_token_is_refused_on_the_fast_path_at_once(pair: Pair) -> None:
    headers = pair.bearer("bkn.klien")
    p = pair.people[1]
    body = {"nik": p["nik"], "elemen": {"nama_lengkap": p["nama_lengkap"]}}
    assert pair.fast.post(VERIFY, json=body, headers=headers).status_code == 200
    with pair.rt.transaction() as s:
        token = headers["Authorization"].removeprefix("Bearer ")
        assert revoke_token(s, token, clock=pair.rt.clock)
    resp = pair.fast.post(VERIFY, json=body, headers=headers)
    assert resp.status_code == 401
    assert resp.headers["content-type"] == "application/problem+json"


def test_a_revocation_between_memo_served_calls_is_seen(pair: Pair) -> None:
    """Calls answered from the memo keep their session for the next call; a governance
    change committed between two such calls still takes effect on the very next one."""
    first, second = pair.bearer("bkn.klien"), pair.bearer("bkn.klien")
    p = pair.people[2]
    body = {"nik": p["nik"], "elemen": {"tanggal_lahir": iso(p["tanggal_lahir"])}}
    for headers in (first, second, first, second, first):  # the memo is warm after two
        assert pair.fast.post(VERIFY, json=body, headers=headers).json()["hasil"] == "ditemukan"
    with pair.rt.transaction() as s:
        assert revoke_token(s, first["Authorization"].removeprefix("Bearer "), clock=pair.rt.clock)
    assert pair.fast.post(VERIFY, json=body, headers=first).status_code == 401
    for _ in range(3):  # the other token, before and after its memo is warm again
        resp = pair.fast.post(VERIFY, json=body, headers=second)
        assert resp.json() == {"hasil": "ditemukan", "elemen": {"tanggal_lahir": "sesuai"}}
    assert pair.fast.post(VERIFY, json=body, headers=first).status_code == 401


@hsettings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    idx=st.integers(0, 599),
    names=st.lists(
        st.sampled_from(["nama_lengkap", "NAMA_LGKP", "tanggal_lahir", "TGL_LHR", "tempat_lahir",
                         "jenis_kelamin", "alamat", "no_kk", "nama_ibu", "bukan_elemen"]),
        min_size=1, max_size=4, unique=True,
    ),
    mangle=st.sampled_from(["", "lower", "swap", "junk"]),
)  # fmt: skip
def test_any_verification_is_answered_alike_by_both(
    pair: Pair, idx: int, names: list[str], mangle: str
) -> None:
    p = pair.people[idx]
    canon = {"NAMA_LGKP": "nama_lengkap", "TGL_LHR": "tanggal_lahir"}
    elements: dict[str, Any] = {}
    for n in names:
        value = iso(p.get(canon.get(n, n), "X"))
        elements[n] = {"lower": value.lower(), "swap": value[::-1], "junk": "??"}.get(mangle, value)
    nik = p["nik"] if mangle != "junk" else p["nik"][:15] + "x"
    resp = same(pair, "POST", VERIFY, json={"nik": nik, "elemen": elements},
                headers=pair.basic("bkn.operator"))  # fmt: skip
    for stored in (p["nama_lengkap"], iso(p["tanggal_lahir"])):
        if resp.status_code == 200 and stored not in {str(v) for v in elements.values()}:
            assert stored not in resp.text


def test_batches_match_the_routes_item_by_item(pair: Pair) -> None:
    bkn = pair.basic("bkn.operator")
    items: list[dict[str, Any]] = []
    for k, p in enumerate(pair.people[:40]):
        name = p["nama_lengkap"] if k % 3 else "NAMA LAIN SEKALI"
        given = {"nama_lengkap": name, "tanggal_lahir": iso(p["tanggal_lahir"])}
        items.append({"nik": p["nik"], "elemen": given})
    items.append({"nik": "123", "elemen": {"nama_lengkap": "X"}})  # a bad item among good ones
    items.append({"nik": "3273011302900999", "elemen": {"nama_lengkap": "X"}})
    stats = pair.fast.app.state.fast_path  # type: ignore[attr-defined]
    served = stats.served
    got = same(pair, "POST", VERIFY + "/batch", json={"item": items}, headers=bkn).json()
    assert got["jumlah"] == 42
    assert [i["hasil"] for i in got["item"][-2:]] == ["galat", "data_tidak_ditemukan"]
    civil = [{"nik": a["nik"], "nama_lengkap": a["nama_lengkap"]} for a in pair.asn[:20]]
    kop = pair.bearer("kemenkop.klien")
    same(pair, "POST", "/api/v1/datasets/asn/cek-status/batch", json={"item": civil}, headers=kop)
    assert stats.served == served + 2
    # Too many items and an invalid body: the route's answers (413, 422), reached whole.
    many = {"item": [items[0]] * 1001}
    assert same(pair, "POST", VERIFY + "/batch", json=many, headers=bkn).status_code == 413
    assert same(pair, "POST", VERIFY + "/batch", json={"item": []}, headers=bkn).status_code == 422


def test_metrics_show_served_and_handed_off_calls(pair: Pair) -> None:
    def count(outcome: str) -> float:
        text = pair.fast.get("/metrics").text
        line = f'simpul_fast_path_requests_total{{outcome="{outcome}"}} '
        return float(next(x for x in text.splitlines() if x.startswith(line)).split()[-1])

    p = pair.people[4]
    bkn = pair.basic("bkn.operator")
    body = {"nik": p["nik"], "elemen": {"nama_lengkap": p["nama_lengkap"]}}
    pair.fast.post(VERIFY, json=body, headers=bkn)  # the password checked, then remembered
    served, handed = count("served"), count("handed_off")
    pair.fast.post(VERIFY, json=body, headers=bkn)
    pair.fast.post(VERIFY, json={"nik": p["nik"]}, headers=bkn)  # invalid: the route answers
    assert (count("served"), count("handed_off")) == (served + 1, handed + 1)


def test_a_repeated_authorization_header_is_read_as_the_route_reads_it(pair: Pair) -> None:
    p = pair.people[6]
    body = {"nik": p["nik"], "elemen": {"nama_lengkap": p["nama_lengkap"]}}
    good = pair.bearer("bkn.klien")["Authorization"]
    for first, second in ((good, "Bearer salah"), ("Bearer salah", good)):
        headers = [("authorization", first), ("authorization", second)]
        a = pair.fast.post(VERIFY, json=body, headers=headers)
        b = pair.route.post(VERIFY, json=body, headers=headers)
        assert (a.status_code, a.json()) == (b.status_code, b.json())


def test_dependency_overrides_apply_to_the_fast_path_too(pair: Pair) -> None:
    """Found by an outside test: with the same `dependency_overrides`, the fast path
    answered 200 where the route answered 503. An override (a maintenance switch, a test
    double) now reaches every service call."""
    from simpul.errors import SimpulError
    from simpul.services.api import credentials

    def closed() -> None:
        raise SimpulError("layanan_ditutup", "Layanan ditutup sementara.", status=503)

    p = pair.people[4]
    body = {"nik": p["nik"], "elemen": {"nama_lengkap": p["nama_lengkap"]}}
    for app in (pair.fast.app, pair.route.app):
        app.dependency_overrides[credentials] = closed  # type: ignore[attr-defined]
    try:
        for path in (VERIFY, "/api/v1/datasets/asn/cek-status"):
            resp = same(pair, "POST", path, json=body, headers=pair.basic("bkn.operator"))
            assert (resp.status_code, resp.json()["code"]) == (503, "layanan_ditutup")
        resp = same(pair, "POST", "/api/v1/datasets/kependudukan/akses-nik",
                    json={"nik": p["nik"]}, headers=pair.basic("bkn.operator"))  # fmt: skip
        assert resp.status_code == 503
    finally:
        for app in (pair.fast.app, pair.route.app):
            app.dependency_overrides.clear()  # type: ignore[attr-defined]
    assert (
        same(pair, "POST", VERIFY, json=body, headers=pair.basic("bkn.operator")).json()["hasil"]
        == "ditemukan"
    )
