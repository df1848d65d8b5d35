"""What is different: the values over-represented in the incident compared with the baseline.

The BubbleUp idea: for every column of a frame (path, method, client, version, error signature,
any extra field, latency bands), compare each value's share among the incident rows with its
share among the baseline rows, and rank the values whose share grew most ("92% of the failing
requests hit POST /checkout, which is 25% of normal traffic"). One ``pandas.factorize`` and two
``numpy.bincount`` per column keep it to seconds on millions of rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..timeutil import parse_time
from .rates import error_mask
from .series import make_series
from .signatures import messages_of, mine
from .window import IncidentWindow

DIFF_COLUMNS = ["column", "value", "incident_count", "incident_share", "baseline_count", "baseline_share",
                "delta", "lift", "text"]
#: Columns never compared: time, and fields that are unique per row by design.
SKIP = frozenset({"ts", "request_id", "trace_id", "span_id", "id", "uuid", "query_start", "xact_start", "state_change"})


def _select(frame: pd.DataFrame, selection: Any, what: str) -> np.ndarray | tuple[Any, Any]:
    """Return a boolean row mask, or a (start, end) pair for time selections."""
    if isinstance(selection, IncidentWindow):
        if not selection.found:
            raise ConfigError(f"diff: the {what} window was not found (nothing to compare)")
        return (selection.start, selection.end)
    if isinstance(selection, tuple | list) and len(selection) == 2 and not isinstance(selection[0], bool | np.bool_):
        return (parse_time(selection[0], field=f"{what} start"), parse_time(selection[1], field=f"{what} end"))
    if isinstance(selection, pd.DataFrame):
        return frame.index.isin(selection.index)
    mask = np.asarray(selection)
    if mask.dtype != bool or len(mask) != len(frame):
        raise ConfigError(f"diff: {what} must be an IncidentWindow, a (start, end) pair, a boolean mask of "
                          f"{len(frame)} rows or a sub-frame, got {type(selection).__name__}")
    return mask


def _time_mask(ts: pd.Series, bounds: tuple[Any, Any]) -> np.ndarray:
    start, end = bounds
    keep = np.array(ts.notna(), dtype=bool)
    if start is not None:
        keep &= np.array(ts >= start, dtype=bool)
    if end is not None:
        keep &= np.array(ts < end, dtype=bool)
    return keep


def _codes(col: pd.Series, rows: np.ndarray, bins: int) -> tuple[np.ndarray, list[str]] | None:
    """Return (codes for the selected rows, value labels) for one column, or None when not comparable."""
    sub = col if rows.all() else col[rows]
    if isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(col.dtype):
        return None
    if col.dtype == object:
        sample = sub.dropna().head(20)
        if any(isinstance(v, list | dict | set | tuple | np.ndarray) for v in sample):
            return None
    numeric = pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype)
    if numeric:
        values = pd.to_numeric(sub, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        distinct = np.unique(values[~np.isnan(values)][:200_000])
        if len(distinct) > 20:
            edges = np.unique(np.nanquantile(values, np.linspace(0, 1, bins + 1)))
            if len(edges) < 2:
                return None
            idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
            labels = [f"{edges[i]:.4g} .. {edges[i + 1]:.4g}" for i in range(len(edges) - 1)]
            idx = np.where(np.isnan(values), len(labels), idx)
            return idx.astype(np.int64), labels + ["(missing)"]
    codes, uniques = pd.factorize(sub, use_na_sentinel=True)
    labels = [str(u) for u in uniques] + ["(missing)"]
    codes = np.where(codes < 0, len(uniques), codes)
    return codes.astype(np.int64), labels


def _routes(col: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes of URL paths with their ids masked (``/api/orders/42`` -> ``/api/orders/<*>``)."""
    codes, uniques = pd.factorize(col if rows.all() else col[rows], use_na_sentinel=True)
    routes = pd.Series(uniques, dtype="string").str.replace(
        r"/(?:[0-9]+|[0-9a-fA-F-]{16,}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})\b", "/<*>", regex=True)
    r_codes, r_uniques = pd.factorize(routes, use_na_sentinel=False)
    mapped = np.where(codes < 0, len(r_uniques), r_codes[np.clip(codes, 0, None)] if len(r_codes) else 0)
    return mapped.astype(np.int64), [str(u) for u in r_uniques] + ["(missing)"]


