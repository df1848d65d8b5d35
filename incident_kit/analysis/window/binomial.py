"""Rate frames (from :func:`rates`): each bucket's error rate judged against the binomial noise of its
request count, so a quiet minute with one failed request out of two is not an incident.

The baseline of each bucket is the robust centre (rolling median) and spread of the buckets before
it; an incident starts at the first ``min_duration`` buckets that together hold significantly more
errors than the pooled baseline rate and ends at the first ``min_recovery`` buckets back near the
frozen baseline.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from .result import IncidentWindow, label, show


def rolling_baseline(values: np.ndarray, points: int, min_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def first_binomial_start(values: np.ndarray, counts: np.ndarray, centre: np.ndarray, excluded: np.ndarray,
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
        # Continuity-corrected: a handful of errors where half of one is expected is not 4 sigma.
        z = (errors - requests * p0 - 0.5) / np.sqrt(requests * p0 * (1 - p0) + 0.25)
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


def first_run(flags: np.ndarray, start: int, length: int) -> int | None:
    """Return the first index >= start beginning a run of ``length`` True flags, or None."""
    run = 0
    for i in range(start, len(flags)):
        run = run + 1 if flags[i] else 0
        if run >= length:
            return i - length + 1
    return None


def rate_window(
    values: np.ndarray,
    counts: np.ndarray | None,
    times: pd.DatetimeIndex,
    name: str,
    *,
    direction: str = "up",
    threshold: float = 4.0,
    exit_threshold: float = 2.0,
    min_effect: float | None = None,
    min_ratio: float = 0.5,
    min_duration: int = 3,
    min_recovery: int = 3,
    baseline_points: int = 60,
    min_baseline: int = 10,
    look_back: bool = True,
) -> IncidentWindow:
    """The rate frames' detector: buckets judged against the binomial noise of their request counts
    (``counts``; None for its own look-back), a rolling robust baseline, ``min_duration`` buckets in
    a row and a minimum effect. Returns the largest episode as an :class:`IncidentWindow`
    (``kind`` "rate"), or ``found=False`` with a reason."""
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
        centre, spread, support = rolling_baseline(base_values, baseline_points, min_baseline)
        deviation = values - centre
        signed = {"up": deviation, "down": -deviation, "both": np.abs(deviation)}[direction]
        required = np.fmax(np.fmax(threshold * spread, min_effect), min_ratio * np.abs(centre))
        with np.errstate(invalid="ignore"):
            hot = (signed >= required) & ~np.isnan(centre) & ~np.isnan(values)
        if counts is not None and direction != "down":
            i = first_binomial_start(values, counts, centre, excluded, pos, min_duration, baseline_points,
                                      threshold, min_effect, min_ratio)
        else:
            i = first_run(hot, pos, min_duration)
        if i is None:
            break
        base, scale = centre[i], spread[i]
        exit_level = max(exit_threshold * scale, 0.5 * required[i])
        back = np.abs(values - base) < exit_level if direction == "both" else (
            (values - base if direction == "up" else base - values) < exit_level
        )
        back &= ~np.isnan(values)
        j = first_run(back, i + min_duration, min_recovery)
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
        elif direction in ("up", "down") and look_back:
            # Seen backwards, an incident that was already on when the data begins is a change too.
            opposite = "down" if direction == "up" else "up"
            back = rate_window(values, None, times, name, direction=opposite, threshold=threshold,
                               min_effect=min_effect, min_ratio=min_ratio, min_duration=min_duration,
                               min_recovery=min_recovery, baseline_points=baseline_points,
                               min_baseline=min_baseline, look_back=False)
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
        kind="rate" if counts is not None else "level",
        extra={"points": best["points"]},
    )


__all__ = ["first_binomial_start", "first_run", "rate_window", "rolling_baseline"]
