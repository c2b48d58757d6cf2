"""`simpul match`: one list start to finish from the command line."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simpul.cli import app
from simpul.registry.synth import sample_list

from .conftest import Env


def _env(env: Env) -> dict[str, str]:
    out = {
        "SIMPUL_DATA_DIR": str(env.settings.data_dir),
        "SIMPUL_SECRET_KEY": "test-secret-key",
        "SIMPUL_AUDIT_HMAC_KEY": "test-audit-hmac-key",
        "SIMPUL_PSEUDONYM_KEY": "test-pseudonym-key",
    }
    if env.settings.database_url:
        out["SIMPUL_DATABASE_URL"] = env.settings.database_url
    return out


def test_match_writes_results_and_berita_acara(env: Env, tmp_path: Path) -> None:
    listing = tmp_path / "kpm.csv"
    sample_list("kpm", 300, 6, env.world, listing)
    out, pdf = tmp_path / "hasil.csv", tmp_path / "ba.pdf"
    result = CliRunner().invoke(
        app,
        ["match", "--dataset", "asn", "--alur", "kpm", "--input", str(listing), "--output",
         str(out), "--akun", "kemensos.operator", "--berita-acara", str(pdf)],
        env=_env(env),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with listing.open() as fh:
        given = sum(1 for _ in csv.DictReader(fh))
    with out.open() as fh:
        source = fh.readline()
        rows = list(csv.DictReader(fh))
    assert source.startswith("# Sumber: Badan Kepegawaian Negara; perjanjian pks-kemensos-bkn")
    assert len(rows) == given
    assert {r["hasil"] for r in rows} <= {"ASN", "data_tidak_ditemukan"}
    assert pdf.read_bytes().startswith(b"%PDF")
    # Personal data on disk: the owner's only.
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(pdf.stat().st_mode) == 0o600
    assert "tidak_ditemukan" in result.output
    # The node's signed receipts beside each output (docs/receipts.md), 0600, each verified
    # offline against the node's receipt key and the very bytes it covers.
    key = CliRunner().invoke(app, ["audit", "receipt", "key"], env=_env(env)).stdout.strip()
    kept = [(out, "pemadanan.unduh", out), (pdf, "pemadanan.berita_acara", pdf),
            (out.with_name("hasil.csv.unggah"), "pemadanan.unggah", listing)]  # fmt: skip
    for beside, action, covered in kept:
        receipt = beside.with_name(beside.name + ".receipt")
        assert stat.S_IMODE(receipt.stat().st_mode) == 0o600
        check = ["audit", "receipt", "verify", "--receipt", f"@{receipt}", "--kunci", key,
                 "--metode", "CLI", "--jalur", action, "--isi", f"@{covered}"]  # fmt: skip
        verified = CliRunner().invoke(app, check, env=_env(env))
        assert verified.exit_code == 0, (action, verified.output)
    other = ["audit", "receipt", "verify", "--receipt", f"@{out}.receipt", "--kunci", key,
             "--metode", "CLI", "--jalur", "pemadanan.unduh", "--isi", f"@{pdf}"]  # fmt: skip
    assert CliRunner().invoke(app, other, env=_env(env)).exit_code == 1


def test_match_refused_without_a_grant(env: Env, tmp_path: Path) -> None:
    listing = tmp_path / "bpum.csv"
    sample_list("bpum", 50, 6, env.world, listing)
    result = CliRunner().invoke(
        app,
        ["match", "--dataset", "regsosek", "--input", str(listing), "--output",
         str(tmp_path / "o.csv"), "--akun", "kemenkop.operator"],
        env=_env(env),
    )  # fmt: skip
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    with pytest.raises(Exception, match="BNBA"):
        raise result.exception
