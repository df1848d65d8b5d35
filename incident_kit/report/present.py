"""Values for people: one formatting rule per kind of value, shared by tables, the report and report.md.

Percentages, durations (ms / s / min / h), counts with separators, times as ``17:41:09 UTC``
with "3 min after the deploy" where a reference time is known, booleans as words, long text
cut at a word boundary, column names in words. Every function returns plain text (no markup).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Column names in words; other names lose their underscores and unit suffixes.
LABELS = {
    "ts": "time", "signature": "error signature", "share": "share of errors", "first_seen": "first seen",
    "last_seen": "last seen", "new_in_window": "new in this incident", "incident_share": "share of failing requests",
    "baseline_share": "share before", "incident_count": "count during the incident", "baseline_count": "count before",
    "delta": "change in share", "lift": "times as common", "text": "in words", "value": "what is different",
    "latency_ms": "latency", "duration_s": "running for", "usename": "user", "application_name": "application",
    "blocked_by": "blocked by", "kind": "what", "ok": "healthy", "error_rate": "error rate", "requests": "requests",
    "errors": "errors", "p50_ms": "median latency", "p95_ms": "p95 latency", "p99_ms": "p99 latency", "pid": "pid",
    "client_addr": "client", "wait_event_type": "waiting on", "wait_event": "wait event", "datname": "database",
    "requests_total": "requests", "requests_failed": "failed requests", "users_affected": "users affected",
    "clients_affected": "clients affected", "slo": "SLO", "error_budget_minutes": "error budget",
    "error_budget_used": "error budget used", "duration_min": "duration", "first_alert": "first alert",
    "mttd_min": "time to detect", "recovered_at": "recovered at", "time_to_recover_min": "time to recover",
    "start": "started", "end": "ended", "ongoing": "still going on", "rejected": "rejected records",
}
_SELECTION_WORDS = {"failing": "share of failing requests", "slow": "share of slow requests", "all": "share during the incident"}
_PERCENT = re.compile(r"(^|_)(share|rate|ratio|used|pct_of|fraction|utilization|use_ratio)$|^slo$")
_MS = re.compile(r"(^|_)ms$")
_SECONDS = re.compile(r"(^|_)(s|sec|secs|seconds)$")
_MINUTES = re.compile(r"(^|_)(min|minutes)$")
_BYTES = re.compile(r"(^|_)(bytes|size)$")
#: Whole numbers that name something (shown as they are, in code), not quantities.
_IDENT = re.compile(r"(^|_)(pid|id|port|ref|commit|sha|hash|code|uid|gid|inode|offset)$")
_PLAIN_INT = re.compile(r"(^|_)(status|year|day|hour|minute|version|line)$")
_ISO = re.compile(r"\b(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.\d+)?(?:Z|[+-]00:?00)?")
EMPTY = "—"


@dataclass(frozen=True)
class Reference:
    """A moment other times are told against: ``at`` (UTC) and its name ("the deploy")."""

    at: pd.Timestamp
    name: str


def label(column: Any, *, selection: str | None = None) -> str:
    """Return the column name ``column`` in words (``incident_share`` -> "share of failing requests")."""
    name = str(column)
    if name == "incident_share" and selection in _SELECTION_WORDS:
        return _SELECTION_WORDS[selection]
    if name in LABELS:
        return LABELS[name]
    words = re.sub(r"_(ms|s|min|pct|bytes)$", "", name).replace("_", " ").strip()
    return words or name


def missing(value: Any) -> bool:
    """Return True for None, NaN, NaT and pd.NA."""
    if value is None:
        return True
    if isinstance(value, list | tuple | dict | set | np.ndarray):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def percent(value: float) -> str:
    """Return a 0..1 share as a percentage with at most three significant digits ("87.7%", "<0.1%")."""
    p = float(value) * 100
    if p == 0:
        return "0%"
    if abs(p) < 0.1:
        return "<0.1%" if p > 0 else "-<0.1%"
    if abs(p) >= 99.95 or float(p).is_integer():
        return f"{p:.0f}%"
    return f"{p:.1f}%" if abs(p) < 100 else f"{p:,.0f}%"


def duration(seconds: float) -> str:
    """Return a duration in seconds in the fitting unit ("51 ms", "36.4 s", "2.5 min", "1 h 5 min")."""
    s = float(seconds)
    sign, s = ("-" if s < 0 else ""), abs(s)
    if s == 0:
        return "0 s"
    if s < 0.01:
        return f"{sign}{s * 1000:.2g} ms"
    if s < 1:
        return f"{sign}{s * 1000:.0f} ms"
    if s < 60:
        return f"{sign}{s:.1f} s" if s < 10 else f"{sign}{s:.0f} s"
    if s < 3600:
        m = s / 60
        return f"{sign}{m:.1f} min" if m < 10 else f"{sign}{m:.0f} min"
    if s < 86400 * 2:
        h, m = divmod(round(s / 60), 60)
        return f"{sign}{h} h" + (f" {m} min" if m else "")
    return f"{sign}{s / 86400:.1f} days"


def size(n: float) -> str:
    """Return a byte count in B/kB/MB/GB/TB (1024-based, three significant digits)."""
    v = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(v) < 1024 or unit == "TB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.3g} {unit}"
        v /= 1024
    return f"{v:.3g} TB"


def number(value: float) -> str:
    """Return a number with at most four significant digits; whole numbers with separators."""
    v = float(value)
    if math.isinf(v):
        return "infinite" if v > 0 else "-infinite"
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    if abs(v) >= 1000:
        return f"{round(v):,}"
    text = f"{v:.4g}"
    if "e" in text:
        return f"{v:.1e}"
    return text


def _relative(t: pd.Timestamp, ref: Reference | None) -> str:
    if ref is None:
        return ""
    delta = (t - ref.at).total_seconds()
    a = abs(delta)
    if a > 6 * 3600:
        return ""
    if a < 5:
        return f"at {ref.name}"
    span = f"{a:.0f} s" if a < 90 else f"{a / 60:.0f} min" if a < 3600 else duration(a)
    return f"{span} {'after' if delta > 0 else 'before'} {ref.name}"


def when(value: Any, ref: Reference | None = None, *, with_date: bool = False, seconds: bool = True) -> str:
    """Return a time as ``17:41:09 UTC`` (date first when ``with_date``), plus "(3 min after the deploy)"."""
    if missing(value):
        return EMPTY
    try:
        t = pd.Timestamp(value)
    except (TypeError, ValueError):
        return str(value)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    text = t.strftime(("%Y-%m-%d " if with_date else "") + ("%H:%M:%S" if seconds else "%H:%M")) + " UTC"
    rel = _relative(t, ref)
    return f"{text} ({rel})" if rel else text


def times_in_text(text: str) -> str:
    """Return ``text`` with ISO 8601 UTC stamps written as ``2026-12-02 17:41:09 UTC``."""
    return _ISO.sub(lambda m: f"{m.group(1)} {m.group(2)} UTC", text)


def cut(text: Any, limit: int = 80) -> str:
    """Return ``text`` on one line, cut at a word boundary before ``limit`` characters with "…"."""
    s = " ".join(str(text).split())
    if len(s) <= limit:
        return s
    head = s[: limit - 1]
    space = head.rfind(" ")
    if space > limit * 0.6:
        head = head[:space]
    return head.rstrip(" ,;:-") + "…"


def value(column: Any, v: Any, ref: Reference | None = None, *, with_date: bool = False) -> str:
    """Return cell value ``v`` of column ``column`` as text for people (see the module docstring)."""
    name = str(column).lower()
    if missing(v):
        return EMPTY
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, pd.Timestamp | np.datetime64) or hasattr(v, "tzinfo") and hasattr(v, "strftime"):
        return when(v, ref, with_date=with_date)
    if isinstance(v, pd.Timedelta | np.timedelta64):
        return duration(pd.Timedelta(v).total_seconds())
    if isinstance(v, list | tuple | set | np.ndarray):
        items = [value(column, x, ref) for x in list(v)]
        return ", ".join(items) if items else EMPTY
    if isinstance(v, dict):
        return ", ".join(f"{k}={x}" for k, x in v.items()) or EMPTY
    if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool):
        f = float(v)
        if math.isnan(f):
            return EMPTY
        if _IDENT.search(name) or _PLAIN_INT.search(name):
            return str(int(f)) if f.is_integer() else str(v)
        if _PERCENT.search(name):
            return percent(f)
        if name == "delta":
            return f"{f * 100:+.0f} pts" if abs(f) >= 0.01 else f"{f * 100:+.1f} pts"
        if name == "lift":
            return "new" if math.isinf(f) else f"×{f:.2g}" if f < 10 else f"×{f:,.0f}"
        if name == "score":
            return f"{f:.2f}"
        if _MS.search(name):
            return duration(f / 1000)
        if _SECONDS.search(name):
            return duration(f)
        if _MINUTES.search(name):
            return duration(f * 60)
        if _BYTES.search(name):
            return size(f)
        return number(f)
    text = times_in_text(" ".join(str(v).split()))
    if not text:
        return EMPTY
    return text.replace("_", " ") if name in ("kind", "state", "status_text") and " " not in text else text


def is_code(column: Any) -> bool:
    """Return True for columns whose values are identifiers or code (shown monospaced, never reworded)."""
    name = str(column).lower()
    return bool(_IDENT.search(name)) or name in ("query", "sql", "statement", "command", "cmdline")


def is_numeric_dtype(dtype: Any) -> bool:
    """Return True for number dtypes (right-aligned in tables); booleans are words, not numbers."""
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


__all__ = ["EMPTY", "LABELS", "Reference", "cut", "duration", "is_code", "is_numeric_dtype", "label", "missing",
           "number", "percent", "size", "times_in_text", "value", "when"]
