"""Novelty against the series' own history: the detector behind :func:`window` for metrics.

Each point is compared with the points before it (``points`` of them, at least ``min_points``),
at three scales: the point itself (spikes), the mean of the last 6 and of the last 24 points
(level shifts, ramps) and the mean absolute distance from the history's median over 6 and 24
points (variance); a smooth series also by its rate of change (:func:`trend_log10_p`). Each statistic is judged against the same statistic over the history, with an
exponential tail fitted to the history's upper (lower) decile: ``p = 0.1 exp(-(y - q90) / beta)``,
``beta`` the larger of ``(q99 - q90) / ln 10`` and ``(max - q90) / ln(n / 10)`` (the largest
value seen is an ordinary one), never below the data's resolution. A point is hot when its
smallest p, times the number of tests (Bonferroni), is at most ``alpha``, and its distance from
the history's median reaches the minimum effect. An incident starts at the first point of the
hot block where the excess began (the suffix of the block with the largest cumulative
excess beyond the history's 90th/10th percentile, a CUSUM), moved to the least-squares split of
the 24 points before it up to the detection (for a variance departure: to where a wider spread
about the history's median explains those points better than a shift of the level, when it does),
then on to the first point unusual by itself (p <= ``POINT_P``) unless the lead-in is a ramp,
and ends at the first ``min_recovery`` points back inside that band (frozen at the start). Once
departures are found, the series is judged once more with their points left out of the history,
so an earlier incident (or a precursor) does not make the next one look ordinary.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

LN10 = math.log(10)
SCALES = (1, 6, 24)
# The one threshold: the largest Bonferroni-corrected tail p-value that makes a point hot (the middle of
# the range 1.2e-3 .. 2e-3 that gives the same NAB figures; docs/window-study.md, fifth round).
ALPHA = 1.5e-3
# Smooth series (lag-1 autocorrelation at least SMOOTH) are also judged by their rate of change:
# the mean of the last TREND points minus the mean of the TREND before them.
SMOOTH, TREND = 0.8, 6
# The start is the first point from the onset estimate that is unusual by itself (one-sided tail p
# <= POINT_P), unless the points from the onset to the detection climb like a ramp (a line's R^2 >=
# RAMP_R2 over at least RAMP_POINTS points), whose foot is its start (docs/window-study.md, sixth round).
POINT_P, RAMP_R2, RAMP_POINTS = 0.03, 0.4, 6


@dataclass
class Episode:
    """One departure: positions in the series, the test that found it and its log10 p-value."""

    start: int
    end: int | None
    detect: int
    kind: str
    scale: int
    direction: str
    log10_p: float


def history(y: np.ndarray, shift: int, points: int, min_points: int) -> dict[str, np.ndarray]:
    """Return quantiles (q01 q10 q50 q90 q99), max, min and count of the finite values of ``y`` among
    the ``points`` values ending ``shift`` positions before each position (NaN where fewer than
    ``min_points``). Long series are summarised every few positions (at most ~500k values sorted), so a
    history may end up to that many positions earlier."""
    n = len(y)
    stride = max(1, math.ceil(n * points / 500_000))
    padded = np.concatenate([np.full(points - 1, np.nan), y])
    ends = np.arange(0, n, stride)
    windows = np.sort(np.lib.stride_tricks.sliding_window_view(padded, points)[ends], axis=1)
    count = np.sum(np.isfinite(windows), axis=1)
    rows = np.arange(len(ends))
    out: dict[str, np.ndarray] = {}
    for key, q in (("q01", 0.01), ("q10", 0.1), ("q50", 0.5), ("q90", 0.9), ("q99", 0.99)):
        at = q * np.maximum(count - 1, 0)
        lo = np.floor(at).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
        frac = at - lo
        out[key] = windows[rows, lo] * (1 - frac) + windows[rows, hi] * frac
    out["max"] = windows[rows, np.maximum(count - 1, 0)]
    out["min"] = windows[:, 0]
    out["cnt"] = count.astype(float)
    short = count < min_points
    full = {}
    index = np.minimum(np.arange(n) - shift, n - 1) // stride
    valid = np.arange(n) - shift >= 0
    for key, value in out.items():
        if key != "cnt":
            value = np.where(short, np.nan, value)
        got = np.full(n, np.nan)
        got[valid] = value[index[valid]]
        full[key] = got
    return full


def tail_scales(h: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Return the exponential tail scales (up, down) of a history: the larger of ``(q99 - q90) / ln 10``
    and ``(max - q90) / ln(n / 10)`` (and the same below q10)."""
    ln_n = np.log(np.maximum(0.1 * np.nan_to_num(h["cnt"], nan=1.0), 1.5))
    with np.errstate(invalid="ignore", divide="ignore"):
        up = np.fmax((h["q99"] - h["q90"]) / LN10, (h["max"] - h["q90"]) / ln_n)
        down = np.fmax((h["q10"] - h["q01"]) / LN10, (h["q10"] - h["min"]) / ln_n)
    return up, down


