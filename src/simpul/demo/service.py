"""Build the demo world: synthetic registries, institutions, the four PKS with their demo
extension addenda, accounts for every party and role, and weeks of past usage."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from simpul.access import service as access
from simpul.access import totp
from simpul.access.schemas import AccountCreate, AccountOut, InstitutionUpdate
from simpul.agreements.lifecycle import local_date
from simpul.config import write_private
from simpul.demo.usage import demo_scale, simulate_usage
from simpul.governance import actions
from simpul.kit.clock import FixedClock
from simpul.kit.numbers import angka
from simpul.obligations import service as obligations
from simpul.obligations.deadlines import Status
from simpul.runtime import Runtime

DATASETS = ("kependudukan", "asn", "dtks", "regsosek")
ACTOR = "demo"
# Bappenas runs the Satu Data Indonesia secretariat: the hub administrator sits there.
HUB_INSTITUTION = "bappenas"
PROVIDERS = ("dukcapil", "bkn", "kemensos", "bappenas")
# Recipient → the agreements it receives data under (PKS 000, 001, 003, 004).
RECIPIENTS = {
    "bkn": ["pks-dukcapil-bkn", "pks-kemensos-bkn"],
    "kemensos": ["pks-kemensos-bkn"],
    "kemenkop": ["pks-kemenkop-bkn"],
    "pemprov-jabar": ["pks-bappenas-jabar"],
}
# The demo is reached from this machine: loopback joins each institution's access point.
DEMO_ACCESS_POINT = "127.0.0.0/8"


def build_registries(
    rt: Runtime, people: int, seed: int, say: Callable[[str], None]
) -> dict[str, int]:
    from simpul.registry.synth import generate_world

    synth_dir: Path = rt.settings.data_dir / "synth"
    say(f"Membangun Indonesia sintetis: {angka(people)} penduduk, benih {seed} …")
    paths = generate_world(people, seed, synth_dir)
    loaded: dict[str, int] = {}
    for code in DATASETS:
        with rt.transaction() as session:
            report = actions.load_registry(
                session, rt.settings, rt.clock, code, paths[code], actor=ACTOR
            )
        with rt.transaction() as session:
            actions.write_snapshot(session, rt.settings, rt.clock, code, actor=ACTOR)
        loaded[code] = report.rows_loaded
        say(f"  {code}: {angka(report.rows_loaded)} rekaman dimuat, {report.rows_rejected} ditolak")
    return loaded


def build_governance(rt: Runtime, say: Callable[[str], None]) -> list[dict[str, Any]]:
    """Institutions, agreements (+ demo addenda) and accounts; returns the credentials.
    Each step is a governance action, so the demo's log starts with its own set-up."""
    settings, clock = rt.settings, rt.clock
    with rt.transaction() as session:
        actions.load_institutions(session, settings, clock, actor=ACTOR)
        for known in access.list_institutions(session):
            cidrs = sorted({*known.access_cidrs, DEMO_ACCESS_POINT})
            actions.update_institution(
                session, settings, clock, known.code, InstitutionUpdate(access_cidrs=cidrs),
                actor=ACTOR, reason="Titik akses demo (mesin ini)",
            )  # fmt: skip
        actions.load_seed(session, settings, clock, actor=ACTOR, demo=True)
    say("Instansi dan empat PKS dimuat (dengan ADENDUM DEMO perpanjangan).")
    creds = [create_demo_account(rt, spec) for spec in account_plans()]
    say(f"{len(creds)} akun dibuat untuk setiap pihak dan peran (pengguna dengan faktor kedua).")
    return creds


