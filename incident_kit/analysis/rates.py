"""Request and error rates per time bucket, and which log rows count as errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..timeutil import parse_time

#: Log levels that mark a row as an error when it has no HTTP status.
ERROR_LEVELS = ("error", "err", "critical", "crit", "fatal", "alert", "emerg", "emergency", "panic", "severe")

RATE_COLUMNS = ["ts", "requests", "errors", "error_rate", "p50_ms", "p95_ms", "p99_ms"]


def require_columns(frame: Any, columns: tuple[str, ...] | list[str], what: str) -> pd.DataFrame:
    """Return ``frame`` if it is a DataFrame holding ``columns``; raise ConfigError naming what is missing."""
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"{what}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"{what}: column {missing[0]!r} is missing; expected a canonical frame with {', '.join(columns)}"
        )
    return frame


def error_mask(logs: pd.DataFrame) -> pd.Series:
    """Return a boolean Series: True where a log row is an error.

    A row is an error when its ``status`` is >= 500, or, when it has no status, when its
    ``level`` is error/critical/fatal (and the like). Raises ConfigError without those columns.
    """
    require_columns(logs, ("ts",), "logs")
    n = len(logs)
    if "status" in logs.columns:
        status = pd.to_numeric(logs["status"], errors="coerce")
        has_status = status.notna().to_numpy()
        by_status = (status.fillna(0) >= 500).to_numpy()
    else:
        has_status = np.zeros(n, dtype=bool)
        by_status = np.zeros(n, dtype=bool)
    if "level" in logs.columns:
        level = logs["level"].astype("string").str.lower().str.strip()
        by_level = level.isin(ERROR_LEVELS).fillna(False).to_numpy(dtype=bool)
    else:
        by_level = np.zeros(n, dtype=bool)
    return pd.Series(np.where(has_status, by_status, by_level), index=logs.index, name="is_error")


def request_rows(logs: pd.DataFrame) -> np.ndarray:
    """Return a boolean array: the rows that are requests.

    When some rows carry an HTTP ``status`` (access logs, possibly mixed with application
    logs), only those are requests; otherwise every row counts as one.
    """
    if "status" in logs.columns:
        has_status = np.array(logs["status"].notna(), dtype=bool)
        if has_status.any():
            return has_status
    return np.ones(len(logs), dtype=bool)


def floor_times(ts: pd.Series, step: pd.Timedelta) -> pd.DatetimeIndex:
    """Return the UTC times floored to ``step`` (vectorised on int64 nanoseconds)."""
    ns = pd.to_datetime(ts, utc=True).to_numpy(dtype="datetime64[ns]").astype("int64")
    return pd.to_datetime((ns // step.value) * step.value, utc=True)


def _ts(logs: pd.DataFrame) -> pd.Series:
    ts = logs["ts"]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = pd.to_datetime(ts, utc=True, errors="coerce")
    return ts


def rates(
    logs: pd.DataFrame,
    bucket: str = "1min",
    *,
    start: Any = None,
    end: Any = None,
    requests_only: bool | None = None,
) -> pd.DataFrame:
    """Return one row per time bucket: ``ts``, ``requests``, ``errors``, ``error_rate``, ``p50_ms``,
    ``p95_ms``, ``p99_ms``.

    ``requests`` counts requests: rows with an HTTP status when some rows have one (application
    log lines mixed in are then left out; ``requests_only=False`` counts every row);
    ``errors`` counts rows that :func:`error_mask` marks; ``error_rate`` is errors/requests (NaN
    for empty buckets); latency percentiles come from ``latency_ms`` where present. Buckets
    between the first and last (or ``start``/``end``) are all present, empty ones with 0 requests.
    Raises ConfigError for a frame without ``ts`` or a bucket pandas cannot read.
    """
    require_columns(logs, ("ts",), "logs")
    try:
        freq = pd.Timedelta(bucket)
    except (ValueError, TypeError):
        raise ConfigError(f"bucket {bucket!r} is not a duration; expected e.g. '1min', '30s', '5min'") from None
    if freq <= pd.Timedelta(0):
        raise ConfigError(f"bucket {bucket!r} must be a positive duration")
    ts = _ts(logs)
    keep = np.array(ts.notna(), dtype=bool)
    if requests_only or requests_only is None:
        keep &= request_rows(logs)
    lo = parse_time(start, field="start")
    hi = parse_time(end, field="end")
    if lo is not None:
        keep &= (ts >= lo).to_numpy(dtype=bool)
    if hi is not None:
        keep &= (ts < hi).to_numpy(dtype=bool)
    errors = error_mask(logs).to_numpy()[keep]
    ts = ts[keep]
    latency = (
        pd.to_numeric(logs["latency_ms"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)[keep]
        if "latency_ms" in logs.columns
        else np.full(len(ts), np.nan)
    )
    work = pd.DataFrame({"b": floor_times(ts, freq), "e": errors, "lat": latency})
    grouped = work.groupby("b", sort=True)
    out = pd.DataFrame({"requests": grouped.size(), "errors": grouped["e"].sum()})
    q = grouped["lat"].quantile([0.5, 0.95, 0.99]).unstack() if len(work) else None
    for name, p in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
        out[name] = q[p] if q is not None and p in q.columns else np.nan
    first = lo.floor(freq) if lo is not None else (out.index.min() if len(out) else None)
    last = (hi - pd.Timedelta(1, "ns")).floor(freq) if hi is not None else (out.index.max() if len(out) else None)
    if first is not None and last is not None and first <= last:
        full = pd.date_range(first, last, freq=freq, tz="UTC")
        out = out.reindex(full)
    out["requests"] = out["requests"].fillna(0).astype("int64")
    out["errors"] = out["errors"].fillna(0).astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        out["error_rate"] = np.where(out["requests"] > 0, out["errors"] / out["requests"].clip(lower=1), np.nan)
    out.index.name = "ts"
    out = out.reset_index()
    if out["ts"].dtype != "datetime64[ns, UTC]":
        out["ts"] = pd.to_datetime(out["ts"], utc=True).astype("datetime64[ns, UTC]")
    out = out[RATE_COLUMNS]
    out.attrs["bucket"] = str(freq)
    return out


__all__ = ["ERROR_LEVELS", "error_mask", "floor_times", "rates", "request_rows", "require_columns"]
