"""Evidence from requests: slow endpoints, auth failures, providers named in errors, the failing layer."""

from __future__ import annotations

import re
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..rates import error_mask
from ..window import bounds

_ID_SEGMENT = re.compile(r"/(?:[0-9]+|[0-9a-fA-F-]{16,})(?=/|$)")

AUTH_WORDS = re.compile(r"auth|login|signin|sign-in|session|token|jwt|oauth|password|credential|unauthori[sz]ed|"
                        r"forbidden|secret|permission|denied", re.I)

LAYERS = ("dns", "tcp", "tls", "http")

def route(path: Any) -> str:
    """Return ``path`` with ids masked (``/api/orders/42`` -> ``/api/orders/{id}``), no query string."""
    text = "" if path is None or (not isinstance(path, str) and pd.isna(path)) else str(path).split("?")[0]
    return _ID_SEGMENT.sub("/{id}", text) or "(none)"

def _split(logs: pd.DataFrame, window: Any, baseline: str = "2h") -> tuple[np.ndarray, np.ndarray]:
    """Return boolean masks (inside the window, the baseline before it)."""
    start, end = bounds(window)
    ts = pd.to_datetime(logs["ts"], utc=True)
    if start is None:
        inside = np.ones(len(logs), dtype=bool)
        return inside, np.zeros(len(logs), dtype=bool)
    # np.array copies: a to_numpy() view of a copy-on-write or Arrow-backed column is read-only.
    inside = np.array(ts >= start, dtype=bool)
    if end is not None:
        inside = inside & np.array(ts < end, dtype=bool)
    before = np.array((ts < start) & (ts >= start - pd.Timedelta(baseline)), dtype=bool)
    return inside, before

def slow_endpoints(logs: pd.DataFrame, window: Any, *, n: int = 8, baseline: str = "2h", min_requests: int = 5) -> pd.DataFrame:
    """Return the endpoints (method and route) ranked by how much slower they are in the window.

    Columns: ``endpoint``, ``requests``, ``p95_ms`` (in the window), ``p95_before_ms``, ``slower``
    (ratio), ``share_of_slow`` (of the requests in the window slower than the baseline's p95).
    """
    cols = ["endpoint", "requests", "p95_ms", "p95_before_ms", "slower", "share_of_slow"]
    if logs is None or not len(logs) or "latency_ms" not in logs.columns:
        return pd.DataFrame(columns=cols)
    inside, before = _split(logs, window, baseline)
    lat = pd.to_numeric(logs["latency_ms"], errors="coerce").astype("float64")
    method = logs["method"].astype("string").fillna("") if "method" in logs.columns else pd.Series("", index=logs.index)
    path = logs["path"].map(route) if "path" in logs.columns else pd.Series("(none)", index=logs.index)
    endpoint = (method + " " + path.astype("string")).str.strip()
    work = pd.DataFrame({"endpoint": endpoint.to_numpy(), "lat": lat.to_numpy(), "inside": inside, "before": before})
    work = work[work["lat"].notna()]
    if not work["inside"].any():
        return pd.DataFrame(columns=cols)
    slow_line = work.loc[work["before"], "lat"].quantile(0.95) if work["before"].any() else work["lat"].median()
    rows = []
    for name, g in work.groupby("endpoint", sort=True):
        now = g.loc[g["inside"], "lat"]
        if len(now) < min_requests:
            continue
        was = g.loc[g["before"], "lat"]
        p95, p95b = float(now.quantile(0.95)), (float(was.quantile(0.95)) if len(was) else float("nan"))
        rows.append({"endpoint": name, "requests": int(len(now)), "p95_ms": round(p95, 1),
                     "p95_before_ms": round(p95b, 1) if not np.isnan(p95b) else np.nan,
                     "slower": round(p95 / p95b, 2) if p95b and not np.isnan(p95b) else np.nan,
                     "slow": int((now > slow_line).sum())})
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(rows)
    total_slow = max(1, int(out["slow"].sum()))
    out["share_of_slow"] = (out["slow"] / total_slow).round(3)
    out = out.sort_values(["slow", "slower"], ascending=False, na_position="last").head(n)
    return out[cols].reset_index(drop=True)

