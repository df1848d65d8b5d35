"""Prometheus HTTP API (and anything that answers it: VictoriaMetrics, Thanos, Mimir): queries and alerts.

Results become a metrics frame: ``ts``, ``metric`` (``__name__``, or the query text when the
result has no name), ``value`` (float), then one column per label. Errors of the API
(``status: error``) are raised as :class:`SourceError` with Prometheus's ``errorType`` and
``error`` as they are; its ``warnings`` are kept in ``attrs['warnings']`` and shown as Python
warnings. ``url`` is the base URL (``http://prometheus:9090``, a path prefix allowed), or an
``env:``/``file:`` reference; credentials in the URL become basic auth, ``token`` a bearer token.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import pandas as pd

from ..errors import ConfigError, SourceError, SourceTimeout
from ..frames import conform
from ..redact_io import clip
from ..secrets import mask_url, resolve
from ..timeutil import iso, parse_time, window
from ._base import source

#: Steps a range query picks from, in seconds (the smallest giving at most ``max_points``).
NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def choose_step(start: pd.Timestamp, end: pd.Timestamp, max_points: int = 300) -> str:
    """Return a step (``"15s"``) giving at most ``max_points`` points over ``[start, end]``."""
    seconds = max(1.0, (end - start).total_seconds())
    wanted = seconds / max(1, max_points)
    for step in NICE_STEPS:
        if step >= wanted:
            return f"{step}s"
    return f"{int(math.ceil(wanted / 86400)) * 86400}s"


def _request(url: str, path: str, params: dict[str, Any], *, timeout_s: float, token: str | None,
             what: str, window_: tuple[Any, Any] | None = None) -> dict[str, Any]:
    import httpx

    base = str(resolve(url, field="prometheus url")).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"prometheus url {mask_url(url)!r} is not an http(s) URL")
    target = mask_url(url)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {resolve(token, field='prometheus token')}"
    try:
        with httpx.Client(timeout=timeout_s, headers=headers) as client:
            if params:
                resp = client.post(base + path, data=params)
            else:
                resp = client.get(base + path)
    except httpx.TimeoutException:
        raise SourceTimeout("prometheus", target, f"{what}: no answer within {timeout_s:g}s", window_) from None
    except httpx.HTTPError as exc:
        raise SourceError("prometheus", target, f"{what}: {type(exc).__name__}: {exc}", window_) from None
    try:
        body = resp.json()
    except ValueError:
        snippet = clip(" ".join(resp.text.split()), 120)
        raise SourceError("prometheus", target, f"{what}: HTTP {resp.status_code}, not a Prometheus API answer: "
                          f"{snippet!r}", window_) from None
    if body.get("status") != "success":
        raise SourceError("prometheus", target, f"{what}: {body.get('errorType', 'error')}: "
                          f"{body.get('error', f'HTTP {resp.status_code}')}", window_)
    found = list(body.get("warnings") or []) + list(body.get("infos") or [])
    for w in found:
        warnings.warn(f"prometheus {target}: {what}: {w}", stacklevel=4)
    body["_warnings"] = found
    return body


def _frame(data: dict[str, Any], promql: str, url: str, found: list[str]) -> pd.DataFrame:
    kind = data.get("resultType")
    result = data.get("result")
    rows: list[dict[str, Any]] = []
    if kind in ("scalar", "string"):
        ts, value = result
        rows.append({"ts": float(ts), "metric": promql, "value": _num(value)})
    else:
        for series in result or []:
            labels = dict(series.get("metric") or {})
            name = labels.pop("__name__", promql)
            samples = series.get("values") or ([series["value"]] if "value" in series else [])
            for ts, value in samples:
                rows.append({"ts": float(ts), "metric": name, "value": _num(value), **labels})
    frame = pd.DataFrame(rows)
    if len(frame):
        frame["ts"] = pd.to_datetime((frame["ts"] * 1000).round().astype("int64"), unit="ms", utc=True)
        label_cols = sorted(c for c in frame.columns if c not in ("ts", "metric", "value"))
        frame = frame[["ts", "metric", "value", *label_cols]]
    out = conform(frame, "metrics", source=f"prometheus:{mask_url(url)}")
    out.attrs.update({"query": promql, "result_type": kind, "warnings": found})
    return out


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


@source("prometheus", "metrics")
def query(url: str, promql: str, at: Any = None, *, timeout_s: float = 10.0, token: str | None = None) -> pd.DataFrame:
    """Run an instant query (``/api/v1/query``) at ``at`` (default now); return a metrics frame.

    A range-vector query (``x[5m]``) gives every sample; a scalar gives one row named by the query.
    Raises :class:`SourceError` with Prometheus's error (``bad_data: parse error ...``).
    """
    params: dict[str, Any] = {"query": promql, "timeout": f"{timeout_s:g}s"}
    t = parse_time(at, field="at")
    if t is not None:
        params["time"] = f"{t.timestamp():.3f}"
    body = _request(url, "/api/v1/query", params, timeout_s=timeout_s, token=token, what=f"query {promql!r}")
    return _frame(body["data"], promql, url, body["_warnings"])


@source("prometheus", "metrics")
def query_range(url: str, promql: str, start: Any, end: Any = None, step: str | float | None = None, *,
                max_points: int = 300, timeout_s: float = 30.0, token: str | None = None) -> pd.DataFrame:
    """Run a range query (``/api/v1/query_range``) over ``[start, end]`` (end default now).

    ``step`` (``"30s"`` or seconds) defaults to :func:`choose_step` for ``max_points`` points;
    ``attrs['step']`` says which. Raises :class:`SourceError` naming the window.
    """
    s, e = window(start, end if end is not None else "now")
    if s is None:
        raise ConfigError("prometheus.query_range: start is required (ISO time or relative like -1h)")
    assert e is not None
    chosen = step if step is not None else choose_step(s, e, max_points)
    chosen = f"{chosen:g}s" if isinstance(chosen, (int, float)) else str(chosen)
    params = {"query": promql, "start": f"{s.timestamp():.3f}", "end": f"{e.timestamp():.3f}", "step": chosen,
              "timeout": f"{timeout_s:g}s"}
    body = _request(url, "/api/v1/query_range", params, timeout_s=timeout_s, token=token,
                    what=f"query_range {promql!r}", window_=(iso(s), iso(e)))
    frame = _frame(body["data"], promql, url, body["_warnings"])
    frame.attrs["step"] = chosen
    return frame


@source("prometheus", "events")
def alerts(url: str, *, timeout_s: float = 10.0, token: str | None = None) -> pd.DataFrame:
    """Return the current alerts (``/api/v1/alerts``) as an events frame.

    ``ts`` is ``activeAt``, ``kind`` ``alert``, ``text`` the alert name and its summary (or
    description), ``ref`` the alert name; extra columns ``state`` (pending|firing),
    ``severity``, ``value``, ``labels`` and ``annotations`` (dicts).
    """
    body = _request(url, "/api/v1/alerts", {}, timeout_s=timeout_s, token=token, what="alerts")
    rows = []
    for a in body["data"].get("alerts", []):
        labels, notes = dict(a.get("labels") or {}), dict(a.get("annotations") or {})
        name = labels.get("alertname", "")
        summary = notes.get("summary") or notes.get("description") or ""
        rows.append({"ts": a.get("activeAt"), "kind": "alert", "source": "prometheus",
                     "text": f"{name}: {summary}" if summary else name, "ref": name, "state": a.get("state"),
                     "severity": labels.get("severity"), "value": _num(a.get("value")), "labels": labels,
                     "annotations": notes})
    frame = conform(pd.DataFrame(rows), "events", source=f"prometheus:{mask_url(url)}")
    frame.attrs["warnings"] = body["_warnings"]
    return frame


@source("prometheus", "table")
def ping(url: str, *, timeout_s: float = 5.0, token: str | None = None) -> pd.DataFrame:
    """Return one row (``version``, ``targets_up``, ``targets_total``) from the build info and targets APIs."""
    info = _request(url, "/api/v1/status/buildinfo", {}, timeout_s=timeout_s, token=token, what="buildinfo")
    up = query(url, "up", timeout_s=timeout_s, token=token)
    return pd.DataFrame([{"version": info["data"].get("version"), "targets_up": int((up["value"] == 1).sum()),
                          "targets_total": len(up)}])


__all__ = ["query", "query_range", "alerts", "choose_step", "ping", "NICE_STEPS"]