def tail_log10_p(y: np.ndarray, h: dict[str, np.ndarray], floor_up: np.ndarray | float,
                 floor_down: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Return log10 of the one-sided tail p-values (up, down) of ``y`` under the exponential tails of
    the history ``h``, their scales at least the floors (0 where the history is too short or ``y`` is NaN)."""
    b_up, b_dn = tail_scales(h)
    with np.errstate(invalid="ignore", divide="ignore"):
        up = np.minimum(-1.0 - (y - h["q90"]) / np.fmax(b_up, floor_up) / LN10, 0.0)
        down = np.minimum(-1.0 - (h["q10"] - y) / np.fmax(b_dn, floor_down) / LN10, 0.0)
    return np.nan_to_num(up, nan=0.0), np.nan_to_num(down, nan=0.0)


def resolution(values: np.ndarray) -> float:
    """Return the smallest step between distinct values (0 for fewer than two), the data's grain."""
    distinct = np.unique(values[np.isfinite(values)])
    return float(np.min(np.diff(distinct))) if len(distinct) > 1 else 0.0


def lag1(x: np.ndarray) -> float:
    """Return a robust lag-1 autocorrelation of ``x`` in [0, 0.95]: 1 - (spread of steps)^2 / (2 spread^2)."""
    v = x[np.isfinite(x)]
    if len(v) < 10:
        return 0.0
    level = np.subtract(*np.percentile(v, [75, 25]))
    steps = np.diff(v)
    jump = np.subtract(*np.percentile(steps, [75, 25]))
    if level <= 0:
        return 0.0
    return float(np.clip(1 - jump ** 2 / (2 * level ** 2), 0.0, 0.95))


def split(x: np.ndarray) -> int | None:
    """Return where ``x`` splits into two segments of least total squared error (1 .. len - 1), None
    when it has fewer than 3 finite points."""
    idx = np.flatnonzero(np.isfinite(x))
    if len(idx) < 3:
        return None
    v = x[idx]
    n = len(v)
    c1, c2 = np.cumsum(v), np.cumsum(v * v)
    k = np.arange(1, n)
    left = c2[k - 1] - c1[k - 1] ** 2 / k
    right = (c2[-1] - c2[k - 1]) - (c1[-1] - c1[k - 1]) ** 2 / (n - k)
    return int(idx[k[int(np.argmin(left + right))]])


def variance_onset(x: np.ndarray, centre: float, sigma: float) -> int | None:
    """Return where in ``x`` (ending at a detection) a wider spread about ``centre`` began: the start of
    the suffix with the largest Gaussian likelihood ratio of a variance above ``sigma**2`` against the
    history's (both about ``centre``). Returns None when a shift of the mean explains some suffix better
    (then the onset is a level change's), or when ``sigma`` is not positive or ``x`` has no finite point."""
    ok = np.isfinite(x)
    if not sigma > 0 or not ok.any():
        return None
    dev = np.where(ok, x - centre, 0.0) / sigma
    count = np.cumsum(ok[::-1])[::-1].astype(float)
    total = np.cumsum(dev[::-1])[::-1]
    ratio = np.cumsum((dev * dev)[::-1])[::-1] / np.maximum(count, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        wider = np.where(ok & (ratio > 1), count / 2 * (ratio - 1 - np.log(ratio)), -np.inf)
        shifted = np.where(ok, total * total / (2 * count), -np.inf)
    k = int(np.argmax(wider))
    return k if wider[k] > np.max(shifted) else None


def trend_log10_p(x: np.ndarray, xh: np.ndarray, rho: float, points: int, min_points: int,
                  grain: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Return log10 tail p-values (up, down) of the rate of change of ``x`` (the mean of its last
    ``TREND`` points minus the mean of the ``TREND`` before them) against the same statistic over the
    history ``xh``, ending where the two halves no longer overlap; None unless ``rho >= SMOOTH``.

    On a smooth series the level tests' tail floor widens sqrt((1 + rho) / (1 - rho)) times, so a ramp
    grows inside its own history; its rate of change is judged here. The tail's floor is 1.5 x the
    Gaussian exponential scale (0.4 sd) of that statistic under an AR(1) of lag-1 ``rho``, its sd from
    the history's one-step changes (which an AR(1)'s smoothness does not hide, unlike its level).
    """
    if rho < SMOOTH:
        return None
    m, n = TREND, len(x)

    def rate(v: np.ndarray) -> np.ndarray:
        means = pd.Series(v).rolling(m, min_periods=m).mean().to_numpy()
        out = np.full(n, np.nan)
        out[m:] = means[m:] - means[:-m]
        return out

    y = rate(x)
    h = history(rate(xh) if xh is not x else y, 2 * m, points, min_points)
    steps = np.full(n, np.nan)
    steps[1:] = np.diff(xh)
    hs = history(steps, 1, points, min_points)
    lag = np.arange(2 * m)
    weights = np.r_[-np.ones(m), np.ones(m)] / m
    # Var(rate) / Var(one-step change) under an AR(1): 1/m when independent, about 2m/3 as rho -> 1.
    ratio = float(weights @ rho ** np.abs(lag[:, None] - lag[None, :]) @ weights / (2 * (1 - rho)))
    sd = np.nan_to_num((hs["q90"] - hs["q10"]) / 2.563, nan=0.0) * math.sqrt(ratio)
    floor = np.fmax(np.fmax(1.5 * 0.4 * sd, grain / m), 1e-12)
    return tail_log10_p(y, h, floor, floor)


def _first_run(flags: np.ndarray, start: int, length: int) -> int | None:
    """Return the first index >= start that begins ``length`` True flags in a row, or None."""
    tail = flags[start:].astype(np.int32)
    if len(tail) < length:
        return None
    runs = np.convolve(tail, np.ones(length, dtype=np.int32), mode="valid")
    hit = np.flatnonzero(runs >= length)
    return start + int(hit[0]) if len(hit) else None


def line_r2(segment: np.ndarray) -> float:
    """Return the R^2 of a straight line fitted to the finite points of ``segment`` against their
    positions (0 for fewer than 2 such points or a constant segment)."""
    ok = np.isfinite(segment)
    if ok.sum() < 2 or np.ptp(segment[ok]) == 0:
        return 0.0
    r = np.corrcoef(np.flatnonzero(ok), segment[ok])[0, 1]
    return float(r * r) if np.isfinite(r) else 0.0


def _first_unusual(point_scores: np.ndarray, start: int, detect: int, tests: int) -> int:
    """Return the first position from ``start`` to ``detect`` whose point, by itself, lies beyond its
    history at one-sided p <= POINT_P (``point_scores``: the point test's log10 p plus log10 ``tests``,
    its Bonferroni term), or ``start`` when none does. A least-squares onset can reach back onto points
    that look ordinary; an on-call engineer dates a change from the first point that does not."""
    alone = point_scores[start:detect + 1] - math.log10(tests)
    unusual = np.flatnonzero(alone <= math.log10(POINT_P))
    return start + int(unusual[0]) if len(unusual) else start


def _change_point(block: np.ndarray, direction: str, centre: float, band_lo: float, band_hi: float) -> int:
    """Return where in ``block`` (ending at the detection) the departure began: the first point of the
    suffix with the largest excess (a CUSUM) beyond the reference value halfway to the block's level
    (beyond the history's 90th/10th percentile at least), so a slow lead-in is not counted as the onset."""
    if len(block) == 1:
        return 0
    if direction in ("up", "down"):
        sign = 1.0 if direction == "up" else -1.0
        edge = sign * ((band_hi if sign > 0 else band_lo) - centre)
        ref = centre + sign * max(sign * (float(np.nanmean(block)) - centre) / 2, edge)
        excess = sign * (block - ref)
    else:
        excess = np.abs(block - centre) - (band_hi - band_lo) / 2
    suffix = np.cumsum(np.nan_to_num(excess, nan=0.0)[::-1])[::-1]
    return int(np.argmax(suffix))


def _scores(x: np.ndarray, xh: np.ndarray, directions: tuple[str, ...], points: int, min_points: int,
            min_effect: float, min_ratio: float) -> tuple[list[tuple[str, int, str]], np.ndarray, dict[str, np.ndarray]]:
    """Return (tests, their Bonferroni-corrected log10 p-values per point, the point history) of ``x``
    judged against the history ``xh`` (``x`` with the points not to learn from set to NaN)."""
    n = len(x)
    grain = resolution(x)
    point = history(xh, 1, points, min_points)
    centre = point["q50"]
    # The tail scale of a Gaussian beyond its 90th percentile is about 0.4 sigma (sigma from q10..q90);
    # a mean of m autocorrelated points varies sqrt((1 + rho) / (1 - rho) / m) times as much.
    rho = lag1(x[:max(min_points, n // 2)])  # from the older half, which an incident rarely fills
    bulk = np.nan_to_num(0.4 * (point["q90"] - point["q10"]) / 2.563, nan=0.0) * math.sqrt((1 + rho) / (1 - rho))
    need = np.fmax(min_effect, min_ratio * np.abs(centre))
    tests: list[tuple[str, int, str]] = []
    scores: list[np.ndarray] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        early = np.nanmedian(x[:min_points]) if np.isfinite(x[:min_points]).any() else np.nan
    deviation = np.abs(x - np.where(np.isnan(centre), early, centre))
    dev_h = np.where(np.isnan(xh), np.nan, deviation)
    for m in SCALES:
        if m == 1:
            y, h = x, point
        else:
            y = pd.Series(x).rolling(m, min_periods=m).mean().to_numpy()
            h = history(pd.Series(xh).rolling(m, min_periods=m).mean().to_numpy() if xh is not x else y,
                        m, points, min_points)
        floor = np.fmax(np.fmax(0.002 * np.abs(h["q50"]), grain / m), 1e-12)
        # A mean of m points varies at least as an average of m independent points would.
        up, down = tail_log10_p(y, h, np.fmax(floor, bulk / math.sqrt(m)), np.fmax(floor, bulk / math.sqrt(m)))
        with np.errstate(invalid="ignore"):
            if "up" in directions:
                tests.append(("level", m, "up"))
                scores.append(np.where(y - centre >= need, up, 0.0))
            if "down" in directions:
                tests.append(("level", m, "down"))
                scores.append(np.where(centre - y >= need, down, 0.0))
        if m > 1:
            spread = pd.Series(deviation).rolling(m, min_periods=m).mean().to_numpy()
            hs = history(pd.Series(dev_h).rolling(m, min_periods=m).mean().to_numpy() if xh is not x else spread,
                         m, points, min_points)
            floor = np.fmax(np.fmax(0.002 * np.abs(centre), grain / m), 1e-12)
            wider, _ = tail_log10_p(spread, hs, np.fmax(floor, bulk / math.sqrt(m)), floor)
            tests.append(("variance", m, "either"))
            with np.errstate(invalid="ignore"):
                scores.append(np.where(spread >= need, wider, 0.0))
    trend = trend_log10_p(x, xh, rho, points, min_points, grain)
    if trend is not None:
        for d, p, sign in (("up", trend[0], 1.0), ("down", trend[1], -1.0)):
            if d in directions:
                tests.append(("trend", 2 * TREND, d))
                with np.errstate(invalid="ignore"):
                    scores.append(np.where(sign * (x - centre) >= need, p, 0.0))
    return tests, np.vstack(scores) + math.log10(len(tests)), point


def _walk(x: np.ndarray, tests: list[tuple[str, int, str]], stack: np.ndarray, point: dict[str, np.ndarray],
          directions: tuple[str, ...], alpha: float, min_recovery: int, limit: int) -> list[Episode]:
    """Return the episodes of ``x`` given its test scores: each from its first hot point (onset by
    :func:`_change_point`) to its recovery, the next looked for after it."""
    n = len(x)
    centre = point["q50"]
    hot = (stack <= math.log10(alpha)) & np.isfinite(x)
    best = np.min(stack, axis=0)
    found: list[Episode] = []
    pos = 0
    while pos < n and len(found) < limit:
        # A test of scale m counts only once its whole block lies after the previous episode.
        firsts = []
        for t, (_, m, _) in enumerate(tests):
            ahead = np.flatnonzero(hot[t, pos + m - 1:])
            if len(ahead):
                firsts.append((pos + m - 1 + int(ahead[0]), float(stack[t, pos + m - 1 + int(ahead[0])]), t))
        if not firsts:
            break
        i, _, t = min(firsts)
        kind, m, d = tests[t]
        lo = max(i - m + 1, pos)
        block = x[lo:i + 1]
        band_lo, band_hi = point["q10"][i], point["q90"][i]
        start = lo + _change_point(block, d, centre[i], band_lo, band_hi)
        # The onset: where the stretch from a block before the first estimate up to the detection
        # splits best into two levels (least squares), so a ramp or a noisy lead-in is not cut short.
        at = max(pos, start - SCALES[-1])
        k = variance_onset(x[at:i + 1], centre[i], (band_hi - band_lo) / 2.563) if d == "either" else None
        k = split(x[at:i + 1]) if k is None else k
        start = start if k is None else min(at + k, i)
        lead_in = x[start:i + 1]
        if d in ("up", "down") and not (np.isfinite(lead_in).sum() >= RAMP_POINTS and line_r2(lead_in) >= RAMP_R2):
            start = _first_unusual(stack[tests.index(("level", 1, d))], start, i, len(tests))
        if d == "either":
            d = "up" if np.nanmean(block) >= centre[i] else "down"
        inside = (x >= band_lo) & (x <= band_hi)
        end = _first_run(inside, i + 1, min_recovery)
        stop = end if end is not None else n
        if d in directions:
            found.append(Episode(start, end, i, kind, m, d, float(np.min(best[i:max(stop, i + 1)]))))
        if end is None:
            break
        pos = end
    return found


def episodes(x: np.ndarray, *, directions: tuple[str, ...] = ("up", "down"), alpha: float = ALPHA,
             points: int = 288, min_points: int = 60, min_effect: float = 0.0, min_ratio: float = 0.0,
             min_recovery: int = 3, limit: int = 200) -> list[Episode]:
    """Return the departures of ``x`` (NaN = gap) from its own history, oldest first.

    ``directions``: which ways count ("up", "down"). ``alpha``: the largest Bonferroni-corrected
    tail p-value that makes a point hot. ``min_effect``/``min_ratio``: the smallest distance from
    the history's median (absolute, and relative to that median) that counts. When departures
    were found, the points inside them are left out of the history and the series is judged again,
    so an earlier incident does not make a later one look ordinary.
    """
    tests, stack, point = _scores(x, x, directions, points, min_points, min_effect, min_ratio)
    found = _walk(x, tests, stack, point, directions, alpha, min_recovery, limit)
    if found:
        # Judge again with the departures left out of the history (one pass: more would let later,
        # weaker wobbles through once every strong point is out).
        xh = x.copy()
        for e in found:
            xh[e.start:e.end if e.end is not None else len(x)] = np.nan
        tests, stack, point = _scores(x, xh, directions, points, min_points, min_effect, min_ratio)
        found = _walk(x, tests, stack, point, directions, alpha, min_recovery, limit) or found
    return found


__all__ = ["ALPHA", "Episode", "SCALES", "trend_log10_p", "episodes", "line_r2", "split", "variance_onset", "history", "resolution", "lag1", "tail_log10_p", "tail_scales"]
