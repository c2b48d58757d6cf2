"""Federation end to end (issue 19): four nodes on loopback — Dukcapil (population
registry), BKN (ASN data; a recipient of Dukcapil's and of Kemensos'), Kemensos (DTKS; a
recipient of BKN's) and Kemenkop (a recipient of BKN's) — each with its own database, API
process and mutual-TLS listener process."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from simpul.audit import receipts
from simpul.audit import service as audit
from simpul.audit.models import AuditRecord
from simpul.federation import pki
from simpul.governance import actions
from tests.conftest import BACKENDS
from tests.federation.world import World, federated_world, start, until, up

pytestmark = pytest.mark.xdist_group("serve")
VERIFY = "/api/v1/datasets/kependudukan/verifikasi"


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One federated world per backend for the whole module: the tests that change it for
    good (a removed member, a suspension) run last and say so."""
    backend = str(request.param)
    template = request.getfixturevalue("pg_template") if backend == "postgresql" else None
    tmp = tmp_path_factory.mktemp(f"federasi-{backend}")
    with federated_world(
        backend, tmp, ("dukcapil", "bkn", "kemenkop", "kemensos"), pg_template=template
    ) as w:
        yield w


def _records(world: World, member: str) -> list[AuditRecord]:
    rt = world.nodes[member].runtime()
    try:
        with rt.transaction() as s:
            rows = list(s.scalars(select(AuditRecord).order_by(AuditRecord.seq)))
            for r in rows:
                s.expunge(r)
            return rows
    finally:
        rt.close()


def _detail(record: AuditRecord) -> dict[str, Any]:
    return (
        json.loads(record.detail) if isinstance(record.detail, str) else dict(record.detail or {})
    )


def test_bkn_verifies_at_dukcapil_through_its_own_node_both_logs_hold_it(world: World) -> None:
    bkn = world.nodes["bkn"]
    person = world.people[3]
    token = bkn.token("bkn.klien")
    got = httpx.post(
        bkn.api + VERIFY,
        headers={"Authorization": f"Bearer {token}"},
        json={"nik": person["nik"], "elemen": {"nama_lengkap": person["nama_lengkap"]}},
    )
    assert got.status_code == 200, got.text
    assert got.json() == {"hasil": "ditemukan", "elemen": {"nama_lengkap": "sesuai"}}
    wrong = httpx.post(
        bkn.api + VERIFY,
        headers={"Authorization": f"Bearer {token}"},
        json={"nik": person["nik"], "elemen": {"nama_lengkap": "BUKAN NAMANYA SAMA SEKALI"}},
    )
    assert wrong.json()["elemen"] == {"nama_lengkap": "tidak_sesuai"}
    # The recipient's answer carries its own node's receipt.
    assert receipts.parse(got.headers["simpul-receipt"]) is not None

    # BKN's record: its user's call, with Dukcapil's receipt, which verifies for the
    # request BKN's node sent and names Dukcapil's record.
    mine = [r for r in _records(world, "bkn") if r.action == "verifikasi" and r.decision == "izin"]
    assert len(mine) == 2
    detail = _detail(mine[0])
    assert detail["penyedia"] == "dukcapil"
    receipt = receipts.parse(detail["tanda_terima"])
    assert receipt is not None and receipt.origin == "simpul.uji/dukcapil"
    key = receipts.receipt_key(world.nodes["dukcapil"].settings).public
    assert receipts.verify_receipt(detail["tanda_terima"], key) is None

    # Dukcapil's record of the same exchange: the BKN node's account, its pseudonymous
    # user, the request id BKN's record names, and the receipt's seq.
    theirs = [r for r in _records(world, "dukcapil") if r.action == "verifikasi"]
    assert len(theirs) == 2
    inbound = next(
        r for r in theirs if _detail(r)["permintaan_asal"] == detail["permintaan_penyedia"]
    )
    assert inbound.actor == "bkn.node" and inbound.institution == "bkn"
    assert inbound.seq == receipt.seq
    assert _detail(inbound)["node_asal"] == "bkn"
    assert _detail(inbound)["pengguna_asal"].startswith("bkn:")
    assert "bkn.klien" not in json.dumps(_detail(inbound))  # pseudonymous, never the name
    assert inbound.subject_count == mine[0].subject_count == 1
    for member in ("dukcapil", "bkn"):
        rt = world.nodes[member].runtime()
        assert audit.verify(rt.engine, workers=1).ok
        rt.close()


