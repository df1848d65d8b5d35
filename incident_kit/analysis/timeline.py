"""The incident timeline: events from every source merged, de-duplicated and reduced to the
moments a postmortem lists (change, first error, alert fired, incident start, peak, mitigation,
recovery), each with its source."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .rates import error_mask
from .context import text_of
from .signatures import messages_of
from .window import IncidentWindow, bounds, label, show

TIMELINE_COLUMNS = ["ts", "source", "kind", "text"]


def _from_window(w: IncidentWindow) -> list[dict[str, Any]]:
    if not w.found:
        return []
    metric = w.metric or "series"
    name = label(metric)
    rows = [{"ts": w.start, "source": "analysis", "kind": "incident_start",
             "text": f"{name} {'rose above' if (w.effect or 0) >= 0 else 'fell below'} its baseline of "
                     f"{show(w.baseline, metric)}"}]
    if w.peak is not None:
        rows.append({"ts": w.peak, "source": "analysis", "kind": "peak",
                     "text": f"{name} {'peaked' if (w.effect or 0) >= 0 else 'bottomed'} at {show(w.peak_value, metric)}"})
    if w.end is not None:
        rows.append({"ts": w.end, "source": "analysis", "kind": "recovery", "text": f"{name} back near its baseline"})
    return rows


def _from_logs(logs: pd.DataFrame, start: pd.Timestamp | None) -> list[dict[str, Any]]:
    """First error at or after the start (or first error of all), named by its message."""
    errors = logs[error_mask(logs).to_numpy(dtype=bool)]
    if not len(errors):
        return []
    ts = pd.to_datetime(errors["ts"], utc=True)
    if start is not None:
        errors = errors[np.array(ts >= start, dtype=bool)]
    if not len(errors):
        return []
    first = errors.iloc[[0]]
    text = str(messages_of(first).iloc[0])[:200]
    source = str(first["source"].iloc[0]) if "source" in first.columns and pd.notna(first["source"].iloc[0]) else (
        logs.attrs.get("source") or "logs")
    return [{"ts": first["ts"].iloc[0], "source": source, "kind": "first_error", "text": text}]


def _from_probes(probes: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for target, group in probes.sort_values("ts").groupby("target", sort=True):
        ok = group["ok"].astype(bool).to_numpy()
        if ok.all():
            continue
        first_bad = int((~ok).argmax())
        err = group["error"].iloc[first_bad] if "error" in group.columns else None
        rows.append({"ts": group["ts"].iloc[first_bad], "source": f"probe:{target}", "kind": "probe_failed",
                     "text": f"{target} failed" + (f": {err}" if isinstance(err, str) and err else "")})
        recovered = [i for i in range(first_bad + 1, len(ok)) if ok[i] and ok[i:].all()]
        if recovered:
            rows.append({"ts": group["ts"].iloc[recovered[0]], "source": f"probe:{target}", "kind": "probe_recovered",
                         "text": f"{target} answers again"})
    return rows


def _field(record: Any, name: str, default: str = "") -> str:
    return text_of(record.get(name), default)


def _from_events(events: pd.DataFrame) -> list[dict[str, Any]]:
    src = events.attrs.get("source") or "events"
    rows = []
    for _, ev in events.iterrows():
        text, ref = _field(ev, "text"), _field(ev, "ref") or None
        if ref and ref[:7] not in text:
            text = f"{text} ({ref[:10]})" if text else ref
        rows.append({"ts": ev["ts"], "source": _field(ev, "source", src), "kind": _field(ev, "kind", "event"),
                     "text": text, "ref": ref})
    return rows


_NO_END = ("0001-01-01", None, "")


def alert_rows(item: Any) -> list[dict[str, Any]] | None:
    """Return timeline rows for an alert (``alerts.Alert``, its dict, or an Alertmanager/Grafana
    payload with ``alerts``): fired at its start, resolved at its end; None if ``item`` is no alert."""
    if isinstance(item, Mapping) and isinstance(item.get("alerts"), list):
        rows: list[dict[str, Any]] = []
        for sub in item["alerts"]:
            rows += alert_rows(sub) or []
        return rows
    if hasattr(item, "starts_at") and hasattr(item, "labels"):
        item = item.to_dict() if hasattr(item, "to_dict") else vars(item)
    if not isinstance(item, Mapping):
        return None
    starts = item.get("starts_at", item.get("startsAt"))
    if starts is None:
        return None
    labels = item.get("labels") or {}
    notes = item.get("annotations") or {}
    name = item.get("name") or labels.get("alertname") or "alert"
    summary = notes.get("summary") or notes.get("description") or ""
    source = str(item.get("source") or "alert")
    rows = [{"ts": starts, "source": source, "kind": "alert", "text": f"{name} fired" + (f": {summary}" if summary else "")}]
    ends = item.get("ends_at", item.get("endsAt"))
    if str(item.get("status", "")).lower() == "resolved" and not any(str(ends or "").startswith(str(x)) for x in _NO_END if x):
        if ends:
            rows.append({"ts": ends, "source": source, "kind": "alert_resolved", "text": f"{name} resolved"})
    return rows


def _rows(item: Any, start: pd.Timestamp | None) -> list[dict[str, Any]]:
    if item is None:
        return []
    alerts = alert_rows(item) if not isinstance(item, pd.DataFrame | IncidentWindow) else None
    if alerts is not None:
        return alerts
    if isinstance(item, IncidentWindow):
        return _from_window(item)
    if isinstance(item, pd.DataFrame):
        if not len(item):
            return []
        if "ts" not in item.columns:
            raise ConfigError(f"timeline: a frame without a ts column (columns: {', '.join(map(str, item.columns))})")
        kind = item.attrs.get("kind")
        if kind == "probes" or {"target", "ok"} <= set(item.columns):
            return _from_probes(item)
        if kind == "logs" or ({"message", "level"} <= set(item.columns) and "text" not in item.columns):
            return _from_logs(item, start)
        if "text" in item.columns:
            return _from_events(item)
        raise ConfigError("timeline: a frame must be events (ts, kind, text), logs or probes")
    if isinstance(item, Mapping):
        if "ts" not in item:
            raise ConfigError(f"timeline: an event needs 'ts': {dict(item)!r}")
        return [{"ts": item["ts"], "source": str(item.get("source") or "notes"), "kind": str(item.get("kind") or "note"),
                 "text": str(item.get("text") or "")}]
    if isinstance(item, Iterable) and not isinstance(item, str | bytes):
        out = []
        for sub in item:
            out += _rows(sub, start)
        return out
    raise ConfigError(f"timeline: cannot read {type(item).__name__}; expected frames, IncidentWindow or event dicts")


def _relevant_commits(frame: pd.DataFrame, start: pd.Timestamp | None) -> pd.DataFrame:
    """Keep the commits that a deploy shipped (same ref) or, without deploy events, the last three
    before the start: a busy repository's other commits are not postmortem moments."""
    commits = np.array(frame["kind"].astype(str).str.lower() == "commit", dtype=bool)
    if not commits.any():
        return frame
    shipped = [str(r)[:7] for r, c in zip(frame["ref"], commits) if not c and isinstance(r, str) and len(r) >= 7]
    if shipped:
        keep = np.array([isinstance(r, str) and r[:7] in shipped for r in frame["ref"]], dtype=bool)
    else:
        before = commits & (np.array(frame["ts"] <= start, dtype=bool) if start is not None else True)
        keep = np.isin(np.arange(len(frame)), np.flatnonzero(before)[-3:])
    return frame[~commits | keep].reset_index(drop=True)