def auth_failures(logs: pd.DataFrame, window: Any, *, statuses: Iterable[int] = (401, 403), baseline: str = "2h",
                  login_paths: Iterable[str] = ()) -> dict[str, Any]:
    """Return how authentication fails: the share of requests answered ``statuses`` and of auth
    endpoints failing (in the window and before), the endpoints that fail most and the auth error
    messages (by count). Keys: ``denied``, ``users_denied``, ``denied_rate``, ``denied_rate_before``,
    ``login_requests``, ``login_failed``, ``login_failure_rate``, ``login_failure_rate_before``,
    ``by_endpoint`` (frame), ``messages`` (frame). ``login_paths`` adds login endpoints (prefixes)
    to those named like auth/login/session."""
    out: dict[str, Any] = {"denied": 0, "users_denied": None, "denied_rate": None, "denied_rate_before": None, "login_requests": 0,
                           "login_failed": 0, "login_failure_rate": None, "login_failure_rate_before": None,
                           "by_endpoint": pd.DataFrame(columns=["endpoint", "failed", "requests", "failure_rate"]),
                           "messages": pd.DataFrame(columns=["message", "count"])}
    if logs is None or not len(logs):
        return out
    inside, before = _split(logs, window, baseline)
    status = pd.to_numeric(logs["status"], errors="coerce") if "status" in logs.columns else pd.Series(np.nan, index=logs.index)
    denied = status.isin(list(statuses)).to_numpy(dtype=bool)
    path = logs["path"].astype("string").fillna("") if "path" in logs.columns else pd.Series("", index=logs.index, dtype="string")
    message = logs["message"].astype("string").fillna("") if "message" in logs.columns else pd.Series("", index=logs.index, dtype="string")
    is_auth = np.array(path.str.contains(AUTH_WORDS).fillna(False), dtype=bool)
    for prefix in login_paths or ():
        is_auth = is_auth | np.array(path.str.startswith(str(prefix)).fillna(False), dtype=bool)
    failed = denied | error_mask(logs).to_numpy(dtype=bool)
    auth_msg = message.str.contains(AUTH_WORDS).fillna(False).to_numpy(dtype=bool)
    login_fail = is_auth & failed | (failed & auth_msg)

    def rate(mask: np.ndarray, rows: np.ndarray) -> float | None:
        return round(float(mask[rows].mean()), 4) if rows.any() else None

    users = next((c for c in ("user_id", "user", "client") if c in logs.columns), None)
    out["users_denied"] = int(logs.loc[denied & inside, users].nunique()) if users else None
    out.update(denied=int((denied & inside).sum()), denied_rate=rate(denied, inside), denied_rate_before=rate(denied, before),
               login_requests=int((is_auth & inside).sum()), login_failed=int((login_fail & inside).sum()),
               login_failure_rate=rate(login_fail, inside & (is_auth | auth_msg)),
               login_failure_rate_before=rate(login_fail, before & (is_auth | auth_msg)))
    method = logs["method"].astype("string").fillna("") if "method" in logs.columns else pd.Series("", index=logs.index)
    endpoint = (method + " " + path.map(route).astype("string")).str.strip()
    frame = pd.DataFrame({"endpoint": endpoint[inside].to_numpy(), "failed": (denied | login_fail)[inside]})
    if len(frame):
        g = frame.groupby("endpoint")["failed"].agg(["sum", "count"]).reset_index()
        g.columns = ["endpoint", "failed", "requests"]
        g["failure_rate"] = (g["failed"] / g["requests"]).round(3)
        out["by_endpoint"] = g[g["failed"] > 0].sort_values("failed", ascending=False).head(8).reset_index(drop=True)
    msgs = message[(login_fail & inside)]
    msgs = msgs[msgs.str.len() > 0]
    if len(msgs):
        from ..signatures import signatures

        counts = pd.Series(signatures(msgs)).value_counts().head(5)
        out["messages"] = pd.DataFrame({"message": counts.index, "count": counts.to_numpy()})
    return out

