"""Face verification over HTTP through the real app, SQLite and PostgreSQL: the BKN
operator sends a NIK and a photo (multipart) and gets "data tidak ditemukan" or a
similarity; refusals and unusable photos get problem+json with stable codes; every
decision is audited and the photo is never kept outside the provider's store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from simpul.access import passwords as pw
from simpul.agreements import service as agreements
from simpul.app import create_app
from simpul.audit import service as audit
from simpul.config import Settings
from simpul.errors import SimpulError
from simpul.face import samples
from simpul.face import service as face
from simpul.face.engine import MAX_PHOTO_BYTES
from simpul.kit.clock import FixedClock
from simpul.registry.synth import generate_world
from simpul.runtime import Runtime
from tests.worlds import FAST_PASSWORDS, basic_header, governed_runtime

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
URL = "/api/v1/datasets/kependudukan/verifikasi-wajah"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_world(300, 9, tmp_path_factory.mktemp("world"))


@dataclass
class Env:
    client: TestClient
    rt: Runtime
    creds: dict[str, dict[str, Any]]
    astronaut: str  # NIKs with enrolled photos
    camera: str
    no_photo: str

    def basic(self, username: str) -> dict[str, str]:
        return basic_header(self.creds, username)

    def verify(self, nik: str, photo: bytes, user: str = "bkn.operator", **kw: Any) -> Any:
        kind = "image/png" if photo.startswith(b"\x89PNG") else "image/jpeg"
        return self.client.post(
            URL, data={"nik": nik}, files={"foto": ("foto", photo, kind)},
            headers=self.basic(user), **kw,
        )  # fmt: skip


@pytest.fixture
def env(
    settings: Settings, world: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Env]:
    monkeypatch.setattr(pw, "DEFAULT", FAST_PASSWORDS)
    files = {"kependudukan": world["kependudukan"]}
    rt, creds = governed_runtime(settings, files, FixedClock(NOW))
    niks = [p["nik"] for p in pq.read_table(world["kependudukan"]).slice(0, 3).to_pylist()]
    with rt.transaction() as s:
        for nik, person in zip(niks, ["astronaut", "camera"], strict=False):
            face.enroll(s, settings, rt.clock, "kependudukan", nik, samples.enrolment(person),
                        actor="dukcapil.admin", reason="uji")  # fmt: skip
    with TestClient(create_app(settings, rt), client=("127.0.0.1", 50000)) as client:
        yield Env(client, rt, creds, *niks)
    rt.close()


def test_same_person_scores_high_other_person_low(env: Env) -> None:
    for person, nik, other in [("astronaut", env.astronaut, env.camera),
                               ("camera", env.camera, env.astronaut)]:  # fmt: skip
        probe = samples.probes(person)[0]
        same = env.verify(nik, probe.data)
        assert same.status_code == 200, same.text
        assert same.json()["hasil"] == "ditemukan"
        assert same.json()["kemiripan"] > 50
        # The seed grant sets a threshold (60): the answer adds it and the decision.
        assert set(same.json()) == {"hasil", "kemiripan", "ambang", "keputusan"}
        assert (same.json()["ambang"], same.json()["keputusan"]) == (60, "sesuai")
        different = env.verify(other, probe.data)
        assert different.json()["hasil"] == "ditemukan"
        assert different.json()["kemiripan"] < 50
        assert different.json()["keputusan"] == "tidak_sesuai"


def test_nik_without_photo_or_unknown_is_data_tidak_ditemukan(env: Env) -> None:
    photo = samples.probes("astronaut")[1].data
    assert env.verify(env.no_photo, photo).json() == {"hasil": "data_tidak_ditemukan"}
    assert env.verify("3273011302900999", photo).json() == {"hasil": "data_tidak_ditemukan"}


@pytest.mark.parametrize(
    ("photo", "status", "code"),
    [
        (samples.non_faces()[0].data, 422, "wajah_tidak_terdeteksi"),
        (samples.two_faces(), 422, "wajah_lebih_dari_satu"),
        (b"GIF89a" + b"\0" * 64, 415, "foto_format_tidak_didukung"),
        (b"\xff\xd8\xff" + b"\1" * 200, 422, "foto_tidak_terbaca"),
        (b"\xff\xd8\xff" + b"\0" * (MAX_PHOTO_BYTES + 1), 413, "foto_terlalu_besar"),
    ],
    ids=["tanpa-wajah", "dua-wajah", "gif", "rusak", "terlalu-besar"],
)
def test_unusable_photos_get_stable_codes(env: Env, photo: bytes, status: int, code: str) -> None:
    resp = env.verify(env.astronaut, photo)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["code"] == code
    assert resp.json()["detail"]


def test_malformed_requests(env: Env) -> None:
    headers = env.basic("bkn.operator")
    photo = samples.enrolment("astronaut")
    no_photo = env.client.post(URL, data={"nik": env.astronaut}, headers=headers)
    assert (no_photo.status_code, no_photo.json()["code"]) == (422, "permintaan_tidak_valid")
    no_nik = env.client.post(URL, files={"foto": ("f.png", photo, "image/png")}, headers=headers)
    assert no_nik.json()["code"] == "permintaan_tidak_valid"
    as_json = env.client.post(URL, json={"nik": env.astronaut}, headers=headers)
    assert as_json.status_code == 422
    bad_nik = env.verify("12345", photo)
    assert bad_nik.status_code == 422
    assert bad_nik.json()["code"] != "permintaan_tidak_valid"  # the NIK check's own code


def test_refusals_follow_the_agreement(env: Env) -> None:
    photo = samples.probes("astronaut")[0].data
    # Kemenkop holds no right to population data (PKS 004 is about ASN data).
    denied = env.verify(env.astronaut, photo, user="kemenkop.operator")
    assert denied.status_code == 403
    assert denied.json()["code"] == "layanan_tidak_diizinkan"
    anonymous = env.client.post(URL, data={"nik": env.astronaut},
                                files={"foto": ("f.jpg", photo, "image/jpeg")})  # fmt: skip
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "kredensial_tidak_ada")
    # Suspending PKS 003 stops face verification on the next request.
    with env.rt.transaction() as s:
        agreements.suspend(s, "pks-dukcapil-bkn", actor="dukcapil.admin", reason="uji",
                           clock=env.rt.clock)  # fmt: skip
    suspended = env.verify(env.astronaut, photo)
    assert (suspended.status_code, suspended.json()["code"]) == (403, "perjanjian_ditangguhkan")


def test_every_check_is_audited_without_the_photo(env: Env) -> None:
    photo = samples.probes("camera")[2].data
    assert env.verify(env.camera, photo).status_code == 200
    assert env.verify(env.camera, samples.two_faces()).status_code == 422
    assert env.verify(env.camera, photo, user="kemenkop.operator").status_code == 403
    with env.rt.sessions() as s:
        rows = s.execute(
            text("select decision, reason, actor, grant_id, result from audit_record "
                 "where action = 'verifikasi_wajah' order by seq")
        ).all()  # fmt: skip
        values = [str(v) for r in s.execute(text("select * from audit_record")).all() for v in r]
        dump = " ".join(values)
        history = audit.subject_history(s, env.rt.settings, env.camera)
        assert audit.verify(s).ok
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("izin", "ok", "bkn.operator", "hibah-verifikasi-wajah-ws"),
        # Allowed, but the photo could not be answered: a refusal, under the grant decided.
        ("tolak", "wajah_lebih_dari_satu", "bkn.operator", "hibah-verifikasi-wajah-ws"),
        ("tolak", "layanan_tidak_diizinkan", "kemenkop.operator", None),
    ]
    assert '"kemiripan"' in str(rows[0][4])
    assert env.camera not in dump
    # Enrolment (a provider action) and the three checks are in the person's history.
    assert len(history) == 4
    assert max(map(len, values)) < 2_000  # no photo (tens of kB) went into any field


def test_threshold_set_by_an_addendum_adds_a_decision(env: Env, tmp_path: Path) -> None:
    addendum = tmp_path / "adendum-ambang.yaml"
    addendum.write_text(
        "adendum: adendum-uji-ambang-wajah\n"
        "perjanjian: pks-dukcapil-bkn\n"
        "judul: Adendum uji ambang kemiripan wajah\n"
        "tanggal_tanda_tangan: 2026-11-20\n"
        "versi_dasar: 2\n"
        "pasal_dasar: Pasal 9 huruf b\n"
        "alasan: Uji ambang kemiripan wajah.\n"
        "perubahan:\n"
        "  hibah_ubah:\n"
        "    - {id: hibah-verifikasi-wajah-ws, ambang_kemiripan: {foto_wajah: 80}}\n",
        encoding="utf-8",
    )
    with env.rt.transaction() as s:
        agreements.apply_addendum_file(s, addendum, actor="dukcapil.admin", clock=env.rt.clock)
    probe = samples.probes("astronaut")[3].data
    same = env.verify(env.astronaut, probe).json()
    other = env.verify(env.camera, probe).json()
    assert same["ambang"] == 80  # the addendum's threshold replaced the seed's 60
    assert same["keputusan"] == ("sesuai" if same["kemiripan"] >= 80 else "tidak_sesuai")
    assert (other["ambang"], other["keputusan"]) == (80, "tidak_sesuai")


def test_portal_photo_needs_the_portal_grant(env: Env) -> None:
    from simpul import kernel
    from simpul.agreements.schemas import Mechanism

    def photo(user: str, mechanism: Mechanism, nik: str) -> object:
        origin = kernel.Origin(mechanism, action="akses_nik", dataset="kependudukan",
                               source_ip="127.0.0.1")  # fmt: skip
        who = kernel.Basic(user, env.creds[user]["password"])
        return kernel.run(kernel.Node(env.rt), who, origin, face.portal_photo,
                          "kependudukan", nik)  # fmt: skip

    found = photo("bkn.pengguna", Mechanism.WEB_PORTAL, env.astronaut)
    missing = photo("bkn.pengguna", Mechanism.WEB_PORTAL, env.no_photo)
    assert isinstance(found, face.StoredPhoto)
    assert found.data == samples.enrolment("astronaut")
    assert found.content_type == "image/png"
    assert missing is None
    # The IKD web service (PKS 003 Pasal 2(1)d) does not carry the photo.
    with pytest.raises(SimpulError) as refused:
        photo("bkn.operator", Mechanism.WEB_SERVICE, env.astronaut)
    assert refused.value.code == "elemen_di_luar_hibah"


def test_service_call_with_another_engine_reembeds_the_stored_photo(env: Env) -> None:
    """The one-session service function (portal, CLI) and an engine change: the stored
    embedding is another engine's, so the stored photo is embedded by the engine in use."""
    from simpul import kernel
    from simpul.agreements.schemas import Mechanism
    from simpul.face.engine import get_engine

    plugged = get_engine("tests.face.fake_engine:engine")
    origin = kernel.Origin(Mechanism.WEB_SERVICE, action="verifikasi_wajah",
                           dataset="kependudukan", source_ip="127.0.0.1")  # fmt: skip
    who = kernel.Basic("bkn.operator", env.creds["bkn.operator"]["password"])
    same = kernel.run(kernel.Node(env.rt), who, origin, face.verify_face, "kependudukan",
                      env.astronaut, samples.enrolment("astronaut"), plugged)  # fmt: skip
    assert same.kemiripan == pytest.approx(100)  # identical photo under the plugged engine
    with env.rt.sessions() as s:
        result = s.execute(
            text("select result from audit_record where action = 'verifikasi_wajah'")
        ).scalar_one()
    assert "contoh-warna-rata" in str(result)
