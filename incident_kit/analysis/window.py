"""The incident window: when a series left its baseline, when it came back, and by how much.

The baseline of each point is the robust centre (rolling median) and spread (IQR, standard
deviation) of the points before it, so an incident never contaminates its own baseline. A
point is *hot* when it exceeds the baseline by ``threshold`` spreads and by a minimum effect
size; an incident starts at the first run of ``min_duration`` hot points and ends at the first
run of ``min_recovery`` points back near the frozen baseline (``end`` is ``None`` while it lasts).
Series built by :func:`rates` are also tested per bucket against the binomial noise of their
request counts, so a quiet minute with one failed request out of two is not an incident.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..timeutil import iso


@dataclass
class IncidentWindow:
    """Result of :func:`window`. ``found`` is False for noise; ``end`` is None while ongoing."""

    found: bool
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    peak: pd.Timestamp | None = None
    peak_value: float | None = None
    baseline: float | None = None
    effect: float | None = None
    confidence: float = 0.0
    direction: str = "up"
    metric: str = ""
    episodes: int = 0
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.found

    @property
    def ongoing(self) -> bool:
        """True when an incident was found and has not recovered within the data."""
        return self.found and self.end is None

    @property
    def duration(self) -> pd.Timedelta | None:
        """End minus start (None while ongoing or when nothing was found)."""
        if not self.found or self.start is None or self.end is None:
            return None
        return pd.Timestamp(self.end) - pd.Timestamp(self.start)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (times as ISO 8601 UTC strings)."""
        out = asdict(self)
        for key in ("start", "end", "peak"):
            value = out[key]
            out[key] = iso(value) if isinstance(value, pd.Timestamp) else value
        return out


def label(metric: str) -> str:
    """Return a metric's name for people ("error_rate" -> "error rate", "p95_ms" -> "p95 latency")."""
    names = {"error_rate": "error rate", "p50_ms": "p50 latency", "p95_ms": "p95 latency", "p99_ms": "p99 latency",
             "requests": "requests per bucket", "errors": "errors per bucket"}
    return names.get(metric, metric.replace("_", " ") if metric.isidentifier() else metric)


def show(value: float | None, metric: str) -> str:
    """Return ``value`` formatted for ``metric``: rates as percentages, latencies in ms."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if metric.endswith("rate") or metric.endswith("ratio"):
        return f"{value:.1%}" if value >= 0.001 else f"{value:.2%}"
    if metric.endswith("_ms"):
        return f"{value:.0f} ms"
    return f"{value:.4g}"


def _as_series(series: Any, column: str | None) -> tuple[pd.Series, pd.Series | None, str]:
    """Return (values indexed by time, request counts or None, name) from a Series or frame."""
    requests = None
    if isinstance(series, pd.Series):
        s = series
        name = str(series.name or "value")
    elif isinstance(series, pd.DataFrame):
        frame = series
        looks_like_logs = frame.attrs.get("kind") == "logs" or (
            {"message", "status", "level"} & set(frame.columns) and "error_rate" not in frame.columns)
        if looks_like_logs and "ts" in frame.columns and column in (None, "error_rate", "p50_ms", "p95_ms", "p99_ms", "requests"):
            from .rates import rates

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
    order = np.argsort(np.asarray(s.index), kind="stable")
    s = s.iloc[order]
    if requests is not None:
        requests = requests.iloc[order]
    return s, requests, name


def _rolling_baseline(values: np.ndarray, points: int, min_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (centre, spread, support) of the ``points`` values before each position (NaNs skipped)."""
    s = pd.Series(values)
    roll = s.rolling(points, min_periods=min_points)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = roll.median().shift(1).to_numpy()
        iqr = (roll.quantile(0.75) - roll.quantile(0.25)).shift(1).to_numpy() / 1.349
        std = roll.std().shift(1).to_numpy()
        support = s.notna().astype(float).rolling(points, min_periods=1).sum().shift(1).to_numpy()
    spread = np.fmax(iqr, 0.7 * np.nan_to_num(std))
    spread = np.fmax(spread, 1e-9 + 0.01 * np.abs(centre))
    return centre, spread, support