def status_rates(logs: pd.DataFrame, bucket: str = "1min", statuses: Iterable[int] = (401, 403)) -> pd.DataFrame:
    """Return rates per bucket like :func:`incident_kit.analysis.rates`, where ``errors`` counts the
    requests answered one of ``statuses`` (401/403: refused) and ``error_rate`` is their share, so
    that :func:`incident_kit.analysis.window` finds since when requests are refused."""
    from ..rates import rates

    out = rates(logs, bucket)
    if not len(logs) or "status" not in logs.columns:
        out["errors"], out["error_rate"] = 0, np.nan
        return out
    status = pd.to_numeric(logs["status"], errors="coerce")
    hit = status.isin(list(statuses)).to_numpy(dtype=bool)
    ts = pd.to_datetime(logs["ts"], utc=True)[hit].dt.floor(pd.Timedelta(bucket))
    counts = ts.value_counts()
    out["errors"] = out["ts"].map(counts).fillna(0).astype("int64").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["error_rate"] = np.where(out["requests"] > 0, out["errors"] / out["requests"].clip(lower=1), np.nan)
    return out

def first_failing_layer(layered: pd.DataFrame) -> pd.DataFrame:
    """Return one row per probed host: for each layer (dns, tcp, tls, http) whether it passed, and
    ``first_failure`` (the first layer that failed, in request order) with its error."""
    cols = ["host", *LAYERS, "first_failure", "error"]
    if layered is None or not len(layered) or "layer" not in layered.columns:
        return pd.DataFrame(columns=cols)
    from urllib.parse import urlsplit

    def host_of(target: str) -> str:
        t = str(target)
        if "://" in t:
            return urlsplit(t).hostname or t
        return t.rsplit(":", 1)[0] if t.count(":") == 1 else t

    work = layered.assign(host=layered["target"].map(host_of))
    rows = []
    for host, g in work.groupby("host", sort=True):
        row: dict[str, Any] = {"host": host, "first_failure": None, "error": ""}
        for layer in LAYERS:
            part = g[g["layer"] == layer]
            row[layer] = None if not len(part) else bool(part["ok"].astype(bool).all())
            if row[layer] is False and row["first_failure"] is None:
                bad = part[~part["ok"].astype(bool)]
                row["first_failure"] = layer
                row["error"] = f"{bad['target'].iloc[0]}: {bad['error'].iloc[0]}"
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)

def providers(logs: pd.DataFrame, window: Any, *, names: Iterable[str] = (), baseline: str = "2h") -> pd.DataFrame:
    """Return the hosts and named providers that warning and error lines in the window mention (in the
    message or a field such as ``upstream``), with how often now and before, most named first.
    ``names`` adds provider names to look for (``stripe``, ``s3``, ``mux``).

    Columns: ``provider``, ``errors`` (warning/error lines naming it), ``share``, ``share_before``
    (of the warning/error lines in the window, in the baseline), ``first_seen``, ``example``.
    """
    from ..upstream import mentions

    cols = ["provider", "errors", "share", "share_before", "first_seen", "example"]
    if logs is None or not len(logs) or "ts" not in logs.columns:
        return pd.DataFrame(columns=cols)
    inside, before = _split(logs, window, baseline)
    found = mentions(logs, inside, before, names=names)
    if not len(found):
        return pd.DataFrame(columns=cols)
    return found.rename(columns={"upstream": "provider", "now": "errors"})[cols].reset_index(drop=True)


__all__ = ["AUTH_WORDS", "LAYERS", "route", "slow_endpoints", "auth_failures", "status_rates", "first_failing_layer", "providers"]
