"""What recurs in a series: a daily or weekly profile to remove before judging it, and departures whose
shape and size the look-back already holds (the usual burst), which :func:`window` does not report."""

from __future__ import annotations

import math
import warnings

import numpy as np


def _envelope(v: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the running max and min of ``v`` over ``reach`` points either side (NaN ignored)."""
    if reach == 0:
        return v, v
    pad = np.concatenate([np.full(reach, np.nan), v, np.full(reach, np.nan)])
    view = np.lib.stride_tricks.sliding_window_view(pad, 2 * reach + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(view, axis=1), np.nanmin(view, axis=1)


def repeats(x: np.ndarray, start: int, stop: int, points: int = 288, *, period: int | None = None,
            tolerance: float = 0.1, times: int = 2, reach: int = 1) -> bool:
    """Return True when the stretch ``x[start:stop]`` already happened ``times`` times in the ``points``
    before it: that many non-overlapping earlier stretches of its length lie within ``tolerance`` times its
    own distance from the history's median (root of summed squares, NaN points left out), each point
    matched within ``reach`` steps either way (a two-sided envelope bound, as LB_Keogh for DTW). With a
    ``period`` (a seasonal series), only stretches within an eighth of it of a whole number of periods
    earlier count (the same time of day, give or take three hours). False for
    a stretch that departs nowhere, or whose history is too short to hold ``times`` copies of it."""
    seg = x[start:stop]
    size = len(seg)
    hist = x[max(0, start - points):start]
    if size == 0 or len(hist) < times * size or not np.isfinite(hist).any():
        return False
    with np.errstate(invalid="ignore"):
        departure = math.sqrt(float(np.nansum((seg - np.nanmedian(hist)) ** 2)))
        if not departure > 0:
            return False
        view = np.lib.stride_tricks.sliding_window_view
        hi, lo = _envelope(hist, reach)
        s_hi, s_lo = _envelope(seg, reach)
        earlier = view(hist, size)
        # Both ways: the stretch inside each earlier one's envelope, and each earlier one inside the stretch's.
        into = np.nansum(np.clip(seg - view(hi, size), 0, None) ** 2 + np.clip(view(lo, size) - seg, 0, None) ** 2, axis=1)
        back = np.nansum(np.clip(earlier - s_hi, 0, None) ** 2 + np.clip(s_lo - earlier, 0, None) ** 2, axis=1)
    dist = np.where(np.isnan(earlier).any(axis=1), np.inf, np.maximum(into, back))
    if period:
        lag = (start - (max(0, start - points) + np.arange(len(dist)))) % period
        dist[np.minimum(lag, period - lag) > period / 8] = np.inf
    limit = (tolerance * departure) ** 2
    for _ in range(times):
        j = int(np.argmin(dist))
        if not dist[j] <= limit:
            return False
        dist[max(0, j - size + 1):j + size] = np.inf
    return True


def seasonal_residual(x: np.ndarray, period: int, *, cycles: int = 7, gain: float = 0.7) -> np.ndarray | None:
    """Return ``x`` minus the median of the same phase over up to ``cycles`` earlier periods (NaN for
    the first period), or None when that does not shrink the series' interquartile range to at most
    ``gain`` times (no cycle of that period)."""
    n = len(x)
    if period < 4 or n <= period:
        return None
    stack = np.full((cycles, n), np.nan)
    for c in range(1, cycles + 1):
        if c * period < n:
            stack[c - 1, c * period:] = x[:n - c * period]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        profile = np.nanmedian(stack, axis=0)
    residual = x - profile

    def iqr(v: np.ndarray) -> float:
        v = v[np.isfinite(v)]
        return float(np.subtract(*np.percentile(v, [75, 25]))) if len(v) > 10 else math.inf

    if not iqr(residual[period:]) <= gain * iqr(x[period:]):
        return None
    return residual


__all__ = ["repeats", "seasonal_residual"]
