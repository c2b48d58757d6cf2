"""`simpul demo --federated`: the demo world as a federation on this machine.

One node per institution (Dukcapil, BKN, Kemensos, Kemenkop, Bappenas, Pemprov Jabar),
each in its own folder under the federation folder with its own secrets, database,
registries (only its own), agreements, accounts, audit log, TLS certificate and ports;
the federation authority with its CA and the signed directory beside them; one witness
per recipient following each provider it receives from. `federasi.json` records what was
built, so that serving again needs nothing rebuilt. Every node folder is an ordinary data
folder: `simpul --data-dir <folder> …` works on it as on any node.

    <root>/otoritas/          the authority (key, members, CA)
    <root>/direktori.note     the signed directory every node reads
    <root>/synth/             the synthetic world, generated once; each provider loads its part
    <root>/<member>/          a node's data folder (simpul.env, database, federasi/ keys)
    <root>/<member>/saksi/<provider>/   the member's witness of that provider's log
    <root>/federasi.json      members, folders and ports
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simpul.config import Settings, load_settings, write_demo_secrets, write_private
from simpul.demo.federated import build_node_governance, load_owned_registries, plan
from simpul.demo.service import DATASETS, account_plans, build_face_photos, write_credentials
from simpul.runtime import Runtime

if TYPE_CHECKING:
    from simpul.federation.authority import Authority

MEMBERS = ("dukcapil", "bkn", "kemensos", "kemenkop", "bappenas", "pemprov-jabar")
FEDERATION = "simpul-demo"
MANIFEST = "federasi.json"
DIRECTORY = "direktori.note"
DIRECTORY_DAYS = 30.0  # the demo re-signs it whenever it is served


@dataclass(frozen=True)
class NodeSpec:
    member: str
    folder: str
    api_port: int
    fed_port: int
    provider: bool  # it holds a registry (it runs a matching worker)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def listener(self) -> str:
        return f"https://127.0.0.1:{self.fed_port}"


@dataclass(frozen=True)
class WitnessSpec:
    member: str  # the witnessing institution, whose folder holds the state
    provider: str
    state: str
    client_id: str
    secret: str


@dataclass(frozen=True)
class Manifest:
    root: str
    nodes: list[NodeSpec]
    witnesses: list[WitnessSpec]

    def node(self, member: str) -> NodeSpec:
        return next(n for n in self.nodes if n.member == member)

    def save(self) -> Path:
        data = {"root": self.root, "nodes": [asdict(n) for n in self.nodes],
                "witnesses": [asdict(w) for w in self.witnesses]}  # fmt: skip
        return write_private(Path(self.root) / MANIFEST, json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, root: Path) -> Manifest:
        data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        return cls(
            str(data["root"]),
            [NodeSpec(**n) for n in data["nodes"]],
            [WitnessSpec(**w) for w in data["witnesses"]],
        )


def _node_env(folder: Path, member: str, directory: Path, authority_key: str, fed_port: int,
              database_url: str | None) -> None:  # fmt: skip
    """The node's own settings in its simpul.env, beside its fresh demo secrets."""
    env_file = write_demo_secrets(folder)
    lines = env_file.read_text(encoding="utf-8").splitlines()
    lines += [
        f"SIMPUL_AUDIT_ORIGIN=simpul.demo/{member}",
        f"SIMPUL_FEDERATION_MEMBER={member}",
        f"SIMPUL_FEDERATION_DIRECTORY={directory}",
        f"SIMPUL_FEDERATION_AUTHORITY_KEYS={json.dumps([authority_key])}",
        f"SIMPUL_FEDERATION_PORT={fed_port}",
        "SIMPUL_FEDERATION_REFRESH_SECONDS=30",
    ]
    if database_url:
        lines.append(f"SIMPUL_DATABASE_URL={database_url}")
    write_private(env_file, "\n".join(lines) + "\n")


