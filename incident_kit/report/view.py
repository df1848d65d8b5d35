"""What a postmortem says, formatted once for both renderings (report.html and report.md).

:func:`build` turns a run's summary.json content and its executed notebook into plain-text
values (times as ``07:22 UTC``, percentages, counts with separators) and the evidence sections
each hypothesis rests on. Renderers escape these values; nothing here is markup.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import pandas as pd

from . import present

#: Findings recorded by people (the postmortem scenario) fill their own sections, not the summary.
PEOPLE_KINDS = {"resolution": "resolution", "action_items": "action_items", "lessons": "lessons",
                "root_cause": "root_cause"}
#: Which findings (by kind) support a hypothesis (by kind).
SUPPORT = {
    "deploy": ("change", "config", "build", "difference", "error", "app_error"),
    "config": ("config", "change", "difference"),
    "change": ("change", "config", "difference"),
    "new_error": ("error", "app_error", "worker_error", "crash", "difference"),
    "lock_contention": ("database", "locks", "holders", "transactions", "long_queries", "stuck", "statements"),
    "saturation": ("resources", "host", "disk_usage", "processes", "oom", "pool", "database", "queues", "workers"),
    "traffic_surge": ("traffic", "impact", "difference", "endpoint"),
    "bad_client": ("difference", "traffic", "auth", "endpoint"),
    "dependency": ("dependencies", "provider", "probes", "layers", "redis", "redis_activity", "queues", "error"),
    "correlated": ("dependencies", "provider", "probes", "layers", "resources", "error"),
}
IMPACT_ORDER = ["requests_total", "requests_failed", "error_rate", "users_affected", "clients_affected",
                "duration_min", "start", "end", "ongoing", "slo", "error_budget_minutes", "error_budget_used",
                "first_alert", "mttd_min", "recovered_at", "time_to_recover_min"]
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$", re.M)
_UNESCAPE = re.compile(r"\\(.)")


def _slug(text: str, taken: set[str]) -> str:
    base = "ev-" + (re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "section")
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def sections(nb: Any, findings: list[Mapping[str, Any]], removed: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Return the evidence sections of notebook ``nb``: ``anchor``, ``title``, ``kinds`` (findings shown there), ``cell``.

    A section starts at each Markdown heading of a kept cell; the heading cell's metadata gets
    ``ik_anchor`` so the HTML template can put the anchor there.
    """
    out: list[dict[str, Any]] = []
    taken: set[str] = set()
    current: dict[str, Any] | None = None
    titles = [(f.get("kind"), str(f.get("title") or "")[:60]) for f in findings if f.get("title")]
    for index, cell in enumerate(nb.cells):
        if set(cell.get("metadata", {}).get("tags", [])) & removed:
            continue
        if cell.cell_type == "markdown":
            m = _HEADING.search(cell.source)
            if m:
                current = {"anchor": _slug(m.group(2), taken), "title": m.group(2).strip(), "kinds": set(), "text": "", "cell": index}
                cell.metadata["ik_anchor"] = current["anchor"]
                out.append(current)
            continue
        if current is None:
            continue
        for o in cell.get("outputs", []):
            md = (o.get("data") or {}).get("text/markdown")
            text = _UNESCAPE.sub(r"\1", "".join(md) if isinstance(md, list) else md) if md else ""
            current["text"] += text + "\n"
            current["kinds"].update(k for k, t in titles if t and t in text)
    return out


def _links(h: Mapping[str, Any], found: list[dict[str, Any]]) -> list[dict[str, str]]:
    kinds = set(SUPPORT.get(str(h.get("kind") or ""), ()))
    ref = str(h.get("ref") or "")[:10]
    links = [{"anchor": s["anchor"], "title": s["title"]} for s in found if "cause" not in s["kinds"]
             and (s["kinds"] & kinds or (len(ref) >= 7 and ref in s["text"]))]
    return links[:4]


def _impact(imp: Mapping[str, Any]) -> list[dict[str, str]]:
    core = {"requests_total", "requests_failed", "error_rate", "users_affected"}
    keys = [k for k in IMPACT_ORDER if k in imp] + [k for k in imp if k not in IMPACT_ORDER]
    rows = []
    for k in keys:
        v = imp.get(k)
        if v is None and k not in core:
            continue
        if k == "ongoing" and not v:
            continue
        if v is None:
            text = "unknown"
        elif k in ("start", "end", "first_alert", "recovered_at"):
            text = present.when(v, seconds=False)
        else:
            text = present.value(k, v)
        rows.append({"label": present.label(k), "value": text})
    return rows


