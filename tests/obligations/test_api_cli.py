"""The obligations feed, feedback upload/download and usage report over HTTP, and the
`simpul obligations` commands, on the same world."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from simpul.app import create_app
from simpul.audit import service as audit
from simpul.cli import app as cli_app
from simpul.config import Settings
from simpul.errors import SimpulError
from tests.obligations.conftest import World

BKN = "pks-dukcapil-bkn"


def bearer(client: TestClient, world: World, username: str) -> dict[str, str]:
    resp = client.post(
        "/api/v1/token", data={"client_id": username, "client_secret": world.secrets[username]}
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": "Bearer " + resp.json()["access_token"]}


def basic(world: World, username: str) -> dict[str, str]:
    raw = f"{username}:{world.secrets[username]}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def test_feed_upload_download_and_report_over_http(world: World) -> None:
    people = world.tables["kependudukan"]
    world.at(date(2024, 10, 1))
    niks = [p["nik"] for p in people[:3]]
    world.verify("bkn.klien", niks)
    world.at(date(2024, 11, 10))
    with TestClient(create_app(world.settings, world.rt), client=("10.20.0.5", 5000)) as client:
        headers = bearer(client, world, "bkn.klien")
        feed = client.get("/api/v1/kewajiban", headers=headers)
        assert feed.status_code == 200, feed.text
        rows = feed.json()
        assert {r["perjanjian"] for r in rows} == {BKN}  # only the caller's agreement
        fb = next(r for r in rows if r["kewajiban"] == "data-balikan-asn")
        assert (fb["status"], fb["belum_dipenuhi"], fb["tenggat"]) == ("terlambat", 3, "2024-10-31")
        nip = world.tables["asn"][0]["nip"]
        body = (
            "NIK;NIP;status_kepegawaian;kedudukan_hukum\n"
            f"{niks[0]};{nip};PNS;AKTIF\n{niks[1]};{nip};HONORER;AKTIF\n"
            f"{people[40]['nik']};{nip};PNS;AKTIF\n"
        )
        up = client.post(
            f"/api/v1/perjanjian/{BKN}/data-balikan",
            content=body.encode(),
            headers={**headers, "Content-Type": "text/csv"},
        )
        assert up.status_code == 200, up.text
        got = up.json()
        assert (got["jumlah_baris"], got["diterima"], got["ditolak"]) == (3, 1, 2)
        assert [(g["baris"], g["kode"]) for g in got["galat"]] == [
            (3, "nilai_tidak_valid"),
            (4, "tidak_terutang"),
        ]
        assert people[40]["nik"] not in up.text
        late = client.get(f"/api/v1/perjanjian/{BKN}/data-balikan/terlambat", headers=headers)
        assert late.json() == [
            {
                "kewajiban": "data-balikan-asn",
                "diakses": "2024-10-01",
                "tenggat": "2024-10-31",
                "belum": 2,
            }
        ]
        # Missing columns fail the whole file with the names of what is missing.
        bad = client.post(
            f"/api/v1/perjanjian/{BKN}/data-balikan",
            content=b"nik,nip\n1,2\n",
            headers={**headers, "Content-Type": "text/csv"},
        )
        assert bad.status_code == 422 and bad.json()["code"] == "kolom_wajib_tidak_ada"
        # Another recipient cannot see or feed this agreement.
        other = bearer(client, world, "kemenkop.klien")
        assert (
            client.get(f"/api/v1/perjanjian/{BKN}/data-balikan", headers=other).status_code == 403
        )
        report = client.get(
            f"/api/v1/perjanjian/{BKN}/laporan-penggunaan",
            params={"tahun": 2024, "semester": 2},
            headers=headers,
        )
        assert report.status_code == 200 and "<svg" in report.text
        pdf = client.get(
            f"/api/v1/perjanjian/{BKN}/laporan-penggunaan",
            params={"tahun": 2024, "semester": 2, "format": "pdf"},
            headers=headers,
        )
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content[:4] == b"%PDF"
    with TestClient(create_app(world.settings, world.rt), client=("10.10.0.5", 5000)) as client:
        down = client.get(
            f"/api/v1/perjanjian/{BKN}/data-balikan", headers=basic(world, "dukcapil.admin")
        )
        assert down.status_code == 200, down.text
        lines = down.text.strip().splitlines()
        # PKS 000 Pasal 7(2): the file names who sent the data, and under which agreement.
        assert lines[0] == (
            "# Sumber: Badan Kepegawaian Negara (data balikan); perjanjian pks-dukcapil-bkn "
            "versi 1 (PKS Pasal 7 ayat (2))."
        )
        assert len(lines) == 3 and lines[2].startswith(niks[0])
    # The download is recorded with the person in the file as its subject.
    with world.session() as s:
        got = [h for h in audit.subject_history(s, world.settings, niks[0])
               if h.action == "data_balikan.unduh"]  # fmt: skip
        assert [(h.actor, h.decision, h.agreement_id) for h in got] == [
            ("dukcapil.admin", "izin", BKN)
        ]
        assert audit.subject_history(s, world.settings, niks[1])[-1].action == "verifikasi"


def test_cli_list_due_feedback_and_documents(world: World, tmp_path: Path) -> None:
    people = world.tables["kependudukan"]
    world.at(date(2024, 10, 1))
    world.verify("bkn.klien", [p["nik"] for p in people[:2]])
    world.rt.close()
    runner = CliRunner()
    settings: Settings = world.settings
    env = {
        "SIMPUL_DATA_DIR": str(settings.data_dir),
        "SIMPUL_DATABASE_URL": settings.effective_database_url,
        "SIMPUL_AUDIT_HMAC_KEY": "test-audit-hmac-key",
        "SIMPUL_SECRET_KEY": "test-secret-key",
        "SIMPUL_PSEUDONYM_KEY": "test-pseudonym-key",
        "COLUMNS": "220",
    }
    # The CLI runs on the system clock (today, long after these dates).
    res = runner.invoke(
        cli_app, ["obligations", "list", "--agreement", BKN, "--all", "--json"], env=env
    )
    assert res.exit_code == 0, res.output
    listed = {d["kewajiban"]: d for d in json.loads(res.output)}
    assert listed["implementasi-teknis"]["tenggat"] == "2024-08-28"
    assert listed["data-balikan-asn"]["belum_dipenuhi"] == 2
    csv_file = tmp_path / "balikan.csv"
    nip = world.tables["asn"][0]["nip"]
    csv_file.write_text(
        f"nik,nip,status_kepegawaian,kedudukan_hukum\n{people[0]['nik']},{nip},PNS,AKTIF\n"
        f"{people[30]['nik']},{nip},PNS,AKTIF\n"
    )
    # On the system clock PKS 003 has ended (30 June 2026): feedback is neither received
    # nor handed out any more, on anyone's behalf, and each refusal is recorded.
    upload = ["obligations", "feedback", "upload", BKN, str(csv_file), "--akun", "bkn.klien"]
    res = runner.invoke(cli_app, upload, env=env)
    assert isinstance(res.exception, SimpulError), res.output
    assert res.exception.code == "perjanjian_berakhir"
    out = tmp_path / "unduhan.csv"
    download = ["obligations", "feedback", "download", BKN, "--out", str(out)]
    res = runner.invoke(cli_app, [*download, "--akun", "dukcapil.admin"], env=env)
    assert isinstance(res.exception, SimpulError) and not out.exists()
    assert res.exception.code == "perjanjian_berakhir"
    res = runner.invoke(cli_app, download, env=env)  # whose behalf: required
    assert res.exit_code == 2 and not out.exists()
    res = runner.invoke(cli_app, ["obligations", "feedback", "status", BKN], env=env)
    assert "terutang 2, diterima 0" in res.output
    out_pdf = tmp_path / "ba.pdf"
    res = runner.invoke(
        cli_app,
        ["obligations", "report", "berita-acara", "pks-bappenas-jabar", "--out", str(out_pdf)],
        env=env,
    )
    assert res.exit_code == 0, res.output
    assert out_pdf.read_bytes()[:4] == b"%PDF"
    res = runner.invoke(cli_app, ["obligations", "notify"], env=env)
    assert res.exit_code == 0 and "SMTP belum dikonfigurasi" in res.output