def build_federation(
    root: Path,
    people: int,
    seed: int,
    say: Callable[[str], None] = print,
    *,
    base_port: int = 8100,
    members: tuple[str, ...] = MEMBERS,
    database_urls: Mapping[str, str] | None = None,
) -> Manifest:
    """Build every node, the authority and the directory (nothing is served). Node k's
    API listens on base_port + k and its federation listener on base_port + 100 + k."""
    from simpul.federation.authority import Authority
    from simpul.registry.synth import generate_world

    root.mkdir(parents=True, exist_ok=True)
    say(f"Membangun Indonesia sintetis: {people:,} penduduk, benih {seed} …")
    synth = generate_world(people, seed, root / "synth")
    authority = Authority.create(root / "otoritas", FEDERATION)
    directory = (root / DIRECTORY).resolve()
    plans = account_plans()
    nodes: list[NodeSpec] = []
    for k, member in enumerate(members):
        folder = (root / member).resolve()
        fed_port = base_port + 100 + k
        url = (database_urls or {}).get(member)
        _node_env(folder, member, directory, authority.verifier_key(), fed_port, url)
        settings = load_settings(folder)
        rt = Runtime(settings)
        try:
            rt.initialise()
            node_plan = plan(member, DATASETS)
            load_owned_registries(rt, node_plan, synth, say)
            creds = build_node_governance(rt, node_plan, plans, say, witnesses=True)
            write_credentials(folder, creds)
            if "kependudukan" in node_plan.datasets:
                build_face_photos(rt, say)
        finally:
            rt.close()
        node = NodeSpec(member, str(folder), base_port + k, fed_port, bool(node_plan.datasets))
        enrol_node(authority, settings, node.listener)
        nodes.append(node)
        say(f"  node {member}: API {node.api}, listener federasi {node.listener}")
    sign_directory(root)
    manifest = Manifest(str(root.resolve()), nodes, _witnesses(root, nodes))
    manifest.save()
    say(f"Federasi demo siap di {root}: {len(nodes)} node, direktori bertanda tangan.")
    return manifest


def enrol_node(authority: Authority, settings: Settings, listener: str) -> None:
    """What the authority does for a new member's node in the demo: issue its TLS
    certificate from the federation's CA (with the CA beside it), and list it with its
    listener, certificate pin, receipt key and log key (signed into the next directory)."""
    from simpul.audit import receipts, signing
    from simpul.federation import pki
    from simpul.federation.directory import Member

    member = str(settings.federation_member)
    folder = settings.federation_folder
    pki.issue_node(authority.ca_folder, folder, member, member, ["127.0.0.1", "localhost"])
    shutil.copyfile(authority.ca_folder / pki.CA_CERT, folder / pki.CA_CERT)
    authority.put_member(
        Member(
            kode=member,
            nama=member,
            alamat=listener,
            sertifikat=(pki.read_fingerprint(folder / pki.NODE_CERT),),
            kunci_tanda_terima=receipts.b64(receipts.receipt_key(settings).public),
            asal_log=signing.log_origin(settings),
            kunci_log=signing.log_verifier_key(settings),
        )
    )


def sign_directory(root: Path, days: float = DIRECTORY_DAYS) -> None:
    from simpul.federation.authority import Authority

    signed = Authority.open(root / "otoritas").sign_directory(days=days)
    tmp = root / (DIRECTORY + ".tmp")
    write_private(tmp, signed)
    tmp.replace(root / DIRECTORY)


def _witnesses(root: Path, nodes: list[NodeSpec]) -> list[WitnessSpec]:
    """A witness for each recipient of each provider: its state in the recipient's folder,
    following the provider's log, registered at the provider (a governance action there)."""
    from simpul.audit import signing
    from simpul.audit.witness import WitnessState
    from simpul.governance import actions

    out: list[WitnessSpec] = []
    for node in nodes:
        creds = json.loads((Path(node.folder) / "demo-credentials.json").read_text("utf-8"))
        rt = Runtime(load_settings(Path(node.folder)))
        try:
            origin, log_key = signing.log_origin(rt.settings), signing.log_verifier_key(rt.settings)
            for cred in creds:
                if cred["role"] != "saksi":
                    continue
                member = str(cred["institution"])
                state_dir = root / member / "saksi" / node.member
                state = WitnessState.create(state_dir, f"saksi.{member}.{node.member}")
                state.follow(origin, log_key, node.api)
                with rt.transaction() as session:
                    actions.register_witness(
                        session, rt.settings, rt.clock, state.name, state.verifier_key,
                        cred["client_id"], actor="demo",
                    )  # fmt: skip
                out.append(WitnessSpec(member, node.member, str(state_dir.resolve()),
                                       cred["client_id"], cred["client_secret"]))  # fmt: skip
        finally:
            rt.close()
    return out