def diff(
    frame: pd.DataFrame,
    baseline: Any = None,
    incident: Any = None,
    *,
    columns: list[str] | None = None,
    failing_only: bool | None = None,
    top: int = 20,
    min_count: int = 3,
    min_delta: float = 0.02,
    min_z: float = 3.0,
    bins: int = 5,
    max_values: int = 5,
    signatures: bool = True,
) -> pd.DataFrame:
    """Return the values whose share grew most from the baseline rows to the incident rows.

    ``incident``/``baseline``: an IncidentWindow, a ``(start, end)`` pair, a boolean mask or a
    sub-frame. ``diff(frame, window)`` is read as the incident window with the rows before it
    as baseline; without a baseline, the rows outside the incident are. ``failing_only`` (default:
    True for logs with errors in a time window) keeps only failing rows on the incident side,
    so the answer reads "what the failing requests have in common" (``status``/``level``, which
    define them, are then left out). For a latency window (an IncidentWindow of ``p95_ms`` and the like) the incident
    side is the requests slower than the baseline's 95th percentile. Messages are compared by
    their signature. Numeric columns with many values
    are cut into ``bins`` quantile bands. Columns: ``column``, ``value``, ``incident_count``,
    ``incident_share``, ``baseline_count``, ``baseline_share``, ``delta`` (share difference),
    ``lift`` (share ratio), ``text``; best first, at least ``min_delta`` (share points) and ``min_z`` (two-proportion z-test), at most
    ``max_values`` per column and ``top`` rows. Raises ConfigError for selections it cannot read or unknown columns.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"diff: expected a DataFrame, got {type(frame).__name__}")
    if incident is None and baseline is not None:
        incident, baseline = baseline, None
    if incident is None:
        raise ConfigError("diff: the incident rows are required (an IncidentWindow, a (start, end) pair or a mask)")
    ts = pd.to_datetime(frame["ts"], utc=True) if "ts" in frame.columns else None
    sel = _select(frame, incident, "incident")
    if isinstance(sel, tuple):
        if ts is None:
            raise ConfigError("diff: a time window needs a ts column")
        inc_mask = _time_mask(ts, sel)
        is_time = True
    else:
        inc_mask, is_time = np.asarray(sel, dtype=bool), False
    if baseline is None:
        if is_time and sel[0] is not None and ts is not None:
            base_mask = _time_mask(ts, (None, sel[0]))
        else:
            base_mask = ~inc_mask
    else:
        bsel = _select(frame, baseline, "baseline")
        base_mask = _time_mask(ts, bsel) if isinstance(bsel, tuple) and ts is not None else np.asarray(bsel, dtype=bool)
    errors = None
    selection = "all"
    latency_incident = isinstance(incident, IncidentWindow) and incident.metric.endswith("_ms") and "latency_ms" in frame.columns
    if failing_only is None:
        failing_only = False
        if is_time and not latency_incident and ("status" in frame.columns or "level" in frame.columns):
            errors = np.array(error_mask(frame), dtype=bool)
            failing_only = bool((errors & inc_mask).any())
    if failing_only:
        errors = np.array(error_mask(frame), dtype=bool) if errors is None else errors
        inc_mask = inc_mask & errors
        selection = "failing"
    elif latency_incident:
        # A latency incident: what the requests slower than the baseline's 95th percentile share.
        latency = pd.to_numeric(frame["latency_ms"], errors="coerce")
        usual = latency[base_mask].quantile(0.95)
        if pd.notna(usual):
            inc_mask = inc_mask & np.array((latency > usual).fillna(False), dtype=bool)
            selection = "slow"
    if not inc_mask.any():
        raise ConfigError("diff: no incident rows to compare (empty selection)")
    if not base_mask.any():
        raise ConfigError("diff: no baseline rows to compare (empty selection)")
    if columns is None:
        defining = {"failing": ("status", "level"), "slow": ("latency_ms",)}.get(selection, ())
        columns = [c for c in frame.columns if c not in SKIP and c not in defining]
    else:
        unknown = [c for c in columns if c not in frame.columns and c != "signature"]
        if unknown:
            raise ConfigError(f"diff: column {unknown[0]!r} is not in the frame")
    rows = inc_mask | base_mask
    if rows.all():
        inc_sel, base_sel = inc_mask, base_mask
    else:
        inc_sel, base_sel = inc_mask[rows], base_mask[rows]
    n_inc, n_base = int(inc_sel.sum()), int(base_sel.sum())
    what = {"failing": "failing requests", "slow": "slow requests"}.get(selection, "incident rows")
    out: list[dict[str, Any]] = []
    trend = _trend_rows(ts, rows, errors if failing_only else None, sel if is_time else None)
    series: list[dict[str, Any] | None] = []
    for name in columns:
        if name == "message" and signatures:
            wanted = [c for c in ("message", "method", "path", "status") if c in frame.columns]
            codes_t, templates = mine(messages_of(frame[wanted]))
            codes_t = codes_t if rows.all() else codes_t[rows]
            got: tuple[np.ndarray, list[str]] | None = (codes_t, templates)
            label = "signature"
        elif name == "signature" and name not in frame.columns:
            continue
        elif name == "path":
            got = _routes(frame[name], rows)
            label = name
        else:
            got = _codes(frame[name], rows, bins)
            label = name
        if got is None:
            continue
        codes, labels = got
        if len(labels) > 0.5 * len(codes) and len(labels) > 1000:
            continue  # an identifier: unique per row, nothing to learn from shares
        k = len(labels)
        c_inc = np.bincount(codes[inc_sel], minlength=k)
        c_base = np.bincount(codes[base_sel], minlength=k)
        s_inc, s_base = c_inc / n_inc, c_base / n_base
        delta = s_inc - s_base
        pooled = (c_inc + c_base) / (n_inc + n_base)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = delta / np.sqrt(pooled * (1 - pooled) * (1 / n_inc + 1 / n_base))
        candidates = np.flatnonzero(c_inc >= min_count)
        best = candidates[np.argsort(-delta[candidates], kind="stable")][:max_values]
        best = [i for i in best if not (delta[i] < min_delta or delta[i] <= 0 or not z[i] >= min_z)]
        if trend is not None and best:
            spec = make_series(trend[0], best, np.where(trend[1], codes, -1), trend[2], trend[3])
            series.extend({**spec, "counts": spec["counts"][j]} if spec else None for j in range(len(best)))
        else:
            series.extend(None for _ in best)
        for i in best:
            if delta[i] < min_delta or delta[i] <= 0 or not z[i] >= min_z:
                continue
            lift = float(s_inc[i] / s_base[i]) if s_base[i] > 0 else float("inf")
            out.append({
                "column": label, "value": labels[i], "incident_count": int(c_inc[i]),
                "incident_share": round(float(s_inc[i]), 4), "baseline_count": int(c_base[i]),
                "baseline_share": round(float(s_base[i]), 4), "delta": round(float(delta[i]), 4), "lift": lift,
                "text": f"{s_inc[i]:.0%} of the {what} have {label}={labels[i]}, "
                        f"vs {s_base[i]:.0%} of the baseline",
            })
    result = pd.DataFrame(out, columns=DIFF_COLUMNS)
    result = result.sort_values(["delta", "incident_count"], ascending=[False, False], kind="stable").head(top)
    kept = [series[i] for i in result.index]
    result = result.reset_index(drop=True)
    result.attrs.update({"incident_rows": n_inc, "baseline_rows": n_base, "failing_only": bool(failing_only),
                         "selection": selection, "row_field": dict(enumerate(result["column"].tolist()))})
    first = next((x for x in kept if x), None)
    if first:
        result.attrs["row_series"] = {"start": first["start"], "step_s": first["step_s"],
                                      "window_start": pd.Timestamp(sel[0]).isoformat() if is_time else None,
                                      "counts": {i: x["counts"] for i, x in enumerate(kept) if x}}
    return result


def _trend_rows(ts: pd.Series | None, rows: np.ndarray, errors: np.ndarray | None,
                window: tuple[Any, Any] | None) -> tuple[pd.Series, np.ndarray, Any, Any] | None:
    """Return (times, counted mask, start, end) of the compared rows for each value's count per bucket:
    failing rows when only those were compared, over the incident and a lead of its length before it."""
    if ts is None or window is None or window[0] is None:
        return None
    t = ts if rows.all() else ts[rows]
    counted = np.ones(len(t), dtype=bool) if errors is None else (errors if rows.all() else errors[rows])
    start = pd.Timestamp(window[0])
    end = pd.Timestamp(window[1]) if window[1] is not None else t.max()
    if pd.isna(end) or end <= start:
        return None
    lead = min(max(end - start, pd.Timedelta(minutes=10)), pd.Timedelta(hours=2))
    return t.reset_index(drop=True), counted, start - lead, end


__all__ = ["DIFF_COLUMNS", "diff"]
