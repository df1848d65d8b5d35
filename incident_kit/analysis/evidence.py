"""Scenario evidence: the tables the scenario notebooks answer from, computed on canonical frames.

Slow endpoints, auth failures, error signatures naming a provider, layer-by-layer probe results,
resource use, queue trends, configuration differences, build failures, the scenario to open
next and the composition of earlier runs for a postmortem. Pure functions: no source is read.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..timeutil import iso
from .rates import error_mask
from .window import bounds

_ID_SEGMENT = re.compile(r"/(?:[0-9]+|[0-9a-fA-F-]{16,})(?=/|$)")
AUTH_WORDS = re.compile(r"auth|login|signin|sign-in|session|token|jwt|oauth|password|credential|unauthori[sz]ed|"
                        r"forbidden|secret|permission|denied", re.I)
BUILD_ERROR = re.compile(r"\berror\b|cannot find module|module not found|failed to compile|build failed|"
                         r"exit code [1-9]|syntaxerror|typeerror|ts\d{4}", re.I)
LAYERS = ("dns", "tcp", "tls", "http")


def route(path: Any) -> str:
    """Return ``path`` with ids masked (``/api/orders/42`` -> ``/api/orders/{id}``), no query string."""
    text = str(path or "").split("?")[0]
    return _ID_SEGMENT.sub("/{id}", text) or "(none)"


def _split(logs: pd.DataFrame, window: Any, baseline: str = "2h") -> tuple[np.ndarray, np.ndarray]:
    """Return boolean masks (inside the window, the baseline before it)."""
    start, end = bounds(window)
    ts = pd.to_datetime(logs["ts"], utc=True)
    if start is None:
        inside = np.ones(len(logs), dtype=bool)
        return inside, np.zeros(len(logs), dtype=bool)
    inside = (ts >= start).to_numpy(dtype=bool)
    if end is not None:
        inside &= (ts < end).to_numpy(dtype=bool)
    before = ((ts < start) & (ts >= start - pd.Timedelta(baseline))).to_numpy(dtype=bool)
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
    is_auth = path.str.contains(AUTH_WORDS).fillna(False).to_numpy(dtype=bool)
    for prefix in login_paths or ():
        is_auth |= path.str.startswith(str(prefix)).fillna(False).to_numpy(dtype=bool)
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
        from .signatures import signatures

        counts = pd.Series(signatures(msgs)).value_counts().head(5)
        out["messages"] = pd.DataFrame({"message": counts.index, "count": counts.to_numpy()})
    return out


def status_rates(logs: pd.DataFrame, bucket: str = "1min", statuses: Iterable[int] = (401, 403)) -> pd.DataFrame:
    """Return rates per bucket like :func:`incident_kit.analysis.rates`, where ``errors`` counts the
    requests answered one of ``statuses`` (401/403: refused) and ``error_rate`` is their share, so
    that :func:`incident_kit.analysis.window` finds since when requests are refused."""
    from .rates import rates

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
    """Return the hosts and named providers that error messages in the window mention, with how
    often now and before. ``names`` adds provider names to look for (``stripe``, ``s3``, ``mux``).

    Columns: ``provider``, ``errors``, ``share``, ``share_before``, ``example``.
    """
    from .causes import _HOST

    cols = ["provider", "errors", "share", "share_before", "example"]
    if logs is None or not len(logs) or "message" not in logs.columns:
        return pd.DataFrame(columns=cols)
    inside, before = _split(logs, window, baseline)
    errs = error_mask(logs).to_numpy(dtype=bool)
    msgs = logs["message"].astype("string").fillna("")
    extra = [n.lower() for n in names if n]

    def mentions(text: str) -> set[str]:
        found = {(m.group(1) or m.group(2) or "").lower() for m in _HOST.finditer(text)}
        low = text.lower()
        found |= {n for n in extra if re.search(rf"\b{re.escape(n)}\b", low)}
        return {f for f in found if f}

    now_msgs, before_msgs = msgs[errs & inside], msgs[errs & before]
    counts: dict[str, list[Any]] = {}
    for text, n in now_msgs.value_counts().items():
        for p in mentions(str(text)):
            c = counts.setdefault(p, [0, str(text)])
            c[0] += int(n)
    prior: dict[str, int] = {}
    for text, n in before_msgs.value_counts().items():
        for p in mentions(str(text)):
            prior[p] = prior.get(p, 0) + int(n)
    if not counts:
        return pd.DataFrame(columns=cols)
    total, total_before = max(1, len(now_msgs)), max(1, len(before_msgs))
    rows = [{"provider": p, "errors": c[0], "share": round(c[0] / total, 3),
             "share_before": round(prior.get(p, 0) / total_before, 3), "example": c[1][:200]} for p, c in counts.items()]
    return pd.DataFrame(rows, columns=cols).sort_values("errors", ascending=False).reset_index(drop=True)


def resource_use(*metric_frames: pd.DataFrame | None) -> pd.DataFrame:
    """Return the latest use (percent) of each disk, memory, swap and CPU reading in host metrics
    frames, fullest first. Columns: ``resource``, ``used_percent``, ``detail``."""
    cols = ["resource", "used_percent", "detail"]
    rows = []
    for frame in metric_frames:
        if frame is None or not len(frame) or "metric" not in frame.columns:
            continue
        latest = frame.sort_values("ts", kind="stable").groupby(
            ["metric", *[c for c in ("path", "mountpoint") if c in frame.columns]], dropna=False).tail(1)
        for _, r in latest.iterrows():
            m = str(r["metric"])
            if m == "disk_used_percent":
                rows.append({"resource": f"disk {r.get('mountpoint') or r.get('path')}", "used_percent": float(r["value"]),
                             "detail": f"filesystem holding {r.get('path')}"})
            elif m == "inodes_used_percent" and not pd.isna(r["value"]):
                rows.append({"resource": f"inodes {r.get('mountpoint') or r.get('path')}", "used_percent": float(r["value"]),
                             "detail": f"filesystem holding {r.get('path')}"})
            elif m in ("memory_used_percent", "swap_used_percent", "cpu_percent", "cpu_busy_percent"):
                rows.append({"resource": m.replace("_used_percent", "").replace("_percent", "").replace("_busy", ""),
                             "used_percent": float(r["value"]), "detail": ""})
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(rows, columns=cols).drop_duplicates("resource", keep="last")
    return out.sort_values("used_percent", ascending=False).reset_index(drop=True)


def resource_metrics(*metric_frames: pd.DataFrame | None) -> dict[str, pd.Series]:
    """Return ``{name: series}`` of the resource readings as ratios named ``<resource>_used_ratio``
    (a form :func:`incident_kit.analysis.hypotheses` ``metrics=`` ranks as saturation)."""
    out: dict[str, pd.Series] = {}
    for frame in metric_frames:
        if frame is None or not len(frame) or "metric" not in frame.columns:
            continue
        for _, r in frame.iterrows():
            m = str(r["metric"])
            if m not in ("disk_used_percent", "inodes_used_percent", "memory_used_percent", "swap_used_percent", "cpu_percent"):
                continue
            where = r.get("mountpoint") if m.startswith(("disk", "inodes")) else None
            name = m.replace("_percent", "_ratio").replace("cpu_ratio", "cpu_used_ratio") + (f"{{mountpoint=\"{where}\"}}" if where else "")
            s = out.setdefault(name, pd.Series(dtype="float64"))
            out[name] = pd.concat([s, pd.Series([float(r["value"]) / 100.0], index=[pd.Timestamp(r["ts"])])])
    return {k: v.sort_index() for k, v in out.items()}


def queue_trend(depths: pd.DataFrame) -> pd.DataFrame:
    """Return one row per queue key from sampled ``redis.queues`` frames: ``key``, ``depth`` (last),
    ``first_depth``, ``growth_per_min`` and ``samples``; deepest first."""
    cols = ["key", "depth", "first_depth", "growth_per_min", "samples"]
    if depths is None or not len(depths) or "key" not in depths.columns:
        return pd.DataFrame(columns=cols)
    rows = []
    part = depths[depths["metric"] == "queue_depth"]
    for key, g in part.sort_values("ts").groupby("key", sort=True):
        ts = pd.to_datetime(g["ts"], utc=True)
        minutes = (ts.iloc[-1] - ts.iloc[0]) / pd.Timedelta(minutes=1)
        first, last = float(g["value"].iloc[0]), float(g["value"].iloc[-1])
        rows.append({"key": key, "depth": last, "first_depth": first,
                     "growth_per_min": round((last - first) / minutes, 1) if minutes > 0 else 0.0, "samples": len(g)})
    return pd.DataFrame(rows, columns=cols).sort_values("depth", ascending=False).reset_index(drop=True)


def _settings(values: Any) -> dict[str, Any]:
    """Return name -> value from a mapping or a ``config.read`` frame (its fingerprint stands for the value)."""
    if values is None:
        return {}
    if isinstance(values, pd.DataFrame):
        if not len(values) or "name" not in values.columns:
            return {}
        return dict(zip(values["name"].astype(str), values["fingerprint"].fillna("")))
    return dict(values)


def queue_history(logs: pd.DataFrame, queue: str | None = None,
                  states: Iterable[str] = ("waiting", "active", "failed", "delayed")) -> pd.DataFrame:
    """Return queue depths logged by workers (records with ``waiting``/``active``/... counts, e.g.
    ``{"queue": "video-processing", "waiting": 412, "active": 4}``) as a metrics frame:
    ``queue_depth`` with label ``key`` ``<queue>:<state>``. ``queue`` keeps one queue's records."""
    from ..frames import conform, empty

    states = [s for s in states if logs is not None and s in logs.columns]
    if logs is None or not len(logs) or not states:
        return empty("metrics")
    rows = logs
    if queue and "queue" in logs.columns:
        rows = logs[(logs["queue"].astype("string") == queue).fillna(False).to_numpy(dtype=bool)]
    parts = []
    for state in states:
        values = pd.to_numeric(rows[state], errors="coerce")
        keep = values.notna().to_numpy(dtype=bool)
        if not keep.any():
            continue
        names = rows["queue"].astype("string").fillna(queue or "queue") if "queue" in rows.columns else pd.Series(queue or "queue", index=rows.index)
        parts.append(pd.DataFrame({"ts": pd.to_datetime(rows["ts"], utc=True)[keep].to_numpy(), "metric": "queue_depth",
                                   "value": values[keep].astype(float).to_numpy(), "key": (names[keep] + f":{state}").to_numpy()}))
    if not parts:
        return empty("metrics")
    return conform(pd.concat(parts, ignore_index=True), "metrics", source=logs.attrs.get("source", "logs"))


