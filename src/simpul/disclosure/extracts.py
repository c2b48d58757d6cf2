"""Microdata (pseudonymised, generalised, k-anonymous) and BNBA (region-scoped) extracts.

Both run in DuckDB over the Regsosek snapshot and write a Parquet or CSV file (mode 0600)
under `DATA_DIR/disclosure/ekstrak/` (see `simpul.disclosure.store`) that carries the
PKS 000 Pasal 7 ayat (2) source line: the first line of a CSV (`# Sumber: …`), the
file-level key-value metadata `sumber` of a Parquet file. Every download is a decision of
its own (`extract_file`): the account that made it only, under the agreement it was made
under, while that agreement is in force — and a record naming the persons in the file."""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy.orm import Session

from simpul.access.policy import Decision
from simpul.agreements.schemas import Service
from simpul.audit.events import decision_event
from simpul.config import Settings
from simpul.disclosure import service as svc
from simpul.disclosure import store
from simpul.disclosure.rules import LENGTHS, REGION_LENGTHS, SdcRules
from simpul.disclosure.schemas import EkstrakOut
from simpul.disclosure.store import MEDIA, ExtractMeta
from simpul.disclosure.variables import DATASET, age_sql, quote
from simpul.errors import InvalidInput, NotFound, SimpulError
from simpul.kernel import Call, Refused
from simpul.kit.ids import new_id
from simpul.registry.datasets import get_dataset

__all__ = ["MEDIA", "Download", "bnba", "extract_file", "microdata"]

SUPPRESSED = "*"
EMPTY = "-"
# Local suppression order: the quasi-identifier given up first comes first.
SUPPRESSION_ORDER = (
    "lapangan_usaha", "jumlah_anggota_keluarga", "status_hubungan_keluarga",
    "pendidikan_tertinggi", "status_bekerja", "kelompok_umur", "jenis_kelamin", "wilayah",
)  # fmt: skip
PSEUDONYMS = {"nik": "id_individu", "no_kk": "id_kk", "id_keluarga": "id_keluarga"}


def agreement_key(settings: Settings, agreement_id: str) -> str:
    """The per-agreement pseudonym key: HMAC-SHA256(pseudonym_key, dataset|agreement)."""
    secret = settings.require_secret("pseudonym_key").encode()
    return hmac.new(secret, f"{DATASET}|{agreement_id}".encode(), hashlib.sha256).hexdigest()


def pseudonym_sql(key: str, column: str) -> str:
    """Keyed SHA-256 under the derived key, 20 hex characters (80 bits)."""
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE left(sha256({quote(key)} || '|{column}|' || {column}), 20) END"  # noqa: E501


def extract_dir(settings: Settings) -> Path:
    return store.extract_dir(settings)


def _scope_sql(prefixes: tuple[str, ...] | None) -> str:
    if not prefixes:
        return "TRUE"
    return "(" + " OR ".join(f"starts_with(kode_wilayah, {quote(p)})" for p in prefixes) + ")"


def _check_region(region: str | None) -> None:
    if region is not None and (not region.isdigit() or len(region) not in LENGTHS):
        raise InvalidInput("kode_wilayah_tidak_valid", "Kode wilayah harus 2, 4, 6 atau 10 digit.")


# A text cell a spreadsheet would run as a formula (kit.csvsafe; OWASP CSV injection).
_FORMULA = r"^[=+\-@\t\r\n|]"


def _formula_safe(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    """`SELECT` of `relation` with every formula-like text cell prefixed by a quote, as
    kit.csvsafe does for the other exports; plain numbers such as `-5` stay as they are."""
    parts = []
    for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall():
        col = '"' + str(name).replace('"', '""') + '"'
        if str(kind).upper() != "VARCHAR":
            parts.append(col)
            continue
        risky = f"regexp_matches({col}, {quote(_FORMULA)}) AND TRY_CAST({col} AS DOUBLE) IS NULL"
        parts.append(f"CASE WHEN {risky} THEN chr(39) || {col} ELSE {col} END AS {col}")
    return f"SELECT {', '.join(parts)} FROM {relation}"


def _write(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    target: Path,
    fmt: str,
    source: str | None = None,
) -> None:
    """Write `relation` to `target` (0600), carrying `source`: a CSV's first line is the
    `# Sumber: …` comment, a Parquet file has it as key-value metadata `sumber`."""
    staged = target.with_name(target.name + ".tmp")
    if fmt == "parquet":
        kv = f", KV_METADATA {{sumber: {quote(source)}}}" if source else ""
        options = f"FORMAT parquet, COMPRESSION zstd{kv}"
    else:
        options = "FORMAT csv, HEADER"
    raw = target.with_name(target.name + ".duckdb.tmp")
    select = _formula_safe(con, relation) if fmt == "csv" else f"SELECT * FROM {relation}"
    con.execute(f"COPY ({select}) TO {quote(str(raw))} ({options})")
    os.chmod(raw, store.PRIVATE)
    if fmt == "parquet" or not source:
        os.replace(raw, target)
        return
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, store.PRIVATE)
    os.fchmod(fd, store.PRIVATE)
    try:
        with os.fdopen(fd, "wb") as out, raw.open("rb") as data:
            out.write(svc.source_comment(source).encode("utf-8"))
            shutil.copyfileobj(data, out, 1 << 20)
    finally:
        raw.unlink(missing_ok=True)
    os.replace(staged, target)


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


