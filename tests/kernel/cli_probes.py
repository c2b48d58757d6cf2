"""Probes for the data-bearing CLI commands and the portal's subject-history search: each
command runs as `simpul …` would (the root's command table, `--akun` naming the account on
the node), on the world's database and clock. A command's outcome is read as an HTTP-like
answer: exit code 0 is an answer, a refusal carries the problem's status."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import typer
from typer.testing import CliRunner

from simpul.cli import LAZY_COMMANDS
from simpul.errors import SimpulError
from simpul.face import samples
from simpul.runtime import Runtime
from tests.kernel.federation_probes import FEDERATION_PROBES
from tests.kernel.probes import (
    JABAR,
    P3,
    PKS_000,
    SAFE_SQL,
    SHORT_NIK,
    Probe,
    World,
    _feedback_body,
    _held_output,
)
from tests.kernel.probes import (
    PROBES as HTTP_PROBES,
)

BAPPENAS = "bappenas.admin"
P4 = "pks-kemenkop-bkn"
runner = CliRunner()


@dataclass
class Outcome:
    status_code: int
    text: str
    headers: dict[str, str] = field(default_factory=dict)


def _root(w: World) -> typer.Typer:
    """`simpul` as simpul.cli wires it, on the world's runtime (its clock moves with the
    world's: an expired agreement is expired for the command too)."""
    if "cli" not in w.state:
        rt = Runtime(w.rt.settings, clock=w.clock)
        w.state["cli_runtime"] = rt
        root = typer.Typer(pretty_exceptions_enable=False)

        @root.callback()
        def _obj(ctx: typer.Context) -> None:
            ctx.obj = rt

        for name, entry in LAZY_COMMANDS.items():
            target = getattr(importlib.import_module(entry.module), entry.attr)
            if isinstance(target, typer.Typer):
                root.add_typer(target, name=name)
            else:
                root.command(name)(target)
        w.state["cli"] = root
    made: typer.Typer = w.state["cli"]
    return made


def _folder(w: World) -> Path:
    if "cli_dir" not in w.state:
        folder = w.rt.settings.data_dir / "uji-cli"
        folder.mkdir(parents=True, exist_ok=True)
        w.state["cli_dir"] = folder
    path: Path = w.state["cli_dir"]
    return path


def cli(w: World, *args: str) -> Outcome:
    result = runner.invoke(_root(w), list(args))
    exc = result.exception
    if isinstance(exc, SimpulError):
        return Outcome(exc.status, result.output)
    if exc is not None and not isinstance(exc, SystemExit):
        raise exc
    return Outcome(200 if result.exit_code == 0 else 403, result.output)


def _file(w: World, name: str, content: bytes) -> str:
    path = _folder(w) / name
    path.write_bytes(content)
    return str(path)


def _out(w: World, name: str) -> str:
    path = _folder(w) / name
    path.unlink(missing_ok=True)
    return str(path)


def _bpum_list(w: World) -> str:
    rows = ["nik,nama_lengkap,tanggal_lahir"] + [
        f"{a['nik']},{a['nama_lengkap']},{a['tanggal_lahir']}" for a in w.asn[:5]
    ]
    return _file(w, "bpum.csv", ("\n".join(rows) + "\n").encode())


def _face_photo(w: World) -> str:
    return _file(w, "wajah.png", samples.probes("astronaut")[0].data)


