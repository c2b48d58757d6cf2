"""One probe per data-bearing entry point: how its user calls it, which account holds the
grant and which does not, under which agreement, and a call its validation refuses.
A probe answers with an HTTP-like response; CLI probes map the exit code to a status."""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from simpul.access import passwords as pw
from simpul.app import create_app
from simpul.audit.models import AuditRecord
from simpul.config import Settings
from simpul.face import samples
from simpul.face import service as face
from simpul.governance import actions
from simpul.kit.clock import FixedClock
from simpul.registry.service import snapshot_path
from simpul.registry.synth import generate_world
from simpul.runtime import Runtime
from tests.portal.helpers import next_code
from tests.worlds import FAST_PASSWORDS, governed_runtime

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
Send = Callable[["World", str], Any]


@dataclass
class World:
    rt: Runtime
    clock: FixedClock
    creds: dict[str, dict[str, Any]]
    client: TestClient
    people: list[dict[str, Any]]
    asn: list[dict[str, Any]]
    photo_nik: str
    app: Any
    portals: dict[str, TestClient] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)  # what probes set up once

    def __repr__(self) -> str:  # hypothesis prints its arguments
        return f"World(now={self.clock.now():%Y-%m-%d})"

    def basic(self, username: str) -> dict[str, str]:
        raw = f"{username}:{self.creds[username]['password']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def portal(self, username: str) -> TestClient:
        """A signed-in browser of `username` that does not follow redirects."""
        if username not in self.portals:
            c = TestClient(self.app, client=("127.0.0.1", 50000), follow_redirects=False)
            page = c.get("/portal/masuk")
            resp = c.post("/portal/masuk", data={
                "username": username, "password": self.creds[username]["password"],
                "csrf": _csrf(page.text)})  # fmt: skip
            if resp.status_code != 303:  # refused at sign-in (a revoked account)
                return c
            if resp.headers["location"].startswith("/portal/masuk/kode"):
                page = c.get(resp.headers["location"])
                resp = c.post("/portal/masuk/kode", data={
                    "kode": next_code(self.creds[username], self.clock.now()),
                    "csrf": _csrf(page.text)})  # fmt: skip
                assert resp.status_code == 303, resp.text
            self.portals[username] = c
        return self.portals[username]

    def form(self, username: str, page: str, target: str, data: dict[str, Any],
             files: Any = None) -> Any:  # fmt: skip
        c = self.portal(username)
        shown = c.get(page)
        if shown.status_code == 303 and username in self.portals:  # the session ran out:
            del self.portals[username]  # sign in again, as the user would
            return self.form(username, page, target, data, files)
        if shown.status_code != 200:
            return shown
        return c.post(target, data={**data, "csrf": _csrf(shown.text)}, files=files)

    def head(self) -> int:
        with self.rt.sessions() as s:
            return int(s.execute(select(AuditRecord.seq).order_by(AuditRecord.seq.desc())
                                 .limit(1)).scalar() or 0)  # fmt: skip

    def _act(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> None:
        with self.rt.transaction() as s:
            fn(s, self.rt.settings, self.rt.clock, *args, **kw)

    def suspend(self, agreement: str) -> None:
        self._act(actions.suspend_agreement, agreement, actor="uji", reason="uji")

    def resume(self, agreement: str) -> None:
        self._act(actions.resume_agreement, agreement, actor="uji", reason="uji")

    def terminate(self, agreement: str) -> None:
        self._act(actions.terminate_agreement, agreement, actor="uji", reason="uji")

    def revoke(self, username: str) -> None:
        self._act(actions.revoke_account, username, actor="uji", reason="uji")


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def new_records(world: World, after: int) -> list[AuditRecord]:
    with world.rt.sessions() as s:
        return list(s.execute(select(AuditRecord).where(AuditRecord.seq > after)
                              .order_by(AuditRecord.seq)).scalars())  # fmt: skip


def _answered(resp: Any) -> bool:
    return bool(resp.status_code < 300)


@dataclass(frozen=True)
class Probe:
    entry: str
    # The agreement that governs it; None for what no agreement governs (a provider's
    # export of its own registry; an auditor reading the records of ended agreements too).
    agreement: str | None
    allowed: str
    denied: str
    send: Send
    invalid: Send | None = None
    min_subjects: int = 1
    # What an answer looks like (a portal form that succeeds redirects to its page).
    answered: Callable[[Any], bool] = _answered
    # Set-up by others before the probe's first call (e.g. an output to review).
    prepare: Callable[[World], Any] | None = None

    def discloses(self, resp: Any) -> bool:
        return self.answered(resp)


def iso(v: Any) -> str:
    return v.isoformat() if hasattr(v, "isoformat") else str(v)


# -- the registry web services ---------------------------------------------------------
KEP = "/api/v1/datasets/kependudukan"
ASN = "/api/v1/datasets/asn"


def _verify(w: World, user: str, nik: str | None = None) -> Any:
    p = w.people[3]
    body = {
        "nik": nik or p["nik"],
        "elemen": {"nama_lengkap": p["nama_lengkap"], "tanggal_lahir": iso(p["tanggal_lahir"])},
    }
    return w.client.post(f"{KEP}/verifikasi", json=body, headers=w.basic(user))


def _verify_batch(w: World, user: str, count: int = 3) -> Any:
    items = [{"nik": w.people[i % len(w.people)]["nik"],
              "elemen": {"nama_lengkap": w.people[i % len(w.people)]["nama_lengkap"]}}
             for i in range(count)]  # fmt: skip
    return w.client.post(f"{KEP}/verifikasi/batch", json={"item": items}, headers=w.basic(user))


def _check(w: World, user: str, nik: str | None = None) -> Any:
    body = {"nik": nik or w.asn[0]["nik"]}
    return w.client.post(f"{ASN}/cek-status", json=body, headers=w.basic(user))


def _check_batch(w: World, user: str, count: int = 3) -> Any:
    items = [{"nik": w.asn[i % len(w.asn)]["nik"]} for i in range(count)]
    return w.client.post(f"{ASN}/cek-status/batch", json={"item": items}, headers=w.basic(user))


def _lookup(w: World, user: str, nik: str | None = None) -> Any:
    body = {"nik": nik or w.people[4]["nik"]}
    return w.client.post(f"{KEP}/akses-nik", json=body, headers=w.basic(user))


def _face(w: World, user: str, nik: str | None = None) -> Any:
    photo = samples.probes("astronaut")[0].data
    return w.client.post(f"{KEP}/verifikasi-wajah", data={"nik": nik or w.photo_nik},
                         files={"foto": ("foto", photo, "image/png")},
                         headers=w.basic(user))  # fmt: skip


SHORT_NIK = "327301130290001"  # 15 digits

SERVICE_PROBES = [
    Probe("POST /api/v1/datasets/{dataset}/verifikasi", "pks-dukcapil-bkn", "bkn.operator",
          "kemenkop.operator", _verify, lambda w, u: _verify(w, u, SHORT_NIK)),
    Probe("POST /api/v1/datasets/{dataset}/verifikasi/batch", "pks-dukcapil-bkn",
          "bkn.operator", "kemenkop.operator", _verify_batch,
          lambda w, u: _verify_batch(w, u, 1_001), min_subjects=3),
    Probe("POST /api/v1/datasets/{dataset}/cek-status", "pks-kemenkop-bkn", "kemenkop.operator",
          "pemprov-jabar.operator", _check, lambda w, u: _check(w, u, SHORT_NIK)),
    Probe("POST /api/v1/datasets/{dataset}/cek-status/batch", "pks-kemenkop-bkn",
          "kemenkop.operator", "pemprov-jabar.operator", _check_batch,
          lambda w, u: _check_batch(w, u, 1_001), min_subjects=3),
    Probe("POST /api/v1/datasets/{dataset}/akses-nik", "pks-dukcapil-bkn", "bkn.operator",
          "kemenkop.operator", _lookup, lambda w, u: _lookup(w, u, SHORT_NIK)),
    Probe("POST /api/v1/datasets/{dataset}/verifikasi-wajah", "pks-dukcapil-bkn",
          "bkn.operator", "kemenkop.operator", _face, lambda w, u: _face(w, u, SHORT_NIK)),
]  # fmt: skip


# -- the portal's service pages ---------------------------------------------------------
def _portal_lookup(w: World, user: str, nik: str | None = None) -> Any:
    return w.form(user, "/portal/layanan/akses-nik", "/portal/layanan/akses-nik",
                  {"nik": nik or w.people[5]["nik"]})  # fmt: skip


def _portal_verify(w: World, user: str, nik: str | None = None) -> Any:
    p = w.people[6]
    return w.form(user, "/portal/layanan/verifikasi", "/portal/layanan/verifikasi",
                  {"nik": nik or p["nik"], "nama_lengkap": p["nama_lengkap"]})  # fmt: skip


def _portal_check(w: World, user: str, nik: str | None = None) -> Any:
    return w.form(user, "/portal/layanan/cek-status", "/portal/layanan/cek-status",
                  {"nik": nik or w.asn[1]["nik"], "dataset": "asn"})  # fmt: skip


def _portal_face(w: World, user: str, nik: str | None = None) -> Any:
    photo = samples.probes("astronaut")[0].data
    return w.form(
        user,
        "/portal/layanan/verifikasi-wajah",
        "/portal/layanan/verifikasi-wajah",
        {"nik": nik or w.photo_nik},
        files={"foto": ("foto.png", photo, "image/png")},
    )


PORTAL_SERVICE_PROBES = [
    Probe("POST /portal/layanan/akses-nik", "pks-dukcapil-bkn", "bkn.pengguna",
          "kemenkop.pengguna", _portal_lookup, lambda w, u: _portal_lookup(w, u, SHORT_NIK)),
    Probe("POST /portal/layanan/verifikasi", "pks-dukcapil-bkn", "bkn.pengguna",
          "kemenkop.pengguna", _portal_verify, lambda w, u: _portal_verify(w, u, SHORT_NIK)),
    Probe("POST /portal/layanan/cek-status", "pks-kemenkop-bkn", "kemenkop.pengguna",
          "pemprov-jabar.pengguna", _portal_check, lambda w, u: _portal_check(w, u, SHORT_NIK)),
    Probe("POST /portal/layanan/verifikasi-wajah", "pks-dukcapil-bkn", "bkn.pengguna",
          "kemenkop.pengguna", _portal_face, lambda w, u: _portal_face(w, u, SHORT_NIK)),
]  # fmt: skip


# -- pemadanan: one job of kemenkop.operator, submitted while PKS 004 is in force ----------
PADAN = "/api/v1/pemadanan"
PADAN_OWNER = "kemenkop.operator"


def _padan_list(w: World) -> bytes:
    """ASN by NIK; ASN by name and birth date only (probable matches, for review); a row
    with a malformed NIK (an issue, matched by name) and one that cannot be matched."""
    a = w.asn
    rows = ["nik,nama_lengkap,tanggal_lahir"]
    rows += [f"{p['nik']},{p['nama_lengkap']},{iso(p['tanggal_lahir'])}" for p in a[:4]]
    rows += [f",{p['nama_lengkap']},{iso(p['tanggal_lahir'])}" for p in a[4:10]]
    rows += [f"3273019999990001,{a[10]['nama_lengkap']},{iso(a[10]['tanggal_lahir'])}", "12345,,"]
    return ("\n".join(rows) + "\n").encode()


def _padan_submit(w: World, user: str, body: bytes | None = None) -> Any:
    files = {"berkas": ("bpum.csv", _padan_list(w) if body is None else body, "text/csv")}
    # Acceptance threshold 1: the rows found by name and birth date wait for review.
    form = {"alur": "bpum", "ambang_terima": "1"}
    return w.client.post(PADAN, files=files, data=form, headers=w.basic(user))


def _padan_job(w: World) -> str:
    """The finished job the download probes read (made once, on first use)."""
    if "padan" not in w.state:
        import time

        from simpul.pemadanan import runner
        from simpul.pemadanan.repository import JobRepository

        resp = _padan_submit(w, PADAN_OWNER)
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["id"]
        deadline = time.monotonic() + 120
        while w.client.get(f"{PADAN}/{job_id}", headers=w.basic(PADAN_OWNER)).json()[
            "status"] != "selesai":  # fmt: skip
            assert time.monotonic() < deadline, "pemadanan job did not finish"
            runner.run_pending(w.rt)  # the worker's part (the web process runs no job)
            time.sleep(0.1)
        with w.rt.transaction() as s:
            _, rows = JobRepository(s).results(job_id, status="kemungkinan_cocok", limit=1)
        assert rows, "no probable match to review"
        w.state["padan"], w.state["padan_baris"] = job_id, rows[0].line
    return str(w.state["padan"])


def _padan_get(w: World, user: str, what: str) -> Any:
    return w.client.get(f"{PADAN}/{_padan_job(w)}/{what}", headers=w.basic(user))


def _padan_review(w: World, user: str, line: int | None = None) -> Any:
    job = _padan_job(w)
    return w.client.post(f"{PADAN}/{job}/hasil/{line or w.state['padan_baris']}/tinjau",
                         json={"keputusan": "ditolak"}, headers=w.basic(user))  # fmt: skip


def _portal_get(w: World, user: str, path: str) -> Any:
    c = w.portal(user)
    resp = c.get(path)
    if resp.status_code == 303 and resp.headers.get("location", "").startswith("/portal/masuk") \
            and user in w.portals:  # the session ran out: sign in again  # fmt: skip
        del w.portals[user]
        return _portal_get(w, user, path)
    return resp


def _followed(w: World, user: str, resp: Any) -> Any:
    """A portal form's redirect to the job's page, followed (as a browser does)."""
    where = resp.headers.get("location", "") if resp.status_code == 303 else ""
    return _portal_get(w, user, where) if where.startswith("/portal/pemadanan/padan-") else resp


def _portal_padan_submit(w: World, user: str, body: bytes | None = None) -> Any:
    files = {"berkas": ("bpum.csv", _padan_list(w) if body is None else body, "text/csv")}
    return _followed(w, user, w.form(user, "/portal/pemadanan", "/portal/pemadanan",
                                     {"alur": "bpum"}, files=files))  # fmt: skip


def _portal_padan(w: World, user: str, tail: str = "") -> Any:
    return _portal_get(w, user, f"/portal/pemadanan/{_padan_job(w)}{tail}")


def _portal_padan_review(w: World, user: str, line: int | None = None) -> Any:
    base = f"/portal/pemadanan/{_padan_job(w)}"
    target = f"{base}/tinjau/{line or w.state['padan_baris']}"
    resp = w.form(user, f"{base}?status=kemungkinan_cocok", target,
                  {"keputusan": "ditolak", "alasan": "uji"})  # fmt: skip
    return _followed(w, user, resp)


P4, OTHER = "pks-kemenkop-bkn", "pemprov-jabar.operator"
HEADER_ONLY = b"nik,nama_lengkap,tanggal_lahir\n"
PEMADANAN_PROBES = [
    Probe("POST /api/v1/pemadanan", P4, PADAN_OWNER, OTHER, _padan_submit,
          lambda w, u: _padan_submit(w, u, HEADER_ONLY), min_subjects=0),
    Probe("GET /api/v1/pemadanan/{job_id}/hasil", P4, PADAN_OWNER, OTHER,
          lambda w, u: _padan_get(w, u, "hasil"),
          lambda w, u: _padan_get(w, u, "hasil?status=entah")),
    Probe("GET /api/v1/pemadanan/{job_id}/galat", P4, PADAN_OWNER, OTHER,
          lambda w, u: _padan_get(w, u, "galat")),
    Probe("GET /api/v1/pemadanan/{job_id}/hasil.csv", P4, PADAN_OWNER, OTHER,
          lambda w, u: _padan_get(w, u, "hasil.csv")),
    Probe("GET /api/v1/pemadanan/{job_id}/daftar/{nama}.csv", P4, PADAN_OWNER, OTHER,
          lambda w, u: _padan_get(w, u, "daftar/balikan.csv"),
          lambda w, u: _padan_get(w, u, "daftar/entah.csv")),
    Probe("POST /api/v1/pemadanan/{job_id}/hasil/{baris}/tinjau", P4, PADAN_OWNER, OTHER,
          _padan_review, lambda w, u: _padan_review(w, u, 999_999)),
    Probe("GET /api/v1/pemadanan/{job_id}/berita-acara.pdf", P4, PADAN_OWNER, OTHER,
          lambda w, u: _padan_get(w, u, "berita-acara.pdf")),
    # The portal: a colleague at the owner's institution is refused like a stranger.
    Probe("POST /portal/pemadanan", P4, PADAN_OWNER, "pemprov-jabar.pengguna",
          _portal_padan_submit, lambda w, u: _portal_padan_submit(w, u, HEADER_ONLY),
          min_subjects=0),
    Probe("GET /portal/pemadanan/{job_id}", P4, PADAN_OWNER, "kemenkop.pengguna",
          _portal_padan),
    Probe("POST /portal/pemadanan/{job_id}/tinjau/{line}", P4, PADAN_OWNER, "kemenkop.pengguna",
          _portal_padan_review, lambda w, u: _portal_padan_review(w, u, 999_999)),
    Probe("GET /portal/pemadanan/{job_id}/unduh/{nama}.csv", P4, PADAN_OWNER,
          "kemenkop.pengguna", lambda w, u: _portal_padan(w, u, "/unduh/hasil.csv"),
          lambda w, u: _portal_padan(w, u, "/unduh/entah.csv")),
    Probe("GET /portal/pemadanan/{job_id}/berita-acara.pdf", P4, PADAN_OWNER,
          "kemenkop.pengguna", lambda w, u: _portal_padan(w, u, "/berita-acara.pdf")),
]  # fmt: skip


# -- feedback data (data balikan) under PKS 003: BKN sends, Dukcapil's administrator receives
P3 = "pks-dukcapil-bkn"
FEEDBACK = f"/api/v1/perjanjian/{P3}/data-balikan"
FEEDBACK_CSV = f"/portal/kewajiban/{P3}/data-balikan.csv"
FEEDBACK_HEADER = "nik,nip,status_kepegawaian,kedudukan_hukum"


def _feedback_body(w: World) -> bytes:
    """One row for a civil servant BKN has verified (so it is owed), made once."""
    a = w.asn[0]
    if "balikan" not in w.state:
        body = {"nik": a["nik"], "elemen": {"nama_lengkap": a["nama_lengkap"]}}
        resp = w.client.post(f"{KEP}/verifikasi", json=body, headers=w.basic("bkn.operator"))
        assert resp.status_code == 200, resp.text
        w.state["balikan"] = True
    row = f"{a['nik']},{a['nip']},{a['status_kepegawaian']},{a['kedudukan_hukum']}"
    return f"{FEEDBACK_HEADER}\n{row}\n".encode()


def _feedback_up(w: World, user: str, body: bytes | None = None) -> Any:
    content = _feedback_body(w) if body is None else body
    return w.client.post(FEEDBACK, content=content,
                         headers={**w.basic(user), "Content-Type": "text/csv"})  # fmt: skip


def _portal_feedback_up(w: World, user: str, body: bytes | None = None) -> Any:
    files = {"berkas": ("balikan.csv", _feedback_body(w) if body is None else body, "text/csv")}
    return w.form(user, "/portal/kewajiban", "/portal/kewajiban/data-balikan",
                  {"perjanjian": P3}, files=files)  # fmt: skip


NO_COLUMNS = b"nik\n3273010101900001\n"
FEEDBACK_PROBES = [
    Probe("POST /api/v1/perjanjian/{agreement_id}/data-balikan", P3, "bkn.operator",
          "dukcapil.auditor", _feedback_up, lambda w, u: _feedback_up(w, u, NO_COLUMNS)),
    Probe("GET /api/v1/perjanjian/{agreement_id}/data-balikan", P3, "dukcapil.admin",
          "dukcapil.auditor", lambda w, u: w.client.get(FEEDBACK, headers=w.basic(u)),
          lambda w, u: w.client.get(FEEDBACK, params={"kewajiban": "entah"},
                                    headers=w.basic(u))),
    Probe("POST /portal/kewajiban/data-balikan", P3, "bkn.pengguna", "dukcapil.auditor",
          _portal_feedback_up, lambda w, u: _portal_feedback_up(w, u, NO_COLUMNS)),
    Probe("GET /portal/kewajiban/{agreement_id}/data-balikan.csv", P3, "dukcapil.admin",
          "bkn.operator", lambda w, u: _portal_get(w, u, FEEDBACK_CSV)),
]  # fmt: skip

# -- the Regsosek tiers (PKS 000), API and portal ----------------------------------------
REG = "/api/v1/datasets/regsosek"
JABAR, BAPPENAS = "pemprov-jabar.pengguna", "bappenas.admin"
PKS_000 = "pks-bappenas-jabar"
SAFE_SQL = "SELECT jenis_kelamin, count(*) AS n FROM regsosek GROUP BY 1"
HELD_SQL = "SELECT kode_wilayah, count(*) AS n FROM regsosek GROUP BY 1"  # tiny cells: held


def _once(w: World, key: str, make: Callable[[], Any]) -> Any:
    if key not in w.state:
        w.state[key] = make()
    return w.state[key]


def _made(resp: Any, field_name: str) -> str:
    assert resp.status_code == 200, resp.text
    return str(resp.json()[field_name])


def _extract_id(w: World) -> str:
    return str(
        _once(
            w,
            "ekstrak",
            lambda: _made(
                w.client.post(f"{REG}/bnba", json={"format": "csv"}, headers=w.basic(JABAR)),
                "ekstrak_id",
            ),
        )
    )


def _output_id(w: World) -> str:
    return str(
        _once(
            w,
            "keluaran",
            lambda: _made(
                w.client.post(f"{REG}/pengolahan", json={"sql": SAFE_SQL}, headers=w.basic(JABAR)),
                "id",
            ),
        )
    )


def _held_output(w: World, take: bool = True) -> str:
    """A fresh output waiting for the provider's review (made while the agreement was in
    force: a pool, since a review can be given once; `take=False` only makes sure the
    queue is not empty)."""

    def make() -> list[str]:
        body = {"sql": HELD_SQL}
        return [_made(w.client.post(f"{REG}/pengolahan", json=body, headers=w.basic(JABAR)),
                      "id") for _ in range(30)]  # fmt: skip

    pool: list[str] = _once(w, "tertahan", make)
    return pool.pop() if take else pool[0]


def _reg(w: World, user: str, tier: str, body: dict[str, Any]) -> Any:
    return w.client.post(f"{REG}/{tier}", json=body, headers=w.basic(user))


def _portal_reg(w: World, user: str, target: str, data: dict[str, Any]) -> Any:
    return w.form(user, "/portal/regsosek", target, data)


def _portal_review(w: World, user: str) -> Any:
    target = f"/portal/tinjauan-keluaran/{_held_output(w)}"
    return w.form(user, "/portal/tinjauan-keluaran", target,
                  {"keputusan": "tolak", "alasan": "sel kecil"})  # fmt: skip


def _redirected_to(page: str) -> Callable[[Any], bool]:
    return lambda r: r.status_code == 303 and r.headers.get("location", "").startswith(page)


AGG = {"dimensi": ["jenis_kelamin"], "tingkat_wilayah": "provinsi"}
REGSOSEK_PROBES = [
    Probe("POST /api/v1/datasets/regsosek/agregat", PKS_000, JABAR, "bkn.pengguna",
          lambda w, u: _reg(w, u, "agregat", AGG), min_subjects=0),
    Probe("POST /api/v1/datasets/regsosek/mikro", PKS_000, JABAR, "bkn.pengguna",
          lambda w, u: _reg(w, u, "mikro", {"format": "csv"}),
          lambda w, u: _reg(w, u, "mikro", {"format": "csv", "wilayah": "3x"}),
          min_subjects=0),  # made, not yet read: its download names the people
    Probe("POST /api/v1/datasets/regsosek/bnba", PKS_000, JABAR, "bkn.pengguna",
          lambda w, u: _reg(w, u, "bnba", {"format": "csv"}),
          lambda w, u: _reg(w, u, "bnba", {"format": "csv", "wilayah": "3x"})),
    Probe("GET /api/v1/datasets/regsosek/ekstrak/{ekstrak_id}", PKS_000, JABAR, "bkn.pengguna",
          lambda w, u: w.client.get(f"{REG}/ekstrak/{_extract_id(w)}", headers=w.basic(u))),
    Probe("POST /api/v1/datasets/regsosek/pengolahan", PKS_000, JABAR, "bkn.pengguna",
          lambda w, u: _reg(w, u, "pengolahan", {"sql": SAFE_SQL}),
          lambda w, u: _reg(w, u, "pengolahan", {"sql": "COPY regsosek TO 'x'"}),
          min_subjects=0),
    Probe("GET /api/v1/datasets/regsosek/pengolahan/{output_id}", PKS_000, JABAR,
          "bkn.pengguna",
          lambda w, u: w.client.get(f"{REG}/pengolahan/{_output_id(w)}", headers=w.basic(u)),
          min_subjects=0),
    Probe("GET /api/v1/datasets/regsosek/tinjauan", PKS_000, BAPPENAS, "dukcapil.admin",
          lambda w, u: w.client.get(f"{REG}/tinjauan", headers=w.basic(u)),
          prepare=lambda w: _held_output(w, take=False),
          min_subjects=0),
    Probe("POST /api/v1/datasets/regsosek/tinjauan/{output_id}", PKS_000, BAPPENAS,
          "dukcapil.admin",
          lambda w, u: w.client.post(f"{REG}/tinjauan/{_held_output(w)}", headers=w.basic(u),
                                     json={"keputusan": "tolak", "alasan": "sel kecil"}),
          min_subjects=0, prepare=lambda w: _held_output(w, take=False)),
    Probe("POST /portal/regsosek/agregat", PKS_000, JABAR, "bkn.pengguna",
          lambda w, u: _portal_reg(w, u, "/portal/regsosek/agregat",
                                   {"dimensi": "jenis_kelamin", "tingkat_wilayah": "provinsi"}),
          min_subjects=0),
    Probe("POST /portal/regsosek/{tier}", PKS_000, JABAR, "bkn.pengguna",
          lambda w, u: _portal_reg(w, u, "/portal/regsosek/bnba", {"format": "csv"}),
          lambda w, u: _portal_reg(w, u, "/portal/regsosek/bnba",
                                   {"format": "csv", "wilayah": "3x"})),
    Probe("GET /portal/regsosek/ekstrak/{extract_id}", PKS_000, JABAR, "bkn.pengguna",
          lambda w, u: _portal_get(w, u, f"/portal/regsosek/ekstrak/{_extract_id(w)}")),
    Probe("GET /portal/tinjauan-keluaran", PKS_000, BAPPENAS, "dukcapil.admin",
          lambda w, u: _portal_get(w, u, "/portal/tinjauan-keluaran"),
          prepare=lambda w: _held_output(w, take=False),
          min_subjects=0),
    Probe("POST /portal/tinjauan-keluaran/{output_id}", PKS_000, BAPPENAS, "dukcapil.admin",
          _portal_review, min_subjects=0, prepare=lambda w: _held_output(w, take=False),
          answered=_redirected_to("/portal/tinjauan-keluaran")),
]  # fmt: skip

PROBES: list[Probe] = [*SERVICE_PROBES, *PORTAL_SERVICE_PROBES, *PEMADANAN_PROBES,
                       *FEEDBACK_PROBES, *REGSOSEK_PROBES]  # fmt: skip


@pytest.fixture(scope="module")
def world_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_world(800, 23, tmp_path_factory.mktemp("world"))


@pytest.fixture
def world(
    settings: Settings, world_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    monkeypatch.setattr(pw, "DEFAULT", FAST_PASSWORDS)
    clock = FixedClock(NOW)
    target = snapshot_path(settings, "regsosek")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(world_files["regsosek"], target)
    files = {c: world_files[c] for c in ("kependudukan", "asn", "dtks", "regsosek")}
    rt, creds = governed_runtime(settings, files, clock)
    people = pq.read_table(world_files["kependudukan"]).to_pylist()
    asn = pq.read_table(world_files["asn"]).to_pylist()
    photo_nik = people[0]["nik"]
    with rt.transaction() as s:
        face.enroll(s, settings, clock, "kependudukan", photo_nik, samples.enrolment("astronaut"),
                    actor="dukcapil.admin", reason="uji")  # fmt: skip
    app = create_app(settings, rt)
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        made = World(rt, clock, creds, client, people, asn, photo_nik, app)
        yield made
    for close in made.state.get("closers", []):  # the federation listener's, if started
        close()
    for extra in (made.state.get("cli_runtime"), rt):  # the CLI probes' runtime too
        if extra is not None:
            extra.close()
