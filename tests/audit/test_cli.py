"""`simpul audit …` end to end, through a root app wired as simpul.cli wires it."""

from __future__ import annotations

import json
from typing import Any

import typer
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from simpul.access.schemas import AccountCreate
from simpul.audit import merkle
from simpul.audit.service import AuditWriter
from simpul.commands.audit import app as audit_app
from simpul.config import Settings
from simpul.governance import actions
from simpul.kit.clock import SystemClock
from simpul.runtime import Runtime
from tests.audit import NIKS, event

runner = CliRunner()
QUIET: dict[str, Any] = {"checkpoint_every": None, "checkpoint_seconds": None}


def cli(settings: Settings) -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = Runtime(settings)
        ctx.call_on_close(ctx.obj.close)

    root.add_typer(audit_app, name="audit")
    return root


AUDITOR = "hub.auditor"


def _hub_auditor(settings: Settings) -> None:
    """An auditor that sees the whole node's log (configured: `hub_auditors`)."""
    rt = Runtime(settings)
    try:
        with rt.transaction() as s:
            actions.load_institutions(s, settings, rt.clock, actor="uji")
            spec = {"username": AUDITOR, "institution": "bappenas", "role": "auditor"}
            actions.create_account(s, settings, rt.clock, AccountCreate.model_validate(spec),
                                   actor="uji")  # fmt: skip
    finally:
        rt.close()


def test_audit_commands(settings: Settings, engine: Engine) -> None:
    app = cli(settings)
    empty = runner.invoke(app, ["audit", "verify"])
    assert empty.exit_code == 0, empty.output
    assert "Log audit utuh" in empty.output
    assert "kosong" in runner.invoke(app, ["audit", "checkpoint"]).output

    with AuditWriter(engine, settings, SystemClock(), **QUIET) as writer:
        for i in range(9):
            writer.append(event(i, subjects=2, decision="tolak" if i == 3 else "izin"))
    made = runner.invoke(app, ["audit", "checkpoint"])
    assert made.exit_code == 0 and "Checkpoint #9" in made.output

    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and "9 rekaman, 1 checkpoint" in ok.output

    nik = NIKS[4]  # in events 3 and 4
    # A person's history is read on behalf of an account, and the reading is recorded.
    assert runner.invoke(app, ["audit", "subject", nik]).exit_code == 2  # --akun required
    _hub_auditor(settings)
    app = cli(settings.model_copy(update={"hub_auditors": [AUDITOR]}))
    table = runner.invoke(app, ["audit", "subject", nik, "--akun", AUDITOR])
    assert table.exit_code == 0, table.output
    assert nik not in table.output
    assert "317114******0004" in table.output
    assert "tolak" in table.output and "2 rekaman" in table.output
    shown = runner.invoke(app, ["audit", "subject", nik, "--json", "--akun", AUDITOR])
    listed = json.loads(shown.output)
    assert [r["seq"] for r in listed[:2]] == [4, 5]
    assert listed[0]["decision"] == "tolak" and listed[0]["reason"] == "elemen_di_luar_hibah"
    assert listed[1]["elements"] == ["nama_lengkap"]
    assert [(r["action"], r["actor"]) for r in listed[2:]] == [("audit.riwayat_subjek", AUDITOR)]

    shown = runner.invoke(app, ["audit", "proof", "5"])
    assert shown.exit_code == 0, shown.output
    proof = json.loads(shown.stdout)
    # Anyone can check it from the JSON alone: path from the entry up to the signed root.
    leaf = merkle.leaf_hash(bytes.fromhex(proof["entry_hash"]))
    path = [bytes.fromhex(node) for node in proof["audit_path"]]
    root = bytes.fromhex(proof["checkpoint"]["root"])
    assert merkle.verify_inclusion(proof["leaf_index"], proof["tree_size"], leaf, path, root)
    missing = runner.invoke(app, ["audit", "proof", "10"])
    assert missing.exit_code != 0

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            conn.execute(text("DROP TRIGGER audit_record_no_delete"))
        conn.execute(text("DELETE FROM audit_record WHERE seq = 6"))
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "rekaman #6" in broken.output and "urutan_terputus" in broken.output
    report = json.loads(runner.invoke(app, ["audit", "verify", "--json"]).stdout)
    assert report["ok"] is False and report["first_bad_seq"] == 6