def credentials(node: NodeSpec) -> dict[str, dict[str, Any]]:
    loaded = json.loads((Path(node.folder) / "demo-credentials.json").read_text("utf-8"))
    return {c["username"]: c for c in loaded}


def howto(manifest: Manifest) -> str:
    """Curl lines that run as printed, each against the recipient's own node: the node
    decides against its copy of the agreement, then forwards to the provider's node."""
    import pyarrow.parquet as pq

    root = Path(manifest.root)
    wanted = ["nik", "nama_lengkap", "tanggal_lahir"]
    person = pq.read_table(root / "synth" / "kependudukan.parquet", columns=wanted).to_pylist()[0]
    civil = pq.read_table(root / "synth" / "asn.parquet", columns=["nik"]).slice(0, 2).to_pylist()
    poor = pq.read_table(root / "synth" / "dtks.parquet", columns=["nik"]).slice(0, 1).to_pylist()
    json_header = "-H 'Content-Type: application/json'"

    def token(var: str, node: NodeSpec, username: str) -> str:
        c = credentials(node)[username]
        return (
            f"  {var}=$(curl -sf {node.api}/api/v1/token -d client_id={c['client_id']} "
            f"-d client_secret={c['client_secret']} | python3 -c "
            "'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
        )

    def bearer(var: str) -> str:
        return f'curl -sf -H "Authorization: Bearer ${var}" {json_header}'

    bkn, kop, sos = manifest.node("bkn"), manifest.node("kemenkop"), manifest.node("kemensos")
    verify = json.dumps(
        {
            "nik": person["nik"],
            "elemen": {
                "nama_lengkap": person["nama_lengkap"],
                "tanggal_lahir": str(person["tanggal_lahir"]),
            },
        }
    )
    batch = json.dumps({"item": [{"nik": c["nik"]} for c in civil]})
    lines = [
        "Coba federasi (setiap perintah ke node instansi penerima sendiri; node itu memutus "
        "dengan salinan PKS-nya lalu meneruskan ke node penyedia):",
        *(f"  curl -sf {n.api}/healthz" for n in manifest.nodes[:1]),
        "  # BKN memverifikasi elemen kependudukan di node BKN → node Dukcapil (PKS 003):",
        token("TOKEN_BKN", bkn, "bkn.klien"),
        f"  {bearer('TOKEN_BKN')} {bkn.api}/api/v1/datasets/kependudukan/verifikasi "
        f"-d {shlex.quote(verify)}",
        "  # BKN memeriksa status DTKS di node BKN → node Kemensos (PKS 001):",
        f"  {bearer('TOKEN_BKN')} {bkn.api}/api/v1/datasets/dtks/cek-status "
        f"""-d '{{"nik": "{poor[0]["nik"]}"}}'""",
        "  # Kemensos memeriksa status ASN di node Kemensos → node BKN (PKS 001, arah balik):",
        token("TOKEN_SOS", sos, "kemensos.klien"),
        f"  {bearer('TOKEN_SOS')} {sos.api}/api/v1/datasets/asn/cek-status "
        f"""-d '{{"nik": "{civil[0]["nik"]}"}}'""",
        "  # Kemenkop menyaring calon BPUM per daftar di node Kemenkop → node BKN (PKS 004):",
        token("TOKEN_KOP", kop, "kemenkop.klien"),
        f"  {bearer('TOKEN_KOP')} {kop.api}/api/v1/datasets/asn/cek-status/batch "
        f"-d {shlex.quote(batch)}",
        "Setiap jawaban membawa tanda terima penyedia (header Simpul-Receipt); kedua log "
        "mencatat panggilan itu. Portal tiap node: <API>/portal/ (kredensial di "
        "<folder node>/demo-credentials.json).",
        "Node: " + ", ".join(f"{n.member} {n.api}" for n in manifest.nodes),
    ]
    return "\n".join(lines)
