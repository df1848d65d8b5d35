"""Hypotheses: candidate causes of an incident, ranked with their evidence and a score."""

from __future__ import annotations

import re
from typing import Any, Iterable

import pandas as pd

from ..errors import ConfigError
from . import causes, upstream
from .changes import changes
from .context import build
from .correlate import _as_series_map, correlate
from .window import bounds

HYPOTHESIS_COLUMNS = ["cause", "evidence", "score", "kind", "ref"]
#: An access log's request line ("POST /api/checkout HTTP/1.1") says which endpoint fails, not why.
_REQUEST_LINE = re.compile(r"^\s*(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+\S+(?:\s+HTTP/\S+)?(?:\s*->\s*HTTP\s*\S*)?\s*$")


def _new_errors(inc: Any) -> list[dict[str, Any]]:
    """A code path that started failing: an error signature absent from the baseline, when it dominates."""
    if not inc.top_signatures or inc.baseline_error_messages is None or inc.start is None:
        return []
    if inc.before is None or not inc.before.any():
        return []  # nothing to be new against
    from .signatures import mine

    msgs = pd.concat([inc.error_messages, inc.baseline_error_messages], ignore_index=True)
    codes, templates = mine(msgs)
    before = set(codes[len(inc.error_messages):].tolist())
    out = []
    n = len(inc.error_messages)
    counts = pd.Series(codes[:n]).value_counts()
    for code, count in counts.items():
        share = count / n
        if code in before or share < 0.2 or _REQUEST_LINE.match(templates[code]):
            continue
        out.append({"cause": f"new error in the code path: {templates[code][:120]}", "kind": "new_error",
                    "ref": None, "score": round(0.15 + 0.3 * share, 3),
                    "evidence": f"{share:.0%} of the errors in the window match this template, never seen in the baseline"})
    return out[:3]


def _merge_dependencies(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return ``found`` with one dependency hypothesis per remote end: the best scored, with the
    other findings' evidence added (raised by 0.05 when probes and log lines agree)."""
    out: list[dict[str, Any]] = []
    kept: dict[str, dict[str, Any]] = {}
    for h in sorted(found, key=lambda h: -float(h["score"])):
        key = str(h.get("ref") or "").lower() if h.get("kind") == "dependency" else ""
        if not key or key not in kept:
            h = dict(h)
            out.append(h)
            if key:
                kept[key] = h
            continue
        first = kept[key]
        if h["evidence"] not in first["evidence"]:
            first["evidence"] += "; " + h["evidence"]
            if "probes" in first["evidence"] and "lines name" in first["evidence"]:
                first["score"] = round(min(0.95, float(first["score"]) + 0.05), 3)
    return out


def hypotheses(
    *,
    window: Any,
    events: pd.DataFrame | None = None,
    logs: pd.DataFrame | None = None,
    probes: pd.DataFrame | None = None,
    db_activity: pd.DataFrame | None = None,
    connections: Any = None,
    metrics: Any = None,
    baseline: str = "2h",
    change_decay_min: float = 30.0,
    dependency_names: Iterable[str] = (),
) -> pd.DataFrame:
    """Return candidate causes ranked best first: columns ``cause``, ``evidence``, ``score`` (0..1),
    ``kind``, ``ref``.

    ``window``: an IncidentWindow, a ``(start, end)`` pair or the start time. Each source is
    optional: ``events`` (deploys, config changes; a ``files`` column sharpens the match),
    ``logs`` (canonical logs: failing paths, messages, clients, volume), ``probes``,
    ``db_activity`` (PostgreSQL activity snapshots), ``connections`` (a connections metrics
    frame, ``{"used", "max"}`` or a use ratio), ``metrics`` (a metrics frame or series).
    An upstream that warning/error lines start to name with the incident (in the message or a
    field like ``upstream``; ``dependency_names`` adds words such as ``stripe``) is a dependency;
    a change after the start never outranks it (it cannot have caused the incident).
    Kinds: deploy/commit/config (a change shortly before the start that touches what fails
    ranks first; decays over ``change_decay_min``), dependency, saturation, lock_contention,
    traffic_surge, bad_client, new_error, correlated. Raises ConfigError for unusable input.
    """
    start, end = bounds(window)
    for name, frame in (("events", events), ("logs", logs), ("probes", probes), ("db_activity", db_activity)):
        if frame is not None and not isinstance(frame, pd.DataFrame):
            raise ConfigError(f"hypotheses: {name} must be a DataFrame, got {type(frame).__name__}")
    try:
        pd.Timedelta(baseline)
    except (TypeError, ValueError):
        raise ConfigError(f"hypotheses: baseline={baseline!r} is not a duration such as '2h'") from None
    inc = build(logs, start, end, baseline)
    series = _as_series_map(metrics) if metrics is not None else {}
    found: list[dict[str, Any]] = []
    found += changes(events, inc, tau_min=change_decay_min)
    found += causes.dependencies(probes, inc)
    found += upstream.hypotheses(inc, names=dependency_names)
    found += causes.saturation(connections, None, inc, series)
    found += causes.locks(db_activity, inc, connections)
    found += causes.surge(inc)
    found += causes.clients(inc)
    found += _new_errors(inc)
    if series and start is not None:
        covered = {h.get("ref") for h in found}
        moved = correlate(series, start)
        for _, row in moved.head(5).iterrows():
            if row["series"] in covered or row["score"] < 0.3:
                continue
            lag = row["lag_s"]
            found.append({"cause": f"{row['series']} moved with the incident", "kind": "correlated", "ref": row["series"],
                          "score": round(0.1 + 0.3 * float(row["score"]), 3),
                          "evidence": f"{row['series']} went {row['direction']} from {row['baseline']:.4g} to "
                                      f"{row['peak_value']:.4g}, {abs(lag):.0f} s {'after' if lag >= 0 else 'before'} the start"})
    frame = pd.DataFrame(_merge_dependencies(found), columns=HYPOTHESIS_COLUMNS)
    if not len(frame):
        return frame.astype({"score": "float64"})
    frame["score"] = frame["score"].astype(float).clip(0, 1).round(3)
    frame["ref"] = pd.Series([r if isinstance(r, str) and r else None for r in frame["ref"]], dtype=object)
    frame = frame.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    return frame


__all__ = ["HYPOTHESIS_COLUMNS", "hypotheses"]