def depth_series(history: pd.DataFrame, state: str = "waiting") -> pd.Series:
    """Return the summed depth of the queues in ``state`` per time from :func:`queue_history`
    (a time-indexed Series for :func:`incident_kit.analysis.window`)."""
    if history is None or not len(history) or "key" not in history.columns:
        return pd.Series(dtype="float64")
    part = history[history["key"].astype(str).str.endswith(f":{state}")]
    return part.groupby(pd.to_datetime(part["ts"], utc=True))["value"].sum().sort_index().astype("float64")


def config_changes(before: Any, after: Any, required: Iterable[str] = ()) -> pd.DataFrame:
    """Compare two configurations (name -> value mappings or ``config.read`` frames, as deployed
    before and after) and the names that must be set: ``name``, ``status`` (unset, emptied, removed,
    changed, added, ok), ``required``. Values are never returned (they may be secrets)."""
    before, after = _settings(before), _settings(after)
    need = [str(n) for n in required]
    rows = []
    for name in sorted(set(before) | set(after) | set(need)):
        b, a = before.get(name), after.get(name)
        if name not in after:
            status = "removed" if name in before else "unset"
        elif a in (None, ""):
            status = "emptied" if b not in (None, "") else "unset"
        elif name not in before:
            status = "added"
        elif str(a) != str(b):
            status = "changed"
        else:
            status = "ok"
        rows.append({"name": name, "status": status, "required": name in need})
    frame = pd.DataFrame(rows, columns=["name", "status", "required"])
    order = {"unset": 0, "removed": 0, "emptied": 0, "changed": 1, "added": 2, "ok": 3}
    if len(frame):
        frame = frame.assign(_o=frame["status"].map(order), _r=~frame["required"]).sort_values(["_o", "_r", "name"]).drop(columns=["_o", "_r"])
    return frame.reset_index(drop=True)


