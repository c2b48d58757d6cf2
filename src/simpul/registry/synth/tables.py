"""Arrow tables with exactly the columns, order and types of each dataset definition."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from simpul.registry.datasets import ElementType, get_dataset

ARROW_TYPES: dict[ElementType, pa.DataType] = {
    ElementType.NIK: pa.string(),
    ElementType.KK: pa.string(),
    ElementType.NIP: pa.string(),
    ElementType.NAMA: pa.string(),
    ElementType.TEKS: pa.string(),
    ElementType.ALAMAT: pa.string(),
    ElementType.KODE: pa.string(),
    ElementType.WILAYAH: pa.string(),
    ElementType.TANGGAL: pa.date32(),
    ElementType.BILANGAN: pa.int64(),
    ElementType.DESIMAL: pa.float64(),
    ElementType.BOOLEAN: pa.bool_(),
}


def schema(code: str) -> pa.Schema:
    return pa.schema(
        [pa.field(el.name, ARROW_TYPES[el.type]) for el in get_dataset(code).tabular_elements]
    )


def assemble(code: str, columns: Mapping[str, Any]) -> pa.Table:
    """Columns in definition order, cast to the definition's types; extra or missing = bug."""
    target = schema(code)
    missing = set(target.names) - set(columns)
    extra = set(columns) - set(target.names)
    if missing or extra:
        raise ValueError(f"{code}: kolom hilang {sorted(missing)}, kolom lebih {sorted(extra)}")
    arrays = []
    for f in target:
        value = columns[f.name]
        arr = value if isinstance(value, pa.Array | pa.ChunkedArray) else pa.array(value)
        arrays.append(arr.cast(f.type) if arr.type != f.type else arr)
    return pa.Table.from_arrays(arrays, schema=target)


def write(table: pa.Table, path: Path) -> Path:
    """Parquet, compressed; same table → same bytes (no timestamps in the file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", row_group_size=256 * 1024)
    return path
