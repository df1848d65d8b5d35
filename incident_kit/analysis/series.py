"""Counts per time bucket for each of a few keys (error signatures, changed values).

Analysis functions attach the result to the frame they return as ``frame.attrs["row_series"]``
(row labels = the frame's index labels), which ``report.tables`` draws as sparklines.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd


def make_series(ts: pd.Series, keys: Sequence[Any], codes: Sequence[Any], start: Any, end: Any,
                *, buckets: int = 60) -> dict[str, Any] | None:
    """Return a ``row_series`` spec counting, per bucket between ``start`` and ``end``, the rows whose code is each of ``keys``.

    ``ts`` and ``codes`` are aligned per row; the result maps each key's position (0..) to its counts.
    The step is a whole number of minutes (or seconds for short spans) giving at most ``buckets`` buckets.
    Returns None when there is no time span.
    """
    t = pd.to_datetime(ts, utc=True)
    lo = pd.Timestamp(start) if start is not None else t.min()
    hi = pd.Timestamp(end) if end is not None else t.max()
    if pd.isna(lo) or pd.isna(hi) or hi <= lo:
        return None
    span = (hi - lo).total_seconds()
    step = span / buckets
    step = 60 * max(1, round(step / 60)) if step >= 45 else max(1, round(step))
    lo = lo.floor(f"{int(step)}s")
    n = int((hi - lo).total_seconds() // step) + 1
    secs = (t - lo).dt.total_seconds().to_numpy()
    idx = np.floor(secs / step)
    inside = (idx >= 0) & (idx < n) & ~np.isnan(idx)
    codes_arr = np.asarray(codes)
    counts = {}
    for pos, key in enumerate(keys):
        sel = inside & (codes_arr == key)
        counts[pos] = np.bincount(idx[sel].astype(np.int64), minlength=n).tolist()
    return {"start": lo.isoformat(), "step_s": float(step), "counts": counts}



__all__ = ["make_series"]
