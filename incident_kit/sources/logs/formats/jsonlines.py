"""JSON lines (pyarrow, or polars; bad lines found by Arrow kernels, Python's json only for what is left) and
journald's ``journalctl -o json`` export."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import fields as logfields
from ..fields import TS_TYPE
from .base import Parsed, known_lines, split_lines
from .lines import merge_untimed


def _flatten(table: pa.Table) -> pa.Table:
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


def _text_fields(obj: dict[str, Any]) -> list[pa.Field]:
    """Return string-typed fields for the text values of ``obj``, nested objects as structs of theirs."""
    out = []
    for key, value in obj.items():
        if isinstance(value, str):
            out.append(pa.field(key, pa.string()))
        elif isinstance(value, dict) and (inner := _text_fields(value)):
            out.append(pa.field(key, pa.struct(inner)))
    return out


def _paths(obj: dict[str, Any], prefix: str = "") -> list[str]:
    """Return the dotted names of ``obj``'s values in their written order (the names :func:`_flatten` gives)."""
    out = []
    for key, value in obj.items():
        out += _paths(value, f"{prefix}{key}.") if isinstance(value, dict) and value else [prefix + key]
    return out


def _first_object(block: bytes) -> dict[str, Any] | None:
    """Return the block's first line as an object, None when it is not one."""
    block = block.lstrip()  # the same object unless the block starts blank
    end = block.find(b"\n")
    try:
        obj = json.loads(block[:end] if end >= 0 else block)  # never a copy of the rest of the block
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _has_times(dtype: pa.DataType) -> bool:
    if pa.types.is_struct(dtype):
        return any(_has_times(dtype.field(i).type) for i in range(dtype.num_fields))
    return pa.types.is_timestamp(dtype)


def _fast_json(block: bytes, *, polars_fallback: bool = True) -> pa.Table:
    """Parse a block of JSON lines with pyarrow (fastest here: bench_ingest) into a flat table (nested
    objects as dotted columns); raises on any bad line or type clash. Text stays text: a text field Arrow would turn into a time (one the first line does not
    have) sends the block to polars, or, without polars (or ``polars_fallback``), raises so the block is
    parsed slowly."""
    import pyarrow.json as pj

    first = _first_object(block)
    # The first object's text fields are declared text, so that Arrow keeps times as written (it
    # would read "10:00:00Z" as a naive time); the others are inferred.
    options = pj.ParseOptions(explicit_schema=pa.schema(_text_fields(first)) if first else None,
                              unexpected_field_behavior="infer")
    table = pj.read_json(io.BytesIO(block), read_options=pj.ReadOptions(block_size=1 << 24), parse_options=options)
    if not any(_has_times(f.type) for f in table.schema):
        table = _flatten(table)
        order = [name for name in _paths(first or {}) if name in table.column_names]
        placed = set(order)
        return table.select(order + [name for name in table.column_names if name not in placed])
    try:
        if not polars_fallback:
            raise ImportError
        import polars as pl
    except ImportError:
        raise pa.ArrowInvalid("a text field read as a time; parsed line by line") from None
    # The schema is inferred from every row: a field that first appears late in a block (an
    # ``upstream`` written only on warning lines) must become a column, never be dropped.
    return _flatten(pl.read_ndjson(block, infer_schema_length=None).to_arrow())


_JSON_ERRORS: tuple[type[BaseException], ...] = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


def _json_errors() -> tuple[type[BaseException], ...]:
    try:
        import polars as pl
    except ImportError:
        return _JSON_ERRORS
    return (*_JSON_ERRORS, pl.exceptions.PolarsError)


def parse_json(block: bytes, first_line: int, *, binary_fields: tuple[str, ...] = (), **_: Any) -> Parsed:
    """Parse JSON lines; on any malformed line or type clash, find and reject the bad lines, parse the rest.

    ``binary_fields`` name fields that may hold byte arrays (journald), decoded as UTF-8 text.
    """
    try:
        # polars would turn journald's byte-array messages into text like "[98, 105]": never there
        table = _fast_json(block, polars_fallback=not binary_fields)
    except _json_errors():
        lines, numbers = split_lines(block, first_line)
        return _parse_json_slowly(lines, numbers, binary_fields)
    for name in binary_fields:
        if name in table.column_names and (pa.types.is_list(table.schema.field(name).type)
                                           or pa.types.is_large_list(table.schema.field(name).type)):
            decoded = [bytes(v).decode("utf-8", "replace") if isinstance(v, list) else v
                       for v in table.column(name).to_pylist()]
            table = table.set_column(table.column_names.index(name), name, pa.array(decoded, pa.string()))

    def locate() -> tuple[np.ndarray, pa.Array | None]:
        lines, numbers = split_lines(block, first_line)
        if len(numbers) != table.num_rows:  # whitespace-only lines were skipped by the parser
            keep = pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(lines)), 0)
            lines, numbers = lines.filter(keep), numbers[keep.to_numpy(zero_copy_only=False)]
        return numbers, lines

    return Parsed(table, locate)


def _reject_reason(text: str) -> str:
    try:
        obj = json.loads(text)
    except ValueError as exc:
        return f"not JSON: {exc.msg}"
    return f"JSON {type(obj).__name__}, not an object"


