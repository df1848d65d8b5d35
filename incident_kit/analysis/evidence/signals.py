"""Every signal a scenario would look at, measured once: what changed, by how much, since when.

:func:`signals` is triage's view of the incident: the error rate, p95/p99 latency (overall and
of the endpoint that slowed most), a drop or surge of traffic, upstreams newly named by warning
and error lines, saturated resources and failing health checks. Each row has a ``strength``
(0..1, comparable across signals) and the scenario that investigates it, so the biggest change
heads the list and "which scenario next" follows from the evidence.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import pandas as pd

from ..window import IncidentWindow, bounds, window

SIGNAL_COLUMNS = ["signal", "subject", "before", "now", "strength", "start", "end", "scenario", "text"]
#: The scenario that investigates each kind of signal.
SCENARIO_OF = {"latency": "high_latency", "error_rate": "high_error_rate", "traffic_drop": "site_outage",
               "traffic_surge": "high_latency", "dependency": "dependency_failure", "saturation": "resource_pressure",
               "probes": "site_outage"}


def _ms(v: float) -> str:
    return f"{v / 1000:.1f} s" if v >= 1000 else f"{v:.0f} ms"


def _hm(ts: Any) -> str:
    return pd.Timestamp(ts).strftime("%H:%M UTC") if ts is not None and not pd.isna(ts) else "?"


def _span(w: IncidentWindow) -> str:
    return f"at {_hm(w.start)}" + (f", until {_hm(w.end)}" if w.end is not None else ", still going on")


def _found(rates: pd.DataFrame, column: str, direction: str = "up") -> IncidentWindow | None:
    if rates is None or not len(rates) or column not in rates.columns or not rates[column].notna().any():
        return None
    try:
        w = window(rates, column=column, direction=direction)
    except (ValueError, TypeError):
        return None
    return w if w.found else None


def _row(signal: str, subject: str, before: float, now: float, strength: float, w: Any, text: str,
         scenario: str | None = None) -> dict[str, Any]:
    start, end = bounds(w) if w is not None else (None, None)
    return {"signal": signal, "subject": subject, "before": before, "now": now, "strength": round(max(0.0, min(1.0, strength)), 3),
            "start": start, "end": end, "scenario": scenario or SCENARIO_OF[signal], "text": text}


def _latency(logs: pd.DataFrame, rates: pd.DataFrame) -> list[dict[str, Any]]:
    """The p95/p99 that left its baseline, named by the endpoint that slowed most."""
    from .requests import slow_endpoints

    out = []
    for column in ("p95_ms", "p99_ms"):
        w = _found(rates, column)
        if w is None or not w.baseline or not w.peak_value:
            continue
        inside = rates[(rates["ts"] >= w.start) & ((rates["ts"] < w.end) if w.end is not None else True)]
        now = float(pd.to_numeric(inside[column], errors="coerce").median()) if len(inside) else float(w.peak_value)
        ratio = max(now, float(w.peak_value) * 0.5) / max(float(w.baseline), 1e-9)
        if ratio < 1.5:
            continue
        table = slow_endpoints(logs, w)
        name, overall = column[:3], now
        subject, before, text = "all requests", float(w.baseline), f"{name} latency rose from {_ms(w.baseline)} to {_ms(now)} {_span(w)}"
        if len(table) and pd.notna(table.iloc[0]["slower"]) and table.iloc[0]["slower"] >= 1.5:
            top = table.iloc[0]
            subject, before, now = str(top["endpoint"]), float(top["p95_before_ms"]), float(top["p95_ms"])
            ratio = max(ratio, float(top["slower"]) * min(1.0, 0.5 + float(top["share_of_slow"])))
            text = (f"p95 latency of {subject} rose from {_ms(before)} to {_ms(now)} ({top['slower']:.0f}x) {_span(w)}; "
                    f"{top['share_of_slow']:.0%} of the slow requests, overall {name} {_ms(w.baseline)} -> {_ms(overall)}")
        out.append(_row("latency", subject, before, now, math.log10(ratio) / math.log10(20), w, text))
        break  # p99 only when p95 did not move
    return out


def _errors(rates: pd.DataFrame) -> list[dict[str, Any]]:
    w = _found(rates, "error_rate")
    if w is None:
        return []
    inside = rates[(rates["ts"] >= w.start) & ((rates["ts"] < w.end) if w.end is not None else True)]
    req = inside["requests"].sum()
    now = float(inside["errors"].sum() / req) if req else float(w.peak_value or 0)
    before = float(w.baseline or 0.0)
    delta = now - before
    if delta <= 0:
        return []
    strength = min(1.0, delta / 0.10) * 0.8 + 0.2 * min(1.0, math.log10(max(now, 1e-6) / max(before, 1e-4)) / 2)
    return [_row("error_rate", "all requests", before, now, strength, w,
                 f"error rate rose from {before:.1%} to {now:.1%} {_span(w)}")]


def _traffic(rates: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    # The last bucket is cut where reading stopped (the window's end, or now): its count is partial
    # and would read as a drop. Counts are judged on complete buckets only.
    rates = rates.iloc[:-1] if len(rates) > 1 else rates
    for direction, signal in (("down", "traffic_drop"), ("up", "traffic_surge")):
        w = _found(rates, "requests", direction)
        if w is None or not w.baseline:
            continue
        inside = rates[(rates["ts"] >= w.start) & ((rates["ts"] < w.end) if w.end is not None else True)]
        now, before = float(inside["requests"].mean()) if len(inside) else float(w.peak_value or 0), float(w.baseline)
        change = (before - now) / before if direction == "down" else now / max(before, 1e-9) - 1
        if change < 0.3:
            continue
        strength = min(1.0, change / 0.6) if direction == "down" else min(0.8, change / 2.0)
        verb = "dropped" if direction == "down" else "rose"
        out.append(_row(signal, "requests per bucket", before, now, strength, w,
                        f"traffic {verb} from {before:.0f} to {now:.0f} requests per bucket {_span(w)}"))
    return out


def _dependencies(logs: pd.DataFrame, start: Any, end: Any, names: Iterable[str]) -> list[dict[str, Any]]:
    from ..context import build
    from ..upstream import hypotheses as upstream_hypotheses

    if start is None:
        return []
    inc = build(logs, start, end)
    out = []
    for h in upstream_hypotheses(inc, names=names):
        ref = str(h["ref"])
        low = ref.lower()
        scenario = ("redis_failure" if "redis" in low else
                    "db_connection_exhaustion" if any(w in low for w in ("postgres", "mysql", "mariadb")) else "dependency_failure")
        out.append(_row("dependency", ref, 0.0, 0.0, float(h["score"]), (start, end),
                        h["evidence"].replace(" in the window", " since the change started"), scenario))
    return out


def _saturation(metrics: Iterable[pd.DataFrame | None], connections: Any) -> list[dict[str, Any]]:
    from .resources import resource_use

    out = []
    used = resource_use(*[m for m in metrics if m is not None])
    for _, r in used.iterrows():
        if r["used_percent"] >= 90:
            out.append(_row("saturation", str(r["resource"]), float("nan"), float(r["used_percent"]),
                            0.5 + (float(r["used_percent"]) - 90) / 20, None, f"{r['resource']} is {r['used_percent']:.0f}% used"))
    ratio = getattr(connections, "attrs", {}).get("use_ratio") if connections is not None else None
    if ratio is not None and not pd.isna(ratio) and float(ratio) >= 0.8:
        out.append(_row("saturation", "database connections", float("nan"), float(ratio) * 100, 0.4 + 2.5 * (float(ratio) - 0.8),
                        None, f"{float(ratio):.0%} of the database's usable connections are in use", "db_connection_exhaustion"))
    return out


def _probes(probes: pd.DataFrame | None) -> list[dict[str, Any]]:
    from ..severity import probes_failing_share

    share = probes_failing_share(probes) if probes is not None and len(probes) else None
    if not share:
        return []
    latest = probes.sort_values("ts", kind="stable").groupby("target").tail(1)  # type: ignore[union-attr]
    bad = latest[~latest["ok"].astype(bool)]["target"].astype(str).tolist()
    return [_row("probes", ", ".join(bad[:3]), 0.0, share, share, None,
                 f"{len(bad)} of {len(latest)} probed endpoints fail their health check")]


def signals(logs: pd.DataFrame | None, *, rates: pd.DataFrame | None = None, probes: pd.DataFrame | None = None,
            metrics: Iterable[pd.DataFrame | None] = (), connections: Any = None, names: Iterable[str] = (),
            bucket: str = "1min") -> pd.DataFrame:
    """Return the signals that moved, the biggest change first.

    ``logs``: canonical logs (access and application lines); ``rates``: their rates per bucket
    (computed when not given); ``probes``, ``metrics`` (host metrics frames), ``connections``
    (a connections frame with ``attrs["use_ratio"]``) and ``names`` (provider words) add what
    the other scenarios see. Columns: ``signal`` (latency, error_rate, traffic_drop,
    traffic_surge, dependency, saturation, probes), ``subject`` (endpoint, host, resource),
    ``before``, ``now``, ``strength`` (0..1), ``start``, ``end``, ``scenario`` (the one that
    investigates it) and ``text`` (a sentence).
    """
    from ..rates import rates as per_bucket

    found: list[dict[str, Any]] = []
    has_logs = logs is not None and len(logs) > 0 and "ts" in logs.columns
    if has_logs and rates is None:
        rates = per_bucket(logs, bucket)
    if has_logs and rates is not None and len(rates):
        found += _latency(logs, rates) + _errors(rates) + _traffic(rates)  # type: ignore[arg-type]
        starts = [r["start"] for r in found if r["start"] is not None]
        if starts:
            ends = [r["end"] for r in found if r["start"] is not None]
            end = None if any(e is None for e in ends) else max(ends)
            found += _dependencies(logs, min(starts), end, names)  # type: ignore[arg-type]
    found += _saturation(list(metrics) if not isinstance(metrics, pd.DataFrame) else [metrics], connections)
    found += _probes(probes)
    frame = pd.DataFrame(found, columns=SIGNAL_COLUMNS)
    if not len(frame):
        return frame
    return frame.sort_values("strength", ascending=False, kind="stable").reset_index(drop=True)


def signal_window(table: pd.DataFrame | None, fallback: Any = None) -> Any:
    """Return the window of the biggest change that has one (an IncidentWindow-like ``(start, end)``
    pair), else ``fallback`` (e.g. the error-rate window)."""
    if table is not None and len(table):
        timed = table[table["start"].notna()]
        if len(timed):
            top = timed.iloc[0]
            return IncidentWindow(True, start=pd.Timestamp(top["start"]),
                                  end=None if pd.isna(top["end"]) else pd.Timestamp(top["end"]),
                                  metric=str(top["signal"]), confidence=float(top["strength"]))
    return fallback


__all__ = ["SCENARIO_OF", "SIGNAL_COLUMNS", "signal_window", "signals"]