def _reference(timeline: list[Mapping[str, Any]], start: Any) -> present.Reference | None:
    """Return the last deploy before the incident started (2 min of slack), else the start itself."""
    limit = pd.Timestamp(start) + pd.Timedelta(minutes=2) if start else None
    deploys = [pd.Timestamp(t["ts"]) for t in timeline if t.get("kind") == "deploy" and t.get("ts")]
    before = [d for d in deploys if limit is None or d <= limit]
    if before:
        return present.Reference(max(before), "the deploy")
    return present.Reference(pd.Timestamp(start), "the start") if start else None


def build(summary: Mapping[str, Any], nb: Any = None, removed: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Return the postmortem's view: plain-text values for the title block and every section.

    ``nb`` (the executed notebook, optional) gives the evidence sections the hypotheses link to.
    """
    s = summary
    window = s.get("window") or {}
    start, end = window.get("start"), window.get("end")
    finished = s.get("finished_at")
    findings = list(s.get("findings") or [])
    found = sections(nb, findings, removed) if nb is not None else []
    ref = _reference(s.get("timeline") or [], start)
    measured = (s.get("impact") or {}).get("duration_min")
    if start:
        stop = end or (s.get("alert") or {}).get("ends_at")
        if stop:
            duration = present.duration((pd.Timestamp(stop) - pd.Timestamp(start)).total_seconds())
        elif isinstance(measured, int | float):
            duration = present.duration(measured * 60) + ", still going on when investigated"
        else:
            seconds = (pd.Timestamp(finished) - pd.Timestamp(start)).total_seconds() if finished else None
            duration = (present.duration(seconds) if seconds is not None else "unknown") + " so far, still going on"
        when = f"{present.when(start, seconds=False)} to {present.when(end, seconds=False) if end else 'ongoing'}"
        date = pd.Timestamp(start).strftime("%Y-%m-%d")
    else:
        duration, when, date = "unknown", "unknown", (str(s.get("started_at") or "")[:10] or "unknown")
    seen: set[str] = set()
    points = []
    for f in findings:
        title = str(f.get("title") or "").strip()
        if f.get("kind") in ("severity",) or f.get("kind") in PEOPLE_KINDS or not title or title in seen:
            continue
        seen.add(title)
        detail = str(f.get("detail") or "").strip()
        sep = "" if not detail else (" " if title[-1:] in ".!?:" or detail[:1] in "([" else ": ")
        points.append(present.times_in_text(title + sep + detail))
    people = {name: [line.strip() for f in findings if f.get("kind") == kind
                     for line in str(f.get("evidence") or "").split("\n") if line.strip()]
              for kind, name in PEOPLE_KINDS.items()}
    return {
        "title": s.get("headline") or "No headline was recorded",
        "scenario": s.get("scenario") or "", "run_id": s.get("run_id") or "",
        "severity": s.get("severity"), "severity_reason": present.times_in_text(str(s.get("severity_reason") or "")),
        "status": s.get("status") or "unknown", "date": date, "window": when, "duration": duration,
        "error": s.get("error"), "degraded": list(s.get("degraded_reasons") or []),
        "points": points, "impact": _impact(s.get("impact") or {}),
        "timeline": [{"time": present.when(t.get("ts"), ref), "source": str(t.get("source") or ""),
                      "what": str(t.get("kind") or "").replace("_", " "), "text": present.times_in_text(str(t.get("text") or ""))}
                     for t in s.get("timeline") or []],
        "hypotheses": [{"cause": str(h.get("cause") or ""), "score": f"{float(h.get('score') or 0):.2f}",
                        "evidence": present.times_in_text(str(h.get("evidence") or "")), "links": _links(h, found)}
                       for h in (s.get("hypotheses") or [])[:8]],
        "sections": [{"anchor": x["anchor"], "title": x["title"]} for x in found],
        "people": people,
        "sources": [{"name": str(x.get("name") or ""), "status": str(x.get("status") or ""),
                     "rows": present.number(x["rows"]) if isinstance(x.get("rows"), int | float) else present.EMPTY,
                     "truncated": "yes" if x.get("truncated") else "no",
                     "rejected": present.number(x.get("rejected") or 0), "reason": str(x.get("error") or "")}
                    for x in s.get("sources") or []],
        "notes": [str(n) for n in s.get("notes") or []],
        "version": s.get("incident_kit_version") or "",
        "started_at": present.when(s.get("started_at"), with_date=True) if s.get("started_at") else "",
        "finished_at": present.when(finished, with_date=True) if finished else "",
        "resolved_at": present.when(s.get("resolved_at"), with_date=True) if s.get("resolved_at") else "",
    }


__all__ = ["build", "sections", "PEOPLE_KINDS", "SUPPORT"]