def _subjects_sql(key: str, scope: tuple[str, ...] | None) -> str:
    """The NIKs of the persons whose pseudonymised rows are in table `mikro`."""
    return (
        f"SELECT nik FROM regsosek WHERE {_scope_sql(scope)} AND nik IS NOT NULL AND "
        f"{pseudonym_sql(key, 'nik')} IN (SELECT id_individu FROM mikro) ORDER BY nik"
    )


def _save(
    call: Call,
    decision: Decision,
    *,
    extract_id: str,
    service: Service,
    fmt: str,
    target: Path,
    rows: int,
    region: str | None,
    scope: tuple[str, ...],
    source: str,
    subjects: tuple[str, ...],
    report: dict[str, Any] | None = None,
) -> None:
    assert decision.agreement_id and decision.agreement_version and decision.grant
    store.save(
        call.settings,
        ExtractMeta(
            id=extract_id, account_id=call.principal.account_id,
            username=call.principal.username, service=service.value, format=fmt,
            berkas=target.name, agreement_id=decision.agreement_id,
            agreement_version=decision.agreement_version, grant_id=decision.grant.id,
            rows=rows, created_at=call.clock.now(), source=source, region=region,
            scope=scope, elements=tuple(sorted(decision.output_elements)), report=report,
        ),
        subjects,
    )  # fmt: skip


def microdata(session: Session, call: Call, fmt: str, region: str | None) -> EkstrakOut:
    """PKS 000 Pasal 2 huruf a: microdata for the grant's region scope, with a risk report."""
    _check_region(region)
    req = svc.access_request(call, Service.MIKRO, subject_region=region)
    decision = call.authorize(session, req)
    assert decision.agreement_id is not None
    rules = svc.rules_for(session, decision.agreement_id)
    key = agreement_key(call.settings, decision.agreement_id)
    scope = (region,) if region else decision.region_scope
    extract_id = new_id("mikro-")
    target = extract_dir(call.settings) / f"{extract_id}.{fmt}"
    source = svc.attribution(session, decision)
    try:
        with svc.analytics(call.settings) as con:
            result = build_microdata(
                con, "regsosek", decision.output_elements, rules, key, call.clock.today(), scope
            )
            # who is in the file, for the record of each download (kept by the node only)
            niks = tuple(r[0] for r in con.execute(_subjects_sql(key, scope)).fetchall())
            _write(con, "mikro", target, fmt, source)
    except SimpulError as exc:
        store.delete(call.settings, extract_id)
        raise call.refuse_after(req, decision, exc) from None
    _save(call, decision, extract_id=extract_id, service=Service.MIKRO, fmt=fmt,
          target=target, rows=result.rows, region=region, scope=scope or ("",),
          source=source, subjects=niks, report=result.report)  # fmt: skip
    call.disclose(req, decision, result={
        "ekstrak": extract_id, "baris": result.rows, "wilayah": region,
        "k_tercapai": result.report["k_tercapai"],
    })  # fmt: skip
    return EkstrakOut(
        ekstrak_id=extract_id, layanan="mikro", format=fmt, baris=result.rows,
        unduh=f"/api/v1/datasets/regsosek/ekstrak/{extract_id}",
        laporan_risiko=result.report, sumber=source,
    )  # fmt: skip


