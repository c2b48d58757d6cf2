"""Microdata (pseudonymised, generalised, k-anonymous) and BNBA (region-scoped) extracts.

Both run in DuckDB over the Regsosek snapshot and write a Parquet or CSV file under
`DATA_DIR/disclosure/ekstrak/`, readable afterwards only by the account that made it."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from simpul.access.policy import Decision
from simpul.access.schemas import Principal
from simpul.agreements.schemas import Service
from simpul.config import Settings
from simpul.disclosure import service as svc
from simpul.disclosure.rules import LENGTHS, REGION_LENGTHS, SdcRules
from simpul.disclosure.schemas import EkstrakOut
from simpul.disclosure.variables import DATASET, age_sql, quote
from simpul.errors import InvalidInput, NotFound, SimpulError
from simpul.kit.ids import new_id
from simpul.registry.datasets import get_dataset
from simpul.services.service import CallContext

SUPPRESSED = "*"
EMPTY = "-"
# Local suppression order: the quasi-identifier given up first comes first.
SUPPRESSION_ORDER = (
    "lapangan_usaha", "jumlah_anggota_keluarga", "status_hubungan_keluarga",
    "pendidikan_tertinggi", "status_bekerja", "kelompok_umur", "jenis_kelamin", "wilayah",
)  # fmt: skip
PSEUDONYMS = {"nik": "id_individu", "no_kk": "id_kk", "id_keluarga": "id_keluarga"}
MEDIA = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv"}


def agreement_key(settings: Settings, agreement_id: str) -> str:
    """The per-agreement pseudonym key: HMAC-SHA256(pseudonym_key, dataset|agreement)."""
    secret = settings.require_secret("pseudonym_key").encode()
    return hmac.new(secret, f"{DATASET}|{agreement_id}".encode(), hashlib.sha256).hexdigest()


def pseudonym_sql(key: str, column: str) -> str:
    """Keyed SHA-256 under the derived key, 20 hex characters (80 bits)."""
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE left(sha256({quote(key)} || '|{column}|' || {column}), 20) END"  # noqa: E501


def extract_dir(settings: Settings) -> Path:
    path = settings.data_dir / "disclosure" / "ekstrak"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _scope_sql(prefixes: tuple[str, ...] | None) -> str:
    if not prefixes:
        return "TRUE"
    return "(" + " OR ".join(f"starts_with(kode_wilayah, {quote(p)})" for p in prefixes) + ")"


def _check_region(region: str | None) -> None:
    if region is not None and (not region.isdigit() or len(region) not in LENGTHS):
        raise InvalidInput("kode_wilayah_tidak_valid", "Kode wilayah harus 2, 4, 6 atau 10 digit.")


def _write(con: duckdb.DuckDBPyConnection, relation: str, target: Path, fmt: str) -> None:
    tmp = target.with_name(target.name + ".tmp")
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
    con.execute(f"COPY (SELECT * FROM {relation}) TO {quote(str(tmp))} ({options})")
    os.replace(tmp, target)


@dataclass(frozen=True)
class MicroResult:
    rows: int
    report: dict[str, Any]


def build_microdata(
    con: duckdb.DuckDBPyConnection,
    source: str,
    elements: frozenset[str],
    rules: SdcRules,
    key: str,
    today: date,
    scope: tuple[str, ...] | None,
) -> MicroResult:
    """Create table `mikro` in `con`: pseudonymise, generalise, then enforce k-anonymity
    by local suppression (and, last, by removing what still cannot hide in a class)."""
    dataset = get_dataset(DATASET)
    cols: list[str] = []
    for name, alias in PSEUDONYMS.items():
        if name in ("nik", "no_kk") or name in elements:
            cols.append(f"{pseudonym_sql(key, name)} AS {alias}")
    region_len = REGION_LENGTHS[rules.micro_region_level]
    generalised = {"tanggal_lahir": "kelompok_umur", "kode_wilayah": "wilayah"}
    quasi: list[str] = []
    for el in dataset.tabular_elements:
        if el.name not in elements or el.name in PSEUDONYMS or el.klass == "direct":
            continue
        if el.name == "tanggal_lahir":
            cols.append(f"{age_sql(today, rules.age_band)} AS kelompok_umur")
        elif el.name == "kode_wilayah":
            cols.append(f"left(kode_wilayah, {region_len}) AS wilayah")
        elif el.name == "jumlah_anggota_keluarga":
            cols.append(
                "CASE WHEN jumlah_anggota_keluarga >= 7 THEN '7+' ELSE "
                "CAST(jumlah_anggota_keluarga AS VARCHAR) END AS jumlah_anggota_keluarga"
            )
        elif el.klass == "quasi":
            cols.append(f"CAST({el.name} AS VARCHAR) AS {el.name}")
        else:
            cols.append(el.name)
        if el.name in rules.quasi_identifiers:
            quasi.append(generalised.get(el.name, el.name))
    con.execute(
        f"CREATE OR REPLACE TABLE mikro AS SELECT {', '.join(cols)} FROM {source} "
        f"WHERE {_scope_sql(scope)} ORDER BY hash(nik, {quote(key)})"
    )
    for q in quasi:  # no NULLs among quasi-identifiers: '-' is "empty" ('*' is suppressed)
        con.execute(f"UPDATE mikro SET {q} = '{EMPTY}' WHERE {q} IS NULL")
    total = _scalar(con, "SELECT count(*) FROM mikro")
    k = rules.k_anonymity
    uniques_before = _scalar(con, f"SELECT count(*) FROM ({_classes(quasi)}) WHERE n = 1")
    order = [q for q in SUPPRESSION_ORDER if q in quasi] + [
        q for q in quasi if q not in SUPPRESSION_ORDER
    ]
    suppressed = dict.fromkeys(order, 0)
    for _ in range(2 * len(order)):
        if not _local_suppression_round(con, order, k, suppressed):
            break
    removed = _scalar(con, f"SELECT count(*) FROM ({_violating(quasi, k)})")
    if removed:
        con.execute(f"DELETE FROM mikro WHERE rowid IN ({_violating(quasi, k)})")
    part = ", ".join(quasi) or "1"
    stats = con.execute(
        f"SELECT count(*), min(n), avg(1.0 / n), max(1.0 / n) FROM "
        f"(SELECT count(*) AS n FROM mikro GROUP BY {part})"
    ).fetchone()
    assert stats is not None
    classes, smallest, mean_risk, max_risk = stats
    report = {
        "k_anonimitas": k,
        "k_tercapai": int(smallest) if smallest is not None else None,
        "kuasi_identifier": quasi,
        "generalisasi": {
            "tanggal_lahir": f"kelompok_umur ({rules.age_band} tahun, 75+)",
            "kode_wilayah": f"wilayah tingkat {rules.micro_region_level}",
            "jumlah_anggota_keluarga": "7+ untuk 7 atau lebih",
        },
        "identitas_langsung_dihapus": sorted(
            el.name for el in dataset.elements if el.klass == "direct"
        ),
        "pseudonim": "SHA-256 berkunci, kunci diturunkan per perjanjian (HMAC); "
        "ekstrak dua perjanjian tidak dapat ditautkan",
        "baris_sumber": total,
        "baris": total - removed,
        "baris_dihapus": removed,
        "unik_sebelum_penekanan": uniques_before,
        "nilai_ditekan": suppressed,
        "kelas_kesetaraan": int(classes),
        "risiko_reidentifikasi_rata_rata": round(float(mean_risk or 0), 6),
        "risiko_reidentifikasi_maksimum": round(float(max_risk or 0), 6),
    }
    return MicroResult(total - removed, report)


def _classes(quasi: list[str]) -> str:
    cols = ", ".join(quasi)
    return f"SELECT {cols + ',' if cols else ''} count(*) AS n FROM mikro GROUP BY ALL"


def _violating(quasi: list[str], k: int) -> str:
    """Row ids of the records in equivalence classes smaller than k."""
    if not quasi:
        return f"SELECT rowid FROM mikro WHERE (SELECT count(*) FROM mikro) < {k}"
    using = ", ".join(quasi)
    return f"SELECT m.rowid FROM mikro m JOIN ({_classes(quasi)}) c USING ({using}) WHERE c.n < {k}"


def _local_suppression_round(
    con: duckdb.DuckDBPyConnection, quasi: list[str], k: int, suppressed: dict[str, int]
) -> bool:
    """One round: every record in a class smaller than k gives up one quasi-identifier —
    the first (in `quasi` order) whose suppression alone would put it in a class of k,
    else the first it still shows. Returns False when none was violating.

    Classes are keyed here by a 64-bit hash of the values (fast joins); a collision could
    only misguide the choice, never the result: the final check groups on the values."""
    keys = [f"hash({', '.join(quasi)}) AS kall"]
    for i, q in enumerate(quasi):
        others = [o for o in quasi if o != q]
        keys.append(f"hash({', '.join(others) or '0'}) AS k{i}")
        keys.append(f"{q} = '{SUPPRESSED}' AS s{i}")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _k AS SELECT rowid AS rid, {', '.join(keys)} FROM mikro"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _v AS SELECT _k.* FROM _k JOIN "
        f"(SELECT kall, count(*) AS n FROM _k GROUP BY kall) c USING (kall) WHERE c.n < {k}"
    )
    if _scalar(con, "SELECT count(*) FROM _v") == 0:
        return False
    # c{i}: the class the record would join by giving up quasi[i] — the records that agree
    # on the others and have quasi[i] suppressed already or may give it up this round
    joins, sizes = [], []
    for i in range(len(quasi)):
        joins.append(
            f"LEFT JOIN (SELECT k{i}, count(*) AS n FROM _k WHERE s{i} GROUP BY k{i}) a{i} "
            f"USING (k{i}) LEFT JOIN (SELECT k{i}, count(*) AS n FROM _v WHERE NOT s{i} "
            f"GROUP BY k{i}) b{i} USING (k{i})"
        )
        sizes.append(f"coalesce(a{i}.n, 0) + coalesce(b{i}.n, 0) AS c{i}")
    first = " ".join(f"WHEN c{i} >= {k} AND NOT s{i} THEN {i}" for i in range(len(quasi)))
    fallback = " ".join(f"WHEN NOT s{i} THEN {i}" for i in range(len(quasi)))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _pick AS SELECT rid, CASE {first} {fallback} END AS q "
        f"FROM (SELECT _v.*, {', '.join(sizes)} FROM _v {' '.join(joins)})"
    )
    changed = False
    for i, q in enumerate(quasi):
        n = _scalar(con, f"SELECT count(*) FROM _pick WHERE q = {i}")
        if n:
            con.execute(
                f"UPDATE mikro SET {q} = '{SUPPRESSED}' WHERE rowid IN "
                f"(SELECT rid FROM _pick WHERE q = {i})"
            )
            suppressed[q] += n
            changed = True
    return changed


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0] or 0)


def _save_meta(settings: Settings, extract_id: str, meta: dict[str, Any]) -> None:
    path = extract_dir(settings) / f"{extract_id}.json"
    path.write_text(json.dumps(meta, ensure_ascii=False, default=str), encoding="utf-8")


def microdata(
    session: Any, ctx: CallContext, fmt: str, region: str | None
) -> tuple[EkstrakOut | None, Decision | None]:
    """PKS 000 Pasal 2 huruf a: microdata for the grant's region scope, with a risk report."""
    _check_region(region)
    allowed, refused = svc.guard(session, ctx, Service.MIKRO, None, subject_region=region)
    if allowed is None:
        return None, refused
    decision = allowed.decision
    assert decision.agreement_id is not None
    rules = svc.rules_for(session, decision.agreement_id)
    key = agreement_key(ctx.settings, decision.agreement_id)
    scope = (region,) if region else decision.region_scope
    extract_id = new_id("mikro-")
    target = extract_dir(ctx.settings) / f"{extract_id}.{fmt}"
    try:
        with svc.analytics(ctx.settings) as con:
            result = build_microdata(
                con, "regsosek", decision.output_elements, rules, key, ctx.clock.today(), scope
            )
            _write(con, "mikro", target, fmt)
    except SimpulError as exc:
        return None, svc.refuse_after(session, ctx, allowed, exc)
    source = svc.attribution(session, decision)
    _save_meta(ctx.settings, extract_id, {
        "account_id": ctx.principal.account_id, "layanan": "mikro", "format": fmt,
        "berkas": target.name, "laporan_risiko": result.report, "sumber": source,
    })  # fmt: skip
    svc.record_allowed(session, ctx, allowed, {
        "ekstrak": extract_id, "baris": result.rows, "wilayah": region,
        "k_tercapai": result.report["k_tercapai"],
    })  # fmt: skip
    return EkstrakOut(
        ekstrak_id=extract_id, layanan="mikro", format=fmt, baris=result.rows,
        unduh=f"/api/v1/datasets/regsosek/ekstrak/{extract_id}",
        laporan_risiko=result.report, sumber=source,
    ), None  # fmt: skip


