"""The processing facility (PKS 000 Pasal 2 huruf c): a data user's DuckDB SQL over the
views of their tier, run read-only in a sandbox, with ACRO-style output checking.

Sandbox, in layers: (1) the statement allow-list — exactly one SELECT, parsed by DuckDB
itself; (2) an AST walk refusing file, network and catalogue functions and any table but
the user's views; (3) a separate in-memory connection with `enable_external_access=false`,
no extension autoloading, `memory_limit`, one thread and `lock_configuration`, holding only
the user's views (Arrow data, scoped to the grant's region and elements); (4) a wall-clock
limit enforced with `interrupt()`.

Output checking: a top-level aggregate query is instrumented (through DuckDB's own
`json_serialize_sql`) with `count(*)` and, for every sum or mean, the sum and the two
largest contributions, so that each output row gets ACRO's threshold, nk-dominance and
p-ratio checks; zeros in aggregate columns are flagged as disclosive; row-level output,
individual statistics (min, max, median, lists …) and queries the checker cannot
instrument are never released automatically. Failing outputs wait in the provider's
review queue."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from simpul.access.policy import Decision, PartyRequest, Side
from simpul.access.schemas import Role
from simpul.agreements import service as agreements
from simpul.agreements.schemas import Service
from simpul.audit.events import resource_event
from simpul.config import Settings
from simpul.disclosure import service as svc
from simpul.disclosure.extracts import PSEUDONYMS, agreement_key, pseudonym_sql
from simpul.disclosure.models import ProcessingOutput
from simpul.disclosure.rules import SdcRules
from simpul.disclosure.schemas import KeluaranOut
from simpul.disclosure.variables import DATASET
from simpul.errors import Conflict, InvalidInput, NotFound, SimpulError
from simpul.kernel import Call, Refused
from simpul.kernel.core import writes
from simpul.kit.ids import new_id
from simpul.kit.numbers import angka
from simpul.registry.datasets import get_dataset

VIEW = "regsosek"
MAX_OUTPUT_ROWS = 10_000
PREFIX = "__simpul_"
SUMS = frozenset({"sum", "avg", "mean", "fsum", "sumkahan", "kahan_sum"})
COUNTS = frozenset({"count", "count_star"})
# Aggregates that reveal one record's value (or lists of them): never auto-released.
INDIVIDUAL = frozenset({
    "min", "max", "median", "mode", "quantile", "quantile_cont", "quantile_disc", "first",
    "last", "any_value", "arg_min", "arg_max", "argmin", "argmax", "min_by", "max_by", "list",
    "array_agg", "string_agg", "group_concat", "listagg", "histogram", "approx_quantile",
    "reservoir_quantile", "arbitrary", "bit_and", "bit_or", "bit_xor", "bool_and", "bool_or",
})  # fmt: skip
SPREAD = {"stddev", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop",
          "approx_count_distinct"}  # fmt: skip
AGGREGATES = SUMS | COUNTS | INDIVIDUAL | SPREAD
FORBIDDEN_PREFIXES = ("read_", "parquet_", "iceberg_", "delta_", "sqlite_", "postgres_",
                      "mysql_", "duckdb_", "pragma_")  # fmt: skip
FORBIDDEN = frozenset({"glob", "sniff_csv", "query", "query_table", "getenv", "current_setting",
                       "load_extension", "read_text", "read_blob", "parquet_scan", "csv_scan",
                       "json_scan", "which_secret", "checkpoint", "force_checkpoint"})  # fmt: skip


def _refuse(code: str, detail: str, status: int = 422) -> SimpulError:
    return SimpulError(code, detail, status=status)


# ---------------------------------------------------------------- statement checks


def parse(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    """The one SELECT's syntax tree, or a clear refusal."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise _refuse("sql_tidak_valid", f"SQL tidak dapat diurai: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise _refuse("satu_pernyataan", "Kirim tepat satu pernyataan SELECT.")
    kind = statements[0].type
    if kind is not duckdb.StatementType.SELECT:
        name = str(kind).rsplit(".", 1)[-1]
        raise _refuse(
            "pernyataan_dilarang",
            f"Pernyataan {name} tidak diizinkan; fasilitas pengolahan hanya menjalankan SELECT "
            "(tanpa DDL, COPY, ATTACH, INSTALL, LOAD, SET atau PRAGMA).",
            status=403,
        )
    row = con.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchone()
    assert row is not None
    tree = json.loads(row[0])
    if tree.get("error"):
        raise _refuse("sql_tidak_valid", f"SQL tidak dapat diurai: {tree.get('error_message')}")
    return dict(tree)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300]


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def check_tree(tree: dict[str, Any], views: set[str]) -> None:
    """Refuse file/network/catalogue functions and tables other than the user's views."""
    ctes: set[str] = set()
    for node in _walk(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map", []) or []:
                key = entry.get("key") if isinstance(entry, dict) else None
                if isinstance(key, str):
                    ctes.add(key.lower())
    for node in _walk(tree):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION" or node.get("class") == "FUNCTION":
            name = str(node.get("function_name") or _table_function_name(node) or "").lower()
            if name in FORBIDDEN or name.startswith(FORBIDDEN_PREFIXES):
                raise _refuse(
                    "fungsi_dilarang",
                    f"Fungsi {name} tidak diizinkan: fasilitas pengolahan tidak membaca berkas, "
                    "jaringan atau katalog sistem.",
                    status=403,
                )
            if kind == "TABLE_FUNCTION":
                raise _refuse(
                    "fungsi_dilarang", f"Fungsi tabel {name} tidak diizinkan.", status=403
                )
        if kind == "BASE_TABLE":
            name = str(node.get("table_name", "")).lower()
            if (
                node.get("schema_name")
                or node.get("catalog_name")
                or (name not in views and name not in ctes)
            ):
                raise _refuse(
                    "tabel_tidak_dikenal",
                    f"Tabel {name!r} tidak tersedia; gunakan view: {', '.join(sorted(views))}.",
                    status=403,
                )


def _table_function_name(node: dict[str, Any]) -> str | None:
    fn = node.get("function")
    if isinstance(fn, dict):
        name = fn.get("function_name")
        return str(name) if name else None
    return None


# ---------------------------------------------------------------- instrumentation


@dataclass
class Plan:
    sql: str  # what runs (instrumented when possible)
    aggregate: bool  # output rows are aggregates with contributor counts
    measures: list[int] = field(default_factory=list)  # positions of sums and means
    individual: list[int] = field(default_factory=list)  # positions of individual statistics
    aggregates: list[int] = field(default_factory=list)  # positions of aggregate columns
    reason: str | None = None  # why it cannot be checked automatically


def _fn(name: str, args: list[dict[str, Any]], alias: str) -> dict[str, Any]:
    return {
        "class": "FUNCTION", "type": "FUNCTION", "alias": alias, "query_location": 0,
        "function_name": name, "schema": "", "filter": None,
        "order_bys": {"type": "ORDER_MODIFIER", "orders": []}, "distinct": False,
        "is_operator": False, "export_state": False, "catalog": "", "arguments": args,
    }  # fmt: skip


def _const_int(value: int) -> dict[str, Any]:
    return {"class": "CONSTANT", "type": "VALUE_CONSTANT", "alias": "", "query_location": 0,
            "value": {"type": {"id": "INTEGER", "type_info": None}, "is_null": False,
                      "value": value}}  # fmt: skip


def instrument(con: duckdb.DuckDBPyConnection, tree: dict[str, Any], sql: str) -> Plan:
    node = tree["statements"][0]["node"]
    if node.get("type") != "SELECT_NODE":
        return Plan(sql, False, reason="kueri_gabungan")
    select_list: list[dict[str, Any]] = node["select_list"]
    grouped = bool(node.get("group_expressions")) or bool(node.get("group_sets"))
    top_aggs = [
        (i, e) for i, e in enumerate(select_list)
        if e.get("class") == "FUNCTION" and str(e.get("function_name")).lower() in AGGREGATES
    ]  # fmt: skip
    if not grouped and not top_aggs:
        return Plan(sql, False, reason="keluaran_tingkat_individu")
    if any(e.get("class") == "STAR" for e in select_list):
        return Plan(sql, False, reason="keluaran_tingkat_individu")
    plan = Plan(sql, True, aggregates=[i for i, _ in top_aggs])
    for i, expr in enumerate(select_list):
        for sub in _walk(expr):
            if sub.get("class") == "FUNCTION":
                name = str(sub.get("function_name")).lower()
                if name in INDIVIDUAL and i not in plan.individual:
                    plan.individual.append(i)
    extra: list[dict[str, Any]] = [_fn("count_star", [], f"{PREFIX}n")]
    for i, expr in top_aggs:
        name = str(expr.get("function_name")).lower()
        args = expr.get("arguments") or []
        if name in SUMS and len(args) == 1:
            arg = args[0]["expression"] if "expression" in args[0] else args[0]
            greatest = _fn("greatest", [{"name": "", "expression": arg},
                                        {"name": "", "expression": _const_int(0)}], "")  # fmt: skip
            extra.append(_fn("sum", [{"name": "", "expression": greatest}], f"{PREFIX}s{i}"))
            extra.append(_fn("max", [{"name": "", "expression": greatest},
                                     {"name": "", "expression": _const_int(2)}],
                             f"{PREFIX}t{i}"))  # fmt: skip
            plan.measures.append(i)
    node["select_list"] = select_list + extra
    # ORDER BY / LIMIT stay; DISTINCT (ON) would change with the extra columns
    if any(m.get("type") == "DISTINCT_MODIFIER" for m in node.get("modifiers") or []):
        return Plan(sql, False, reason="kueri_tidak_dapat_diperiksa")
    try:
        row = con.execute("SELECT json_deserialize_sql(?::JSON)", [json.dumps(tree)]).fetchone()
    except duckdb.Error:
        return Plan(sql, False, reason="kueri_tidak_dapat_diperiksa")
    assert row is not None
    plan.sql = str(row[0])
    return plan


# ---------------------------------------------------------------- running


def sandbox_connection(tables: dict[str, pa.Table], rules: SdcRules) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        config={
            "enable_external_access": False,
            "autoload_known_extensions": False,
            "autoinstall_known_extensions": False,
            "allow_unsigned_extensions": False,
            "allow_community_extensions": False,
            "memory_limit": rules.sandbox_memory,
            "max_temp_directory_size": "0B",
            "threads": 1,
        }
    )
    for name, table in tables.items():
        con.register(name, table)
    con.execute("SET lock_configuration = true")
    return con