def test_kemenkop_screens_bpum_candidates_at_bkn(world: World) -> None:
    kemenkop = world.nodes["kemenkop"]
    token = kemenkop.token("kemenkop.klien")
    asn = [a["nik"] for a in world.asn[:5]]
    others = [p["nik"] for p in world.people if p["nik"] not in set(a["nik"] for a in world.asn)][
        :5
    ]
    items = [{"nik": n} for n in [*asn, *others]] + [{"nik": "123"}]
    got = httpx.post(
        kemenkop.api + "/api/v1/datasets/asn/cek-status/batch",
        headers={"Authorization": f"Bearer {token}"},
        json={"item": items},
    )
    assert got.status_code == 200, got.text
    out = got.json()["item"]
    assert [o["hasil"] for o in out[:5]] == ["ASN"] * 5
    assert [o["hasil"] for o in out[5:10]] == ["data_tidak_ditemukan"] * 5
    assert out[10]["hasil"] == "galat" and out[10]["indeks"] == 10
    inbound = [r for r in _records(world, "bkn") if r.actor == "kemenkop.node"]
    assert len(inbound) == 1 and inbound[0].subject_count == 10


def test_kemensos_and_bkn_each_provide_and_receive_under_pks_001(world: World) -> None:
    kemensos, bkn = world.nodes["kemensos"], world.nodes["bkn"]
    asn = world.asn[0]["nik"]
    got = httpx.post(
        kemensos.api + "/api/v1/datasets/asn/cek-status",
        headers={"Authorization": f"Bearer {kemensos.token('kemensos.klien')}"},
        json={"nik": asn},
    )
    assert got.status_code == 200, got.text
    assert got.json()["hasil"] == "ASN"
    dtks = world.dtks[0]["nik"]
    back = httpx.post(
        bkn.api + "/api/v1/datasets/dtks/cek-status",
        headers={"Authorization": f"Bearer {bkn.token('bkn.klien')}"},
        json={"nik": dtks},
    )
    assert back.status_code == 200, back.text
    assert back.json()["hasil"] == "TERDAFTAR DTKS" and back.json()["data"]["id_dtks"]
    # (records of what the other node told of the agreement's state are governance ones)
    at_bkn = [r for r in _records(world, "bkn") if r.actor == "kemensos.node"
              and r.decision != "tindakan"]  # fmt: skip
    at_kemensos = [r for r in _records(world, "kemensos") if r.actor == "bkn.node"
                   and r.decision != "tindakan"]  # fmt: skip
    assert [r.decision for r in at_bkn] == ["izin"] and [r.decision for r in at_kemensos] == [
        "izin"
    ]
    assert at_bkn[0].agreement_id == at_kemensos[0].agreement_id == "pks-kemensos-bkn"


def _raw(
    world: World, client: httpx.Client, *, rid: str | None = None, at: datetime | None = None
) -> httpx.Response:
    person = world.people[7]
    headers = {
        "Simpul-Perjanjian": "pks-dukcapil-bkn",
        "Simpul-Pengguna": "bkn:uji",
        "Simpul-Tujuan": "uji",
        "Simpul-Mekanisme": "web_service",
        "Simpul-Permintaan": rid or uuid.uuid4().hex,
        "Simpul-Waktu": (at or datetime.now(UTC)).isoformat(),
    }
    return client.post(
        world.nodes["dukcapil"].listener + "/federasi/v1/datasets/kependudukan/verifikasi",
        headers=headers,
        json={"nik": person["nik"], "elemen": {"nama_lengkap": person["nama_lengkap"]}},
    )


