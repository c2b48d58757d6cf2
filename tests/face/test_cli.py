"""`simpul face …` end to end on SQLite: enrol, stats, compare, engine change + reindex,
remove; refusals are clear errors; enrolment is audited without the photo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simpul.cli import app
from simpul.errors import SimpulError
from tests.conftest import init_instance
from tests.registry.builders import person, write_csv

runner = CliRunner()
SECRETS = {
    "SIMPUL_SECRET_KEY": "uji-rahasia",
    "SIMPUL_AUDIT_HMAC_KEY": "uji-hmac",
    "SIMPUL_PSEUDONYM_KEY": "uji-pseudonim",
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {"SIMPUL_DATA_DIR": str(tmp_path / "inst"), **SECRETS}
    init_instance(env)
    src = write_csv(tmp_path / "pend.csv", [person(i) for i in range(3)])
    loaded = runner.invoke(app, ["registry", "load", "kependudukan", str(src)], env=env)
    assert loaded.exit_code == 0, loaded.output
    written = runner.invoke(app, ["face", "samples", str(tmp_path / "foto")], env=env)
    assert written.exit_code == 0, written.output
    return env


def test_enrol_compare_reindex_remove(env: dict[str, str], tmp_path: Path) -> None:
    photos = tmp_path / "foto"
    nik = person(0)["nik"]
    enrolled = runner.invoke(
        app, ["face", "enrol", nik, str(photos / "rekam_camera.png"), "--reason", "uji"], env=env
    )
    assert enrolled.exit_code == 0, enrolled.output
    assert nik not in enrolled.output  # masked
    stats = runner.invoke(app, ["face", "stats", "--json"], env=env)
    assert json.loads(stats.output)["by_engine"] == {"dlib-resnet-v1": 1}

    same = runner.invoke(
        app, ["face", "compare", str(photos / "rekam_camera.png"),
              str(photos / "uji_camera_terang.jpg")], env=env,
    )  # fmt: skip
    other = runner.invoke(
        app, ["face", "compare", str(photos / "rekam_camera.png"),
              str(photos / "uji_astronaut_gelap.jpg")], env=env,
    )  # fmt: skip
    assert "sama" in same.output and "berbeda" in other.output

    # An agency plugs in another engine: stored embeddings are recomputed once.
    plugged = {**env, "SIMPUL_FACE_ENGINE": "tests.face.fake_engine:engine"}
    before = runner.invoke(app, ["face", "stats"], env=plugged)
    assert "perlu reindex" in before.output
    redone = runner.invoke(app, ["face", "reindex"], env=plugged)
    assert "diperbarui: 1" in redone.output, redone.output
    after = runner.invoke(app, ["face", "stats", "--json"], env=plugged)
    assert json.loads(after.output)["by_engine"] == {"contoh-warna-rata": 1}

    removed = runner.invoke(app, ["face", "remove", nik, "--reason", "uji"], env=env)
    assert removed.exit_code == 0, removed.output
    # The person's history, read by an auditor of the whole node (configured), is recorded.
    for args in (["institution", "load-seed"],
                 ["account", "create", "--institution", "bappenas", "--role", "auditor",
                  "--username", "hub.auditor"]):  # fmt: skip
        assert runner.invoke(app, args, env=env).exit_code == 0
    auditor = {**env, "SIMPUL_HUB_AUDITORS": '["hub.auditor"]'}
    history = runner.invoke(app, ["audit", "subject", nik, "--json", "--akun", "hub.auditor"],
                            env=auditor)  # fmt: skip
    actions = [h["action"] for h in json.loads(history.output)]
    assert actions == ["foto_wajah.rekam", "foto_wajah.hapus"]


def test_refusals_are_clear(env: dict[str, str], tmp_path: Path) -> None:
    photos = tmp_path / "foto"
    cat = runner.invoke(
        app,
        ["face", "enrol", person(1)["nik"], str(photos / "tanpa_wajah_chelsea.jpg"),
         "--reason", "uji"],
        env=env,
    )  # fmt: skip
    assert isinstance(cat.exception, SimpulError)
    assert cat.exception.code == "wajah_tidak_terdeteksi"
    stranger = runner.invoke(
        app,
        ["face", "enrol", "3273011302900999", str(photos / "rekam_astronaut.png"),
         "--reason", "uji"],
        env=env,
    )  # fmt: skip
    assert isinstance(stranger.exception, SimpulError)
    assert stranger.exception.code == "nik_tidak_terdaftar"
    assert "3273011302900999" not in stranger.exception.detail
    missing = runner.invoke(app, ["face", "remove", person(2)["nik"], "--reason", "x"], env=env)
    assert isinstance(missing.exception, SimpulError)
    assert missing.exception.code == "foto_tidak_ditemukan"


def test_verify_as_an_account_is_decided_and_audited(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`simpul face verify --akun …` answers as the API does, under the account's agreement;
    an account without the grant is refused; each check is in the audit log."""
    from argon2 import PasswordHasher
    from sqlalchemy import text

    from simpul.access import passwords as pw
    from simpul.config import load_settings
    from simpul.demo.service import build_governance
    from simpul.runtime import Runtime

    monkeypatch.setattr(
        pw, "DEFAULT", pw.Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024))
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    rt = Runtime(load_settings(Path(env["SIMPUL_DATA_DIR"])))
    build_governance(rt, say=lambda _m: None)
    photos = tmp_path / "foto"
    nik = person(0)["nik"]
    enrolled = runner.invoke(
        app, ["face", "enrol", nik, str(photos / "rekam_astronaut.png"), "--reason", "uji"],
        env=env,
    )  # fmt: skip
    assert enrolled.exit_code == 0, enrolled.output

    def verify(account: str, photo: str) -> tuple[int, str]:
        result = runner.invoke(
            app, ["face", "verify", "--nik", nik, "--foto", str(photos / photo),
                  "--akun", account], env=env,
        )  # fmt: skip
        return result.exit_code, result.output

    code, output = verify("bkn.operator", "uji_astronaut_terang.jpg")
    assert code == 0, output
    answer = json.loads(output)
    assert answer["hasil"] == "ditemukan" and answer["kemiripan"] > 50
    code, output = verify("bkn.operator", "uji_camera_terang.jpg")
    assert code == 0 and json.loads(output)["kemiripan"] < 50
    code, output = verify("kemenkop.operator", "uji_astronaut_terang.jpg")
    assert code != 0  # no face-verification grant in PKS 004
    with rt.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT actor, decision FROM audit_record WHERE service = 'verifikasi_wajah' "
            "ORDER BY seq")).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [
        ("bkn.operator", "izin"),
        ("bkn.operator", "izin"),
        ("kemenkop.operator", "tolak"),
    ]
    rt.close()
