"""Investigation steps the scenario notebooks share: a source read plus the shaping every notebook repeats.

Each step records its sources on the notebook's :class:`~incident_kit.investigation.Investigation`
(so a source that is not configured or fails becomes a "not available" note and an empty frame)
and returns plain frames and analysis results; the notebooks state the answers with
:mod:`incident_kit.narrate`. Nothing here changes anything on the systems it reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from . import frames
from .errors import IncidentKitError
from .analysis.rates import rates as _rates
from .analysis.window import IncidentWindow
from .analysis.window import window as _window


@dataclass
class Traffic:
    """Requests read from the logs, their rates per bucket and the incident window found in them."""

    requests: pd.DataFrame
    rates: pd.DataFrame
    incident: IncidentWindow
    metric: str = "error rate"


def _as_list(value: Any) -> list[Any]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    return [value] if isinstance(value, str | dict) else list(value)


#: window() needs ~60 buckets of history before a change and judges against up to 288.
HISTORY_BUCKETS = 288
MAX_LOOKBACK = pd.Timedelta(hours=6)


def lookback(bucket: str) -> pd.Timedelta:
    """Return how far before the start to read logs for window()'s history: 288 buckets, at most
    6 h and at least 60 buckets."""
    step = pd.Timedelta(bucket)
    return max(60 * step, min(HISTORY_BUCKETS * step, MAX_LOOKBACK))


def _since(requests: pd.DataFrame, begin: pd.Timestamp | None) -> pd.DataFrame:
    """Return the requests from ``begin`` on (all when None), attrs kept."""
    if begin is None or not len(requests):
        return requests
    out = requests[(requests["ts"] >= begin).to_numpy(dtype=bool)].reset_index(drop=True)
    out.attrs.update(requests.attrs)
    return out


def _per_bucket(requests: pd.DataFrame, bucket: str, metric: str) -> pd.DataFrame:
    """Return the rates per bucket of ``requests`` (refused requests as errors for ``denied_rate``)."""
    frame = requests if len(requests) else frames.empty("logs")
    if metric == "denied_rate":
        from .analysis.evidence import status_rates

        return status_rates(frame, bucket)
    return _rates(frame, bucket)


def traffic(inv: Any, logs: Any, *, log_format: str = "auto", service: str | None = None, bucket: str = "1min",
            metric: str = "error_rate", name: str = "access logs") -> Traffic:
    """Read the access logs, compute rates per ``bucket`` and find the incident window in ``metric``
    (``error_rate``, ``p95_ms`` or ``denied_rate``: the share of requests refused with 401/403,
    kept in the rates' ``errors``/``error_rate`` columns); records the window on ``inv`` when found.
    The logs are read from :func:`lookback` before the start, so a change right after the start is
    judged against the minutes before it; the requests and rates returned start at the start."""
    from .sources import logs as logs_source

    begin = inv.start
    history = lookback(bucket)
    read_from = begin - history if begin is not None else None
    everything = inv.collect(name, logs_source.read, logs, format=log_format, start=read_from, end=inv.end,
                             service=service or None)
    requests = _since(everything, begin)
    if not len(requests) and inv.lookback is not None and inv.reachable(name):
        # A relative start ("-2h") with no end, and nothing that recent: the incident is older than
        # the clock says, so count back from where the data ends instead of from now.
        everything = inv.collect(name, logs_source.read, logs, format=log_format, service=service or None)
        if len(everything):
            inv.reanchor(everything["ts"].max())
            begin = inv.start
            requests = _since(everything, begin)
            everything = _since(everything, begin - history)
    inv.observe(requests)
    column = metric if metric in ("p95_ms", "p99_ms", "p50_ms") else "error_rate"
    # window() judges each bucket against the ones before it: it reads the look-back before the
    # start, and reports nothing before the start as the incident.
    all_buckets = _per_bucket(everything, bucket, metric)
    per_bucket = all_buckets if begin is None else all_buckets[
        (all_buckets["ts"] >= begin.floor(bucket)).to_numpy(dtype=bool)].reset_index(drop=True)
    if len(per_bucket) and per_bucket[column].notna().any():
        incident = _window(all_buckets, column=column, since=begin)
    else:
        incident = IncidentWindow(False, metric=column, reason="no requests in the logs")
    if incident.found:
        inv.set_window(incident.start, incident.end)
    label = {"error_rate": "error rate", "p95_ms": "p95 latency", "p99_ms": "p99 latency",
             "denied_rate": "share of refused requests (401/403)"}.get(metric, metric)
    return Traffic(requests, per_bucket, incident, label)


@dataclass
class Metric:
    """A Prometheus range read for the incident: its points from the start on and the window found."""

    frame: pd.DataFrame
    incident: IncidentWindow


def metric(inv: Any, prometheus_url: Any, promql: str, *, step: str | None = None,
           name: str = "prometheus range") -> Metric:
    """Read ``promql`` from Prometheus over the investigation's window plus :func:`lookback` steps
    before its start (ranges are cheap), and find its incident window from the start on (the
    look-back is history only); when the server keeps two days before the start, the window is found
    on those two days too (at a step of at most 10,000 points), so a daily cycle is learnt and removed.
    ``step`` defaults to about 300 points over the window. Returns a :class:`Metric` (an empty frame
    and ``found=False`` with the reason when nothing was read or the query returns several series)."""
    from .sources import prometheus
    from .timeutil import parse_time

    begin = inv.start
    end = inv.end if inv.end is not None else parse_time("now")
    if begin is None:
        begin = end - pd.Timedelta(hours=1)
    step = step or prometheus.choose_step(begin, end)
    read = inv.collect(name, prometheus.query_range, prometheus_url, promql, begin - lookback(step), end, step=step)
    if not len(read):
        return Metric(read, IncidentWindow(False, metric=promql, reason=f"{name}: no points"))
    inv.observe(read[(read["ts"] <= end).to_numpy(dtype=bool)])
    shown = read[(read["ts"] >= begin).to_numpy(dtype=bool)].reset_index(drop=True)
    if read["metric"].nunique(dropna=True) > 1:
        return Metric(shown, IncidentWindow(False, metric=promql, reason=(
            f"{name}: {read['metric'].nunique()} series; aggregate the query (sum by, max by) to one")))
    cycles = _two_days(prometheus_url, promql, begin, end, step)
    incident = _window(read if cycles is None else cycles, since=begin)
    return Metric(shown, incident)


#: A daily profile needs two cycles of history before the start (window() learns it from the series).
SEASON_LOOKBACK = pd.Timedelta(days=2)


def _two_days(url: Any, promql: str, begin: pd.Timestamp, end: pd.Timestamp, step: str) -> pd.DataFrame | None:
    """Return ``promql`` from :data:`SEASON_LOOKBACK` (plus :func:`lookback`) before ``begin`` to ``end``, at
    ``step`` or the coarser step that keeps it within 10,000 points, when the server holds data that old
    and one series; else None (also when that read fails: the short read stands, and the window's reason
    says how much history it had)."""
    from .sources import prometheus

    first = begin - SEASON_LOOKBACK
    coarse = max(step, prometheus.choose_step(first, end, 10_000), key=pd.Timedelta)
    try:
        frame = prometheus.query_range(url, promql, first - lookback(coarse), end, step=coarse)
    except IncidentKitError:
        return None
    if not len(frame) or frame["metric"].nunique(dropna=True) > 1 or frame["ts"].min() > first:
        return None
    return frame


def changes(inv: Any, git_repo: Any = None, deploy_events: Any = None, *, since: str = "-2d",
            config_events: Any = None) -> pd.DataFrame:
    """Return the commits, deploys and config changes from ``since`` before the investigation's end
    (:attr:`Investigation.anchor <incident_kit.investigation.Investigation.anchor>`: the end set, else the
    end of the data, never the clock for a past incident) to that end, as one events frame, oldest first."""
    from .sources import deploys

    start, end = inv.since(since), inv.requested_end
    parts = [inv.collect("git history", deploys.git, git_repo, start=start, end=end),
             inv.collect("deploy events", deploys.events, deploy_events, start=start, end=end)]
    if config_events:
        parts.append(inv.collect("config changes", deploys.events, config_events, start=start, end=end, kind="config"))
    found = [p for p in parts if len(p)]
    events = frames.concat(found, "events") if found else frames.empty("events")
    return events.sort_values("ts", kind="stable").reset_index(drop=True)


def blocked_sessions(activity: pd.DataFrame | None) -> int:
    """Return how many sessions of a db activity frame (``postgres.locks``/``activity``) wait on a lock
    another session holds (a non-empty ``blocked_by``), each session once."""
    if activity is None or not len(activity) or "blocked_by" not in activity.columns:
        return 0
    waiting = activity["blocked_by"].map(lambda b: b is not None and not isinstance(b, float) and len(b) > 0)
    return int(activity.loc[waiting.to_numpy(dtype=bool), "pid"].nunique())


def deploys_only(events: pd.DataFrame) -> pd.DataFrame:
    """Return the deploy and config events of ``events`` (what a plot marks)."""
    if events is None or not len(events):
        return frames.empty("events")
    return events[events["kind"].astype("string").isin(["deploy", "config", "rollback"]).fillna(False).to_numpy(dtype=bool)]


def probe_all(inv: Any, *, http: Any = None, redis: Any = None, database: Any = None, tcp: Any = None,
              rounds: int = 2, interval_s: float = 1.0, timeout_s: float = 3.0) -> pd.DataFrame:
    """Probe every configured endpoint (HTTP URLs, Redis and database URLs, TCP host:port) and
    return one probes frame; each kind is its own source, skipped when not configured."""
    from .sources import probes

    parts = [
        inv.collect("HTTP probes", probes.http, _as_list(http), rounds=rounds, interval_s=interval_s, timeout_s=timeout_s),
        inv.collect("Redis probe", probes.redis, _as_list(redis), rounds=rounds, interval_s=interval_s, timeout_s=timeout_s),
        inv.collect("database probe", probes.sql, _as_list(database), rounds=rounds, interval_s=interval_s, timeout_s=timeout_s),
        inv.collect("TCP probes", probes.tcp, _as_list(tcp), rounds=rounds, interval_s=interval_s, timeout_s=timeout_s),
    ]
    found = [p for p in parts if len(p)]
    return frames.concat(found, "probes") if found else frames.empty("probes")


def layers(inv: Any, urls: Any, *, timeout_s: float = 3.0) -> pd.DataFrame:
    """Probe each URL layer by layer, DNS, TCP, TLS (https only), HTTP; return one probes frame
    with a ``layer`` column (the order a request goes through them)."""
    from urllib.parse import urlsplit

    from .sources import probes

    targets = _as_list(urls)
    parsed = [urlsplit(str(u)) for u in targets if "://" in str(u)]
    hosts = sorted({p.hostname for p in parsed if p.hostname})
    tcp = sorted({f"{p.hostname}:{p.port or (443 if p.scheme == 'https' else 80)}" for p in parsed if p.hostname})
    tls = sorted({f"{p.hostname}:{p.port or 443}" for p in parsed if p.scheme == "https" and p.hostname})
    parts = []
    for layer, fn, what in (("dns", probes.dns, hosts), ("tcp", probes.tcp, tcp), ("tls", probes.tls, tls),
                            ("http", probes.http, targets)):
        if not what:
            continue
        frame = inv.collect(f"{layer.upper()} probes", fn, what, timeout_s=timeout_s)
        if len(frame):
            parts.append(frame.assign(layer=layer))
    if not parts:
        return frames.empty("probes").assign(layer=pd.Series(dtype="string"))
    return frames.concat(parts, "probes")


def collect_if(inv: Any, condition: Any, why: str, name: str, fn: Any, *args: Any, **kwargs: Any) -> pd.DataFrame:
    """Collect ``fn(*args, **kwargs)`` like ``inv.collect`` when ``condition`` holds; otherwise record the
    source as skipped because ``why`` (e.g. "Redis does not answer") and return its empty frame."""
    if condition:
        return inv.collect(name, fn, *args, **kwargs)
    kind = getattr(fn, "frame_kind", None)
    inv._add_source({"name": name, "kind": getattr(fn, "source_name", kind or name), "status": "skipped", "rows": 0,
                     "truncated": False, "rejected": 0, "error": why, "seconds": None})
    inv.say(f"*{name}: not read ({why}).*")
    return frames.empty(kind, name) if kind in frames.SCHEMAS else pd.DataFrame()


def disks(inv: Any, paths: Any, quota_bytes: float | None = None) -> pd.DataFrame:
    """Return the use of the filesystems holding ``paths`` and, with ``quota_bytes``, of the paths
    themselves against that quota (a directory limited by the application or a volume quota)."""
    from .sources import host

    parts = [inv.collect("disk", host.disk, _as_list(paths))]
    if quota_bytes:
        parts.append(inv.collect("disk quota", host.quota_use, _as_list(paths), quota_bytes))
    found = [p for p in parts if len(p)]
    return frames.concat(found, "metrics") if found else frames.empty("metrics")


def metrics_series(*metric_frames: pd.DataFrame | None) -> dict[str, pd.Series]:
    """Return ``{name: series}`` from metrics frames (labels folded into the name), for
    :func:`incident_kit.analysis.hypotheses` ``metrics=``."""
    from .analysis.correlate import split_metrics

    out: dict[str, pd.Series] = {}
    for frame in metric_frames:
        if frame is not None and len(frame) and {"ts", "metric", "value"} <= set(frame.columns):
            out.update(split_metrics(frame))
    return out


def sample(inv: Any, name: str, fn: Any, *args: Any, samples: int = 3, interval_s: float = 1.0, **kwargs: Any) -> pd.DataFrame:
    """Read a metrics source ``samples`` times, ``interval_s`` apart, into one frame (a short trend)."""
    import time

    parts = []
    for i in range(max(1, int(samples))):
        if i:
            time.sleep(interval_s)
        frame = inv.collect(name, fn, *args, **kwargs)
        if not len(frame):
            break
        parts.append(frame)
    if not parts:
        return frames.empty("metrics")
    return pd.concat(parts, ignore_index=True)


@dataclass
class Runs:
    """Earlier runs a postmortem composes: their summaries, oldest first, and what could not be read."""

    summaries: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def load_runs(runs: Any, reports_dir: str | Path = "reports") -> Runs:
    """Read the summary.json of each run (a run directory, a summary.json path or a run id under
    ``reports_dir``); the newest run of the directory when ``runs`` is empty."""
    base = Path(reports_dir).expanduser()
    wanted = _as_list(runs)
    if not wanted and base.is_dir():
        found = sorted((p for p in base.glob("*/summary.json")), key=lambda p: p.parent.name)
        found = [p for p in found if json.loads(p.read_text(encoding="utf-8")).get("scenario") != "postmortem"]
        wanted = [str(found[-1].parent)] if found else []
    out = Runs()
    for item in wanted:
        p = Path(str(item)).expanduser()
        candidates = [p / "summary.json", p, base / str(item) / "summary.json"]
        path = next((c for c in candidates if c.is_file() and c.name == "summary.json"), None)
        if path is None:
            out.missing.append(f"{item}: no summary.json found")
            continue
        try:
            out.summaries.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            out.missing.append(f"{item}: {exc}")
    out.summaries.sort(key=lambda s: str(s.get("started_at") or ""))
    return out


@dataclass
class Changed:
    """What moved in an incident (:func:`what_changed`): every signal, the window the notebook
    works on and the p95 latency during it."""

    signals: pd.DataFrame
    window: Any
    p95_ms: float | None = None
    logs: pd.DataFrame = field(default_factory=lambda: frames.empty("logs"))


def what_changed(inv: Any, t: Traffic, *more_logs: pd.DataFrame | None, probes: pd.DataFrame | None = None,
                 metrics: Iterable[pd.DataFrame | None] = (), connections: Any = None, names: Iterable[str] = ()) -> Changed:
    """Return every signal a scenario would see on ``t``'s requests plus ``more_logs`` (application
    logs), biggest change first, and the window to work on: ``t.incident`` when it was found, else
    the window of the biggest change (recorded on ``inv``). ``p95_ms`` is the median p95 during
    that window (the last five buckets without one), so an incident that ended is rated as it was."""
    from .analysis.evidence import signal_window, signals

    parts = [f for f in (t.requests, *more_logs) if f is not None and len(f)]
    logs = frames.concat(parts, "logs") if len(parts) > 1 else (parts[0] if parts else frames.empty("logs"))
    table = signals(logs, rates=t.rates if len(parts) <= 1 else None, probes=probes, metrics=metrics,
                    connections=connections, names=names)
    window = t.incident if t.incident else signal_window(table, t.incident)
    if window and not t.incident:
        inv.set_window(window.start, window.end)
    return Changed(table, window, p95_during(t.rates, window), logs)


def p95_during(rates: pd.DataFrame, window: Any) -> float | None:
    """Return the median p95 latency (ms) of the buckets inside ``window`` (an IncidentWindow that
    was found), else of the last five buckets; None without latencies. An incident that ended
    is rated by its own minutes, not by the recovered ones after it."""
    if rates is None or not len(rates) or "p95_ms" not in rates.columns or not rates["p95_ms"].notna().any():
        return None
    inside = rates.iloc[-5:]
    if window:
        keep = (rates["ts"] >= window.start).to_numpy(dtype=bool)
        if window.end is not None:
            keep = keep & (rates["ts"] < window.end).to_numpy(dtype=bool)
        if keep.any():
            inside = rates[keep]
    p95 = float(pd.to_numeric(inside["p95_ms"], errors="coerce").median())
    return None if pd.isna(p95) else p95


__all__ = ["Changed", "Runs", "Traffic", "blocked_sessions", "changes", "collect_if", "deploys_only", "disks", "layers",
           "lookback", "Metric", "metric",
           "load_runs", "metrics_series", "p95_during", "probe_all", "what_changed",
           "sample", "traffic"]