def test_unlisted_certificate_replay_and_stale_requests_are_refused(world: World) -> None:
    bkn = world.nodes["bkn"]
    with bkn.tls_client() as client:
        rid = uuid.uuid4().hex
        first = _raw(world, client, rid=rid)
        assert first.status_code == 200, first.text
        again = _raw(world, client, rid=rid)
        assert again.status_code == 409 and again.json()["code"] == "permintaan_berulang"
        stale = _raw(world, client, at=datetime.now(UTC) - timedelta(minutes=10))
        assert stale.status_code == 403
        assert stale.json()["code"] == "permintaan_di_luar_jendela_waktu"
    refused = [r for r in _records(world, "dukcapil") if r.decision == "tolak"]
    assert {r.reason for r in refused} >= {
        "permintaan_berulang",
        "permintaan_di_luar_jendela_waktu",
    }

    # A certificate from the federation's CA that the directory does not list.
    stranger = world.root / "penyusup"
    pki.issue_node(world.authority.ca_folder, stranger, "penyusup", "Penyusup", ["127.0.0.1"])
    import ssl

    ctx = ssl.create_default_context(cafile=str(world.authority.ca_folder / pki.CA_CERT))
    ctx.load_cert_chain(str(stranger / pki.NODE_CERT), str(stranger / pki.NODE_KEY))
    with httpx.Client(verify=ctx) as client:
        got = _raw(world, client)
    assert got.status_code == 403 and got.json()["code"] == "sertifikat_tidak_terdaftar"
    assert got.headers["content-type"].startswith("application/problem+json")


def test_an_expired_directory_refuses_every_federated_call_until_a_new_one(
    world: World,
) -> None:
    bkn = world.nodes["bkn"]
    headers = {"Authorization": f"Bearer {bkn.token('bkn.klien')}"}
    person = world.people[7]
    body = {"nik": person["nik"], "elemen": {"nama_lengkap": person["nama_lengkap"]}}
    world.sign(days=6 / 86_400)  # valid for six seconds; nodes read it within one
    time.sleep(2.0)
    # Past its validity (and no newer one): refused, on the recipient's node first.
    got = until(
        lambda: (
            (r := httpx.post(bkn.api + VERIFY, headers=headers, json=body)).status_code != 200 and r
        ),
        20,
        "still served on an expired directory",
    )
    assert got.headers["content-type"].startswith("application/problem+json")
    assert got.json()["code"] == "direktori_kedaluwarsa", got.text
    with bkn.tls_client() as client:  # and on the provider's listener
        raw = _raw(world, client)
    assert raw.status_code >= 400 and raw.json()["code"] == "direktori_kedaluwarsa"
    world.sign()
    until(
        lambda: httpx.post(bkn.api + VERIFY, headers=headers, json=body).status_code == 200,
        20,
        "not served again after a new directory",
    )