CLI_PROBES = [
    Probe("simpul registry export", None, "dukcapil.admin", "bkn.admin-penerima",
          lambda w, u: cli(w, "registry", "export", "kependudukan", "-o",
                           _out(w, "ekspor.csv"), "--akun", u),
          lambda w, u: cli(w, "registry", "export", "kependudukan", "-o",
                           _out(w, "ekspor.txt"), "--akun", u)),
    Probe("simpul audit subject", None, "dukcapil.auditor", "bkn.pengguna",
          lambda w, u: cli(w, "audit", "subject", w.people[3]["nik"], "--akun", u, "--json"),
          lambda w, u: cli(w, "audit", "subject", SHORT_NIK, "--akun", u, "--json")),
    Probe("POST /api/v1/audit/riwayat-subjek", None, "dukcapil.auditor", "bkn.pengguna",
          lambda w, u: w.client.post("/api/v1/audit/riwayat-subjek", headers=w.basic(u),
                                     json={"nik": w.people[3]["nik"]}),
          lambda w, u: w.client.post("/api/v1/audit/riwayat-subjek", headers=w.basic(u),
                                     json={"nik": SHORT_NIK})),
    Probe("POST /portal/audit/subjek", None, "dukcapil.auditor", "hub.admin",
          lambda w, u: w.form(u, "/portal/audit/subjek", "/portal/audit/subjek",
                              {"nik": w.people[3]["nik"]}),
          lambda w, u: w.form(u, "/portal/audit/subjek", "/portal/audit/subjek",
                              {"nik": SHORT_NIK})),
    Probe("simpul face verify", P3, "bkn.operator", "kemenkop.operator",
          lambda w, u: cli(w, "face", "verify", "--nik", w.photo_nik, "--foto", _face_photo(w),
                           "--akun", u),
          lambda w, u: cli(w, "face", "verify", "--nik", SHORT_NIK, "--foto", _face_photo(w),
                           "--akun", u)),
    Probe("simpul match", P4, "kemenkop.operator", "pemprov-jabar.operator",
          lambda w, u: cli(w, "match", "--dataset", "asn", "--alur", "bpum", "--input",
                           _bpum_list(w), "--output", _out(w, "hasil.csv"), "--akun", u)),
    Probe("simpul obligations feedback upload", P3, "bkn.operator", "dukcapil.auditor",
          lambda w, u: cli(w, "obligations", "feedback", "upload", P3,
                           _file(w, "balikan.csv", _feedback_body(w)), "--akun", u),
          lambda w, u: cli(w, "obligations", "feedback", "upload", P3,
                           _file(w, "kosong.csv", b"nik\n3273010101900001\n"), "--akun", u)),
    Probe("simpul obligations feedback download", P3, "dukcapil.admin", "dukcapil.auditor",
          lambda w, u: cli(w, "obligations", "feedback", "download", P3, "--out",
                           _out(w, "balikan-unduh.csv"), "--akun", u),
          lambda w, u: cli(w, "obligations", "feedback", "download", P3, "--kewajiban",
                           "entah", "--out", _out(w, "x.csv"), "--akun", u)),
    Probe("simpul regsosek agregat", PKS_000, JABAR, "bkn.pengguna",
          lambda w, u: cli(w, "regsosek", "agregat", "--akun", u, "--dimensi", "jenis_kelamin"),
          min_subjects=0),
    Probe("simpul regsosek mikro", PKS_000, JABAR, "bkn.pengguna",
          lambda w, u: cli(w, "regsosek", "mikro", "--akun", u, "--keluaran",
                           _out(w, "mikro.csv")),
          lambda w, u: cli(w, "regsosek", "mikro", "--akun", u, "--keluaran",
                           _out(w, "mikro.csv"), "--wilayah", "3x")),
    Probe("simpul regsosek bnba", PKS_000, JABAR, "bkn.pengguna",
          lambda w, u: cli(w, "regsosek", "bnba", "--akun", u, "--keluaran",
                           _out(w, "bnba.csv")),
          lambda w, u: cli(w, "regsosek", "bnba", "--akun", u, "--keluaran",
                           _out(w, "bnba.csv"), "--wilayah", "3x")),
    Probe("simpul regsosek olah", PKS_000, JABAR, "bkn.pengguna",
          lambda w, u: cli(w, "regsosek", "olah", "--akun", u, "--sql", SAFE_SQL),
          lambda w, u: cli(w, "regsosek", "olah", "--akun", u, "--sql", "COPY regsosek TO 'x'"),
          min_subjects=0),
    Probe("simpul regsosek tinjauan", PKS_000, BAPPENAS, "dukcapil.admin",
          lambda w, u: cli(w, "regsosek", "tinjauan", "--akun", u), min_subjects=0,
          prepare=lambda w: _held_output(w, take=False)),
    Probe("simpul regsosek tinjau", PKS_000, BAPPENAS, "dukcapil.admin",
          lambda w, u: cli(w, "regsosek", "tinjau", _held_output(w), "--akun", u,
                           "--alasan", "sel kecil"),
          min_subjects=0, prepare=lambda w: _held_output(w, take=False)),
]  # fmt: skip

PROBES: list[Probe] = [*HTTP_PROBES, *CLI_PROBES, *FEDERATION_PROBES]
