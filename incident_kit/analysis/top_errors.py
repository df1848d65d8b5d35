"""The error table of a window: its most frequent error signatures, which are new, and how
each signature is counted per time bucket."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..timeutil import parse_time
from .rates import error_mask, floor_times, require_columns
from .context import NEW_MARGIN
from .series import make_series
from .signatures import messages_of, mine

TOP_ERROR_COLUMNS = ["signature", "count", "share", "first_seen", "last_seen", "new_in_window", "example"]


def _between(ts: pd.Series, start: Any, end: Any) -> np.ndarray:
    keep = np.array(ts.notna(), dtype=bool)
    if start is not None:
        keep &= (ts >= start).to_numpy(dtype=bool)
    if end is not None:
        keep &= (ts < end).to_numpy(dtype=bool)
    return keep


def top_errors(
    logs: pd.DataFrame,
    start: Any = None,
    end: Any = None,
    baseline: Any = None,
    n: int = 10,
    *,
    method: str = "drain",
) -> pd.DataFrame:
    """Return the most frequent error signatures between ``start`` and ``end``.

    Columns: ``signature``, ``count``, ``share`` (of the errors in the window), ``first_seen``,
    ``last_seen``, ``new_in_window`` (the signature is not among the baseline's errors and
    warnings; False without baseline rows), ``example``
    (one raw message). ``baseline`` is a ``(start, end)`` pair, a logs frame, or None for every
    row until two minutes before ``start`` (an incident's leading edge often precedes its start
    bucket). Rows are errors per :func:`rates.error_mask`. Raises ConfigError for a
    frame without ``ts``.
    """
    require_columns(logs, ("ts",), "logs")
    lo, hi = parse_time(start, field="start"), parse_time(end, field="end")
    ts = pd.to_datetime(logs["ts"], utc=True)
    in_window = _between(ts, lo, hi) & error_mask(logs).to_numpy(dtype=bool)
    if isinstance(baseline, pd.DataFrame):
        base_logs = baseline
    elif isinstance(baseline, tuple | list) and len(baseline) == 2:
        b0, b1 = parse_time(baseline[0], field="baseline start"), parse_time(baseline[1], field="baseline end")
        base_logs = logs[_between(ts, b0, b1)]
    elif baseline is None:
        base_logs = logs[_between(ts, None, lo - NEW_MARGIN)] if lo is not None else logs.iloc[0:0]
    else:
        raise ConfigError(f"top_errors: baseline must be a (start, end) pair or a logs frame, got {type(baseline).__name__}")
    window_logs = logs[in_window]
    if not len(window_logs):
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            TOP_ERROR_COLUMNS, ["object", "int64", "float64", "datetime64[ns, UTC]", "datetime64[ns, UTC]", "bool", "object"])})
    w_msgs = messages_of(window_logs).reset_index(drop=True)
    has_baseline = "ts" in base_logs.columns and len(base_logs) > 0
    if has_baseline:
        # New means: not among the baseline's errors and warnings (as a tracker's "new issue").
        noteworthy = np.array(error_mask(base_logs), dtype=bool)
        if "level" in base_logs.columns:
            level = base_logs["level"].astype("string").str.lower()
            noteworthy |= np.array(level.isin(("warn", "warning")).fillna(False), dtype=bool)
        b_msgs = messages_of(base_logs[noteworthy]).reset_index(drop=True)
    else:
        b_msgs = pd.Series([], dtype="string")
    codes, templates = mine(pd.concat([w_msgs, b_msgs], ignore_index=True), method=method)
    w_codes, b_codes = codes[: len(w_msgs)], codes[len(w_msgs):]
    work = pd.DataFrame({"code": w_codes, "ts": pd.to_datetime(window_logs["ts"], utc=True).to_numpy(), "msg": w_msgs.to_numpy()})
    grouped = work.groupby("code", sort=False)
    out = pd.DataFrame({
        "count": grouped.size(),
        "first_seen": grouped["ts"].min(),
        "last_seen": grouped["ts"].max(),
        "example": grouped["msg"].first(),
    })
    out["signature"] = [templates[c] for c in out.index]
    out["share"] = out["count"] / len(work)
    seen_before = set(np.unique(b_codes).tolist())
    out["new_in_window"] = [has_baseline and c not in seen_before for c in out.index]
    out = out.sort_values(["count", "first_seen"], ascending=[False, True]).head(n)
    keys = list(out.index)
    out = out[TOP_ERROR_COLUMNS].reset_index(drop=True)
    out["first_seen"] = pd.to_datetime(out["first_seen"], utc=True)
    out["last_seen"] = pd.to_datetime(out["last_seen"], utc=True)
    base_errors = np.array(error_mask(base_logs), dtype=bool)[noteworthy] if has_baseline else np.zeros(0, dtype=bool)
    b_ts = pd.to_datetime(base_logs[noteworthy]["ts"], utc=True) if has_baseline else pd.Series([], dtype="datetime64[ns, UTC]")
    series = _series(pd.concat([work["ts"], b_ts[base_errors].reset_index(drop=True)], ignore_index=True),
                     np.concatenate([w_codes, np.asarray(b_codes)[base_errors]]), keys, lo, hi, work["ts"])
    if series:
        out.attrs["row_series"] = series
    return out


def _series(ts: pd.Series, codes: np.ndarray, keys: list[Any], lo: Any, hi: Any, window_ts: pd.Series) -> dict[str, Any] | None:
    """Return each top signature's count per bucket over the window and a lead of the same length
    before it (at least 10 min, at most 2 h), for the sparklines of report.tables; None without times."""
    start = lo if lo is not None else pd.to_datetime(window_ts, utc=True).min()
    end = hi if hi is not None else pd.to_datetime(window_ts, utc=True).max()
    if start is None or pd.isna(start) or end is None or pd.isna(end):
        return None
    lead = min(max(end - start, pd.Timedelta(minutes=10)), pd.Timedelta(hours=2))
    spec = make_series(ts, keys, codes, start - lead, end)
    if spec:
        spec["window_start"] = pd.Timestamp(start).isoformat()
    return spec


def signature_counts(
    logs: pd.DataFrame,
    bucket: str = "1min",
    *,
    start: Any = None,
    end: Any = None,
    errors_only: bool = True,
    top: int = 5,
    method: str = "drain",
) -> pd.DataFrame:
    """Return how often each signature occurs per time bucket: a ``ts`` column, then one column
    per signature among the ``top`` most frequent (most frequent first), then ``other``.

    Only error rows (:func:`rates.error_mask`) unless ``errors_only=False``; buckets between the
    first and last row are all present. Raises ConfigError for a frame without ``ts`` or a bad bucket.
    """
    require_columns(logs, ("ts",), "logs")
    try:
        step = pd.Timedelta(bucket)
    except (TypeError, ValueError):
        raise ConfigError(f"bucket {bucket!r} is not a duration; expected e.g. '1min'") from None
    ts = pd.to_datetime(logs["ts"], utc=True)
    keep = _between(ts, parse_time(start, field="start"), parse_time(end, field="end"))
    if errors_only:
        keep &= np.array(error_mask(logs), dtype=bool)
    rows = logs[keep]
    if not len(rows):
        return pd.DataFrame({"ts": pd.Series(dtype="datetime64[ns, UTC]")})
    codes, templates = mine(messages_of(rows), method=method)
    order = np.argsort(-np.bincount(codes, minlength=len(templates)), kind="stable")[:top]
    names = [templates[i] or "(empty)" for i in order]
    label = np.full(len(templates), "other", dtype=object)
    label[order] = names
    frame = pd.DataFrame({"ts": floor_times(rows["ts"], step), "signature": label[codes]})
    wide = frame.pivot_table(index="ts", columns="signature", aggfunc="size", fill_value=0)
    full = pd.date_range(wide.index.min(), wide.index.max(), freq=step, tz="UTC")
    wide = wide.reindex(full, fill_value=0)
    columns = names + (["other"] if "other" in wide.columns else [])
    out = wide[columns].reset_index(names="ts")
    out.columns.name = None
    return out


__all__ = ["TOP_ERROR_COLUMNS", "signature_counts", "top_errors"]
