"""The matching pipeline of `simpul.matching.engine` on Spark, for jobs beyond one machine.

Same stages, same results (statuses, registry rows, probabilities) as the in-process
engine on the same inputs:

1. **NIK stage**: the list joined to the registry on NIK (the last record of a NIK, as
   `RegistryIndex.lookup` takes it); each pair compared by `engine.nik_stage_row`.
2. **NIK repair**: `engine.repair_candidates` per remaining row, joined to the registry on
   NIK.
3. **Probabilistic stage**: the remaining rows joined to the registry on their birth-date
   blocks (the date and the day/month-swapped date), so both sides are partitioned by block;
   `engine.prefilter` per pair, then each row's candidates (repairs, block survivors, and
   for rows without a birth date the closest distinct names) gathered and scored by
   `engine.score_row` inside the partition.

The model is fitted once on the driver from what Spark aggregates: the registry size, the
people per birth date, the random registry pairs of `engine.u_pairs` (fetched by position)
and the NIK-anchored pairs of stage 1. The fitted weights travel to the executors inside
the task closure (a few hundred bytes). Name frequencies are a group-by over the
registry's names, joined to the candidates' records only (`_nc`): for a registry of 10⁸
people the name table is too large to broadcast. Duplicate NIKs are resolved on the
list-sized side of the joins, not by a pass over the registry. The list itself and the
per-row verdicts live on the driver, as in the runner.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import StringType, StructField, StructType
from pyspark.sql.window import Window

from simpul.matching.blocking import CAPS, PASSES, registry_keys, with_name_columns
from simpul.matching.engine import (
    ANCHOR_SAMPLE,
    COCOK,
    COCOK_ELEMEN_BERBEDA,
    TIDAK_DITEMUKAN,
    MatchOptions,
    MatchResult,
    Query,
    QueryAddress,
    RegistryIndex,
    name_only,
    nik_stage_row,
    query_keys,
    repair_candidates,
    score_row,
    status_of,
)
from simpul.matching.model import _NO_DAY, Anchor, Weights, _Model, fit_model, u_counts, u_pairs
from simpul.matching.normalize import name_key

_EPOCH = date(1970, 1, 1)
# Registry columns the comparisons and the blocking read besides the NIK, the name, its
# stored key and sound codes and the birth date.
_OPTIONAL = ("jenis_kelamin", "alamat", "rt", "rw", "kode_wilayah")
_KEYED = ("nik", "nama_lengkap", "nama_kunci", "nama_fonetik")

Batches = Iterator[pa.RecordBatch]


# --- session ----------------------------------------------------------------------------


def ensure_java_home() -> None:
    """Spark's launcher reads JAVA_HOME; derive it from the `java` on PATH when unset."""
    if os.environ.get("JAVA_HOME"):
        return
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("Spark butuh Java 17+ (mis. paket openjdk-17-jre-headless).")
    os.environ["JAVA_HOME"] = str(Path(java).resolve().parent.parent)