def config_events(changes: pd.DataFrame, at: Any, *, source: str = "config") -> pd.DataFrame:
    """Return the non-ok rows of :func:`config_changes` as config events at ``at`` (for hypotheses
    and the timeline): ``text`` like ``config: NEXTAUTH_SECRET unset (required)``."""
    from ..frames import conform

    if changes is None or not len(changes) or at is None:
        return conform(pd.DataFrame(), "events")
    bad = changes[changes["status"] != "ok"]
    rows = [{"ts": pd.Timestamp(at), "kind": "config", "source": source,
             "text": f"config: {r['name']} {r['status']}" + (" (required)" if r["required"] else ""), "ref": None}
            for _, r in bad.iterrows()]
    return conform(pd.DataFrame(rows), "events", source=source)


def build_failures(lines: Iterable[str] | str, *, n: int = 5) -> pd.DataFrame:
    """Return the error lines of a build log (``Cannot find module ...``, compiler errors), most
    telling first: ``line``, ``count`` (same line repeated), ``first_at`` (line number)."""
    text = lines.splitlines() if isinstance(lines, str) else [str(x) for x in lines]
    found: dict[str, list[int]] = {}
    for i, line in enumerate(text, 1):
        if BUILD_ERROR.search(line):
            key = " ".join(line.split())[:300]
            found.setdefault(key, [0, i])[0] += 1
    rows = [{"line": k, "count": v[0], "first_at": v[1]} for k, v in found.items()]
    frame = pd.DataFrame(rows, columns=["line", "count", "first_at"])
    if len(frame):
        telling = frame["line"].str.contains(r"cannot find|not found|failed", case=False, regex=True)
        frame = frame.assign(_t=~telling).sort_values(["_t", "first_at"]).drop(columns="_t")
    return frame.head(n).reset_index(drop=True)