def _parse_json_slowly(lines: pa.Array, numbers: np.ndarray, binary_fields: tuple[str, ...] = ()) -> Parsed:
    """Reject the lines that are not JSON objects; parse the others fast if possible, else as records.

    Lines that do not even look like an object (``{`` ... ``}``: stack traces, plain text, cut
    lines) are found by Arrow kernels and the rest parsed by the fast reader at once; only when
    that fails too (a malformed line that looks like an object, a type clash) is every line read
    by Python's json module.
    """
    trimmed = pc.utf8_trim_whitespace(lines)
    looks = pc.and_(pc.starts_with(trimmed, "{"), pc.ends_with(trimmed, "}")).to_numpy(zero_copy_only=False)
    blank = pc.equal(trimmed, "").to_numpy(zero_copy_only=False)
    others = ~looks & ~blank
    candidates = np.flatnonzero(looks)
    parsed = None
    if not binary_fields and len(candidates):
        good = lines.take(pa.array(candidates, pa.int64()))
        joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(good)], pa.int32()), good.cast(pa.string())), "\n")
        try:
            table = _fast_json(joined[0].as_py().encode() + b"\n")
        except _json_errors():
            table = None
        if table is not None and table.num_rows == len(candidates):
            parsed = Parsed(table, known_lines(numbers[candidates], good))
    if parsed is None:
        parsed = _parse_json_line_by_line(lines.take(pa.array(candidates, pa.int64())), numbers[candidates], [],
                                          binary_fields)
    # lines of a format without time (uvicorn's among an app's JSON lines) are rows timed by the record before
    parsed, others = merge_untimed(parsed, lines, numbers, others, {})
    rest = np.flatnonzero(others)
    parsed.reject_lines(numbers[rest], lines.take(pa.array(rest, pa.int64())), _reject_reason)
    parsed.rejected_sample.sort(key=lambda r: r["line"])
    return parsed


def _parse_json_line_by_line(lines: pa.Array, numbers: np.ndarray, rejected: list[tuple[int, str, str]],
                             binary_fields: tuple[str, ...]) -> Parsed:
    """Parse object-looking lines one by one with Python's json module (malformed lines, type clashes, journald)."""
    records: list[dict[str, Any]] = []
    kept: list[int] = []
    for i, text in enumerate(lines.to_pylist()):
        try:
            obj = json.loads(text)
        except ValueError as exc:
            rejected.append((int(numbers[i]), text, f"not JSON: {exc.msg}"))
            continue
        if not isinstance(obj, dict):
            rejected.append((int(numbers[i]), text, f"JSON {type(obj).__name__}, not an object"))
            continue
        for name in binary_fields:
            value = obj.get(name)
            if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
                obj[name] = bytes(value).decode("utf-8", "replace")
        records.append(obj)
        kept.append(i)
    good_lines = lines.take(pa.array(kept, pa.int64()))
    good_numbers = numbers[kept] if kept else np.empty(0, np.int64)
    table = None
    if len(kept) < len(lines) and not binary_fields and kept:
        try:
            table = _fast_json("\n".join(good_lines.to_pylist()).encode() + b"\n")
        except _json_errors():
            table = None
    if table is None or table.num_rows != len(kept):
        table = records_to_table(records)
    rejected.sort()
    parsed = Parsed(table, known_lines(good_numbers, good_lines))
    for line_no, text, reason in rejected:
        parsed.reject(line_no, text, reason)
    return parsed


def records_to_table(records: list[dict[str, Any]]) -> pa.Table:
    """Return a table from dict records whose fields may clash in type (clashing columns become text)."""
    import pandas as pd

    if not records:
        return pa.table({})
    frame = pd.json_normalize(records, sep=".")
    columns: dict[str, pa.Array] = {}
    for name in frame.columns:
        values = [None if (v is None or (isinstance(v, float) and v != v)) else v for v in frame[name].tolist()]
        try:
            columns[str(name)] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            columns[str(name)] = pa.array([None if v is None else (v if isinstance(v, str) else json.dumps(v, default=str))
                                           for v in values], pa.string())
    return pa.table(columns)


def parse_journald(block: bytes, first_line: int, **kw: Any) -> Parsed:
    """Parse ``journalctl -o json`` export: binary MESSAGE arrays decoded, realtime stamps and PRIORITY typed."""
    parsed = parse_json(block, first_line, binary_fields=("MESSAGE",), **kw)
    table = parsed.table
    if "__REALTIME_TIMESTAMP" in table.column_names:
        idx = table.column_names.index("__REALTIME_TIMESTAMP")
        micros = logfields.to_int(table.column(idx).combine_chunks())
        table = table.set_column(idx, "__REALTIME_TIMESTAMP", pc.multiply(micros, 1000).cast(TS_TYPE))
    if "PRIORITY" in table.column_names:
        idx = table.column_names.index("PRIORITY")
        table = table.set_column(idx, "PRIORITY", logfields.to_int(table.column(idx).combine_chunks()))
    parsed.table = table
    return parsed



__all__ = ["parse_json", "parse_journald", "records_to_table"]