def account_plans() -> list[dict[str, Any]]:
    """The demo's accounts: every party and role (the federated demo takes each
    institution's own on its node)."""
    plan: list[dict[str, Any]] = [
        {"institution": HUB_INSTITUTION, "role": "hub_admin", "username": "hub.admin"}
    ]
    for inst in PROVIDERS:
        plan.append({"institution": inst, "role": "provider_admin", "username": f"{inst}.admin"})
        plan.append({"institution": inst, "role": "auditor", "username": f"{inst}.auditor"})
    for inst, ids in RECIPIENTS.items():
        plan += [
            {"institution": inst, "role": "recipient_admin", "username": f"{inst}.admin-penerima"},
            {"institution": inst, "role": "data_user", "username": f"{inst}.pengguna",
             "agreement_ids": ids},
            {"institution": inst, "role": "operator", "username": f"{inst}.operator",
             "operator_of": f"{inst}.pengguna"},
            {"institution": inst, "role": "data_user", "username": f"{inst}.klien",
             "kind": "client", "agreement_ids": ids},
            # Each recipient witnesses its provider's log (docs/audit.md).
            {"institution": inst, "role": "saksi", "username": f"{inst}.saksi",
             "kind": "client"},
        ]  # fmt: skip
    return plan


def create_demo_account(rt: Runtime, spec: dict[str, Any]) -> dict[str, Any]:
    """One account (a governance action); users are enrolled in the second factor. Its
    entry in the credentials file."""
    client = spec.get("kind") == "client"
    otp: dict[str, Any] = {}
    with rt.transaction() as session:
        issued = actions.create_account(
            session, rt.settings, rt.clock, AccountCreate.model_validate(spec), actor=ACTOR
        )
        if not client:
            otp = _enrol_second_factor(rt, session, issued.account)
    secret = issued.secret.get_secret_value()
    return {
        "institution": spec["institution"],
        "role": spec["role"],
        "kind": "client" if client else "user",
        "username": spec["username"],
        "password": None if client else secret,
        "client_id": spec["username"] if client else None,
        "client_secret": secret if client else None,
        "agreements": spec.get("agreement_ids", []),
        **otp,
    }


def _enrol_second_factor(rt: Runtime, session: Session, account: AccountOut) -> dict[str, Any]:
    """Every demo user is enrolled in TOTP as if from a phone, so that a newcomer signs in
    as the node's users do; the secret goes to the credentials file (`simpul account
    demo-code` prints the current code) with the recovery codes."""
    enrolment = totp.begin(session, rt.settings, account.id, account.username,
                           account.institution, clock=rt.clock)  # fmt: skip
    code = totp.current_code(enrolment.secret, rt.clock.now().timestamp())
    codes = actions.confirm_second_factor(
        session, rt.settings, rt.clock, account.username, code, actor=ACTOR
    )
    return {"totp_secret": enrolment.secret, "recovery_codes": codes}


def demo_witnesses(rt: Runtime, url: str) -> list[tuple[Path, str, str]]:
    """One witness per recipient institution, in `DATA_DIR/saksi/<institution>`, following
    this node's log at `url` and registered with it (once): (folder, client_id, secret) each.
    Done when the demo is served, so a world built with --no-serve has no witnesses whose
    silence `audit verify` would report."""
    from simpul.audit import signing, witnessed
    from simpul.audit.witness import WitnessState

    creds = json.loads((rt.settings.data_dir / "demo-credentials.json").read_text("utf-8"))
    origin, log_key = signing.log_origin(rt.settings), signing.log_verifier_key(rt.settings)
    out: list[tuple[Path, str, str]] = []
    for inst in RECIPIENTS:
        cred = next((c for c in creds if c["username"] == f"{inst}.saksi"), None)
        if cred is None:  # a world built before witnesses
            continue
        folder = rt.settings.data_dir / "saksi" / inst
        state = (WitnessState(folder) if (folder / "saksi.nama").exists()
                 else WitnessState.create(folder, f"saksi.{inst}.demo"))  # fmt: skip
        state.follow(origin, log_key, url)
        with rt.transaction() as session:
            if state.name not in {w.name for w in witnessed.witnesses(session)}:
                actions.register_witness(
                    session, rt.settings, rt.clock, state.name, state.verifier_key,
                    cred["client_id"], actor=ACTOR,
                )  # fmt: skip
        out.append((folder, cred["client_id"], cred["client_secret"]))
    return out