def _at_provider(node: Any, token: str, agreement_id: str) -> dict[str, Any] | None:
    listed = httpx.get(node.api + "/api/v1/perjanjian",
                       headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    held = next(a for a in listed if a["id"] == agreement_id)
    return held["status_di_penyedia"]  # type: ignore[no-any-return]


def _suspend(node: Any, agreement_id: str, resume: bool = False) -> None:
    rt = node.runtime()
    try:
        with rt.transaction() as s:
            act = actions.resume_agreement if resume else actions.suspend_agreement
            act(s, rt.settings, rt.clock, agreement_id, actor=f"{node.member}.admin",
                reason="uji status di penyedia")  # fmt: skip
    finally:
        rt.close()


def test_the_recipient_learns_the_providers_state_even_across_its_own_restart(
    world: World,
) -> None:
    """Kemenkop's node shows what BKN's node holds of PKS 004; a suspension made while
    Kemenkop's listener is down reaches it once it is back (BKN's notifier retries, and
    Kemenkop's listener asks BKN's itself), and so does the resumption."""
    kemenkop, bkn = world.nodes["kemenkop"], world.nodes["bkn"]
    token = kemenkop.token("kemenkop.klien")
    pks = "pks-kemenkop-bkn"
    first = until(lambda: _at_provider(kemenkop, token, pks), 20, "never told")
    assert first["penyedia"] == "bkn" and first["status"] == "berlaku"
    listener = next(p for p in kemenkop.procs if "federation" in p.args)  # type: ignore[operator]
    listener.terminate()
    listener.wait(timeout=30)
    kemenkop.procs.remove(listener)
    _suspend(bkn, pks)
    time.sleep(1.5)  # BKN's notifier finds no one listening
    restarted = start(kemenkop, ["federation", "serve"])
    with kemenkop.tls_client() as c:
        until(lambda: up(f"{kemenkop.listener}/healthz", restarted, c), 60, "listener not up")
    held = until(
        lambda: (h := _at_provider(kemenkop, token, pks)) and h["status"] == "ditangguhkan" and h,
        20,
        "the suspension never reached the recipient",
    )
    assert held["lewat"] in {"pemberitahuan", "tanya"}
    learned = [r for r in _records(world, "kemenkop") if r.action == "perjanjian.status_penyedia"]
    assert learned[-1].actor == "bkn.node" and learned[-1].agreement_id == pks
    assert _detail(learned[-1])["status"] == "ditangguhkan"
    # What Kemenkop's users are told matches the provider's refusal.
    refused = httpx.post(kemenkop.api + "/api/v1/datasets/asn/cek-status",
                         headers={"Authorization": f"Bearer {token}"},
                         json={"nik": world.asn[0]["nik"]})  # fmt: skip
    assert refused.status_code == 403, refused.text
    _suspend(bkn, pks, resume=True)
    until(
        lambda: (h := _at_provider(kemenkop, token, pks)) and h["status"] == "berlaku",
        20,
        "the resumption never reached the recipient",
    )


def test_a_state_notice_from_a_node_that_is_not_the_provider_is_refused(world: World) -> None:
    """BKN's node may not tell Dukcapil's what Dukcapil's own agreement's state is."""
    bkn = world.nodes["bkn"]
    notice = {"perjanjian": [{"perjanjian": "pks-dukcapil-bkn", "versi": 1,
                              "status": "diakhiri", "berakhir": "2030-01-01"}]}  # fmt: skip
    with bkn.tls_client() as client:
        url = world.nodes["dukcapil"].listener + "/federasi/v1/perjanjian/pemberitahuan"
        got = client.post(url, json=notice)
    assert got.status_code == 403 and got.json()["code"] == "perjanjian_bukan_dari_penyedia"
    assert got.headers["content-type"].startswith("application/problem+json")


def test_a_removed_member_is_cut_off_once_the_new_directory_is_taken(world: World) -> None:
    bkn = world.nodes["bkn"]
    entry = next(m for m in world.authority.members() if m.kode == "bkn")
    with bkn.tls_client() as client:
        assert _raw(world, client).status_code == 200
        world.authority.remove_member("bkn")
        world.sign()
        deadline = time.monotonic() + 15  # nodes read the directory again every second
        while (got := _raw(world, client)).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert got.status_code == 403 and got.json()["code"] == "sertifikat_tidak_terdaftar"
        # Listed again (a new directory): served again.
        world.authority.put_member(entry)
        world.sign()
        deadline = time.monotonic() + 15
        while (got := _raw(world, client)).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert got.status_code == 200, got.text


def test_a_suspension_on_the_provider_refuses_the_recipients_next_call(world: World) -> None:
    """Last: the agreement stays suspended."""
    bkn, dukcapil = world.nodes["bkn"], world.nodes["dukcapil"]
    token = bkn.token("bkn.klien")
    person = world.people[5]
    body = {"nik": person["nik"], "elemen": {"nama_lengkap": person["nama_lengkap"]}}
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.post(bkn.api + VERIFY, headers=headers, json=body).status_code == 200
    rt = dukcapil.runtime()
    with rt.transaction() as s:
        actions.suspend_agreement(
            s,
            rt.settings,
            rt.clock,
            "pks-dukcapil-bkn",
            actor="dukcapil.admin",
            reason="uji penangguhan",
        )
    rt.close()
    refused = httpx.post(bkn.api + VERIFY, headers=headers, json=body)
    assert refused.status_code == 403, refused.text
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert problem["penyedia"] == "dukcapil" and "Node penyedia dukcapil" in problem["detail"]
    # BKN's node is told, and shows its users, that Dukcapil's node holds it suspended.
    told = until(
        lambda: (
            (h := _at_provider(bkn, token, "pks-dukcapil-bkn"))
            and h["status"] == "ditangguhkan"
            and h
        ),
        20,
        "BKN's node was not told of the suspension",
    )
    assert told["penyedia"] == "dukcapil"
    last_bkn = [r for r in _records(world, "bkn") if r.action == "verifikasi"][-1]
    last_duk = [r for r in _records(world, "dukcapil") if r.action == "verifikasi"][-1]
    assert last_bkn.decision == last_duk.decision == "tolak"
    assert last_bkn.reason == last_duk.reason == problem["code"]


def test_killing_the_provider_mid_batch_acknowledges_nothing_unlogged(world: World) -> None:
    """Last: BKN's listener is killed. Every batch Kemenkop's node acknowledged has its
    record there and, through its receipt, its record at BKN; the rest are refused with a
    clear problem, and recorded as refused at Kemenkop."""
    kemenkop, bkn = world.nodes["kemenkop"], world.nodes["bkn"]
    token = kemenkop.token("kemenkop.klien")
    # Small batches, paced: the grant allows 600 items a minute, and a quota refusal is
    # the recipient's own decision, not what this test is about.
    items = [{"nik": p["nik"]} for p in world.people[:10]]
    answers: list[tuple[str, int, dict[str, Any]]] = []
    stop = threading.Event()

    def send() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            rid = f"uji-{uuid.uuid4().hex}"
            try:
                r = httpx.post(
                    kemenkop.api + "/api/v1/datasets/asn/cek-status/batch",
                    headers={"Authorization": f"Bearer {token}", "X-Request-Id": rid},
                    json={"item": items},
                    timeout=30,
                )
            except httpx.HTTPError:
                continue
            answers.append((rid, r.status_code, r.json()))
            time.sleep(0.25)

    sender = threading.Thread(target=send)
    sender.start()
    until(lambda: sum(code == 200 for _, code, _ in answers) >= 3, 30, about=repr(answers[:3]))
    listener = bkn.procs[-1]
    listener.kill()
    listener.wait(timeout=10)
    until(lambda: sum(code >= 500 for _, code, _ in answers) >= 3, 30)
    stop.set()
    sender.join(timeout=60)
    assert not sender.is_alive()
    refused = [a for a in answers if a[1] != 200]
    assert refused and all(
        code == 503 and body["code"] == "penyedia_tidak_terjangkau" for _, code, body in refused
    ), [(code, body.get("code")) for _, code, body in refused]
    mine = {r.request_id: r for r in _records(world, "kemenkop") if r.action == "cek_status"}
    theirs = {
        _detail(r).get("permintaan_asal"): r
        for r in _records(world, "bkn")
        if r.actor == "kemenkop.node" and r.action == "cek_status"
    }
    for rid, code, _ in answers:
        record = mine[rid]  # every answer, given or refused, is in the recipient's log
        if code == 200:
            assert record.decision == "izin"
            provider = theirs[_detail(record)["permintaan_penyedia"]]
            assert provider.decision == "izin" and provider.subject_count == len(items)
        else:
            assert record.decision == "tolak" and record.reason == "penyedia_tidak_terjangkau"
