"""The incident window: when a series left its baseline, when it came back, how, and how surely.

Metrics (a Series, a metrics frame, a rates frame's latency or request columns) go through
:mod:`.novelty`: each point against the series' own history, after removing a daily or weekly
profile when the history covers two cycles and the profile explains the series. Rate frames'
error rates go through the binomial test of :mod:`.binomial`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ...errors import ConfigError
from ...timeutil import parse_time
from .binomial import rate_window
from .inputs import as_series
from .novelty import ALPHA, Episode, episodes, line_r2
from .recurrence import repeats, seasonal_residual
from .result import IncidentWindow, label, show

DAY = pd.Timedelta(days=1)
WEEK = pd.Timedelta(days=7)
# False alarms per day of quiet data for an answer of strength s = -log10(p x tests): FA_A * s ** -FA_B,
# fitted on window()'s answers over the quiet spans of NAB's real series (see docs/ARCHITECTURE.md).
FA_A, FA_B = 0.42, 0.63
UP_METRICS = ("error_rate", "errors", "denied_rate")
# Older points this right-skewed ((q99 - q50) / (q50 - q01)) are judged on a log scale; a Gaussian is 1.
SKEW = 2.0


def _step(times: pd.Index) -> pd.Timedelta | None:
    """Return the series' sampling step when its timestamps are regular (90% of steps equal), else None."""
    if not isinstance(times, pd.DatetimeIndex) or len(times) < 3:
        return None
    diffs = np.diff(times.as_unit("ns").asi8)
    step = int(np.median(diffs))
    if step <= 0 or np.mean(diffs == step) < 0.9:
        return None
    return pd.Timedelta(step, unit="ns")


def _deseason(values: np.ndarray, times: pd.Index, min_points: int) -> tuple[np.ndarray, str, int | None]:
    """Return (the values to judge, what was done about seasonality, for the reason, the removed
    profile's period in points or None)."""
    step = _step(times)
    if step is None:
        return values, "no seasonal profile (irregular timestamps)", None
    span = step * len(values)
    for name, period in (("weekly", WEEK), ("daily", DAY)):
        points = int(round(period / step))
        if points < 4 or abs(points * step - period) > step / 2 or len(values) < 2 * points + min_points:
            continue
        residual = seasonal_residual(values, points)
        if residual is not None:
            return residual, f"{name} profile removed", points
    if span < 2 * DAY:
        hours = span / pd.Timedelta(hours=1)
        return values, f"no daily profile: {hours:.0f} h of history, 2 days needed", None
    return values, "no daily or weekly cycle", None


