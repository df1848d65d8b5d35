"""Evidence about configuration: what changed or is missing, and build failures."""

from __future__ import annotations

import re
from typing import Any, Iterable

import pandas as pd

from .resources import _settings

BUILD_ERROR = re.compile(r"\berror\b|cannot find module|module not found|failed to compile|build failed|"
                         r"exit code [1-9]|syntaxerror|typeerror|ts\d{4}", re.I)

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
    from ...frames import conform

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


__all__ = ["BUILD_ERROR", "config_changes", "config_events", "build_failures"]