def session(
    master: str = "local[*]",
    conf: Mapping[str, str] | None = None,
    app_name: str = "simpul-pemadanan",
) -> SparkSession:
    """A SparkSession for matching. For a local master: loopback only, no UI, few shuffle
    partitions, and this interpreter (the one with simpul installed) for the workers."""
    ensure_java_home()
    settings = {"spark.ui.showConsoleProgress": "false"}
    if master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        settings |= {
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "8",
        }
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {**settings, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


# --- frames -----------------------------------------------------------------------------


def _birth_days(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Days since 1970 as RegistryIndex computes them (_NO_DAY where there is no date)."""
    days = pc.fill_null(pc.cast(pc.cast(column, pa.date32()), pa.int32()), _NO_DAY)
    return days.combine_chunks() if isinstance(days, pa.ChunkedArray) else days


def registry_frame(spark: SparkSession, registry: pa.Table | DataFrame) -> DataFrame:
    """The registry as the pipeline reads it: `_idx` (the record's position: what
    `MatchResult.registry_index` refers to), `_day`, `nik`, `nama_lengkap` and the optional
    columns. A DataFrame without `_idx` is numbered in the order Spark reads it."""
    if isinstance(registry, pa.Table):
        registry = with_name_columns(registry)
        cols = {
            "_idx": pa.array(np.arange(registry.num_rows, dtype=np.int64)),
            "_day": _birth_days(registry.column("tanggal_lahir")),
        }
        cols |= {c: registry.column(c) for c in _KEYED}
        cols |= {c: registry.column(c) for c in _OPTIONAL if c in registry.column_names}
        frame = spark.createDataFrame(pa.table(cols))
    else:
        frame = registry
        if "_idx" not in frame.columns:
            frame = _numbered(frame)
        days = F.datediff(F.col("tanggal_lahir").cast("date"), F.lit("1970-01-01"))
        frame = frame.withColumn("_day", F.coalesce(days, F.lit(_NO_DAY)))
        optional = [c for c in _OPTIONAL if c in frame.columns]
        if {"nama_kunci", "nama_fonetik"} <= set(frame.columns):
            frame = frame.select("_idx", "_day", *_KEYED, *optional)
        else:  # the name keys computed in the partitions, as a snapshot stores them
            frame = frame.select("_idx", "_day", "nik", "nama_lengkap", *optional)
            schema = StructType([*frame.schema.fields, StructField("nama_kunci", StringType()),
                                 StructField("nama_fonetik", StringType())])  # fmt: skip
            frame = frame.mapInArrow(_name_keys, schema)
    return frame


def _name_keys(batches: Batches) -> Batches:
    """The registry's name keys and sound codes, as the snapshot stores them."""
    for batch in batches:
        table = pa.Table.from_batches([batch])
        yield from with_name_columns(table).to_batches()


def _name() -> Column:
    return F.coalesce(F.col("nama_lengkap"), F.lit(""))  # RegistryIndex reads None as ""


def _last_record(pairs: DataFrame, key: list[str], idx: str) -> DataFrame:
    """Of the records sharing a NIK, the last one (RegistryIndex.lookup keeps the last)."""
    last = F.max(idx).over(Window.partitionBy(*key))
    return pairs.withColumn("_last", last).where(F.col(idx) == F.col("_last")).drop("_last")


def _numbered(frame: DataFrame) -> DataFrame:
    """`frame` with `_idx` = 0…n-1 in its order, computed in the JVM: a partition's offset
    (from the rows per partition) plus the row's place in its partition. The partitioning
    must be stable between the two passes, as it is for files read again."""
    tagged = frame.withColumn("_pid", F.spark_partition_id()).withColumn(
        "_mid", F.monotonically_increasing_id()
    )
    per_part = sorted(tagged.groupBy("_pid").count().collect())
    starts = np.concatenate([[0], np.cumsum([c for _pid, c in per_part])[:-1]]).tolist()
    offset = F.create_map(
        *[F.lit(x) for (pid, _c), start in zip(per_part, starts, strict=True) for x in (pid, start)]
    )
    # monotonically_increasing_id = partition id << 33 + place in the partition.
    place = F.col("_mid") - F.col("_pid").cast("long") * (1 << 33)
    return tagged.withColumn("_idx", offset[F.col("_pid")] + place).drop("_pid", "_mid")


def _query_table(q: Query, rows: Sequence[int]) -> pa.Table:
    """List rows `rows` as Arrow: `_row`, `q_nik`, `q_nama`, `q_day` and, when the list has
    them, `q_sex` and `q_alamat`."""
    cols: dict[str, pa.Array] = {
        "_row": pa.array(rows, pa.int64()),
        "q_nik": pa.array([q.nik[r] for r in rows], pa.string()),
        "q_nama": pa.array([q.nama[r] for r in rows], pa.string()),
        "q_day": pa.array([_day(q.tanggal_lahir[r]) for r in rows], pa.int32()),
    }
    if q.jenis_kelamin is not None:
        cols["q_sex"] = pa.array([q.jenis_kelamin[r] for r in rows], pa.string())
    if q.alamat is not None:
        cols["q_alamat"] = pa.array([q.alamat[r] for r in rows], pa.string())
    if q.wilayah is not None:
        cols["q_wilayah"] = pa.array([q.wilayah[r] for r in rows], pa.string())
    return pa.table(cols)


def _day(value: date | None) -> int:
    return (value - _EPOCH).days if value is not None else _NO_DAY


def _local_query(t: pa.Table | pa.RecordBatch) -> Query:
    """The list rows of a batch as a Query (row k of the batch is row k of the Query)."""
    names = t.schema.names
    days = t.column("q_day").to_pylist()
    return Query(
        nik=t.column("q_nik").to_pylist(),
        nama=t.column("q_nama").to_pylist(),
        tanggal_lahir=[None if d == _NO_DAY else _EPOCH + timedelta(days=d) for d in days],
        jenis_kelamin=t.column("q_sex").to_pylist() if "q_sex" in names else None,
        alamat=t.column("q_alamat").to_pylist() if "q_alamat" in names else None,
        wilayah=t.column("q_wilayah").to_pylist() if "q_wilayah" in names else None,
    )


def _born(day: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Birth dates from `_day` (None at _NO_DAY)."""
    days = day.cast(pa.int32())
    null = pa.scalar(None, pa.int32())
    born: pa.Array = pc.if_else(pc.equal(days, _NO_DAY), null, days).cast(pa.date32())
    return born


def _local_registry(t: pa.Table | pa.RecordBatch, population: int | None = None) -> RegistryIndex:
    """A RegistryIndex over registry records that came through Spark (record k at position
    k). With `population`, name frequencies and priors are those of the whole registry."""
    names = t.schema.names
    born = _born(t.column("_day"))
    cols = {c: t.column(c) for c in _KEYED if c in names} | {"tanggal_lahir": born}
    cols |= {c: t.column(c) for c in _OPTIONAL if c in names}
    counts: dict[str, int] | None = None
    if population is not None:
        raw = zip(cols["nama_kunci"].to_pylist(), t.column("_nc").to_pylist(), strict=True)
        counts = {(key or ""): int(nc) for key, nc in raw}
    return RegistryIndex(pa.table(cols), population=population, name_counts=counts)


def _split(batch: pa.RecordBatch, prefix: str) -> pa.Table:
    """The columns of `batch` whose names start with `prefix`, without it."""
    keep = [n for n in batch.schema.names if n.startswith(prefix)]
    return pa.table([batch.column(n) for n in keep], names=[n[len(prefix) :] for n in keep])


# --- per-partition steps (top-level functions: pickled by reference to the executors) ----


def _nik_stage(opts: MatchOptions, batches: Batches) -> Batches:
    """Stage 1 over (list row, the record its NIK points at) pairs."""
    for batch in batches:
        q = _local_query(batch)
        reg = _local_registry(_split(batch, "r_"))
        q_addr = QueryAddress(q.alamat)
        slip, diffs, nl, dl, al = [], [], [], [], []
        for k in range(batch.num_rows):
            got = nik_stage_row(reg, q, k, k, opts, q_addr, anchor=True)
            slip.append(got is None)
            diffs.append(",".join(got[0]) if got else "")
            anchor = got[1] if got else None
            nl.append(anchor[0] if anchor else None)
            dl.append(anchor[1] if anchor else None)
            al.append(anchor[3] if anchor else None)
        yield pa.RecordBatch.from_pydict(
            {"_row": batch.column("_row"),
             "_idx": batch.column("r__idx"),
             "slip": slip, "differing": diffs, "nl": nl, "dl": dl, "al": al},
            schema=_NIK_SCHEMA,
        )  # fmt: skip


_NIK_SCHEMA = pa.schema(
    [("_row", pa.int64()), ("_idx", pa.int64()), ("slip", pa.bool_()), ("differing", pa.string()),
     ("nl", pa.int32()), ("dl", pa.int32()), ("al", pa.int32())]
)  # fmt: skip


def _repairs(batches: Batches) -> Batches:
    """Stage 2: every mended NIK worth looking up, per list row."""
    for batch in batches:
        q = _local_query(batch)
        rows = batch.column("_row").to_pylist()
        out_rows: list[int] = []
        out_niks: list[str] = []
        for k, row in enumerate(rows):
            sex = q.jenis_kelamin[k] if q.jenis_kelamin is not None else None
            mends = repair_candidates(q.nik[k], q.tanggal_lahir[k], sex)
            out_rows += [row] * len(mends)
            out_niks += mends
        yield pa.RecordBatch.from_pydict({"_row": out_rows, "nik": out_niks}, schema=_REPAIR_SCHEMA)


_REPAIR_SCHEMA = pa.schema([("_row", pa.int64()), ("nik", pa.string())])
_PAIR_SCHEMA = pa.schema([("_row", pa.int64()), ("_idx", pa.int64())])


def _block_keys(batches: Batches) -> Batches:
    """The registry's blocking keys (`blocking.registry_keys`), per record position."""
    for batch in batches:
        table = pa.Table.from_batches([batch])
        table = table.append_column("tanggal_lahir", _born(table.column("_day")))
        idx = batch.column("_idx").to_numpy()
        for name, (at, keys) in registry_keys(table).items():
            yield pa.RecordBatch.from_pydict(
                {"_idx": idx[at], "pass": pa.array([name] * len(at), pa.string()), "key": keys},
                schema=_KEY_SCHEMA,
            )


_KEY_SCHEMA = pa.schema([("_idx", pa.int64()), ("pass", pa.string()), ("key", pa.string())])


def _score(opts: MatchOptions, weights: Weights, population: int, batches: Batches) -> Batches:
    """Stage 3's scoring: each list row with the list of its candidate records."""
    for batch in batches:
        q = _local_query(batch)
        cands = batch.column("cands")
        parent = pc.list_parent_indices(cands).to_numpy()
        flat = pa.Table.from_struct_array(pc.list_flatten(cands))
        # Records in (row, registry position) order, so local order is registry order.
        order = np.lexsort((flat.column("_idx").to_numpy(), parent))
        flat, parent = flat.take(order), parent[order]
        reg = _local_registry(flat, population)
        idx = flat.column("_idx").to_numpy()
        mended = flat.column("_rep").to_numpy(zero_copy_only=False)
        bounds = np.searchsorted(parent, np.arange(batch.num_rows + 1))
        q_addr = QueryAddress(q.alamat)
        out: dict[str, list[object]] = {k: [] for k in _SCORE_SCHEMA.names}
        rows = batch.column("_row").to_pylist()
        for k, row in enumerate(rows):
            local = range(int(bounds[k]), int(bounds[k + 1]))
            qkey = name_key(q.nama[k]) if q.nama[k] else ""
            repaired = {i for i in local if mended[i]}
            verdict = score_row(reg, q, k, qkey, local, repaired, weights, opts, q_addr)
            if verdict is None:
                continue
            out["_row"].append(row)
            out["_idx"].append(int(idx[verdict.index]) if verdict.index >= 0 else -1)
            out["probability"].append(verdict.probability)
            out["method"].append(verdict.method)
            out["differing"].append(",".join(verdict.differing))
            shown = [
                [int(idx[c]), p, [list(m) for m in marks]] for c, p, marks in verdict.candidates
            ]
            out["candidates"].append(json.dumps(shown))
        yield pa.RecordBatch.from_pydict(out, schema=_SCORE_SCHEMA)


_SCORE_SCHEMA = pa.schema(
    [("_row", pa.int64()), ("_idx", pa.int64()), ("probability", pa.float64()),
     ("method", pa.string()), ("differing", pa.string()), ("candidates", pa.string())]
)  # fmt: skip


# --- the pipeline -----------------------------------------------------------------------


def _registry_cols(reg: DataFrame, prefix: str) -> list[str]:
    return [f"{c} as {prefix}{c}" for c in reg.columns]


def _differing(text: str) -> tuple[str, ...]:
    return tuple(text.split(",")) if text else ()


def match_spark(
    spark: SparkSession,
    registry: pa.Table | DataFrame,
    q: Query,
    opts: MatchOptions | None = None,
    *,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> MatchResult:
    """`engine.match` on Spark: the same result for the same registry, list and seed.
    `registry` is an Arrow table (positions are its rows) or a DataFrame (see
    `registry_frame`); `progress(fraction)` is called between Spark jobs (it may raise to
    stop the run)."""
    opts = opts or MatchOptions()
    report = progress or (lambda _f: None)
    report(0.0)
    n = len(q)
    result = MatchResult(
        [TIDAK_DITEMUKAN] * n, np.full(n, -1, dtype=np.int64), [None] * n, [()] * n, [""] * n
    )
    reg = registry_frame(spark, registry).persist()
    held = [reg]
    try:
        population = reg.count()
        anchored, nik_pairs = _nik_stage_on(spark, reg, q, opts, result)
        rest = [row for row in range(n) if result.method[row] != "nik"]
        report(0.3)
        if not rest:
            result.blocking = {"nik": nik_pairs}
            report(1.0)
            return result
        model = _fit_on_driver(spark, reg, population, anchored, seed)
        weights = Weights.of(model, opts, population)
        report(0.4)
        rest_df = spark.createDataFrame(_rest_table(q, rest)).persist()
        held.append(rest_df)
        cands, result.blocking = _candidates(spark, reg, rest_df, q, rest)
        result.blocking = {"nik": nik_pairs, **result.blocking}
        report(0.5)
        score = functools.partial(_score, opts, weights, population)
        records = cands.join(reg, "_idx").withColumn("_name", _name())
        key = F.coalesce(F.col("nama_kunci"), F.lit(""))
        counts = reg.groupBy(key.alias("_key")).agg(F.count(F.lit(1)).alias("_nc"))
        grouped = (
            records.withColumn("_key", key)
            .join(counts, "_key")
            .drop("_key", "_name")
            .groupBy("_row")
            .agg(F.collect_list(F.struct("_rep", "_nc", *reg.columns)).alias("cands"))
            .join(rest_df, "_row")
        )
        scored = grouped.mapInArrow(score, from_arrow_schema(_SCORE_SCHEMA)).toArrow()
        cols = [scored.column(c).to_pylist() for c in _SCORE_SCHEMA.names]
        for row, i, p, how, diff, shown in zip(*cols, strict=True):
            result.probability[row] = p
            if i >= 0:
                result.candidates[row] = tuple(
                    (c, cp, tuple((e, lv) for e, lv in marks)) for c, cp, marks in json.loads(shown)
                )
                result.status[row] = status_of(p, opts, only_name=name_only(q, row))
                result.registry_index[row] = i
                result.method[row] = how
                result.differing[row] = _differing(diff)
        result.weights = model.describe()
        report(1.0)
        return result
    finally:
        for frame in held:
            frame.unpersist()


def _nik_stage_on(
    spark: SparkSession, reg: DataFrame, q: Query, opts: MatchOptions, result: MatchResult
) -> tuple[list[Anchor], int]:
    """Stage 1 into `result`; returns the anchored pairs' levels, as the engine gathers
    them (the first ANCHOR_SAMPLE in list order), and how many rows' NIKs were found."""
    listing = spark.createDataFrame(_query_table(q, range(len(q))))
    pairs = listing.where(F.length("q_nik") == 16).join(
        reg.selectExpr(*_registry_cols(reg, "r_")), F.col("q_nik") == F.col("r_nik")
    )
    pairs = _last_record(pairs, ["_row"], "r__idx")
    stage = functools.partial(_nik_stage, opts)
    got = pairs.mapInArrow(stage, from_arrow_schema(_NIK_SCHEMA)).toArrow().sort_by("_row")
    anchored: list[Anchor] = []
    cols = [got.column(c).to_pylist() for c in _NIK_SCHEMA.names]
    for row, i, slip, diff, nl, dl, al in zip(*cols, strict=True):
        if slip:
            continue  # the NIK of someone else: a slip onto another person
        result.differing[row] = _differing(diff)
        result.status[row] = COCOK_ELEMEN_BERBEDA if diff else COCOK
        result.registry_index[row] = i
        result.method[row] = "nik"
        if dl is not None and len(anchored) < ANCHOR_SAMPLE:
            anchored.append((nl, dl, 1, al))
    return anchored, got.num_rows


def _fit_on_driver(
    spark: SparkSession, reg: DataFrame, population: int, anchored: list[Anchor], seed: int
) -> _Model:
    """The engine's model from what Spark gathers: the records of the random pairs (by
    position, a few ten thousand) and the people per birth date (in date order)."""
    a, b = u_pairs(population, seed)
    wanted = spark.createDataFrame(pa.table({"_idx": np.unique(np.concatenate([a, b]))}))
    sample = reg.join(F.broadcast(wanted), "_idx").toArrow().sort_by("_idx")
    at = sample.column("_idx").to_numpy()
    counts = u_counts(_local_registry(sample), np.searchsorted(at, a), np.searchsorted(at, b))
    per_day = reg.groupBy("_day").count().toArrow().sort_by("_day").column("count")
    return fit_model(counts, per_day.to_numpy(), population, anchored)


def _rest_table(q: Query, rest: list[int]) -> pa.Table:
    """The rows left for stages 2 and 3."""
    return _query_table(q, rest)


def _candidates(
    spark: SparkSession, reg: DataFrame, rest_df: DataFrame, q: Query, rest: list[int]
) -> tuple[DataFrame, dict[str, int]]:
    """(`_row`, `_idx`, `_rep`: found by NIK repair) for every candidate of every row, and
    the pairs each pass found: the registry's keys joined to the rows' keys
    (`engine.query_keys`), blocks over their pass's cap left out."""
    mended = (
        rest_df.where(F.length("q_nik") == 16)
        .mapInArrow(_repairs, from_arrow_schema(_REPAIR_SCHEMA))
        .join(reg.select("nik", "_idx"), "nik")
    )
    mended = _last_record(mended, ["_row", "nik"], "_idx").select(
        "_row", "_idx", F.lit(True).alias("_rep")
    ).persist()  # fmt: skip
    repairs = mended.count()
    keyed = query_keys(q, rest)
    listed = spark.createDataFrame(pa.table({
        "_row": pa.array([r for p in PASSES for r in keyed[p][0]], pa.int64()),
        "pass": pa.array([p for p in PASSES for _ in keyed[p][0]], pa.string()),
        "key": pa.array([k for p in PASSES for k in keyed[p][1]], pa.string()),
    }))  # fmt: skip
    keys = reg.mapInArrow(_block_keys, from_arrow_schema(_KEY_SCHEMA))
    cap = F.create_map(*[F.lit(x) for p in PASSES for x in (p, CAPS[p])])
    sizes = keys.groupBy("pass", "key").count().where(F.col("count") <= cap[F.col("pass")])
    pairs = (
        listed.join(sizes.select("pass", "key"), ["pass", "key"])
        .join(keys, ["pass", "key"])
        .select("_row", "_idx", "pass")
        .distinct()
        .persist()
    )
    per_pass = dict.fromkeys(PASSES, 0)
    per_pass.update({p: int(c) for p, c in pairs.groupBy("pass").count().collect()})
    blocked = pairs.select("_row", "_idx", F.lit(False).alias("_rep"))
    cands = mended.unionByName(blocked).groupBy("_row", "_idx").agg(F.max("_rep").alias("_rep"))
    return cands, {"nik_satu_slip": repairs, **per_pass}


def matcher(spark: SparkSession) -> Callable[..., MatchResult]:
    """A stand-in for `engine.match(reg, q, opts, seed=, progress=)` that runs on Spark."""

    def run(
        reg: RegistryIndex,
        q: Query,
        opts: MatchOptions | None = None,
        *,
        seed: int = 0,
        progress: Callable[[float], None] | None = None,
    ) -> MatchResult:
        return match_spark(spark, reg.table, q, opts, seed=seed, progress=progress)

    return run
