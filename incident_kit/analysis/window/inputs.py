"""What :func:`window` reads: a Series, a rates frame, a logs frame or a one-series metrics frame."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...errors import ConfigError


def as_series(series: Any, column: str | None) -> tuple[pd.Series, pd.Series | None, str]:
    """Return (values indexed by time, request counts or None, name) from a Series or frame, in time
    order. Raises ConfigError for anything else, a frame without a usable column or several metrics."""
    requests = None
    if isinstance(series, pd.Series):
        s = series
        name = str(series.name or "value")
    elif isinstance(series, pd.DataFrame):
        frame = series
        looks_like_logs = frame.attrs.get("kind") == "logs" or (
            {"message", "status", "level"} & set(frame.columns) and "error_rate" not in frame.columns)
        if looks_like_logs and "ts" in frame.columns and column in (None, "error_rate", "p50_ms", "p95_ms", "p99_ms", "requests"):
            from ..rates import rates

            frame = rates(frame)  # a logs frame: its error rate per minute
        if column is None:
            for candidate in ("error_rate", "value", "p95_ms", "requests"):
                if candidate in frame.columns:
                    column = candidate
                    break
            else:
                numeric = [c for c in frame.columns if c != "ts" and pd.api.types.is_numeric_dtype(frame[c])]
                if not numeric:
                    raise ConfigError("window: the frame has no numeric column; pass column=NAME")
                column = numeric[0]
        if column not in frame.columns:
            raise ConfigError(f"window: column {column!r} is not in the frame (columns: {', '.join(map(str, frame.columns))})")
        if "metric" in frame.columns and frame["metric"].nunique(dropna=True) > 1:
            raise ConfigError(
                "window: the metrics frame holds several metrics "
                f"({', '.join(map(str, frame['metric'].dropna().unique()[:4]))}...); select one first"
            )
        index = pd.to_datetime(frame["ts"], utc=True) if "ts" in frame.columns else frame.index
        s = pd.Series(frame[column].to_numpy(dtype="float64", na_value=np.nan), index=index)
        if column == "error_rate" and {"requests", "errors"} <= set(frame.columns):
            requests = pd.Series(frame["requests"].to_numpy(dtype="float64", na_value=np.nan), index=index)
        name = column
    else:
        raise ConfigError(f"window: expected a pandas Series or DataFrame, got {type(series).__name__}")
    s = pd.Series(pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan), index=s.index)
    if isinstance(s.index, pd.DatetimeIndex) and s.index.tz is None:
        s.index = s.index.tz_localize("UTC")
    if not s.index.is_monotonic_increasing:
        order = s.index.argsort(kind="stable")
        s = s.iloc[order]
        if requests is not None:
            requests = requests.iloc[order]
    return s, requests, name


__all__ = ["as_series"]
