"""`simpul registry export` on behalf of the registry's provider administrator only: every
other account is refused, with the refusal in the log; an export is recorded with the
people exported as its subjects, and its file is 0600 and cites the source (PKS 000
Pasal 7 ayat (2)). SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import pytest
import typer
from openpyxl import load_workbook
from typer.testing import CliRunner

from simpul import kernel
from simpul.access import service as access
from simpul.agreements.schemas import Mechanism
from simpul.audit import service as audit
from simpul.commands.registry import app as registry_app
from simpul.db import transaction
from simpul.errors import SimpulError
from simpul.governance import actions
from simpul.runtime import Runtime
from tests.governance.conftest import ADMIN, PEOPLE, World, records
from tests.registry.builders import person

runner = CliRunner()
# The refused accounts' institutions (the world in tests/governance/conftest.py).
INSTITUTION_OF = {"bkn.admin-penerima": "bkn", "dukcapil.auditor": "dukcapil",
                  "bkn.pengguna": "bkn", "hub.admin": "bappenas", "bkn.admin": "bkn"}  # fmt: skip
SOURCE = "# Sumber: Direktorat Jenderal Kependudukan dan Pencatatan Sipil, Kementerian Dalam Negeri"


@pytest.fixture
def cli(world: World) -> typer.Typer:
    root = typer.Typer(pretty_exceptions_enable=False)

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = Runtime(world.settings, clock=world.clock)
        ctx.call_on_close(ctx.obj.close)

    root.add_typer(registry_app, name="registry")
    return root


def _export(cli: typer.Typer, out: Path, *akun: str) -> tuple[int, str]:
    result = runner.invoke(cli, ["registry", "export", "kependudukan", "-o", str(out), *akun])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_the_providers_admin_exports_a_cited_owner_only_file(
    world: World, cli: typer.Typer
) -> None:
    out = world.files / "ekspor.csv"
    code, output = _export(cli, out, "--akun", ADMIN)
    assert code == 0, output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(SOURCE) and "PKS 000 Pasal 7 ayat (2)" in lines[0]
    rows = list(csv.reader(lines[1:]))
    assert rows[0][0] == "nik" and len(rows) == 1 + PEOPLE
    (rec,) = records(world.db)
    assert (rec["action"], rec["decision"], rec["actor"]) == ("registri.ekspor", "izin", ADMIN)
    assert (rec["dataset"], rec["institution"]) == ("kependudukan", "dukcapil")
    assert rec["subject_count"] == len(rows) - 1 == rec["result"]["baris"]
    assert rec["detail"]["berkas"] == "ekspor.csv" and rec["detail"]["melalui"].startswith("cli")
    # The people exported can each see it in their own history (UU PDP Pasal 32).
    with world.db() as s:
        history = audit.subject_history(s, world.settings, person(0)["nik"])
        assert [h.action for h in history] == ["registri.ekspor"]


@pytest.mark.parametrize(
    ("akun", "code"),
    [
        ("bkn.admin-penerima", "peran_tidak_berwenang"),  # a recipient's administrator
        ("dukcapil.auditor", "peran_tidak_berwenang"),  # the provider's own auditor
        ("bkn.pengguna", "peran_tidak_berwenang"),  # a data user
        ("hub.admin", "peran_tidak_berwenang"),  # the hub does not take a registry away
        ("bkn.admin", "bukan_penyedia"),  # another provider's administrator
        ("tidak.ada", "akun_tidak_ditemukan"),
    ],
)
def test_anyone_else_is_refused_and_the_refusal_recorded(
    world: World, cli: typer.Typer, akun: str, code: str
) -> None:
    out = world.files / "ekspor.csv"
    exit_code, output = _export(cli, out, "--akun", akun)
    assert exit_code == 1
    assert code in output and "Ditolak" in output
    assert not out.exists() and not list(world.files.glob(".*tmp-*"))
    (rec,) = records(world.db)
    assert (rec["action"], rec["decision"], rec["reason"]) == ("registri.ekspor", "tolak", code)
    assert rec["actor"] == akun and rec["subject_count"] == 0
    assert rec["institution"] == INSTITUTION_OF.get(akun)


def test_a_revoked_provider_admin_is_refused(world: World, cli: typer.Typer) -> None:
    with transaction(world.db) as s:
        access._revoke_account(s, ADMIN, actor="uji", reason="pindah tugas", clock=world.clock)
    exit_code, output = _export(cli, world.files / "ekspor.csv", "--akun", ADMIN)
    assert exit_code == 1 and "akun_dicabut" in output
    assert [r["reason"] for r in records(world.db)] == ["akun_dicabut"]


def test_the_account_is_required(world: World, cli: typer.Typer) -> None:
    exit_code, output = _export(cli, world.files / "ekspor.csv")
    assert exit_code == 2 and "--akun" in output
    assert records(world.db) == []


def _run_export(world: World, out: Path, username: str) -> actions.registry.Export:
    origin = kernel.Origin(Mechanism.BATCH, action="registri.ekspor", dataset="kependudukan",
                           internal=True)  # fmt: skip
    rt = Runtime(world.settings, clock=world.clock)
    try:
        return kernel.run(kernel.Node(rt), kernel.AccountName(username), origin,
                          actions.export_registry, "kependudukan", out, via="uji")  # fmt: skip
    finally:
        rt.close()


def test_xlsx_export_also_cites_the_source_first(world: World) -> None:
    out = world.files / "ekspor.xlsx"
    done = _run_export(world, out, ADMIN)
    assert done.rows == PEOPLE
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    sheet = load_workbook(out, read_only=True)["data"]
    first, header, *rows = list(sheet.iter_rows(values_only=True))
    assert str(first[0]).startswith(SOURCE) and header[0] == "nik" and len(rows) == PEOPLE
    assert records(world.db)[0]["subject_count"] == PEOPLE


def test_a_refusal_is_recorded_and_raised(world: World) -> None:
    """The kernel writes the refusal after the call's transaction is rolled back, then
    raises it: the record stays, no file is left."""
    with pytest.raises(SimpulError) as refused:
        _run_export(world, world.files / "x.csv", "bkn.pengguna")
    assert refused.value.code == "peran_tidak_berwenang"
    assert "admin penyedia" in refused.value.detail
    assert [r["reason"] for r in records(world.db)] == ["peran_tidak_berwenang"]
    assert not (world.files / "x.csv").exists()
