"""Hypotheses: candidate causes of an incident, ranked with their evidence and a score."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import ConfigError
from . import causes
from .changes import changes
from .context import build
from .correlate import _as_series_map, correlate
from .window import bounds

HYPOTHESIS_COLUMNS = ["cause", "evidence", "score", "kind", "ref"]


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
        if code in before or share < 0.2:
            continue
        out.append({"cause": f"new error in the code path: {templates[code][:120]}", "kind": "new_error",
                    "ref": None, "score": round(0.15 + 0.3 * share, 3),
                    "evidence": f"{share:.0%} of the errors in the window match this template, never seen in the baseline"})
    return out[:3]


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
) -> pd.DataFrame:
    """Return candidate causes ranked best first: columns ``cause``, ``evidence``, ``score`` (0..1),
    ``kind``, ``ref``.

    ``window``: an IncidentWindow, a ``(start, end)`` pair or the start time. Each source is
    optional: ``events`` (deploys, config changes; a ``files`` column sharpens the match),
    ``logs`` (canonical logs: failing paths, messages, clients, volume), ``probes``,
    ``db_activity`` (PostgreSQL activity snapshots), ``connections`` (a connections metrics
    frame, ``{"used", "max"}`` or a use ratio), ``metrics`` (a metrics frame or series).
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
    frame = pd.DataFrame(found, columns=HYPOTHESIS_COLUMNS)
    if not len(frame):
        return frame.astype({"score": "float64"})
    frame["score"] = frame["score"].astype(float).clip(0, 1).round(3)
    frame["ref"] = pd.Series([r if isinstance(r, str) and r else None for r in frame["ref"]], dtype=object)
    frame = frame.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    return frame


__all__ = ["HYPOTHESIS_COLUMNS", "hypotheses"]