def build_bnba(
    con: duckdb.DuckDBPyConnection, source: str, elements: frozenset[str], scope: tuple[str, ...]
) -> list[str]:
    """Create table `bnba`: the granted elements of the records inside `scope` only."""
    dataset = get_dataset(DATASET)
    cols = [el.name for el in dataset.tabular_elements if el.name in elements]
    order = ", ".join(c for c in ("kode_wilayah", "no_kk", "nik") if c in cols)
    con.execute(
        f"CREATE OR REPLACE TABLE bnba AS SELECT {', '.join(cols)} FROM {source} "
        f"WHERE {_scope_sql(scope)} ORDER BY {order}"
    )
    return cols


def bnba(
    session: Any, ctx: CallContext, fmt: str, region: str | None
) -> tuple[EkstrakOut | None, Decision | None]:
    """By name by address, strictly inside the grant's region scope (PKS 000 Pasal 2)."""
    _check_region(region)
    allowed, refused = svc.guard(session, ctx, Service.BNBA, None, subject_region=region)
    if allowed is None:
        return None, refused
    decision = allowed.decision
    scope = (region,) if region else (decision.region_scope or ("",))
    extract_id = new_id("bnba-")
    target = extract_dir(ctx.settings) / f"{extract_id}.{fmt}"
    with svc.analytics(ctx.settings) as con:
        build_bnba(con, "regsosek", decision.output_elements, scope)
        # the audit's subjects (UU PDP Pasal 32), whether or not the grant shows the NIK
        niks = tuple(
            r[0]
            for r in con.execute(
                f"SELECT nik FROM regsosek WHERE {_scope_sql(scope)} AND nik IS NOT NULL"
            ).fetchall()
        )
        _write(con, "bnba", target, fmt)
    source = svc.attribution(session, decision)
    _save_meta(ctx.settings, extract_id, {
        "account_id": ctx.principal.account_id, "layanan": "bnba", "format": fmt,
        "berkas": target.name, "sumber": source,
    })  # fmt: skip
    svc.record_allowed(session, ctx, allowed,
                       {"ekstrak": extract_id, "baris": len(niks), "wilayah": region},
                       subjects=niks)  # fmt: skip
    return EkstrakOut(
        ekstrak_id=extract_id, layanan="bnba", format=fmt, baris=len(niks),
        unduh=f"/api/v1/datasets/regsosek/ekstrak/{extract_id}", sumber=source,
    ), None  # fmt: skip


def extract_file(settings: Settings, principal: Principal, extract_id: str) -> tuple[str, str]:
    """The file of an extract, for the account that made it only."""
    if not extract_id.replace("-", "").isalnum():
        raise NotFound("ekstrak_tidak_ada", "Ekstrak tidak ditemukan.")
    meta_path = extract_dir(settings) / f"{extract_id}.json"
    if not meta_path.exists():
        raise NotFound("ekstrak_tidak_ada", "Ekstrak tidak ditemukan.")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta["account_id"] != principal.account_id:
        raise NotFound("ekstrak_tidak_ada", "Ekstrak tidak ditemukan.")
    return str(extract_dir(settings) / meta["berkas"]), MEDIA[meta["format"]]
