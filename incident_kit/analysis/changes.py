"""Changes as causes: deploys, commits and config changes, scored by how shortly before the start
they happened and by how much of what fails they touch."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..timeutil import iso
from .context import Incident, related, text_of, words

Hypothesis = dict[str, Any]

#: Event kinds that are not changes (they never become a change hypothesis).
NOT_CHANGES = frozenset({"alert", "alert_resolved", "resolved", "firing", "note", "mitigation", "recovery", "incident", "page"})


def _minutes(delta: pd.Timedelta) -> str:
    m = delta / pd.Timedelta(minutes=1)
    if abs(m) < 1:
        return f"{abs(delta / pd.Timedelta(seconds=1)):.0f} s"
    if abs(m) < 120:
        return f"{abs(m):.0f} min"
    return f"{abs(m) / 60:.1f} h"


def _merge_by_ref(events: pd.DataFrame) -> pd.DataFrame:
    """Return one row per change: a git commit and the deploy event of the same ref become one
    (the deploy's time and kind, the commit's files and subject added to the text)."""
    if "ref" not in events.columns or not events["ref"].notna().any():
        return events
    rows: list[dict[str, Any]] = []
    by_ref: dict[str, int] = {}
    for rec in events.to_dict("records"):
        ref = text_of(rec.get("ref"), "").strip().lower()
        key = next((k for k in by_ref if ref and len(ref) >= 7 and (k.startswith(ref) or ref.startswith(k))), None)
        if key is None:
            if ref:
                by_ref[ref] = len(rows)
            rows.append(dict(rec))
            continue
        kept = rows[by_ref[key]]
        deploy_new = text_of(rec.get("kind")).lower() == "deploy" and text_of(kept.get("kind")).lower() != "deploy"
        first, second = (rec, kept) if deploy_new else (kept, rec)
        merged = dict(first)
        extra_text = text_of(second.get("text"), "")
        if extra_text and extra_text not in text_of(first.get("text"), ""):
            merged["text"] = f"{text_of(first.get('text'))} ({extra_text})".strip()
        for col in ("files", "paths", "changed_files"):
            a, b = first.get(col), second.get(col)
            if isinstance(b, list | tuple | np.ndarray) and not isinstance(a, list | tuple | np.ndarray):
                merged[col] = list(b)
        if len(text_of(second.get("ref"), "")) > len(text_of(merged.get("ref"), "")):
            merged["ref"] = second.get("ref")
        rows[by_ref[key]] = merged
    return pd.DataFrame(rows)


def changes(events: pd.DataFrame | None, inc: Incident, *, tau_min: float = 30.0) -> list[Hypothesis]:
    """Deploys and config changes: the closer before the start and the more related to what fails, the higher."""
    if events is None or not len(events) or "ts" not in events.columns:
        return []
    events = _merge_by_ref(events)
    out = []
    clues = inc.path_words | inc.message_words
    reference = inc.start
    if reference is None and inc.logs is not None and len(inc.logs):
        reference = pd.to_datetime(inc.logs["ts"], utc=True).max()
    for _, ev in events.iterrows():
        kind = text_of(ev.get("kind"), "change").lower()
        if kind in NOT_CHANGES or kind.startswith("alert"):
            continue
        ts = pd.Timestamp(ev["ts"])
        if pd.isna(ts):
            continue
        text = text_of(ev.get("text"), "")
        ref = text_of(ev.get("ref"), "") or None
        touched = words(text)
        for extra in ("files", "paths", "changed_files", "service", "component", "app"):
            if extra in ev.index:
                touched |= words(ev[extra])
        matched = sorted(related(touched, clues))
        strong = related(touched, inc.path_words)
        rel = 1.0 if strong else (0.7 if len(matched) >= 2 else (0.5 if matched else 0.0))
        if not rel and any(s and s in text.lower() for s in inc.services):
            rel = 0.2
        label = f"{kind} {ref[:10]}" if ref else kind
        subject = text if len(text) <= 100 else text[:97] + "..."
        if reference is None:
            score, when = 0.1, f"at {iso(ts)}"
        else:
            dt = reference - ts
            if dt < -pd.Timedelta(minutes=2):
                out.append({"cause": f"{label}: {subject}", "kind": kind, "ref": ref, "score": 0.05,
                            "evidence": f"{kind} at {iso(ts)}, {_minutes(dt)} after the incident started: it cannot have caused it"})
                continue
            closeness = math.exp(-max(dt / pd.Timedelta(minutes=1), 0.0) / tau_min)
            # Relatedness counts in proportion to closeness: an old change that touched the same
            # code is still an old change.
            # Without an incident window nothing ties a change to an incident: never "most likely".
            score = (0.1 + closeness * (0.55 + 0.3 * rel) + 0.05 * rel) if inc.start is not None else 0.1 + 0.15 * closeness
            when = (f"{_minutes(dt)} before the incident started ({iso(ts)} -> {iso(inc.start)})"
                    if inc.start is not None else f"{_minutes(dt)} before the last log line")
        evidence = f"{kind} {when}"
        if matched:
            evidence += f"; touches what fails: {', '.join(matched[:6])}"
        elif rel:
            evidence += "; same service as the failing requests"
        else:
            evidence += "; nothing in it names what fails"
        out.append({"cause": f"{label}: {subject}", "evidence": evidence, "score": min(score, 0.99), "kind": kind, "ref": ref})
    return out


__all__ = ["NOT_CHANGES", "changes"]
