"""The demo world split by owner, one node per institution (docs/federation.md).

Each node gets only what is its own:
- the registries its institution provides (Dukcapil the population registry, BKN the ASN
  data, Kemensos the DTKS, Bappenas the Regsosek), none of anyone else's;
- the institutions list, and its copy of every agreement it is party to;
- its own institution's accounts, and one `<kode>.node` client account for each other
  member's node that receives data from it under an agreement (its access point: the
  address that member's node calls from);
- its federation settings: member code, the directory's source, the authority's key.

The same synthetic world (one seed) is generated once and each provider loads its part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simpul.agreements.loader import seed_dir
from simpul.governance import actions
from simpul.kit.numbers import angka
from simpul.registry.datasets import get_dataset
from simpul.runtime import Runtime

ACTOR = "demo"
NODE_ACCESS_POINT = "127.0.0.0/8"  # every demo node calls from this machine


def agreement_files(demo: bool = True) -> dict[str, list[Path]]:
    """Agreement id → its seed file (and its demo addendum)."""
    from simpul.agreements.loader import demo_dir

    files: dict[str, list[Path]] = {}
    for path in sorted(seed_dir().glob("*.yaml")):
        files[path.stem] = [path]
    if demo:
        for path in sorted(demo_dir().glob("*.yaml")):
            files[path.name.split(".")[0]].append(path)
    return files


def parties(path: Path) -> set[str]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {str(p["kode"]) for p in loaded.get("pihak", [])}


def flows(path: Path) -> set[tuple[str, str]]:
    """(provider, recipient) of each grant of the agreement."""
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {(str(g["penyedia"]), str(g["penerima"])) for g in loaded.get("hibah", [])}


@dataclass
class NodePlan:
    member: str
    agreements: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    peers: dict[str, list[str]] = field(default_factory=dict)  # recipient → its agreements here


def plan(member: str, datasets: tuple[str, ...]) -> NodePlan:
    out = NodePlan(member)
    out.datasets = [d for d in datasets if get_dataset(d).provider == member]
    for agreement_id, paths in agreement_files().items():
        if member not in parties(paths[0]):
            continue
        out.agreements.append(agreement_id)
        for provider, recipient in flows(paths[0]):
            if provider == member and recipient != member:
                out.peers.setdefault(recipient, []).append(agreement_id)
    return out


def build_node_governance(
    rt: Runtime,
    node: NodePlan,
    accounts: list[dict[str, Any]],
    say: Callable[[str], None],
    *,
    witnesses: bool = False,
) -> list[dict[str, Any]]:
    """Institutions, this node's agreements, its own accounts (`accounts`: the demo's
    account plans of this institution) and the peer nodes' accounts (with `witnesses`, a
    witness account for each recipient too); the credentials."""
    from simpul.access import service as access
    from simpul.access.schemas import InstitutionUpdate
    from simpul.demo.service import create_demo_account

    settings, clock = rt.settings, rt.clock
    files = agreement_files()
    with rt.transaction() as session:
        actions.load_institutions(session, settings, clock, actor=ACTOR)
        for known in access.list_institutions(session):
            cidrs = sorted({*known.access_cidrs, NODE_ACCESS_POINT})
            actions.update_institution(
                session, settings, clock, known.code, InstitutionUpdate(access_cidrs=cidrs),
                actor=ACTOR, reason="Titik akses demo (mesin ini)",
            )  # fmt: skip
        paths = [p for a in node.agreements for p in files[a]]
        if paths:
            actions.load_agreements(session, settings, clock, paths, actor=ACTOR)
    say(f"  {node.member}: {len(node.agreements)} PKS ({', '.join(node.agreements) or '-'}).")
    # A witness account here for its own log would witness nothing: witnesses are the
    # other parties, given accounts below.
    plans = [dict(a) for a in accounts if a["institution"] == node.member and a["role"] != "saksi"]
    for recipient, ids in sorted(node.peers.items()):
        plans.append({"institution": recipient, "role": "data_user", "kind": "client",
                      "username": f"{recipient}.node", "agreement_ids": sorted(ids)})  # fmt: skip
        if witnesses:  # each recipient witnesses this provider's log (docs/audit.md)
            plans.append({"institution": recipient, "role": "saksi", "kind": "client",
                          "username": f"{recipient}.saksi"})  # fmt: skip
    creds: list[dict[str, Any]] = []
    for spec in plans:
        spec["agreement_ids"] = [a for a in spec.get("agreement_ids", []) if a in node.agreements]
        creds.append(create_demo_account(rt, spec))
    return creds


def load_owned_registries(
    rt: Runtime, node: NodePlan, paths: dict[str, Path], say: Callable[[str], None]
) -> dict[str, int]:
    loaded: dict[str, int] = {}
    for code in node.datasets:
        with rt.transaction() as session:
            report = actions.load_registry(session, rt.settings, rt.clock, code, paths[code],
                                           actor=ACTOR)  # fmt: skip
        with rt.transaction() as session:
            actions.write_snapshot(session, rt.settings, rt.clock, code, actor=ACTOR)
        loaded[code] = report.rows_loaded
        say(f"  {node.member}: {code} {angka(report.rows_loaded)} rekaman")
    return loaded
