"""Impact of an incident: failed requests, affected users and clients, error budget, MTTD and recovery."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..timeutil import iso, parse_time
from .rates import error_mask, rates, request_rows, require_columns

USER_COLUMNS = ("user_id", "user", "userid", "user_name", "username", "account_id", "customer_id")
#: Minutes in the 30-day period an SLO's error budget is counted over.
BUDGET_PERIOD_MIN = 30 * 24 * 60


def _user_column(logs: pd.DataFrame) -> str | None:
    for name in USER_COLUMNS:
        if name in logs.columns and logs[name].notna().any():
            return name
    return None


def _first_alert(alerts: Any, start: pd.Timestamp | None) -> pd.Timestamp | None:
    """Return the first alert at or after ``start`` from an events frame, timestamps or a Timestamp."""
    if alerts is None:
        return None
    from .timeline import alert_rows

    as_alert = alert_rows(alerts) if not isinstance(alerts, pd.DataFrame | list | tuple) else None
    if as_alert is not None:
        alerts = [r["ts"] for r in as_alert if r["kind"] == "alert"]
    if isinstance(alerts, pd.DataFrame):
        frame = alerts
        if "kind" in frame.columns:
            frame = frame[frame["kind"].astype("string").str.lower().str.startswith("alert").fillna(False)]
        times = pd.to_datetime(frame["ts"], utc=True) if "ts" in frame.columns else pd.Series([], dtype="datetime64[ns, UTC]")
    elif isinstance(alerts, list | tuple):
        times = pd.to_datetime(pd.Series(list(alerts)), utc=True)
    else:
        times = pd.Series([parse_time(alerts, field="first_alert")])
    times = times.dropna()
    if start is not None:
        times = times[times >= start - pd.Timedelta(minutes=5)]
    return times.min() if len(times) else None


def impact(
    logs: pd.DataFrame,
    start: Any,
    end: Any = None,
    *,
    slo: float = 0.99,
    bucket: str = "1min",
    alerts: Any = None,
    recovered_at: Any = None,
) -> dict[str, Any]:
    """Return the impact of the incident between ``start`` and ``end`` (end of data when None).

    Requests are the rows with an HTTP status when some have one (else every row). Keys:
    ``requests_total``, ``requests_failed``, ``error_rate``, ``users_affected`` (distinct
    users with a failed request, from a user_id/user column; None without one),
    ``clients_affected`` (distinct ``client`` values with a failed request; None without),
    ``error_budget_minutes`` (buckets whose error rate broke the ``slo``), ``error_budget_used``
    (share of a 30-day budget those minutes consume), ``duration_min``, ``first_alert``,
    ``mttd_min`` (first alert minus start, from ``alerts``: an events frame, an alert or alert
    payload, times or one time),
    ``recovered_at`` and ``time_to_recover_min`` (from ``end`` or ``recovered_at``). Raises
    ConfigError for a frame without ``ts``, a missing start or an SLO outside (0, 1).
    """
    require_columns(logs, ("ts",), "logs")
    lo, hi = parse_time(start, field="start"), parse_time(end, field="end")
    if lo is None:
        raise ConfigError("impact: start is required (the incident window's start)")
    if not 0 < slo < 1:
        raise ConfigError(f"impact: slo={slo!r}; expected a target between 0 and 1, e.g. 0.99")
    ts = pd.to_datetime(logs["ts"], utc=True)
    inside = np.array(ts >= lo, dtype=bool)
    if hi is not None:
        inside &= (ts < hi).to_numpy(dtype=bool)
    rows = logs[inside & request_rows(logs)]
    failed = error_mask(rows).to_numpy(dtype=bool)
    total, n_failed = int(len(rows)), int(failed.sum())
    users = _user_column(rows)
    per_bucket = rates(rows, bucket) if len(rows) else None
    bad_minutes = 0.0
    if per_bucket is not None and len(per_bucket):
        bucket_min = pd.Timedelta(bucket) / pd.Timedelta(minutes=1)
        bad_minutes = float((per_bucket["error_rate"].fillna(0) > (1 - slo)).sum() * bucket_min)
    first_alert = _first_alert(alerts, lo)
    recovered = parse_time(recovered_at, field="recovered_at") or hi
    last_ts = ts.max() if len(ts) else None
    duration_end = hi or last_ts
    return {
        "start": iso(lo),
        "end": iso(hi),
        "requests_total": total,
        "requests_failed": n_failed,
        "error_rate": round(n_failed / total, 6) if total else None,
        "users_affected": int(rows.loc[failed, users].nunique()) if users else None,
        "clients_affected": int(rows.loc[failed, "client"].nunique()) if "client" in rows.columns and rows["client"].notna().any() else None,
        "slo": slo,
        "error_budget_minutes": bad_minutes,
        "error_budget_used": round(bad_minutes / (BUDGET_PERIOD_MIN * (1 - slo)), 4),
        "duration_min": round((duration_end - lo) / pd.Timedelta(minutes=1), 2) if duration_end is not None else None,
        "first_alert": iso(first_alert),
        "mttd_min": round((first_alert - lo) / pd.Timedelta(minutes=1), 2) if first_alert is not None else None,
        "recovered_at": iso(recovered),
        "time_to_recover_min": round((recovered - lo) / pd.Timedelta(minutes=1), 2) if recovered is not None else None,
        "ongoing": recovered is None,
    }


__all__ = ["impact", "BUDGET_PERIOD_MIN", "USER_COLUMNS"]