#: Which scenario looks deeper at which kind of cause (triage's "open next").
NEXT_SCENARIO = {
    "deploy": "bad_deploy", "commit": "bad_deploy", "config": "bad_deploy", "new_error": "high_error_rate",
    "lock_contention": "db_slow_queries_and_locks", "traffic_surge": "high_latency", "bad_client": "high_error_rate",
    "correlated": "high_error_rate",
}


def next_scenarios(hypotheses: pd.DataFrame | None, *, probes: pd.DataFrame | None = None, p95_rising: bool = False,
                   auth_failing: bool = False, n: int = 3) -> pd.DataFrame:
    """Return the scenarios to open next, best first: ``scenario``, ``why``, ``score``.

    From the ranked hypotheses (a failing Redis -> redis_failure, connections -> db_connection_exhaustion,
    a resource -> resource_pressure, a queue -> queue_backlog, a third-party host -> dependency_failure,
    every health check failing -> site_outage), plus latency and auth signals.
    """
    picks: dict[str, tuple[float, str]] = {}

    def add(name: str, score: float, why: str) -> None:
        if name not in picks or picks[name][0] < score:
            picks[name] = (score, why)

    if hypotheses is not None and len(hypotheses):
        for _, h in hypotheses.iterrows():
            kind, ref, cause = str(h.get("kind") or ""), str(h.get("ref") or ""), str(h["cause"])
            score = float(h["score"])
            if kind == "saturation":
                low = (ref + " " + cause).lower()
                name = ("db_connection_exhaustion" if "connection" in low else
                        "queue_backlog" if re.search(r"queue|backlog|depth", low) else "resource_pressure")
            elif kind == "dependency":
                low = (ref + " " + cause).lower()
                name = ("redis_failure" if "redis" in low else
                        "db_connection_exhaustion" if re.search(r"postgres|mysql|database|sql", low) else
                        "site_outage" if re.search(r"127\.0\.0\.1|localhost|/health", low) else "dependency_failure")
            else:
                name = NEXT_SCENARIO.get(kind, "high_error_rate")
            add(name, score, cause)
    if probes is not None and len(probes):
        from .severity import probes_failing_share

        share = probes_failing_share(probes)
        if share is not None and share >= 1.0:
            add("site_outage", 0.95, "every probed endpoint fails its health check")
    if p95_rising:
        add("high_latency", 0.5, "p95 latency left its baseline")
    if auth_failing:
        add("auth_failures", 0.6, "logins or authenticated requests fail")
    rows = [{"scenario": k, "why": v[1], "score": round(v[0], 3)} for k, v in picks.items()]
    frame = pd.DataFrame(rows, columns=["scenario", "why", "score"])
    return frame.sort_values("score", ascending=False, kind="stable").head(n).reset_index(drop=True)


