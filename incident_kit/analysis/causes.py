"""Candidate causes, one finder per kind; each returns hypotheses as dicts (cause, evidence, score, kind, ref).

Scores are on one scale (0..1) so that the finders can be ranked together: evidence that ties a
cause to the start of the incident scores high, mere presence scores low.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from ..redact_io import clip
from ..timeutil import iso
from .changes import _minutes
from .context import Incident
from .upstream import FAILURE_WORDS, counts

Hypothesis = dict[str, Any]

_LOCK = re.compile(r"lock timeout|lock wait|deadlock|could not obtain lock|canceling statement due to lock|"
                   r"could not serialize|lock not available|waiting for lock", re.I)
_RESOURCE = re.compile(r"disk|filesystem|fs_|volume|memory|mem_|ram|swap|cpu|inode", re.I)
_RATIO_NAME = re.compile(r"ratio|percent|pct|usage|utili[sz]ation|used|use\b|fraction|saturation", re.I)
_QUEUE = re.compile(r"queue|backlog|pending|lag|depth|waiting|enqueued", re.I)
#: What the errors say when a resource runs out (corroborates a saturated reading of that resource).
_RESOURCE_ERRORS = (
    (re.compile(r"disk|filesystem|fs_|volume|inode", re.I),
     re.compile(r"no space left|ENOSPC|errno 28|disk (?:is )?full|quota exceeded|read-only file ?system", re.I)),
    (re.compile(r"memory|mem_|ram|swap", re.I),
     re.compile(r"out of memory|MemoryError|cannot allocate memory|ENOMEM|\boom\b", re.I)),
)


def _corroborated(name: str, inc: Incident) -> tuple[float, str]:
    """Return (share of the window's errors that say this resource ran out, an example)."""
    if inc.error_messages is None or not len(inc.error_messages):
        return 0.0, ""
    for resource, says in _RESOURCE_ERRORS:
        if resource.search(name):
            hits = inc.error_messages.astype("string").str.contains(says, regex=True).fillna(False)
            if hits.any():
                return float(hits.mean()), str(inc.error_messages[hits.to_numpy(dtype=bool)].iloc[0])
    return 0.0, ""


def dependencies(probes: pd.DataFrame | None, inc: Incident) -> list[Hypothesis]:
    """A failing dependency: probes that fail in the window, third-party hosts named by the errors."""
    out: list[Hypothesis] = []
    if probes is not None and len(probes) and {"target", "ok"} <= set(probes.columns):
        frame = probes
        if inc.start is not None and "ts" in frame.columns:
            ts = pd.to_datetime(frame["ts"], utc=True)
            keep = ts >= inc.start - pd.Timedelta(minutes=5)
            if inc.end is not None:
                keep &= ts < inc.end
            frame = frame[keep.to_numpy(dtype=bool)]
        for target, group in frame.groupby("target", sort=True):
            failed = ~group["ok"].astype(bool)
            if not failed.any():
                continue
            share = float(failed.mean())
            if share < 0.2:
                continue
            errs = group.loc[failed, "error"].dropna().astype(str) if "error" in group.columns else pd.Series([], dtype=str)
            why = f": {errs.value_counts().index[0]}" if len(errs) else ""
            kind = str(group["kind"].iloc[0]) if "kind" in group.columns else "probe"
            out.append({"cause": f"dependency {target} failing", "kind": "dependency", "ref": str(target),
                        "score": round(0.3 + 0.6 * share, 3),
                        "evidence": f"{int(failed.sum())} of {len(group)} {kind} probes of {target} failed{why}"})
    if inc.error_messages is not None and len(inc.error_messages):
        now = counts(inc.error_messages)
        before = counts(inc.baseline_error_messages) if inc.baseline_error_messages is not None else {}
        total = len(inc.error_messages)
        total_before = max(1, len(inc.baseline_error_messages) if inc.baseline_error_messages is not None else 0)
        for key, (count, example, label) in sorted(now.items(), key=lambda kv: -kv[1][0])[:5]:
            share = count / total
            share_before = before.get(key, (0, "", ""))[0] / total_before
            if share < 0.1 or share <= 2 * share_before:
                continue
            bonus = 0.1 if FAILURE_WORDS.search(example) else 0.0
            out.append({"cause": f"dependency {label} failing", "kind": "dependency", "ref": key,
                        "score": round(min(0.85, 0.2 + 0.6 * share * (1 - share_before) + bonus), 3),
                        "evidence": f"{share:.0%} of the errors in the window name {label} "
                                    f"({share_before:.0%} before), e.g. {clip(example, 160)!r}"})
    return out


def _use_ratio(connections: Any) -> tuple[float, str] | None:
    """Return (use ratio, description) from a connections metrics frame, a dict or a number."""
    if connections is None:
        return None
    if isinstance(connections, int | float):
        return float(connections), f"{float(connections):.0%} of usable connections in use"
    if isinstance(connections, dict):
        used, top = connections.get("used", connections.get("total")), connections.get("max", connections.get("max_connections"))
        if used is not None and top:
            return float(used) / float(top), f"{used} of {top} connections in use"
        return None
    if isinstance(connections, pd.DataFrame) and len(connections):
        if "metric" in connections.columns:
            by = connections.groupby("metric")["value"]
            if "connections_use_ratio" in by.groups:
                ratio = float(by.get_group("connections_use_ratio").max())
                total = by.get_group("connections_total").max() if "connections_total" in by.groups else None
                top = by.get_group("max_connections").max() if "max_connections" in by.groups else None
                text = f"{total:.0f} of {top:.0f} connections in use" if total is not None and top is not None else ""
                return ratio, (text + f" ({ratio:.0%} of usable)").strip()
        if "use_ratio" in connections.attrs:
            ratio = float(connections.attrs["use_ratio"])
            return ratio, f"{connections.attrs.get('total')} of {connections.attrs.get('max_connections')} connections in use"
    return None


#: Error messages that say a resource ran out: (pattern, ref, cause).
EXHAUSTION = (
    (re.compile(r"too many connections|remaining connection slots|connection pool (?:is )?exhausted|pool exhausted|"
                r"QueuePool limit|too many clients|connection limit exceeded|max_user_connections|"
                r"Connection is not available, request timed out", re.I),  # the last: HikariCP's pool timeout
     "connections", "database connections exhausted"),
    (re.compile(r"no space left on device|ENOSPC|disk (?:is )?full|disk quota exceeded", re.I), "disk", "disk full"),
    (re.compile(r"out of memory|cannot allocate memory|MemoryError|\bOOM\b|oom-kill|killed process", re.I),
     "memory", "memory exhausted"),
    (re.compile(r"too many open files|EMFILE", re.I), "file_descriptors", "file descriptors exhausted"),
)


def _exhaustion_messages(inc: Incident) -> list[Hypothesis]:
    """Resources the errors of the window say ran out."""
    msgs = inc.error_messages
    if msgs is None or not len(msgs) or not inc.errors_elevated:
        return []
    out = []
    for pattern, ref, cause in EXHAUSTION:
        hits = msgs.str.contains(pattern, regex=True).fillna(False)
        share = float(hits.mean())
        if share < 0.05:
            continue
        out.append({"cause": cause, "kind": "saturation", "ref": ref, "score": round(min(0.8, 0.35 + 0.5 * share), 3),
                    "evidence": f"{share:.0%} of the errors in the window say so, e.g. {clip(msgs[hits].iloc[0], 160)!r}"})
    return out


def _merge_by_ref_score(found: list[Hypothesis]) -> list[Hypothesis]:
    """One hypothesis per ref: the best scored, raised by 0.1 when other evidence agrees."""
    merged: dict[Any, Hypothesis] = {}
    for h in sorted(found, key=lambda h: -h["score"]):
        kept = merged.get(h["ref"])
        if kept is None:
            merged[h["ref"]] = dict(h)
        else:
            kept["evidence"] += "; " + h["evidence"]
            kept["score"] = round(min(0.95, kept["score"] + 0.1), 3)
    return list(merged.values())


def saturation(connections: Any, metrics: pd.DataFrame | None, inc: Incident,
               series: dict[str, pd.Series] | None = None) -> list[Hypothesis]:
    """Saturation: connections near the maximum, disk/memory/CPU over 90%, a queue growing."""
    out: list[Hypothesis] = []
    use = _use_ratio(connections)
    if use is not None and use[0] >= 0.8:
        ratio, text = use
        out.append({"cause": "database connections exhausted" if ratio >= 0.95 else "database connections near the maximum",
                    "kind": "saturation", "ref": "connections",
                    "score": round(0.35 + 0.5 * min(1.0, (ratio - 0.8) / 0.2), 3), "evidence": text})
    for name, s in (series or {}).items():
        s = s.dropna()
        if not len(s):
            continue
        inside = s[s.index >= inc.start] if inc.start is not None else s
        if inc.end is not None:
            inside = inside[inside.index < inc.end]
        if not len(inside):
            continue
        before = s[s.index < inc.start] if inc.start is not None else s.iloc[:0]
        if _RESOURCE.search(name) and (_RATIO_NAME.search(name) or inside.max() <= 100):
            top = float(inside.max())
            ratio = top / 100.0 if top > 1.0 else top
            if ratio > 0.9 and top <= 100:
                # A full resource that the errors name ("No space left on device" for a disk) is
                # the one that fails requests; a busy CPU beside it is not.
                share, example = _corroborated(name, inc)
                evidence = f"{name} reached {ratio:.0%} at {iso(inside.idxmax())}"
                if share:
                    evidence += f"; {share:.0%} of the errors in the window say it ran out, e.g. {example[:140]!r}"
                out.append({"cause": f"resource saturated: {name}", "kind": "saturation", "ref": name,
                            "score": round(0.35 + 0.5 * min(1.0, (ratio - 0.9) / 0.1) + 0.12 * min(1.0, share / 0.5), 3),
                            "evidence": evidence})
        elif _QUEUE.search(name):
            base = float(before.median()) if len(before) else float(inside.iloc[0])
            last = float(inside.iloc[-1])
            growth = (last + 1.0) / (base + 1.0)
            rising = len(inside) >= 3 and np.polyfit(np.arange(len(inside)), inside.to_numpy(dtype=float), 1)[0] > 0
            if growth >= 2 and last - base >= 10 and rising:
                out.append({"cause": f"queue growing: {name}", "kind": "saturation", "ref": name,
                            "score": round(0.3 + 0.4 * min(1.0, math.log2(growth) / 4), 3),
                            "evidence": f"{name} grew from {base:.0f} to {last:.0f} ({growth:.1f}x) during the window"})
    from_messages = [h for h in _exhaustion_messages(inc)
                     if not any(h["ref"] in ("disk", "memory") and _same_resource(h["ref"], o["ref"]) for o in out)]
    return _merge_by_ref_score(out + from_messages)


def _same_resource(kind: str, name: Any) -> bool:
    """True when metric ``name`` measures the resource ``kind`` ("disk" or "memory")."""
    pattern = r"disk|filesystem|fs_|volume|inode" if kind == "disk" else r"memory|mem_|ram|swap"
    return bool(re.search(pattern, str(name or ""), re.I))


def _per_snapshot(activity: pd.DataFrame, mask: pd.Series) -> pd.Series:
    if "ts" not in activity.columns:
        return pd.Series([int(mask.sum())])
    return mask.groupby(pd.to_datetime(activity["ts"], utc=True)).sum().sort_index()


def _idle_in_transaction(connections: Any) -> pd.Series | None:
    """Return sessions idle in transaction per snapshot from a connections-by-state metrics frame."""
    if not isinstance(connections, pd.DataFrame) or not len(connections):
        return None
    if not {"metric", "value", "state"} <= set(connections.columns):
        return None
    rows = connections[(connections["metric"] == "connections").fillna(False).to_numpy(dtype=bool)]
    if not len(rows):
        return None
    idle = rows["value"].where((rows["state"].astype("string") == "idle in transaction").fillna(False), 0.0)
    return idle.groupby(pd.to_datetime(rows["ts"], utc=True)).sum().sort_index()


def locks(db_activity: pd.DataFrame | None, inc: Incident, connections: Any = None) -> list[Hypothesis]:
    """Lock contention: lock errors in the window, sessions waiting on locks, transactions left idle."""
    evidence, score = [], 0.2
    trend = _idle_in_transaction(connections)
    idle_seen = False
    if trend is not None and trend.max() > 0:
        idle_seen = True
        rising = len(trend) >= 2 and trend.iloc[-1] > trend.iloc[0]
        if rising or trend.max() >= 3:
            score += 0.15
        evidence.append(f"connections idle in transaction rising from {trend.iloc[0]:.0f} to {trend.iloc[-1]:.0f}"
                        if rising else f"{trend.max():.0f} connections idle in transaction")
    if inc.error_messages is not None and len(inc.error_messages):
        hits = inc.error_messages.str.contains(_LOCK, regex=True).fillna(False)
        if hits.any():
            share = float(hits.mean())
            score += 0.35 * share + 0.05
            evidence.append(f"{share:.0%} of the errors in the window are lock errors, e.g. "
                            f"{str(inc.error_messages[hits].iloc[0])[:140]!r}")
    if db_activity is not None and len(db_activity):
        act = db_activity
        waiting = (act.get("wait_event_type", pd.Series(index=act.index, dtype="string")).astype("string") == "Lock").fillna(False)
        if "blocked_by" in act.columns:
            waiting |= act["blocked_by"].map(lambda b: isinstance(b, list | tuple | np.ndarray) and len(b) > 0).astype(bool)
        blocked = _per_snapshot(act, waiting)
        if blocked.max() > 0:
            score += 0.15
            evidence.append(f"up to {int(blocked.max())} sessions waiting on a lock")
        idle_tx = (act.get("state", pd.Series(index=act.index, dtype="string")).astype("string") == "idle in transaction").fillna(False)
        counts = _per_snapshot(act, idle_tx)
        if counts.max() > 0 and not idle_seen:
            rising = len(counts) >= 2 and counts.iloc[-1] > counts.iloc[0]
            text = (f"sessions idle in transaction rising from {int(counts.iloc[0])} to {int(counts.iloc[-1])}"
                    if rising else f"{int(counts.max())} sessions idle in transaction")
            if "xact_start" in act.columns and "ts" in act.columns and idle_tx.any():
                age = (pd.to_datetime(act.loc[idle_tx, "ts"], utc=True) - pd.to_datetime(act.loc[idle_tx, "xact_start"], utc=True)).max()
                if pd.notna(age):
                    text += f", the oldest open for {_minutes(age)}"
            if rising or counts.max() >= 3:
                score += 0.15
            evidence.append(text)
    if not evidence:
        return []
    holders = _lock_holders(db_activity) if db_activity is not None and len(db_activity) else []
    cause = "lock contention in the database"
    if holders:
        pid, waiting, what = holders[0]
        cause += f": pid {pid}{f' ({what})' if what else ''} blocks {waiting} session{'s' if waiting != 1 else ''}"
    return [{"cause": cause, "kind": "lock_contention", "ref": holders[0][0] if holders else None,
             "score": round(min(score, 0.8), 3), "evidence": "; ".join(evidence)}]


def _lock_holders(act: pd.DataFrame) -> list[tuple[int, int, str]]:
    """Return ``(pid, sessions waiting on it, application and state)`` of the sessions others wait on
    that wait on nobody themselves (the heads of the lock queues), most waited-on first."""
    if not {"pid", "blocked_by"} <= set(act.columns):
        return []
    waiters: dict[int, set[int]] = {}
    waiting: set[int] = set()
    for pid, blockers in zip(act["pid"], act["blocked_by"]):
        if isinstance(blockers, list | tuple | np.ndarray) and len(blockers) and pd.notna(pid):
            waiting.add(int(pid))
            for b in blockers:
                waiters.setdefault(int(b), set()).add(int(pid))
    heads = sorted(((b, len(w)) for b, w in waiters.items() if b not in waiting), key=lambda x: (-x[1], x[0]))
    out = []
    for pid, n in heads:
        rows = act[act["pid"] == pid]
        what = ""
        if len(rows):
            row = rows.iloc[-1]
            what = ", ".join(str(row[c]) for c in ("application_name", "state") if c in act.columns and pd.notna(row[c]) and str(row[c]))
        out.append((pid, n, what))
    return out


def surge(inc: Incident) -> list[Hypothesis]:
    """A traffic surge: requests per minute well above the baseline."""
    if not inc.has_logs or inc.before is None or not inc.before.any():
        return []
    requests = inc.requests if inc.requests is not None else np.ones(len(inc.logs), dtype=bool)  # type: ignore[arg-type]
    inside, before = inc.inside & requests, inc.before & requests
    if not inside.any() or not before.any():
        return []
    rate_in = inside.sum() / inc.minutes(inside)
    rate_before = before.sum() / inc.minutes(before)
    ratio = rate_in / max(rate_before, 1e-9)
    if ratio < 1.5:
        return []
    err_in = (inc.errors & inside).sum() / max(1, inside.sum())
    err_before = (inc.errors & before).sum() / max(1, before.sum())
    proportional = err_in <= 3 * max(err_before, 0.001)
    return [{"cause": "traffic surge", "kind": "traffic_surge", "ref": None,
             "score": round(0.25 + 0.45 * min(1.0, (ratio - 1.5) / 1.5) + (0.1 if proportional else 0.0), 3),
             "evidence": f"{rate_in:.1f} requests/min in the window, {ratio:.1f}x the baseline {rate_before:.1f}/min; "
                         f"error rate {err_in:.1%} vs {err_before:.1%} before"}]


def clients(inc: Incident, columns: tuple[str, ...] = ("client", "user_id", "tenant", "api_key_id")) -> list[Hypothesis]:
    """Bad input from one client: one client sends most failing requests but little normal traffic."""
    if not inc.has_logs:
        return []
    logs = inc.logs
    failing = inc.inside & inc.errors  # type: ignore[operator]
    if failing.sum() < 10:
        return []
    out = []
    for col in columns:
        if col not in logs.columns:  # type: ignore[union-attr]
            continue
        values = logs[col].astype("string")  # type: ignore[index]
        shares = values[failing].value_counts(normalize=True)
        if not len(shares):
            continue
        top, share = shares.index[0], float(shares.iloc[0])
        base_rows = inc.before if inc.before is not None and inc.before.any() else ~inc.inside
        share_before = float((values[base_rows] == top).mean()) if base_rows.any() else 0.0
        if share < 0.5 or share - share_before < 0.3:
            continue
        out.append({"cause": f"bad input from one {col}: {top}", "kind": "bad_client", "ref": str(top),
                    "score": round(0.2 + 0.6 * (share - share_before), 3),
                    "evidence": f"{col} {top} sent {share:.0%} of the failing requests and {share_before:.0%} of the traffic before"})
    return out


__all__ = ["clients", "dependencies", "locks", "saturation", "surge"]
