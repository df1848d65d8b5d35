"""``ik.loki``: Grafana Loki over its HTTP API, the query pushed down as LogQL.

``query`` pages through ``/loki/api/v1/query_range`` (streams) and returns the canonical logs
frame; ``counts`` and ``metric`` let Loki compute counts per bucket (``count_over_time``)
and return the canonical metrics frame, so raw lines are not pulled to count them.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

import pandas as pd

from .... import secrets, timeutil
from ....errors import ConfigError, SourceError
from . import shared as logstore
from ..._base import source
from ..formats.logfmt import logfmt_pairs

API = "/loki/api/v1/query_range"
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _window(start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    s, e = timeutil.window(start, end)
    e = e or timeutil.now()
    return (s or e - pd.Timedelta(hours=1)), e


def selector(labels: Mapping[str, Any]) -> str:
    """Return a LogQL stream selector for exact label matches (a list value means any of them)."""
    if not labels:
        raise ConfigError("loki: a query needs a LogQL string or at least one label to select streams")
    parts = []
    for name, value in labels.items():
        if not _LABEL.match(name):
            raise ConfigError(f"loki: {name!r} is not a Loki label name")
        if isinstance(value, list | tuple | set):
            alternatives = "|".join(re.escape(str(v)) for v in value)
            parts.append(f'{name}=~"{alternatives}"')
        else:
            parts.append(f"{name}={json.dumps(str(value))}")
    return "{" + ", ".join(parts) + "}"


def _headers(org_id: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
    out = dict(headers or {})
    if org_id:
        out["X-Scope-OrgID"] = org_id
    return out


def _get(http: Any, url: str, params: dict[str, Any], window: tuple[Any, Any]) -> dict[str, Any]:
    response = http.get(API, params=params)
    logstore.check(response, "loki", url, window)
    body = response.json()
    if body.get("status") != "success":
        raise SourceError("loki", secrets.mask_url(url), f"{body.get('errorType', 'error')}: {body.get('error', body)}",
                          window)
    return body["data"]


def _fields(line: str, parse: str) -> dict[str, Any]:
    if parse in ("auto", "json") and line.startswith("{"):
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            return obj
    if parse in ("auto", "logfmt") and "=" in line:
        pairs = logfmt_pairs(line)
        if pairs and (parse == "logfmt" or len(pairs) >= 2):
            return pairs
    return {}


@source("loki", "logs")
def query(url: Any, logql: str | None = None, start: Any = None, end: Any = None, *,
          labels: Mapping[str, Any] | None = None, contains: str | None = None, limit: int = 1000,
          max_rows: int = logstore.MAX_ROWS, direction: str = "forward", parse: str = "auto",
          aliases: Mapping[str, Any] | None = None, org_id: str | None = None, token: Any = None,
          headers: Mapping[str, str] | None = None, timeout: float = logstore.DEFAULT_TIMEOUT) -> pd.DataFrame:
    """Return the log lines a LogQL query selects in ``[start, end]`` as the canonical logs frame.

    ``logql`` is any log query (``{app="shop"} |= "error" | json``); or give ``labels`` (exact
    matches) and ``contains`` (a line filter). Pages of ``limit`` lines are fetched until the
    window is covered or ``max_rows`` lines were read (then ``attrs["truncated"]``). JSON and
    logfmt lines are split into fields (``parse="auto"``; ``"raw"`` keeps the line only); stream
    labels become columns. Default window: the last hour.
    Raises SourceError (one line, with Loki's reason) for HTTP and query errors.
    """
    if direction not in ("forward", "backward"):
        raise ConfigError(f"loki: direction {direction!r} must be 'forward' or 'backward'")
    logql = logql or selector(labels or {})
    if contains:
        logql += f" |= {json.dumps(contains)}"
    s, e = _window(start, end)
    http, base = logstore.client(url, timeout=timeout, headers=_headers(org_id, headers), token=token)
    records: list[dict[str, Any]] = []
    truncated = False
    lo, hi = s.value, e.value + 1  # Loki's end is exclusive
    boundary: set[tuple[str, int, str]] = set()
    pages = 0
    with http:
        while True:
            page_limit = min(limit, max_rows - len(records) + 1)
            data = _get(http, str(url), {"query": logql, "start": lo, "end": hi, "limit": page_limit,
                                         "direction": direction}, (s, e))
            pages += 1
            if data.get("resultType") != "streams":
                raise ConfigError(f"loki: {logql!r} is a metric query; use ik.loki.metric or ik.loki.counts")
            entries = [(int(v[0]), v[1], stream.get("stream", {}), v[2] if len(v) > 2 else None)
                       for stream in data.get("result", []) for v in stream.get("values", [])]
            entries.sort(key=lambda x: x[0], reverse=direction == "backward")
            fresh = [x for x in entries if (json.dumps(x[2], sort_keys=True), x[0], x[1]) not in boundary]
            for ts, line, labels_, meta in fresh:
                if len(records) >= max_rows:
                    truncated = True
                    break
                fields = _fields(line, parse)
                record = {**labels_, **(meta or {}), **fields, "ts": ts}
                record.setdefault("message", fields.get("msg") or fields.get("message") or line)
                if fields:
                    record["line"] = line
                records.append(record)
            if truncated or len(entries) < page_limit:
                break
            # next page: from the last timestamp seen, skipping the entries already taken at it
            edge = entries[-1][0]
            boundary = {(json.dumps(x[2], sort_keys=True), x[0], x[1]) for x in entries if x[0] == edge}
            if not fresh:  # more than a page of lines at one nanosecond: step past it
                edge += 1 if direction == "forward" else -1
                boundary = set()
            if direction == "forward":
                lo = edge
            else:
                hi = edge + 1
            if lo >= hi:
                break
    if len(records) > max_rows:
        records, truncated = records[:max_rows], True
    target = secrets.mask_url(url)
    return logstore.records_frame(records, source=f"loki {target}", truncated=truncated, aliases=aliases,
                                  extra={"query": logql, "pages": pages})


def _matrix(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    kind = data.get("resultType")
    if kind not in ("matrix", "vector"):
        raise ConfigError(f"loki: expected a metric query (matrix), got {kind!r} results")
    for series in data.get("result", []):
        labels = series.get("metric", {})
        points = series.get("values") or ([series["value"]] if "value" in series else [])
        for ts, value in points:
            rows.append({"ts": pd.Timestamp(float(ts), unit="s", tz="UTC"), "metric": labels.get("__name__", name),
                         "value": float(value), **{k: v for k, v in labels.items() if k != "__name__"}})
    return rows


@source("loki", "metrics")
def metric(url: Any, logql: str, start: Any = None, end: Any = None, *, step: str = "1m",
           org_id: str | None = None, token: Any = None, headers: Mapping[str, str] | None = None,
           timeout: float = logstore.DEFAULT_TIMEOUT) -> pd.DataFrame:
    """Return a LogQL metric query (``sum by (level) (count_over_time({app="x"}[1m]))``) as a metrics frame.

    Raises SourceError with Loki's reason on errors.
    """
    s, e = _window(start, end)
    http, _ = logstore.client(url, timeout=timeout, headers=_headers(org_id, headers), token=token)
    with http:
        data = _get(http, str(url), {"query": logql, "start": s.value, "end": e.value + 1, "step": step}, (s, e))
    frame = logstore.metrics_frame(_matrix(data, "loki"), source=f"loki {secrets.mask_url(url)}")
    frame.attrs["query"] = logql
    return frame


def counts(url: Any, logql: str | None = None, start: Any = None, end: Any = None, *, step: str = "1m",
           by: list[str] | tuple[str, ...] = (), labels: Mapping[str, Any] | None = None, **kw: Any) -> pd.DataFrame:
    """Return lines per ``step`` bucket, counted by Loki (``count_over_time``), split by labels ``by``.

    ``logql`` is a log query (selector and filters); the frame's metric is ``count_over_time``.
    """
    for name in by:
        if not _LABEL.match(name):
            raise ConfigError(f"loki: {name!r} is not a Loki label name")
    inner = f"count_over_time({logql or selector(labels or {})} [{step}])"
    query_text = f"sum by ({', '.join(by)}) ({inner})" if by else f"sum({inner})"
    frame = metric(url, query_text, start, end, step=step, **kw)
    frame["metric"] = frame["metric"].where(frame["metric"] != "loki", "count_over_time")
    return frame


__all__ = ["query", "metric", "counts", "selector", "API"]
