"""Arrow tables of parsed log blocks to the pandas logs frame, with as little memory as the frame itself.

Blocks are kept compact as they are read (:func:`compact`): canonical ``category`` columns
(PRODUCT.md: ``level``, ``service``, ``method``, ``source``) and extra text columns with few
distinct values as Arrow dictionaries, which become pandas categoricals (one byte a row), other
text as ``large_string``, which pandas' string dtype wraps without a copy. :func:`to_frame`
concatenates, sorts only when needed and converts column by column, freeing as it goes.
"""

from __future__ import annotations

import ctypes
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ... import frames
from . import fields as logfields

# canonical text columns typed "category" (few distinct values: level, service, method, source)
DICT_TYPE = pa.dictionary(pa.int32(), pa.large_string())
CATEGORICAL = frozenset(n for n, dtype in frames.SCHEMAS["logs"].items() if dtype == "category")
# an extra text column with at most one distinct value per this many rows (from this many rows on) is encoded
_FEW_VALUES_RATIO, _FEW_VALUES_MIN_ROWS = 50, 1000
# what a read keeps lives in the C library's allocator (freed memory is given back with malloc_trim);
# a block's transient buffers stay in Arrow's default pool, which reuses them for the next block
KEPT_POOL = pa.system_memory_pool()


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
    """Return ``table`` as kept until the end, copied into :data:`KEPT_POOL`, one chunk a column.

    ``encode`` columns become dictionaries (pandas categoricals, one byte a row for few values),
    other text large_string (what pandas' string dtype wraps without a copy). Copying what is
    kept out of the default pool lets the block's transient buffers there be reused for the
    next block instead of being given back to the system and faulted in again.
    """
    columns = []
    for f, col in zip(table.schema, table.columns):
        if f.name in encode and (_is_text(f.type) or pa.types.is_null(f.type)):
            col = _narrow(pc.dictionary_encode(col))
        elif f.name in encode and pa.types.is_dictionary(f.type):
            col = _narrow(col)
        elif pa.types.is_string(f.type):
            col = pc.cast(col, pa.large_string(), memory_pool=KEPT_POOL)
        elif col.num_chunks:
            col = pa.concat_arrays(col.chunks, memory_pool=KEPT_POOL)
        columns.append(col)
    return pa.table(columns, names=table.column_names)


def _narrow(col: pa.ChunkedArray | pa.DictionaryArray) -> pa.ChunkedArray | pa.Array:
    """Return dictionary-encoded ``col`` in :data:`KEPT_POOL` with the narrowest index type its dictionary allows.

    One byte a row for up to 127 values instead of four: blocks of one file may differ, and
    concatenating them promotes to the widest.
    """
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    size = max((len(c.dictionary) for c in chunks), default=0)
    index = pa.int8() if size <= 127 else pa.int16() if size <= 32767 else pa.int32()
    wanted = pa.dictionary(index, pa.large_string())
    if col.type == wanted:
        return pa.concat_arrays(chunks, memory_pool=KEPT_POOL) if chunks else col
    return pc.cast(col, wanted, memory_pool=KEPT_POOL)


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


def _is_sorted(ts: pa.ChunkedArray) -> bool:
    """True when ``ts`` never goes back in time, checked chunk by chunk (no combined copy)."""
    previous = None
    for chunk in ts.chunks:
        if len(chunk) == 0:
            continue
        values = chunk.cast(pa.int64()).to_numpy(zero_copy_only=False)
        if (previous is not None and values[0] < previous) or np.any(values[1:] < values[:-1]):
            return False
        previous = values[-1]
    return True


def to_frame(blocks: list[pa.Table]) -> pd.DataFrame:
    """Return a pandas frame of the tables in ``blocks``, sorted by ``ts`` (stable), strings and numbers nullable.

    ``blocks`` is emptied: this function holds the only reference to the data, so each column's
    Arrow memory is freed as soon as it is converted and the peak is the blocks plus one
    converted column, not the blocks plus the frame.
    """
    table = concat(blocks)
    blocks.clear()
    if table.num_rows > 1 and not _is_sorted(table.column("ts")):
        ts = table.column("ts").combine_chunks().cast(pa.int64()).to_numpy(zero_copy_only=False)
        table = table.take(pa.array(np.argsort(ts, kind="stable")))
        del ts
    missing = {"status": pa.int64(), "latency_ms": pa.float64(), **{n: pa.dictionary(pa.int8(), pa.large_string()) for n in CATEGORICAL}}
    for name in logfields.CANONICAL:  # absent canonical columns: typed nulls here are cheaper than in pandas
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, missing.get(name, pa.string())))
    series: dict[str, pd.Series] = {}
    for name in list(table.column_names):
        one, table = table.select([name]), table.drop_columns([name])
        series[name] = one.to_pandas(types_mapper=_PANDAS_TYPES.get, self_destruct=True)[name]
        del one
        trim_kept_pool()
    frame = pd.DataFrame(series, copy=False)
    del series
    pa.default_memory_pool().release_unused()
    return frame


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc
        return None


_MALLOC_TRIM = _find_malloc_trim()


def trim_kept_pool() -> None:
    """Give the memory freed in :data:`KEPT_POOL` back to the system (glibc keeps it until malloc_trim)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


__all__ = ["DICT_TYPE", "CATEGORICAL", "KEPT_POOL", "encoded_columns", "compact", "concat", "to_frame",
           "trim_kept_pool"]
