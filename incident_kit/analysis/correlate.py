"""Correlation: which other series moved when the incident started, closest first."""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import pandas as pd

from ..errors import ConfigError
from ..timeutil import parse_time
from .window import IncidentWindow, bounds, window

CORRELATION_COLUMNS = ["series", "changed_at", "lag_s", "direction", "baseline", "peak_value", "effect", "confidence", "score"]


def _label_name(metric: str, labels: Mapping[str, Any]) -> str:
    shown = ",".join(f'{k}="{v}"' for k, v in labels.items() if v is not None and not pd.isna(v))
    return f"{metric}{{{shown}}}" if shown else metric


def split_metrics(metrics: pd.DataFrame) -> dict[str, pd.Series]:
    """Return one time-indexed Series per metric and label set of a canonical metrics frame."""
    if not {"ts", "metric", "value"} <= set(metrics.columns):
        raise ConfigError("correlate: a metrics frame needs ts, metric and value columns")
    labels = [c for c in metrics.columns if c not in ("ts", "metric", "value") and metrics[c].notna().any()]
    out: dict[str, pd.Series] = {}
    keys = ["metric", *labels]
    frame = metrics.copy()
    for c in labels:
        frame[c] = frame[c].astype("string").fillna("")
    for key, group in frame.groupby(keys, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        name = _label_name(str(key[0]), {k: (v or None) for k, v in zip(labels, key[1:])})
        s = pd.Series(pd.to_numeric(group["value"], errors="coerce").to_numpy(),
                      index=pd.to_datetime(group["ts"], utc=True)).sort_index()
        out[name] = s.groupby(level=0).mean()
    return out


def _as_series_map(series: Any) -> dict[str, pd.Series]:
    if isinstance(series, pd.DataFrame):
        if "metric" in series.columns:
            return split_metrics(series)
        if "ts" in series.columns:
            idx = pd.to_datetime(series["ts"], utc=True)
            return {str(c): pd.Series(series[c].to_numpy(), index=idx) for c in series.columns
                    if c != "ts" and pd.api.types.is_numeric_dtype(series[c])}
        return {str(c): series[c] for c in series.columns}
    if isinstance(series, pd.Series):
        return {str(series.name or "series"): series}
    if isinstance(series, Mapping):
        out: dict[str, pd.Series] = {}
        for name, s in series.items():
            if isinstance(s, pd.DataFrame):
                for sub, ss in _as_series_map(s).items():
                    out[f"{name}:{sub}" if len(s.columns) > 2 else str(name)] = ss
            else:
                out[str(name)] = s
        return out
    if isinstance(series, Iterable):
        out = {}
        for i, s in enumerate(series):
            for name, ss in _as_series_map(s).items():
                out[name if name not in out else f"{name}#{i}"] = ss
        return out
    raise ConfigError(f"correlate: expected a metrics frame, a Series, or a mapping of series, got {type(series).__name__}")


def correlate(
    series: Any,
    start: Any,
    *,
    tolerance: str = "10min",
    min_confidence: float = 0.2,
    **window_options: Any,
) -> pd.DataFrame:
    """Return the series whose own change lines up with the incident ``start``, best first.

    ``series``: a metrics frame (one series per metric and label set), a frame with ``ts`` and
    numeric columns, a Series, or a mapping/list of those. ``start``: the incident start (a
    time or an IncidentWindow). Each series goes through :func:`window` in both directions;
    columns: ``series``, ``changed_at``, ``lag_s`` (its change minus the start), ``direction``,
    ``baseline``, ``peak_value``, ``effect``, ``confidence``, ``score`` = confidence x
    exp(-|lag| / tolerance). Series that did not change within 3 tolerances are left out.
    Raises ConfigError for unusable input.
    """
    origin = bounds(start)[0] if isinstance(start, IncidentWindow | tuple | list | dict) else parse_time(start, field="start")
    if origin is None:
        raise ConfigError("correlate: the incident start is unknown (no window found)")
    tol_s = pd.Timedelta(tolerance).total_seconds()
    options = {"direction": "both", "min_recovery": 2}
    options.update(window_options)
    rows = []
    for name, s in _as_series_map(series).items():
        s = pd.to_numeric(pd.Series(s), errors="coerce").dropna()
        if len(s) < 2:
            continue
        w = window(s.rename(name), **options)
        if not w.found or w.start is None or w.confidence < min_confidence:
            continue
        lag = (pd.Timestamp(w.start) - origin).total_seconds()
        if abs(lag) > 3 * tol_s:
            continue
        rows.append({
            "series": name, "changed_at": w.start, "lag_s": lag,
            "direction": "up" if (w.effect or 0) >= 0 else "down", "baseline": w.baseline,
            "peak_value": w.peak_value, "effect": w.effect, "confidence": w.confidence,
            "score": round(w.confidence * math.exp(-abs(lag) / tol_s), 3),
        })
    out = pd.DataFrame(rows, columns=CORRELATION_COLUMNS)
    return out.sort_values(["score", "series"], ascending=[False, True], kind="stable").reset_index(drop=True)


__all__ = ["CORRELATION_COLUMNS", "correlate", "split_metrics"]