def write_credentials(data_dir: Path, creds: list[dict[str, Any]]) -> Path:
    return write_private(
        data_dir / "demo-credentials.json", json.dumps(creds, ensure_ascii=False, indent=2)
    )


def build_world(
    rt: Runtime,
    people: int,
    seed: int,
    say: Callable[[str], None] = print,
    *,
    usage_weeks: int = 5,
) -> Path:
    """Everything a newcomer needs to try the product; returns the credentials file.

    Governance is set up as of `usage_weeks` ago and the weeks since are lived through
    (`simulate_usage`), so the audit log, reports and feedback owed start populated and the
    chain runs in time order."""
    rt.initialise()  # the schema, and the instance id recorded in the data folder
    build_registries(rt, people, seed, say)
    today = local_date(rt.clock.now())
    start = today - timedelta(weeks=usage_weeks)
    # 07:00 WIB on the first day: the hub is set up before the offices open.
    past_clock = FixedClock(datetime.combine(start, time(0, 0), tzinfo=UTC))
    past = Runtime(rt.settings, clock=past_clock)
    try:
        creds = build_governance(past, say)
        if usage_weeks > 0:
            simulate_usage(
                past, past_clock, start, today - timedelta(days=1),
                scale=demo_scale(people), seed=seed, say=say,
            )  # fmt: skip
    finally:
        past.close()
    fulfil_past_duties(rt, say)
    path = write_credentials(rt.settings.data_dir, creds)
    build_face_photos(rt, say)
    return path


# Duties due within this many days before today stay owed in the demo: a newcomer's first
# screen shows a realistic mix (most past duties done, a few late, the next ones coming).
RECENT_DAYS = 45


def fulfil_past_duties(rt: Runtime, say: Callable[[str], None]) -> int:
    """Record most of the demo agreements' past dated duties as fulfilled, as the parties
    would have before Simpul ran: on a date before the deadline, one in five a little late;
    one in six is left overdue (parties do miss some). Duties due in the last `RECENT_DAYS`
    days and feedback data (counted from the log) stay owed. Each is
    `obligations.service.record_fulfilment`, audited like any other."""
    settings, clock = rt.settings, rt.clock
    today = local_date(clock.now())
    done = 0
    with rt.transaction() as session:
        found = obligations.deadlines(session, settings, clock, open_only=True)
        past = [d for d in found if d.status is Status.TERLAMBAT and d.due_on is not None
                and d.kind != "data_balikan" and (today - d.due_on).days > RECENT_DAYS]  # fmt: skip
        for n, d in enumerate(sorted(past, key=lambda d: (d.agreement_id, d.key()))):
            assert d.due_on is not None
            if n % 6 == 5:
                continue  # still owed
            late = n % 5 == 4
            on = d.due_on + timedelta(days=6) if late else d.due_on - timedelta(days=2 + n % 9)
            obligations.record_fulfilment(
                session, settings, clock, d.agreement_id, d.duty_id, period=d.period,
                fulfilled_on=min(on, today),
                note="Arsip demo: dipenuhi sebelum Simpul dipakai", actor=ACTOR,
            )  # fmt: skip
            done += 1
    say(f"{done} kewajiban lampau dicatat terpenuhi (arsip demo); yang terbaru tetap terbuka.")
    return done


def build_face_photos(rt: Runtime, say: Callable[[str], None]) -> None:
    """Face photos for a few synthetic NIKs: scikit-image's sample faces, never a real
    person's photo (PKS 003 Pasal 2(1)b-c; see simpul.face.demo)."""
    from simpul.face.demo import enrol_demo_photos

    enrol_demo_photos(rt, say)


