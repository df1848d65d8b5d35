"""Arrow tables of parsed log blocks to the pandas logs frame, with as little memory as the frame itself.

Blocks are kept compact as they are read (:func:`compact`): canonical ``category`` columns
(PRODUCT.md: ``level``, ``service``, ``method``, ``source``) and extra text columns with few
distinct values as Arrow dictionaries, which become pandas categoricals (one byte a row), other
text as ``large_string``, which pandas' string dtype wraps without a copy. :func:`to_frame`
concatenates, sorts only when needed and converts column by column, freeing as it goes.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import frames
from . import logfields

# canonical text columns typed "category" (few distinct values: level, service, method, source)
DICT_TYPE = pa.dictionary(pa.int32(), pa.large_string())
CATEGORICAL = frozenset(n for n, dtype in frames.SCHEMAS["logs"].items() if dtype == "category")
# an extra text column with at most one distinct value per this many rows (from this many rows on) is encoded
_FEW_VALUES_RATIO, _FEW_VALUES_MIN_ROWS = 50, 1000


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def encoded_columns(table: pa.Table) -> set[str]:
    """Return the columns to keep dictionary-encoded: the canonical categorical ones and extra text with few values.

    Decided once per file, on its first kept rows, so every block of a file has the same types.
    """
    chosen = set(CATEGORICAL)
    n = table.num_rows
    if n < _FEW_VALUES_MIN_ROWS:
        return chosen
    for f in table.schema:
        if (f.name not in logfields.CANONICAL and _is_text(f.type)
                and pc.count_distinct(table.column(f.name)).as_py() * _FEW_VALUES_RATIO <= n):
            chosen.add(f.name)
    return chosen


def compact(table: pa.Table, encode: set[str]) -> pa.Table:
    """Return ``table`` as kept until the end: ``encode`` columns as dictionaries, other text as large_string.

    Converted per block, not all at the end; dictionaries become pandas categoricals (one byte a
    row for few values) and large_string is what pandas' string dtype holds, so neither is copied then.
    """
    columns, changed = [], False
    for f, col in zip(table.schema, table.columns):
        if f.name in encode and (_is_text(f.type) or pa.types.is_null(f.type)) and f.type != DICT_TYPE:
            col, changed = pc.dictionary_encode(col).cast(DICT_TYPE), True
        elif f.name in encode and pa.types.is_dictionary(f.type) and f.type != DICT_TYPE:
            col, changed = col.cast(DICT_TYPE), True
        elif pa.types.is_string(f.type):
            col, changed = col.cast(pa.large_string()), True
        columns.append(col)
    return pa.table(columns, names=table.column_names) if changed else table


def concat(tables: list[pa.Table]) -> pa.Table:
    """Return the blocks as one table (chunks are not copied); a column typed differently by two files becomes text."""
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        names = list(dict.fromkeys(n for t in tables for n in t.column_names))
        types: dict[str, set[pa.DataType]] = {}
        for t in tables:
            for f in t.schema:
                types.setdefault(f.name, set()).add(f.type)
        clashing = {n for n, ts in types.items() if len(ts) > 1}
        fixed = []
        for t in tables:
            cols = {n: (t.column(n).cast(pa.large_string()) if n in clashing and n not in logfields.CANONICAL else t.column(n))
                    for n in t.column_names}
            fixed.append(pa.table(cols))
        del names
        return pa.concat_tables(fixed, promote_options="permissive")


_PANDAS_TYPES: dict[pa.DataType, pd.api.extensions.ExtensionDtype] = {
    pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow"),
    pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype(), pa.bool_(): pd.BooleanDtype()}


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Return a pandas frame of ``table`` sorted by ``ts`` (stable), strings and numbers nullable."""
    if table.num_rows > 1:
        ts = table.column("ts").combine_chunks().cast(pa.int64()).to_numpy(zero_copy_only=False)
        if np.any(ts[1:] < ts[:-1]):
            table = table.take(pa.array(np.argsort(ts, kind="stable")))
        del ts
    missing = {"status": pa.int64(), "latency_ms": pa.float64(), **{n: DICT_TYPE for n in CATEGORICAL}}
    for name in logfields.CANONICAL:  # absent canonical columns: typed nulls here are cheaper than in pandas
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, missing.get(name, pa.string())))
    frame = table.to_pandas(types_mapper=_PANDAS_TYPES.get, self_destruct=True, split_blocks=True)
    del table
    pa.default_memory_pool().release_unused()
    return frame


@contextmanager
def system_pool() -> Iterator[None]:
    """Allocate Arrow memory from the C library while reading, then restore the previous default pool.

    mimalloc and jemalloc keep the blocks' freed memory for reuse, which adds about a hundred MB
    to the peak of a large read parsed by Arrow (access logs: 340 MB instead of 240 MB for a
    million lines); the system allocator gives it back (``release_unused`` trims). Not for JSON
    lines, which polars parses with its own allocator: there it only adds page faults. Buffers
    remember their own pool, so switching is safe for arrays made before or after.
    """
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


__all__ = ["DICT_TYPE", "CATEGORICAL", "encoded_columns", "compact", "concat", "to_frame", "system_pool"]