def _first_binomial_start(values: np.ndarray, counts: np.ndarray, centre: np.ndarray, excluded: np.ndarray,
                          pos: int, length: int, baseline_points: int, threshold: float, min_effect: float,
                          min_ratio: float) -> int | None:
    """First bucket >= pos of a rate series from which the next ``length`` buckets together hold
    significantly more errors than the pooled baseline rate (binomial z >= threshold) and a rate
    above the baseline by the minimum effect; quiet buckets are judged together, not one by one."""
    n = len(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.nan_to_num(values * counts)
        n_ok = np.where(np.isnan(values), 0.0, np.nan_to_num(counts))
        base_k = pd.Series(np.where(excluded, np.nan, k)).rolling(baseline_points, min_periods=1).sum().shift(1)
        base_n = pd.Series(np.where(excluded, np.nan, n_ok)).rolling(baseline_points, min_periods=1).sum().shift(1)
        p0 = np.clip(((base_k + 0.5) / (base_n + 1.0)).to_numpy(), 1e-4, 0.9999)
        ck, cn = np.r_[0.0, np.cumsum(k)], np.r_[0.0, np.cumsum(n_ok)]
        ahead = np.minimum(np.arange(n) + length, n)
        full = np.arange(n) + length <= n
        errors, requests = ck[ahead] - ck[:n], cn[ahead] - cn[:n]
        rate = errors / requests
        z = (errors - requests * p0) / np.sqrt(requests * p0 * (1 - p0) + 0.25)
        need = np.fmax(min_effect, min_ratio * np.abs(centre))
        starts = full & (rate - centre >= need) & (z >= threshold) & ~np.isnan(centre)
        # The start itself must carry some of the evidence (its own rate up, its own z >= 1.5).
        own_z = (k - n_ok * p0) / np.sqrt(n_ok * p0 * (1 - p0) + 0.25)
        own = (values - centre >= need) & (own_z >= 1.5)
    for i in np.flatnonzero(starts[pos:]) + pos:
        firsts = np.flatnonzero(own[i:i + length])
        if len(firsts):
            return int(i + firsts[0])
    return None


def _first_run(flags: np.ndarray, start: int, length: int) -> int | None:
    """Return the first index >= start beginning a run of ``length`` True flags, or None."""
    run = 0
    for i in range(start, len(flags)):
        run = run + 1 if flags[i] else 0
        if run >= length:
            return i - length + 1
    return None


def window(
    series: Any,
    *,
    column: str | None = None,
    direction: str = "up",
    threshold: float = 4.0,
    exit_threshold: float = 2.0,
    min_effect: float | None = None,
    min_ratio: float = 0.5,
    min_duration: int = 3,
    min_recovery: int = 3,
    baseline_points: int = 60,
    min_baseline: int = 10,
    _look_back: bool = True,
) -> IncidentWindow:
    """Find when ``series`` left its baseline and when it came back.

    ``series``: a Series indexed by time, a frame from :func:`rates` (``error_rate`` by default,
    or ``column``), a logs frame (its rates per minute), or a one-metric metrics frame (``ts``,
    ``value``). NaN points are gaps.
    ``direction``: "up", "down" or "both". A point is hot when its distance from the baseline
    is at least ``threshold`` robust spreads, ``min_effect`` (default 0.01 for series within
    [0, 1], else 0) and ``min_ratio`` times the baseline. Returns an :class:`IncidentWindow`:
    when several episodes are found, the largest (excess times duration); ``found=False`` with
    a reason otherwise. Raises ConfigError for unusable input or options.
    """
    if direction not in ("up", "down", "both"):
        raise ConfigError(f"window: direction {direction!r}; expected 'up', 'down' or 'both'")
    if min_duration < 1 or min_recovery < 1 or baseline_points < 2 or min_baseline < 1:
        raise ConfigError("window: min_duration, min_recovery, min_baseline must be >= 1 and baseline_points >= 2")
    s, requests, name = _as_series(series, column)
    values = s.to_numpy(dtype="float64")
    counts = requests.to_numpy(dtype="float64") if requests is not None else None
    times = s.index
    n = len(values)
    if n == 0 or np.isnan(values).all():
        return IncidentWindow(False, direction=direction, metric=name, reason="the series is empty")
    finite = values[~np.isnan(values)]
    if min_effect is None:
        min_effect = 0.01 if finite.min() >= 0 and finite.max() <= 1 else 0.0
    min_baseline = min(min_baseline, baseline_points)
    excluded = np.zeros(n, dtype=bool)
    episodes: list[dict[str, Any]] = []
    pos = 0
    while pos < n:
        base_values = np.where(excluded, np.nan, values)
        centre, spread, support = _rolling_baseline(base_values, baseline_points, min_baseline)
        deviation = values - centre
        signed = {"up": deviation, "down": -deviation, "both": np.abs(deviation)}[direction]
        required = np.fmax(np.fmax(threshold * spread, min_effect), min_ratio * np.abs(centre))
        with np.errstate(invalid="ignore"):
            hot = (signed >= required) & ~np.isnan(centre) & ~np.isnan(values)
        if counts is not None and direction != "down":
            i = _first_binomial_start(values, counts, centre, excluded, pos, min_duration, baseline_points,
                                      threshold, min_effect, min_ratio)
        else:
            i = _first_run(hot, pos, min_duration)
        if i is None:
            break
        base, scale = centre[i], spread[i]
        exit_level = max(exit_threshold * scale, 0.5 * required[i])
        back = np.abs(values - base) < exit_level if direction == "both" else (
            (values - base if direction == "up" else base - values) < exit_level
        )
        back &= ~np.isnan(values)
        j = _first_run(back, i + min_duration, min_recovery)
        stop = j if j is not None else n
        seg = values[i:stop]
        seg_signed = {"up": seg - base, "down": base - seg, "both": np.abs(seg - base)}[direction]
        k_peak = i + int(np.nanargmax(seg_signed))
        mean_excess = float(np.nanmean(seg_signed))
        points = int(np.sum(~np.isnan(seg)))
        z_mean = mean_excess / max(scale, 1e-12)
        conf_effect = (1 - math.exp(-2 * max(z_mean - threshold, 0.0) / threshold)) * math.sqrt(
            min(1.0, max(mean_excess, 0.0) / required[i]))
        conf_duration = math.sqrt(min(1.0, points / (2 * min_duration)))
        conf_base = math.sqrt(min(1.0, support[i] / min(baseline_points, 30)))
        episodes.append(
            {
                "start": times[i],
                "end": times[j] if j is not None else None,
                "peak": times[k_peak],
                "peak_value": float(values[k_peak]),
                "baseline": float(base),
                "effect": float(np.nanmean(seg) - base),
                "confidence": round(conf_effect * conf_duration * conf_base, 3),
                "weight": mean_excess / max(scale, 1e-12) * points,
                "points": points,
            }
        )
        excluded[i:stop] = True
        pos = stop
    if not episodes:
        reason = f"no run of {min_duration} points beyond {threshold:g} spreads and the minimum effect"
        if int(np.sum(~np.isnan(values))) < min_baseline + min_duration:
            reason = f"only {int(np.sum(~np.isnan(values)))} points: a baseline needs {min_baseline} before a change"
        elif direction in ("up", "down") and _look_back:
            # Seen backwards, an incident that was already on when the data begins is a change too.
            opposite = "down" if direction == "up" else "up"
            back = window(pd.Series(values, index=times), direction=opposite, threshold=threshold,
                          min_effect=min_effect, min_ratio=min_ratio, min_duration=min_duration,
                          min_recovery=min_recovery, baseline_points=baseline_points, min_baseline=min_baseline,
                          _look_back=False)
            head = values[:min_baseline][~np.isnan(values[:min_baseline])]
            if back.found and back.baseline is not None and len(head) and (
                    np.median(head) - back.peak_value if direction == "up" else back.peak_value - np.median(head)) > 0:
                reason += (f"; {name} went {opposite} at {back.start}: the data may begin inside an incident, "
                           "look further back")
        return IncidentWindow(False, direction=direction, metric=name, reason=reason)
    best = max(episodes, key=lambda e: e["weight"])
    return IncidentWindow(
        True,
        start=best["start"],
        end=best["end"],
        peak=best["peak"],
        peak_value=best["peak_value"],
        baseline=best["baseline"],
        effect=best["effect"],
        confidence=best["confidence"],
        direction=direction,
        metric=name,
        episodes=len(episodes),
        reason=(
            f"{label(name)} went from {show(best['baseline'], name)} to a peak of {show(best['peak_value'], name)} "
            f"over {best['points']} points" + ("" if best["end"] is not None else ", not recovered yet")
        ),
        extra={"points": best["points"]},
    )


__all__ = ["IncidentWindow", "bounds", "label", "show", "window"]


def bounds(incident: Any) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Return ``(start, end)`` from an IncidentWindow, a ``(start, end)`` pair, one start time or None.

    Raises ConfigError for anything else.
    """
    from ..timeutil import parse_time

    if incident is None:
        return None, None
    if isinstance(incident, IncidentWindow):
        return (incident.start, incident.end) if incident.found else (None, None)
    if isinstance(incident, tuple | list) and len(incident) == 2:
        return parse_time(incident[0], field="window start"), parse_time(incident[1], field="window end")
    if isinstance(incident, dict) and "start" in incident:
        return parse_time(incident.get("start"), field="window start"), parse_time(incident.get("end"), field="window end")
    try:
        return parse_time(incident, field="window"), None
    except ConfigError:
        raise ConfigError(
            f"window: {incident!r} is not an IncidentWindow, a (start, end) pair or a time"
        ) from None