def howto(data_dir: Path, host: str, port: int) -> str:
    """A short how-to whose command lines (those starting with two spaces and `curl` or a
    variable) run as they are against this demo instance: one per web service."""
    import pyarrow.parquet as pq

    creds_file = data_dir / "demo-credentials.json"
    creds = {c["username"]: c for c in json.loads(creds_file.read_text(encoding="utf-8"))}
    base = f"http://{host}:{port}"
    # Synthetic people to try the services on: anyone, a civil servant, a DTKS household.
    registry = data_dir / "registry"
    person = pq.read_table(registry / "kependudukan.parquet").slice(0, 1).to_pylist()[0]
    other = pq.read_table(registry / "kependudukan.parquet").slice(1, 1).to_pylist()[0]
    civil = pq.read_table(registry / "asn.parquet").slice(0, 1).to_pylist()[0]
    poor = pq.read_table(registry / "dtks.parquet", columns=["nik"]).slice(0, 1).to_pylist()[0]
    bkn = creds["bkn.operator"]
    json_header = "-H 'Content-Type: application/json'"

    def token(var: str, client: dict[str, Any]) -> str:
        return (
            f"  {var}=$(curl -sf {base}/api/v1/token -d client_id={client['client_id']} "
            f"-d client_secret={client['client_secret']} | python3 -c "
            "'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
        )

    def bearer(var: str) -> str:
        return f'curl -sf -H "Authorization: Bearer ${var}"'

    verify_body = json.dumps(
        {"nik": person["nik"], "elemen": {"nama_lengkap": person["nama_lengkap"],
                                          "tanggal_lahir": str(person["tanggal_lahir"])}}
    )  # fmt: skip
    batch_body = json.dumps(
        {"item": [{"nik": civil["nik"], "nama_lengkap": civil["nama_lengkap"],
                   "tanggal_lahir": str(civil["tanggal_lahir"])},
                  {"nik": other["nik"], "nama_lengkap": other["nama_lengkap"],
                   "tanggal_lahir": str(other["tanggal_lahir"])}]}
    )  # fmt: skip
    return "\n".join(
        [
            "Coba layanan (kredensial lengkap di demo-credentials.json):",
            f"  curl -sf {base}/healthz",
            "  # BKN memverifikasi elemen kependudukan (HTTP Basic, PKS 003 Pasal 2(1)a):",
            f"  curl -sf -u '{bkn['username']}:{bkn['password']}' {json_header} "
            f"{base}/api/v1/datasets/kependudukan/verifikasi -d {shlex.quote(verify_body)}",
            "  # BKN: token klien; profil IKD 9 elemen (PKS 003 Pasal 2(1)d) dan status DTKS "
            "(PKS 001):",
            token("TOKEN_BKN", creds["bkn.klien"]),
            f"  {bearer('TOKEN_BKN')} {json_header} {base}/api/v1/datasets/kependudukan/akses-nik "
            f"""-d '{{"nik": "{person["nik"]}"}}'""",
            f"  {bearer('TOKEN_BKN')} {json_header} {base}/api/v1/datasets/dtks/cek-status "
            f"""-d '{{"nik": "{poor["nik"]}"}}'""",
            "  # Kemenkop: cek status ASN satu per satu dan per daftar (PKS 004):",
            token("TOKEN_KOP", creds["kemenkop.klien"]),
            f"  {bearer('TOKEN_KOP')} {json_header} {base}/api/v1/datasets/asn/cek-status "
            f"""-d '{{"nik": "{civil["nik"]}"}}'""",
            f"  {bearer('TOKEN_KOP')} {json_header} {base}/api/v1/datasets/asn/cek-status/batch "
            f"-d {shlex.quote(batch_body)}",
            "  # Perjanjian yang mengikat akun ini dan statusnya:",
            f"  {bearer('TOKEN_KOP')} {base}/api/v1/perjanjian",
            f"  Dokumentasi API: {base}/docs",
            f"Portal web: {base}/portal/ — masuk sebagai {bkn['username']} / {bkn['password']} "
            "(operator BKN); admin penyedia dukcapil.admin, auditor dukcapil.auditor, admin hub "
            "hub.admin (kata sandi di demo-credentials.json).",
            "  # Setiap pengguna demo memakai faktor kedua (TOTP): kode saat ini untuk layar "
            "'Kode faktor kedua' (atau pindai totp_secret ke aplikasi autentikator):",
            f"  simpul --data-dir {shlex.quote(str(data_dir))} account demo-code {bkn['username']}",
        ]
    )
