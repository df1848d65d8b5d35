"""Evidence for triage and postmortems: which scenario to open next, and composing earlier runs."""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

import pandas as pd

from ...timeutil import iso

NEXT_SCENARIO = {
    "deploy": "bad_deploy", "commit": "bad_deploy", "config": "bad_deploy", "new_error": "high_error_rate",
    "lock_contention": "db_slow_queries_and_locks", "traffic_surge": "high_latency", "bad_client": "high_error_rate",
    "correlated": "high_error_rate",
}

#: Scenarios that investigate a symptom rather than a cause.
SYMPTOMS = frozenset({"high_error_rate", "high_latency"})


def home_scenario(kind: Any, ref: Any = None, cause: Any = "") -> str:
    """Return the scenario that investigates a hypothesis of ``kind`` (a failing Redis ->
    redis_failure, connections -> db_connection_exhaustion, a resource -> resource_pressure, a queue
    -> queue_backlog, a third-party host -> dependency_failure, the service's own address ->
    site_outage, a change -> bad_deploy, ...)."""
    kind, low = str(kind or ""), f"{ref or ''} {cause or ''}".lower()
    if kind == "saturation":
        return ("db_connection_exhaustion" if "connection" in low else
                "queue_backlog" if re.search(r"queue|backlog|depth", low) else "resource_pressure")
    if kind == "dependency":
        return ("redis_failure" if "redis" in low else
                "db_connection_exhaustion" if re.search(r"postgres|mysql|database|sql", low) else
                "site_outage" if re.search(r"127\.0\.0\.1|localhost|/health", low) else "dependency_failure")
    return NEXT_SCENARIO.get(kind, "high_error_rate")


def next_scenarios(hypotheses: pd.DataFrame | None, *, probes: pd.DataFrame | None = None, p95_rising: bool = False,
                   auth_failing: bool = False, signals: pd.DataFrame | None = None, n: int = 3) -> pd.DataFrame:
    """Return the scenarios to open next, best first: ``scenario``, ``why``, ``score``.

    From the ranked hypotheses (a failing Redis -> redis_failure, connections -> db_connection_exhaustion,
    a resource -> resource_pressure, a queue -> queue_backlog, a third-party host -> dependency_failure,
    every health check failing -> site_outage), plus latency and auth signals and the rows of
    :func:`~incident_kit.analysis.evidence.signals` (each names the scenario that investigates it).
    """
    picks: dict[str, tuple[float, str]] = {}

    def add(name: str, score: float, why: str) -> None:
        if name not in picks or picks[name][0] < score:
            picks[name] = (score, why)

    if hypotheses is not None and len(hypotheses):
        for _, h in hypotheses.iterrows():
            add(home_scenario(h.get("kind"), h.get("ref"), h["cause"]), float(h["score"]), str(h["cause"]))
    if probes is not None and len(probes):
        from ..severity import probes_failing_share

        share = probes_failing_share(probes)
        if share is not None and share >= 1.0:
            add("site_outage", 0.95, "every probed endpoint fails its health check")
    if signals is not None and len(signals):
        slow = "latency" in set(signals["signal"])
        for _, sig in signals.iterrows():
            # A symptom (errors, latency) is where to look when no cause is strong: a strong cause ranks first.
            weight = 0.8 if sig["scenario"] in SYMPTOMS else 1.0
            if sig["signal"] == "traffic_drop" and slow:
                weight = 0.6  # slow answers serve fewer requests: the drop follows the latency, not an outage
            add(str(sig["scenario"]), weight * float(sig["strength"]), str(sig["text"]))
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


__all__ = ["NEXT_SCENARIO", "home_scenario", "next_scenarios", "compose", "people_timeline", "findings_table", "POSTMORTEM_OWN", "carried_findings"]