def compose(summaries: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Merge earlier runs' summary.json into one postmortem: the widest window, the worst severity,
    impact of the run with most requests, hypotheses merged by cause (best score kept, runs
    named), findings and timelines merged and sorted, sources listed per run.

    Returns keys ``window``, ``severity``, ``severity_reason``, ``impact``, ``hypotheses`` (frame),
    ``findings`` (list), ``timeline`` (frame), ``runs`` (frame: run_id, scenario, status, severity, headline).
    """
    order = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
    runs = pd.DataFrame([{"run_id": s.get("run_id"), "scenario": s.get("scenario"), "status": s.get("status"),
                          "severity": s.get("severity"), "headline": s.get("headline")} for s in summaries],
                        columns=["run_id", "scenario", "status", "severity", "headline"])
    starts = [s["window"]["start"] for s in summaries if (s.get("window") or {}).get("start")]
    ends = [s["window"]["end"] for s in summaries if (s.get("window") or {}).get("end")]
    rated = sorted((s for s in summaries if s.get("severity") in order), key=lambda s: order[s["severity"]])
    impacts = sorted((s.get("impact") or {} for s in summaries), key=lambda i: -(i.get("requests_total") or 0))
    hyps: dict[str, dict[str, Any]] = {}
    for s in summaries:
        for h in s.get("hypotheses") or []:
            key = " ".join(str(h.get("cause", "")).split()).lower()
            kept = hyps.get(key)
            if kept is None or float(h.get("score") or 0) > float(kept.get("score") or 0):
                hyps[key] = {**h, "run": s.get("run_id")}
    hframe = pd.DataFrame(list(hyps.values()))
    if len(hframe):
        hframe = hframe.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    else:
        hframe = pd.DataFrame(columns=["cause", "evidence", "score", "kind", "ref", "run"])
    timeline = pd.DataFrame([t for s in summaries for t in (s.get("timeline") or [])], columns=["ts", "source", "kind", "text"])
    if len(timeline):
        timeline["ts"] = pd.to_datetime(timeline["ts"], utc=True, format="ISO8601")
        timeline = timeline.drop_duplicates(["ts", "kind", "text"]).sort_values("ts", kind="stable").reset_index(drop=True)
    findings = [{**f, "run": s.get("run_id")} for s in summaries for f in (s.get("findings") or [])]
    return {
        "window": {"start": min(starts) if starts else None, "end": max(ends) if ends and len(ends) == len(starts) else None},
        "severity": rated[0]["severity"] if rated else None,
        "severity_reason": rated[0].get("severity_reason") if rated else None,
        "impact": impacts[0] if impacts else {},
        "hypotheses": hframe, "findings": findings, "timeline": timeline, "runs": runs,
    }


def people_timeline(entries: Iterable[Any], default_source: str = "responders") -> list[dict[str, Any]]:
    """Return timeline rows from people's notes: ``"2026-11-22T15:40Z rolled back to v1.7.3"`` or dicts."""
    rows = []
    for e in entries or []:
        if isinstance(e, Mapping):
            rows.append({"ts": iso(pd.Timestamp(e["ts"])), "source": e.get("source", default_source),
                         "kind": e.get("kind", "note"), "text": str(e.get("text", ""))})
            continue
        stamp, _, text = str(e).partition(" ")
        try:
            ts = pd.Timestamp(stamp)
        except (ValueError, TypeError):
            continue
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        rows.append({"ts": iso(ts), "source": default_source, "kind": "note", "text": text.strip()})
    return rows


def findings_table(findings: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Return findings (dicts of summary.json) as a table: ``run``, ``kind``, ``title``, ``score``, best first."""
    frame = pd.DataFrame(list(findings or []), columns=["run", "kind", "title", "score"])
    return frame.sort_values("score", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


#: What a postmortem records itself: earlier runs' findings of these kinds are not carried over.
POSTMORTEM_OWN = frozenset({"runs", "cause", "impact", "severity", "root_cause", "resolution", "action_items", "lessons"})


def carried_findings(findings: Iterable[Mapping[str, Any]], n: int = 8) -> list[dict[str, Any]]:
    """Return the earlier runs' findings worth carrying into a postmortem: best first, without the
    kinds it records itself and without repeating a title, at most ``n``."""
    out, seen = [], set()
    for f in sorted(findings or [], key=lambda f: -(f.get("score") if f.get("score") is not None else -1)):
        key = " ".join(str(f.get("title", "")).split())
        if f.get("kind") in POSTMORTEM_OWN or key in seen:
            continue
        seen.add(key)
        out.append(dict(f))
    return out[:n]


def fullest_path(disks: pd.DataFrame) -> str | None:
    """Return the checked path whose filesystem is the fullest in a ``host.disk`` frame (None without one)."""
    if disks is None or not len(disks) or "metric" not in disks.columns:
        return None
    used = disks[disks["metric"] == "disk_used_percent"]
    return str(used.sort_values("value", ascending=False)["path"].iloc[0]) if len(used) else None


def stuck_jobs(ages: pd.DataFrame, trend: pd.DataFrame, stuck_after_s: float = 600) -> dict[str, Any]:
    """Return ``stuck`` (jobs in active lists whose oldest is older than ``stuck_after_s``), ``stuck_keys``
    and ``failed`` (jobs in failed lists) from ``redis.oldest`` and :func:`queue_trend`."""
    stuck, keys, failed = 0, [], 0
    if ages is not None and len(ages):
        old = ages[ages["key"].astype(str).str.contains("active", case=False) & (ages["age_s"] > stuck_after_s)]
        stuck, keys = int(old["depth"].sum()), old["key"].astype(str).tolist()
    if trend is not None and len(trend):
        failed = int(trend[trend["key"].astype(str).str.contains("fail", case=False)]["depth"].sum())
    return {"stuck": stuck, "stuck_keys": keys, "failed": failed, "stuck_after_s": stuck_after_s}


def waiting(frame: pd.DataFrame, column: str = "key") -> pd.DataFrame:
    """Return the rows of ``frame`` whose key names a waiting queue (not active, failed, completed or delayed)."""
    if frame is None or not len(frame):
        return frame
    keys = frame[column].astype(str)
    return frame[~keys.str.contains(r"active|fail|complete|delayed|stalled|paused", case=False, regex=True)]


__all__ = ["AUTH_WORDS", "NEXT_SCENARIO", "auth_failures", "build_failures", "compose", "config_changes", "config_events", "depth_series",
           "carried_findings", "findings_table", "first_failing_layer", "fullest_path", "next_scenarios", "people_timeline", "providers", "queue_history", "queue_trend", "resource_metrics",
           "resource_use", "route", "slow_endpoints", "status_rates", "stuck_jobs", "waiting"]