def build_bnba(
    con: duckdb.DuckDBPyConnection, source: str, elements: frozenset[str], scope: tuple[str, ...]
) -> list[str]:
    """Create table `bnba`: the granted elements of the records inside `scope` only."""
    dataset = get_dataset(DATASET)
    cols = [el.name for el in dataset.tabular_elements if el.name in elements]
    order = ", ".join(c for c in ("kode_wilayah", "no_kk", "nik") if c in cols)
    con.execute(
        f"CREATE OR REPLACE TABLE bnba AS SELECT {', '.join(cols)} FROM {source} "
        f"WHERE {_scope_sql(scope)}" + (f" ORDER BY {order}" if order else "")
    )
    return cols


def bnba(session: Session, call: Call, fmt: str, region: str | None) -> EkstrakOut:
    """By name by address, strictly inside the grant's region scope (PKS 000 Pasal 2)."""
    _check_region(region)
    req = svc.access_request(call, Service.BNBA, subject_region=region)
    decision = call.authorize(session, req)
    scope = (region,) if region else (decision.region_scope or ("",))
    extract_id = new_id("bnba-")
    target = extract_dir(call.settings) / f"{extract_id}.{fmt}"
    source = svc.attribution(session, decision)
    try:
        with svc.analytics(call.settings) as con:
            build_bnba(con, "regsosek", decision.output_elements, scope)
            rows = _scalar(con, "SELECT count(*) FROM bnba")
            # the audit's subjects (UU PDP Pasal 32), whether or not the grant shows the NIK
            niks = tuple(
                r[0]
                for r in con.execute(
                    f"SELECT nik FROM regsosek WHERE {_scope_sql(scope)} AND nik IS NOT NULL "
                    "ORDER BY nik"
                ).fetchall()
            )
            _write(con, "bnba", target, fmt, source)
    except SimpulError as exc:
        store.delete(call.settings, extract_id)
        raise call.refuse_after(req, decision, exc) from None
    _save(call, decision, extract_id=extract_id, service=Service.BNBA, fmt=fmt, target=target,
          rows=rows, region=region, scope=scope, source=source, subjects=niks)  # fmt: skip
    call.disclose(req, decision, subjects=niks,
                  result={"ekstrak": extract_id, "baris": rows, "wilayah": region})  # fmt: skip
    return EkstrakOut(
        ekstrak_id=extract_id, layanan="bnba", format=fmt, baris=rows,
        unduh=f"/api/v1/datasets/regsosek/ekstrak/{extract_id}", sumber=source,
    )  # fmt: skip


@dataclass(frozen=True)
class Download:
    path: Path
    media_type: str
    filename: str


def _missing() -> NotFound:
    return NotFound("ekstrak_tidak_ada", "Ekstrak tidak ditemukan.")


def extract_file(session: Session, call: Call, extract_id: str) -> Download:
    """One download of an extract: a decision of its own, recorded with the persons in the
    file (BNBA: their NIKs; microdata: the NIKs behind its pseudonymised rows).

    Only the account that made the extract, while the agreement it was made under is in
    force and still grants its tier, elements and region to that account; another account
    (of the same institution too) is told the extract does not exist, and the attempt is
    recorded under the extract's agreement."""
    meta = store.load(call.settings, extract_id)
    path = store.data_path(call.settings, meta) if meta is not None else None
    if meta is None or path is None or not path.is_file():
        raise _missing()
    req = svc.access_request(
        call,
        Service(meta.service),
        agreement_id=meta.agreement_id,
        subject_region=meta.region,
        output_elements=frozenset(meta.elements) or None,
    )
    if meta.account_id != call.principal.account_id:
        exc = _missing()
        refused = Decision(False, exc.code, exc.status, exc.detail,
                           agreement_id=meta.agreement_id,
                           agreement_version=meta.agreement_version)  # fmt: skip
        call.record(session, decision_event(call.principal, req, refused,
                                         result={"berkas": meta.berkas},
                                         request_id=call.request_id))  # fmt: skip
        raise Refused(refused)
    niks = store.subjects(call.settings, meta)
    decision = call.authorize(session, req, niks)
    assert decision.grant is not None
    if not all(decision.grant.covers_region(p) for p in meta.scope):
        outside = SimpulError("di_luar_cakupan_wilayah",
                              "Data di luar cakupan wilayah perjanjian.", status=403)  # fmt: skip
        raise call.refuse_after(req, decision, outside)
    call.disclose(req, decision, subjects=niks, result={"berkas": meta.berkas, "baris": meta.rows})
    return Download(path, MEDIA[meta.format], meta.berkas)
