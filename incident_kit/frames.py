"""Canonical frame schemas (PRODUCT.md) and the helpers that make a frame conform.

Every source returns a pandas DataFrame whose first columns are those of its kind, with
the dtypes below, tz-aware UTC timestamps, and ``attrs`` ``source``, ``truncated`` and
``rejected`` set. Extra columns are kept after the canonical ones.
"""

from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

from .errors import ConfigError

UTC_TS = "datetime64[ns, UTC]"

SCHEMAS: dict[str, dict[str, str]] = {
    "logs": {
        "ts": UTC_TS,
        "level": "category",
        "service": "category",
        "status": "Int64",
        "latency_ms": "Float64",
        "method": "category",
        "path": "string",
        "client": "string",
        "message": "string",
        "source": "category",
    },
    "probes": {
        "ts": UTC_TS,
        "target": "string",
        "kind": "string",
        "ok": "bool",
        "status": "string",
        "latency_ms": "Float64",
        "error": "string",
        "detail": "string",
    },
    "metrics": {"ts": UTC_TS, "metric": "string", "value": "float64"},
    "db_activity": {
        "ts": UTC_TS,
        "pid": "Int64",
        "datname": "string",
        "usename": "string",
        "application_name": "string",
        "client_addr": "string",
        "state": "string",
        "wait_event_type": "string",
        "wait_event": "string",
        "query_start": UTC_TS,
        "xact_start": UTC_TS,
        "state_change": UTC_TS,
        "duration_s": "Float64",
        "blocked_by": "object",
        "query": "string",
    },
    "events": {
        "ts": UTC_TS,
        "kind": "string",
        "source": "string",
        "text": "string",
        "ref": "string",
    },
}


def _coerce(series: pd.Series, dtype: str) -> pd.Series:
    if dtype == UTC_TS:
        return pd.to_datetime(series, utc=True, errors="coerce").astype(UTC_TS)
    if dtype == "bool":
        return series.fillna(False).astype(bool)
    if dtype == "Int64":
        return pd.to_numeric(series, errors="coerce").astype("Int64")
    if dtype == "Float64":
        return pd.to_numeric(series, errors="coerce").astype("Float64")
    if dtype == "float64":
        return pd.to_numeric(series, errors="coerce").astype("float64")
    if dtype == "object":
        return series.astype(object)
    return series.astype(dtype)


def empty(kind: str, source: str = "") -> pd.DataFrame:
    """Return an empty frame of ``kind`` with the canonical columns and attrs."""
    return conform(pd.DataFrame(), kind, source=source)


def conform(
    frame: pd.DataFrame,
    kind: str,
    *,
    source: str = "",
    truncated: bool = False,
    rejected: int = 0,
    sort: bool = True,
) -> pd.DataFrame:
    """Return ``frame`` with the canonical columns of ``kind`` first, typed, and attrs set.

    Missing canonical columns are added empty; extra columns are kept after them.
    Raises :class:`ConfigError` for an unknown kind.
    """
    try:
        schema = SCHEMAS[kind]
    except KeyError:
        raise ConfigError(f"unknown frame kind {kind!r}: expected one of {', '.join(SCHEMAS)}") from None
    n = len(frame)
    columns: dict[str, Any] = {}
    for name, dtype in schema.items():
        if name in frame.columns:
            col = frame[name]
            columns[name] = col if str(col.dtype) == dtype else _coerce(col, dtype)
        else:
            columns[name] = _coerce(pd.Series([None] * n, index=frame.index, dtype=object), dtype)
    extras = [c for c in frame.columns if c not in schema]
    # copy=False: columns are shared, not copied (copy-on-write keeps ``frame`` unchanged)
    out = pd.DataFrame({**columns, **{c: frame[c] for c in extras}}, index=frame.index, copy=False)
    if sort and n and "ts" in out.columns and not out["ts"].is_monotonic_increasing:
        out = out.sort_values("ts", kind="stable")
    out = out.reset_index(drop=True)
    prev = dict(getattr(frame, "attrs", {}) or {})
    out.attrs.update(prev)
    out.attrs["kind"] = kind
    out.attrs["source"] = source or prev.get("source", "")
    out.attrs["truncated"] = bool(truncated or prev.get("truncated", False))
    out.attrs["rejected"] = int(rejected or prev.get("rejected", 0))
    return out


def check(frame: pd.DataFrame, kind: str) -> list[str]:
    """Return the list of ways ``frame`` differs from the canonical schema (empty when it conforms)."""
    problems: list[str] = []
    schema = SCHEMAS[kind]
    cols = list(frame.columns)
    if cols[: len(schema)] != list(schema):
        problems.append(f"columns start {cols[:len(schema)]}, expected {list(schema)}")
    for name, dtype in schema.items():
        if name in frame.columns and str(frame[name].dtype) != dtype:
            problems.append(f"{name} is {frame[name].dtype}, expected {dtype}")
    for key in ("source", "truncated", "rejected"):
        if key not in frame.attrs:
            problems.append(f"attrs[{key!r}] missing")
    return problems


def concat(frames: Iterable[pd.DataFrame], kind: str, source: str = "") -> pd.DataFrame:
    """Concatenate canonical frames of one kind, summing rejected and or-ing truncated."""
    frames = [f for f in frames if f is not None]
    if not frames:
        return empty(kind, source)
    rejected = sum(int(f.attrs.get("rejected", 0)) for f in frames)
    truncated = any(bool(f.attrs.get("truncated", False)) for f in frames)
    non_empty = [f for f in frames if len(f)]
    merged = pd.concat(non_empty, ignore_index=True) if non_empty else frames[0].iloc[0:0]
    return conform(merged, kind, source=source, truncated=truncated, rejected=rejected)


__all__ = ["SCHEMAS", "UTC_TS", "conform", "empty", "check", "concat"]
