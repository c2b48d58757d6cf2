"""The access CLI end to end, on a local root that hands the commands a Runtime."""

from __future__ import annotations

import json

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from simpul.access import auth
from simpul.access.models import Account
from simpul.commands.access import account_app, device_app, institution_app
from simpul.config import Settings
from simpul.db import transaction
from simpul.errors import SimpulError
from simpul.runtime import Runtime

runner = CliRunner()


@pytest.fixture
def cli(settings: Settings) -> typer.Typer:
    root = typer.Typer(pretty_exceptions_enable=False)

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = Runtime(settings)
        ctx.call_on_close(ctx.obj.close)

    root.add_typer(institution_app, name="institution")
    root.add_typer(account_app, name="account")
    root.add_typer(device_app, name="device")
    return root


def _ok(cli: typer.Typer, *args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def _error(cli: typer.Typer, *args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code != 0
    assert isinstance(result.exception, SimpulError), result.output
    return result.exception.code


def test_institutions(cli: typer.Typer) -> None:
    assert "6 dibuat" in _ok(cli, "institution", "load-seed")
    assert "6 tetap" in _ok(cli, "institution", "load-seed")
    codes = {i["code"] for i in json.loads(_ok(cli, "institution", "list", "--json"))}
    assert {"dukcapil", "bkn", "pemprov-jabar"} <= codes
    assert "Jl. Mayjen Sutoyo" in _ok(cli, "institution", "show", "bkn")
    result = runner.invoke(
        cli,
        ["institution", "rename", "kemenkop", "Kementerian Koperasi", "--reason", "Perpres 2024"],
    )
    assert result.exit_code == 0, result.output
    assert "→ Kementerian Koperasi" in result.stdout
    assert "PKS 003 Pasal 6" in result.stderr
    shown = json.loads(_ok(cli, "institution", "show", "kemenkop", "--json"))
    assert shown["name"] == "Kementerian Koperasi"
    assert shown["riwayat_nama"][0]["reason"] == "Perpres 2024"
    assert _error(cli, "institution", "show", "tidak-ada") == "instansi_tidak_ditemukan"


def test_accounts_print_the_secret_once_on_stdout(cli: typer.Typer, settings: Settings) -> None:
    _ok(cli, "institution", "load-seed")
    result = runner.invoke(
        cli,
        [
            "account",
            "create",
            "--institution",
            "bkn",
            "--role",
            "data_user",
            "--username",
            "siti.bkn",
            "--agreement",
            "pks-003",
            "--agreement",
            "pks-004",
        ],
    )
    assert result.exit_code == 0, result.output
    password = result.stdout.strip()
    assert len(result.stdout.splitlines()) == 1 and len(password) == 20
    assert "ditampilkan sekali" in result.stderr and password not in result.stderr

    client = runner.invoke(
        cli,
        [
            "account",
            "create",
            "--institution",
            "bkn",
            "--role",
            "data_user",
            "--username",
            "bkn-siasn",
            "--kind",
            "client",
            "--agreement",
            "pks-003",
        ],
    )
    assert client.exit_code == 0, client.output
    secret = client.stdout.strip()
    assert secret.startswith("spl_cs_")

    operator = _ok(
        cli,
        "account",
        "create",
        "--institution",
        "bkn",
        "--role",
        "operator",
        "--username",
        "opr.bkn",
        "--operator-of",
        "siti.bkn",
    )
    assert len(operator.strip()) == 20
    listed = {a["username"]: a for a in json.loads(_ok(cli, "account", "list", "--json"))}
    assert listed["opr.bkn"]["operator_of"] == "siti.bkn"
    assert listed["siti.bkn"]["agreement_ids"] == ["pks-003", "pks-004"]
    assert password not in json.dumps(listed) and secret not in json.dumps(listed)
    assert "siti.bkn" in _ok(cli, "account", "list")

    rt = Runtime(settings)
    try:
        with rt.transaction() as s:
            assert auth.authenticate_password(s, "siti.bkn", password).username == "siti.bkn"
            token = auth.issue_token(s, "bkn-siasn", secret).access_token.get_secret_value()
            stored = " ".join(s.execute(select(Account.secret_hash)).scalars())
        assert password not in stored and secret not in stored

        new_secret = _ok(cli, "account", "reset-secret", "bkn-siasn").strip()
        assert new_secret.startswith("spl_cs_") and new_secret != secret
        assert "dicabut" in _ok(cli, "account", "revoke", "siti.bkn", "--reason", "mutasi")
        with transaction(rt.sessions) as s:
            for kw, code in [
                ({"basic": ("siti.bkn", password)}, "akun_dicabut"),
                ({"basic": ("opr.bkn", operator.strip())}, "akun_dicabut"),
                ({"bearer": token}, "kredensial_tidak_valid"),  # killed by the reset
            ]:
                with pytest.raises(SimpulError) as info:
                    auth.resolve_principal(s, **kw)  # type: ignore[arg-type]
                assert info.value.code == code
    finally:
        rt.close()

    assert _error(cli, "account", "revoke", "siti.bkn", "--reason", "lagi") == "akun_sudah_dicabut"
    assert (
        _error(
            cli,
            "account",
            "create",
            "--institution",
            "bkn",
            "--role",
            "data_user",
            "--username",
            "A B",
        )
        == "masukan_tidak_valid"
    )
    missing_reason = runner.invoke(cli, ["account", "revoke", "opr.bkn"])
    assert missing_reason.exit_code == 2  # --reason is required


def test_devices(cli: typer.Typer) -> None:
    _ok(cli, "institution", "load-seed")
    assert "terdaftar" in _ok(
        cli, "device", "register", "--institution", "bkn", "--serial", "CR-01", "--sam", "SAM-01"
    )
    assert "aktif" in _ok(cli, "device", "activate", "CR-01")
    assert "nonaktif" in _ok(cli, "device", "deactivate", "CR-01", "--reason", "PKS berakhir")
    devices = json.loads(_ok(cli, "device", "list", "--json"))
    assert [(d["serial"], d["status"], d["deactivation_reason"]) for d in devices] == [
        ("CR-01", "nonaktif", "PKS berakhir")
    ]
    assert "CR-01" in _ok(cli, "device", "list", "--institution", "bkn")
    assert _error(cli, "device", "activate", "CR-99") == "perangkat_tidak_ditemukan"