def timeline(
    *frames_or_events: Any,
    window: Any = None,
    lookback: str = "1h",
    after: str = "1h",
    dedup: str = "2min",
) -> pd.DataFrame:
    """Return the incident's timeline: columns ``ts``, ``source``, ``kind``, ``text``, sorted by ts.

    Accepts events frames (deploys, alerts, notes), logs frames (reduced to the first error),
    probes frames (first failure and recovery per target), IncidentWindows (start, peak,
    recovery), alerts (``alerts.Alert``, its dict, an Alertmanager or Grafana payload) and dicts
    ``{ts, kind, text, source}``. With ``window`` (an IncidentWindow or a
    ``(start, end)`` pair, also added to the timeline), moments more than ``lookback`` before its
    start or ``after`` past its end are dropped. The same kind and text within ``dedup`` is one
    moment. Raises ConfigError for input it cannot read.
    """
    start, end = bounds(window)
    rows: list[dict[str, Any]] = []
    for item in frames_or_events:
        rows += _rows(item, start)
    if isinstance(window, IncidentWindow) and not any(item is window for item in frames_or_events):
        rows += _from_window(window)
    frame = pd.DataFrame(rows, columns=[*TIMELINE_COLUMNS, "ref"])
    if not len(frame):
        return frame.astype({"ts": "datetime64[ns, UTC]"})
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, errors="coerce")
    if frame["ts"].isna().any():
        bad = rows[int(frame["ts"].isna().to_numpy().argmax())]
        raise ConfigError(f"timeline: {bad.get('kind')} event has an unreadable ts {bad.get('ts')!r}")
    if start is not None:
        frame = frame[frame["ts"] >= start - pd.Timedelta(lookback)]
    if end is not None:
        frame = frame[frame["ts"] <= end + pd.Timedelta(after)]
    frame = frame.sort_values(["ts", "kind"], kind="stable").reset_index(drop=True)
    frame = _relevant_commits(frame, start)
    gap = pd.Timedelta(dedup)
    keep, last_seen = [], {}
    for row in frame.itertuples(index=False):
        key = (row.kind, " ".join(str(row.text).split()).lower())
        prev = last_seen.get(key)
        keep.append(prev is None or row.ts - prev > gap)
        last_seen[key] = row.ts
    out = frame.loc[keep, TIMELINE_COLUMNS].reset_index(drop=True)
    out["ts"] = out["ts"].astype("datetime64[ns, UTC]")
    return out


__all__ = ["TIMELINE_COLUMNS", "alert_rows", "timeline"]