def run_limited(
    con: duckdb.DuckDBPyConnection, sql: str, seconds: float
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run with a wall-clock limit: past it the query is interrupted and refused."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            cur = con.execute(sql)
            box["cols"] = [d[0] for d in cur.description or []]
            box["rows"] = cur.fetchmany(MAX_OUTPUT_ROWS + 1)
        except Exception as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        con.interrupt()
        thread.join(10)
        raise _refuse(
            "kueri_melebihi_batas_waktu",
            f"Kueri dihentikan: melebihi batas waktu {seconds:g} detik.",
        )
    error = box.get("error")
    if error is not None:
        text = _first_line(error)
        if "memory" in text.lower() or isinstance(error, duckdb.OutOfMemoryException):
            raise _refuse("kueri_melebihi_batas_memori", "Kueri melebihi batas memori.")
        if isinstance(error, duckdb.PermissionException):
            raise _refuse("akses_berkas_dilarang", "Akses berkas atau jaringan dilarang.", 403)
        raise _refuse("kueri_gagal", f"Kueri gagal: {text}")
    if len(box["rows"]) > MAX_OUTPUT_ROWS:
        raise _refuse(
            "keluaran_terlalu_besar",
            f"Keluaran lebih dari {angka(MAX_OUTPUT_ROWS)} baris; agregasikan lebih lanjut.",
            status=413,
        )
    return box["cols"], box["rows"]


def check_output(
    plan: Plan, cols: list[str], rows: list[tuple[Any, ...]], rules: SdcRules
) -> tuple[list[str], list[list[Any]], dict[str, Any]]:
    """ACRO-style checks per output row; returns visible columns, rows and the verdict."""
    visible = [i for i, c in enumerate(cols) if not c.startswith(PREFIX)]
    out_cols = [cols[i] for i in visible]
    out_rows = [[_jsonable(r[i]) for i in visible] for r in rows]
    failures: list[dict[str, Any]] = []
    if not plan.aggregate:
        failures.append({"alasan": plan.reason or "keluaran_tingkat_individu"})
    for i in plan.individual:
        failures.append({"kolom": cols[i], "alasan": "statistik_individu"})
    if plan.aggregate:
        pos = {c: i for i, c in enumerate(cols)}
        for r_index, row in enumerate(rows):
            n = row[pos[f"{PREFIX}n"]] or 0
            if 0 < n < rules.threshold:
                failures.append({"baris": r_index + 1, "alasan": "ambang", "n": int(n)})
                continue
            for i in plan.measures:
                label = cols[i]
                total = float(row[pos[f"{PREFIX}s{i}"]] or 0)
                tops = list(row[pos[f"{PREFIX}t{i}"]] or [])
                t1 = float(tops[0]) if tops else 0.0
                t2 = float(tops[1]) if len(tops) > 1 and rules.dominance_n == 2 else 0.0
                if total > 0 and t1 + t2 > rules.dominance_k * total:
                    failures.append({"baris": r_index + 1, "kolom": label, "alasan": "dominasi"})
                elif total > 0 and total - t1 - t2 < rules.p_ratio * t1:
                    failures.append({"baris": r_index + 1, "kolom": label, "alasan": "p_rasio"})
            if rules.zeros_disclosive:
                for i in plan.aggregates:
                    if row[i] == 0:
                        failures.append(
                            {"baris": r_index + 1, "kolom": cols[i], "alasan": "nol_disklosif"}
                        )
    checks = {
        "lulus": not failures,
        "gagal": failures[:200],
        "jumlah_gagal": len(failures),
        "aturan": rules.model_dump(by_alias=True, include=svc.RULE_KEYS | {"zeros_disclosive"}),
        "baris": len(out_rows),
    }
    return out_cols, out_rows, checks


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


# ---------------------------------------------------------------- the service


def tier_tables(settings: Settings, decision: Decision) -> dict[str, pa.Table]:
    """The user's view: granted elements inside the region scope, identifiers pseudonymised
    with the agreement's key, direct identifiers never present."""
    assert decision.agreement_id is not None
    dataset = get_dataset(DATASET)
    key = agreement_key(settings, decision.agreement_id)
    cols: list[str] = [f"{pseudonym_sql(key, n)} AS {a}" for n, a in PSEUDONYMS.items()
                       if n in ("nik", "no_kk") or n in decision.output_elements]  # fmt: skip
    for el in dataset.tabular_elements:
        if el.name in decision.output_elements and el.name not in PSEUDONYMS \
                and el.klass != "direct":  # fmt: skip
            cols.append(el.name)
    scope = decision.region_scope
    where = " OR ".join(f"starts_with(kode_wilayah, '{p}')" for p in scope) if scope else "TRUE"
    with svc.analytics(settings) as con:
        table = con.sql(f"SELECT {', '.join(cols)} FROM regsosek WHERE {where}").to_arrow_table()
    return {VIEW: table}


@writes  # stores the output row with its record
def submit(session: Session, call: Call, sql: str, purpose: str | None) -> KeluaranOut:
    """Run one SELECT in the sandbox; release it if it passes, else queue it for review."""
    req = svc.access_request(call, Service.PENGOLAHAN)
    decision = call.authorize(session, req)
    assert decision.agreement_id and decision.grant and decision.agreement_version
    rules = svc.rules_for(session, decision.agreement_id)
    try:
        con = sandbox_connection(tier_tables(call.settings, decision), rules)
        try:
            tree = parse(con, sql)
            check_tree(tree, {VIEW})
            plan = instrument(con, tree, sql)
            cols, rows = run_limited(con, plan.sql, rules.sandbox_seconds)
        finally:
            con.close()
    except SimpulError as exc:
        raise call.refuse_after(req, decision, exc) from None
    out_cols, out_rows, checks = check_output(plan, cols, rows, rules)
    row = ProcessingOutput(
        id=new_id("olah-"),
        account_id=call.principal.account_id,
        username=call.principal.username,
        institution=call.principal.institution,
        provider=decision.grant.provider,
        agreement_id=decision.agreement_id,
        agreement_version=decision.agreement_version,
        grant_id=decision.grant.id,
        sql=sql,
        purpose=purpose,
        status="dirilis" if checks["lulus"] else "menunggu_tinjauan",
        columns=out_cols,
        rows=out_rows,
        checks=checks,
        attribution=svc.attribution(session, decision),
        created_at=call.clock.now(),
    )
    session.add(row)
    session.flush()
    shown = row.status == "dirilis"
    call.disclose(req, decision, result={
        "keluaran": row.id, "status": row.status, "baris": len(out_rows) if shown else 0,
        "gagal": checks["jumlah_gagal"],
    })  # fmt: skip
    return _out(row, show=shown)


def _out(row: ProcessingOutput, show: bool) -> KeluaranOut:
    return KeluaranOut(
        id=row.id,
        status=row.status,
        kolom=list(row.columns),
        baris=[list(r) for r in row.rows] if show else None,
        pemeriksaan=dict(row.checks),
        sumber=row.attribution,
        ditinjau_oleh=row.reviewer,
        alasan_tinjauan=row.review_reason,
    )


RELEASED = ("dirilis", "disetujui")
REVIEW = "pengolahan.tinjau"


def _missing() -> NotFound:
    return NotFound("keluaran_tidak_ada", "Keluaran tidak ditemukan.")


def _review_request(agreement_id: str) -> PartyRequest:
    return PartyRequest(resource=REVIEW, agreement_id=agreement_id,
                        roles=frozenset({Role.PROVIDER_ADMIN}), side=Side.PROVIDER,
                        dataset=DATASET)  # fmt: skip


def get_output(session: Session, call: Call, output_id: str) -> KeluaranOut:
    """An output for the account that ran it, while its agreement is in force and still
    grants the processing facility (rows only once released or approved); for the
    provider's administrator, as a reviewer of that agreement. Anyone else: not found."""
    principal = call.principal
    row = session.get(ProcessingOutput, output_id)
    if row is None:
        raise _missing()
    if row.account_id == principal.account_id:
        req = svc.access_request(call, Service.PENGOLAHAN, agreement_id=row.agreement_id)
        decision = call.authorize(session, req)
        show = row.status in RELEASED
        call.disclose(req, decision, result={"keluaran": row.id, "status": row.status,
                                             "baris": len(row.rows) if show else 0})  # fmt: skip
        return _out(row, show=show)
    if principal.role is Role.PROVIDER_ADMIN and row.provider == principal.institution:
        party = _review_request(row.agreement_id)
        decision = call.authorize_party(session, party)
        call.disclose_party(party, decision, result={"keluaran": row.id, "status": row.status,
                                                     "baris": len(row.rows)})  # fmt: skip
        return _out(row, show=True)
    raise _missing()


def _reviewer(call: Call) -> None:
    if call.principal.role is not Role.PROVIDER_ADMIN:
        raise SimpulError(
            "peran_tidak_berwenang", "Hanya admin penyedia yang meninjau keluaran.", status=403
        )


def _reviewed_agreements(session: Session, call: Call) -> list[str]:
    """The agreements under which the caller's institution provides the processing
    facility over Regsosek (their outputs are its to review)."""
    institution = call.principal.institution
    found: list[str] = []
    for summary in agreements.list_agreements(session, call.clock.now()):
        doc = agreements.document_of(agreements.get(session, summary.id))
        if any(g.provider == institution and g.dataset == DATASET
               and g.service is Service.PENGOLAHAN for g in doc.grants):  # fmt: skip
            found.append(summary.id)
    return found


def review_queue(session: Session, call: Call) -> list[KeluaranOut]:
    """Outputs waiting for the provider (the reviewer sees the rows to judge them), under
    each agreement in force for which the caller's institution provides the facility. An
    agreement out of force is refused (and recorded) and its outputs are not shown."""
    _reviewer(call)
    institution = call.principal.institution
    waiting = list(session.scalars(
        select(ProcessingOutput)
        .where(ProcessingOutput.provider == institution,
               ProcessingOutput.status == "menunggu_tinjauan")
        .order_by(ProcessingOutput.created_at)
    ))  # fmt: skip
    names = sorted(set(_reviewed_agreements(session, call)) | {r.agreement_id for r in waiting})
    if not names:
        raise SimpulError("bukan_pihak_perjanjian",
                          "Instansi akun tidak menyediakan fasilitas pengolahan Regsosek "
                          "dalam perjanjian apa pun.", status=403)  # fmt: skip
    shown: list[KeluaranOut] = []
    first_refusal: Refused | None = None
    allowed = 0
    for agreement_id in names:
        party = _review_request(agreement_id)
        try:
            decision = call.authorize_party(session, party)
        except Refused as refused:  # recorded; the other agreements' outputs still show
            first_refusal = first_refusal or refused
            continue
        mine = [r for r in waiting if r.agreement_id == agreement_id]
        call.disclose_party(party, decision, result={"antrean": len(mine),
                                                     "keluaran": [r.id for r in mine]})  # fmt: skip
        shown.extend(_out(r, show=True) for r in mine)
        allowed += 1
    if not allowed and first_refusal is not None:
        raise first_refusal
    return shown


@writes  # the decision and its record commit together
def review(session: Session, call: Call, output_id: str, approve: bool, reason: str) -> KeluaranOut:
    """Approve or reject a queued output, with reasons; decided for the provider's
    administrator while the output's agreement is in force, recorded in the same
    transaction as the decision (`pengolahan.tinjau`, the reason in its detail)."""
    _reviewer(call)
    row = session.get(ProcessingOutput, output_id)
    if row is None or row.provider != call.principal.institution:
        raise _missing()
    party = _review_request(row.agreement_id)
    decision = call.authorize_party(session, party)
    if row.status != "menunggu_tinjauan":
        raise Conflict("keluaran_sudah_ditinjau", f"Keluaran berstatus {row.status}.")
    if len(reason.strip()) < 3:
        raise InvalidInput("alasan_wajib", "Alasan tinjauan wajib diisi.")
    row.status = "disetujui" if approve else "ditolak"
    row.reviewer, row.review_reason, row.reviewed_at = (
        call.principal.username,
        reason,
        call.clock.now(),
    )
    session.flush()
    summary = {"keluaran": row.id, "status": row.status, "pengguna": row.username,
               "baris": len(row.rows)}  # fmt: skip
    event = resource_event(call.principal, party.resource, decision,
                           agreement_id=party.agreement_id, dataset=party.dataset,
                           mechanism=call.mechanism.value, result=summary,
                           request_id=call.request_id)  # fmt: skip
    call.record(session, replace(event, grant_id=row.grant_id, service=Service.PENGOLAHAN.value,
                                 detail={"alasan": reason}))  # fmt: skip
    return _out(row, show=True)