def _log_offset(values: np.ndarray, need: int) -> float | None:
    """Return the offset c for judging log(values + c) when the older half of a non-negative series is
    right-skewed (its 99th percentile at least twice as far above the median as the 1st is below it, the
    bulk not stuck at its floor), else None. c is the 75th percentile, at least the data's grain, so the
    transform tames heavy upper tails (bytes, latencies) without stretching values near zero."""
    older = values[:max(need, len(values) // 2)]
    older = older[np.isfinite(older)]
    if len(older) < 10 or older.min() < 0:
        return None
    q01, q50, q75, q99 = np.percentile(older, [1, 50, 75, 99])
    if q50 <= q01 or q99 - q50 < SKEW * (q50 - q01):
        return None
    positive = np.unique(older[older > 0])
    grain = float(np.min(np.diff(positive))) if len(positive) > 1 else float(positive[0])
    return max(float(q75), grain, 1e-12)


def _kind(ep: Episode, values: np.ndarray, stop: int, before: np.ndarray) -> str:
    """Return the shape of an episode: spike, variance (wider swings, about the same level, than the
    history ``before``), trend (a ramp) or level."""
    length = stop - ep.start
    if length <= 2 and ep.kind != "variance":
        return "spike"
    seg = values[ep.start:stop]
    ok = np.isfinite(seg)
    if ep.kind == "variance" or (ok.sum() >= 6 and len(before) >= 6 and np.std(seg[ok]) > 2 * np.std(before)
                                 and abs(np.mean(seg[ok]) - np.median(before)) < np.std(seg[ok]) / 2):
        return "variance"
    if ep.scale > 1 and length >= 6 and ok.sum() >= 6 and line_r2(seg) >= 0.6:
        return "trend"
    return "level"


def after(w: IncidentWindow, since: pd.Timestamp | None, times: pd.Index) -> IncidentWindow:
    """Return ``w`` as seen from ``since`` (the earlier points were history only): not found when it
    ended before ``since``, started at the first point from ``since`` when it began earlier."""
    if since is None or not w.found:
        return w
    since = since.tz_localize("UTC") if since.tzinfo is None else since
    if w.end is not None and w.end <= since:
        return IncidentWindow(False, direction=w.direction, metric=w.metric, extra=w.extra,
                              reason=f"nothing from {since} on: the last departure ({w.start} to {w.end}) "
                                     f"ended before it")
    if w.start >= since:
        return w
    first = times[times >= since]
    start = first[0] if len(first) else since
    return replace(w, start=start, reason=f"{w.reason}; began before {since}, at {w.start}",
                   extra={**w.extra, "began": w.start})


def false_alarms_per_day(strength: float) -> float:
    """Return the expected false alarms per day of quiet data for a departure of ``strength``
    (-log10 of its Bonferroni-corrected p-value), as measured on quiet real series."""
    return min(1.0, FA_A * max(strength, 1.0) ** -FA_B)


def window(
    series: Any,
    *,
    column: str | None = None,
    direction: str | None = None,
    alpha: float = ALPHA,
    threshold: float = 4.0,
    exit_threshold: float = 2.0,
    min_effect: float | None = None,
    min_ratio: float | None = None,
    min_duration: int = 3,
    min_recovery: int = 3,
    baseline_points: int | None = None,
    min_baseline: int | None = None,
    since: Any = None,
) -> IncidentWindow:
    """Find when ``series`` left its baseline, when it came back, which way and how.

    ``series``: a Series indexed by time, a frame from :func:`rates` (``error_rate`` by default,
    or ``column``), a logs frame (its rates per minute), or a one-series metrics frame (``ts``,
    ``value``, e.g. from ``ik.prometheus.query_range``). NaN points are gaps.
    ``direction``: "up", "down" or "both"; by default "up" for error rates and "both" otherwise.
    Metrics: ``alpha`` is the one threshold (a Bonferroni-corrected tail p-value per point);
    ``min_effect`` (default 0.01 for series within [0, 1], else 0) and ``min_ratio`` (default 0)
    the smallest change that counts; ``baseline_points`` (288) the history each point is judged
    against, ``min_baseline`` (60, at least 20) the history needed before a change can be found.
    Rate frames' error rates keep the binomial test with ``threshold``, ``exit_threshold``,
    ``min_duration``, ``min_ratio`` (0.5), ``baseline_points`` (60) and ``min_baseline`` (10).
    ``since``: a time; the points before it are history only (a look-back read so that a change
    right after it can be judged): nothing that ended before it is reported, and an incident that
    began before it is reported from ``since`` (``extra["began"]`` holds its own start).
    Returns an :class:`IncidentWindow` (the latest episode; ``found=False`` with a reason
    otherwise). Raises ConfigError for unusable input or options.
    """
    if direction not in (None, "up", "down", "both"):
        raise ConfigError(f"window: direction {direction!r}; expected 'up', 'down' or 'both'")
    if min_duration < 1 or min_recovery < 1 or (baseline_points is not None and baseline_points < 2) or (
            min_baseline is not None and min_baseline < 1) or not 0 < alpha < 1:
        raise ConfigError("window: min_duration, min_recovery, min_baseline must be >= 1, baseline_points >= 2 "
                          "and 0 < alpha < 1")
    if since is not None:
        s = as_series(series, column)[0]
        result = window(series, column=column, direction=direction, alpha=alpha, threshold=threshold,
                        exit_threshold=exit_threshold, min_effect=min_effect, min_ratio=min_ratio,
                        min_duration=min_duration, min_recovery=min_recovery, baseline_points=baseline_points,
                        min_baseline=min_baseline)
        return after(result, parse_time(since, field="since"), s.index)
    s, requests, name = as_series(series, column)
    values = s.to_numpy(dtype="float64")
    times = s.index
    if direction is None:
        direction = "up" if name in UP_METRICS or name.endswith("_ms") else "both"
    if len(values) == 0 or np.isnan(values).all():
        return IncidentWindow(False, direction=direction, metric=name, reason="the series is empty")
    finite = values[~np.isnan(values)]
    if min_effect is None:
        min_effect = 0.01 if finite.min() >= 0 and finite.max() <= 1 else 0.0
    if requests is not None:
        return rate_window(values, requests.to_numpy(dtype="float64"), times, name, direction=direction,
                           threshold=threshold, exit_threshold=exit_threshold, min_effect=min_effect,
                           min_ratio=0.5 if min_ratio is None else min_ratio, min_duration=min_duration,
                           min_recovery=min_recovery, baseline_points=baseline_points or 60,
                           min_baseline=min(min_baseline or 10, baseline_points or 60))
    points = baseline_points or 288
    need = max(20, min(min_baseline or 60, points))
    offset = _log_offset(values, need) if min_effect == 0 and not min_ratio else None
    scaled = values if offset is None else np.log(values + offset)
    judged, seasonality, period = _deseason(scaled, times, need)
    if offset is not None:
        seasonality += "; judged on a log scale (right-skewed values)"
    ways = ("up", "down") if direction == "both" else (direction,)
    options = {"alpha": alpha, "points": points, "min_effect": min_effect, "min_ratio": min_ratio or 0.0,
               "min_recovery": min_recovery}
    found = episodes(judged, directions=ways, min_points=need, **options)
    # The incident asked about is the latest departure: earlier ones in the look-back have already
    # recovered (an episode ends only by recovering), and the strongest of them is often a precursor.
    # "That is the usual burst": a departure whose shape and size the look-back (as plotted) already
    # holds twice is not reported; on a seasonal series only at about the same time of the cycle.
    best = next((e for e in reversed(found)
                 if not repeats(values, e.start, len(values) if e.end is None else e.end, points, period=period)), None)
    if best is None:
        count = len(finite)
        reason = f"nothing beyond the series' own history at p <= {alpha:g}; {seasonality}"
        if found:
            reason = (f"{len(found)} departure(s) from the series' own history, the latest at {times[found[-1].start]}, "
                      f"each repeating at least two earlier stretches of the same shape and size; {seasonality}")
        elif count < need + 1:
            reason = f"only {count} points: a baseline needs {need} before a change"
        else:
            back = episodes(judged[::-1].copy(), directions=("up", "down"), min_points=need, **options)
            if back and back[0].start > 0:
                at = times[len(values) - back[0].start]
                reason += f"; {name} changed at {at}: the data may begin inside an incident, look further back"
        return IncidentWindow(False, direction=direction, metric=name, reason=reason,
                              extra={"seasonality": seasonality})
    stop = best.end if best.end is not None else len(values)
    seg = values[best.start:stop]
    history = judged[max(0, best.start - points):best.start]
    history = history[np.isfinite(history)]
    # What the series would have been: its history's median, plus the seasonal profile if removed.
    expected = scaled - judged + (float(np.median(history)) if len(history) else float(np.nanmedian(judged)))
    if offset is not None:
        expected = np.exp(expected) - offset
    if not np.isfinite(expected[best.start]):
        expected[best.start:] = float(np.nanmedian(values[:best.start])) if best.start else float(np.nanmedian(values))
    base = float(expected[best.start])
    signed = (seg - expected[best.start:stop]) * (1 if best.direction == "up" else -1)
    k_peak = best.start + int(np.nanargmax(np.nan_to_num(signed, nan=-np.inf)))
    strength = -best.log10_p
    fa_day = false_alarms_per_day(strength)
    kind = _kind(best, judged, stop, history)
    points_in = int(np.sum(np.isfinite(seg)))
    return IncidentWindow(
        True,
        start=times[best.start],
        end=times[best.end] if best.end is not None else None,
        peak=times[k_peak],
        peak_value=float(values[k_peak]),
        baseline=base,
        effect=float(np.nanmean(seg - expected[best.start:stop])),
        confidence=round(max(0.0, 1.0 - fa_day), 3),
        direction=best.direction,
        metric=name,
        episodes=len(found),
        kind=kind,
        reason=(f"{label(name)} went {best.direction} ({kind}) from {show(base, name)} to "
                f"{'a peak of' if best.direction == 'up' else 'a low of'} {show(float(values[k_peak]), name)} "
                f"over {points_in} points" + ("" if best.end is not None else ", not recovered yet")
                + f"; p = {10 ** best.log10_p:.1e}, about {fa_day:.2g} false alarms per quiet day at this "
                f"strength; {seasonality}"),
        extra={"points": points_in, "p_value": 10 ** best.log10_p, "false_alarms_per_day": fa_day,
               "scale": best.scale, "test": best.kind, "seasonality": seasonality,
               "detected_at": times[best.detect]},
    )


__all__ = ["after", "false_alarms_per_day", "window"]
