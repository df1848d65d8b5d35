"""The :class:`Answer` an answer function returns, and the text helpers they share.

Answers hold plain text (what summary.json records). Text that comes from the data (log
messages, paths, commit subjects) is cleaned with :func:`clean`; :meth:`Answer.markdown`
escapes the whole answer, so data shows literally and can never become markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..redact_io import clip


@dataclass
class Answer:
    """A sentence that answers a notebook's question, with what supports it."""

    title: str
    detail: str = ""
    evidence: str = ""
    score: float | None = None

    def markdown(self) -> str:
        """Return the answer as inert Markdown: the title in bold, then the detail."""
        detail = f" {escape(self.detail, 2000)}" if self.detail else ""
        return f"**{escape(self.title, 2000)}**{detail}"

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~&])")

def clean(text: Any, limit: int = 160) -> str:
    """Return data ``text`` on one line: control characters removed, credentials redacted, then cut
    to ``limit`` characters."""
    s = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return clip(" ".join(s.split()), limit)  # redacted first, then cut: no half secret survives

def escape(text: Any, limit: int = 160) -> str:
    """Return ``text`` cleaned and with Markdown/HTML special characters escaped (shown literally)."""
    return _MD_SPECIAL.sub(r"\\\1", clean(text, limit))

def _hm(ts: Any) -> str:
    return pd.Timestamp(ts).strftime("%H:%M UTC") if ts is not None and not pd.isna(ts) else "unknown"

def _ago(ts: Any, now: Any = None) -> str:
    if ts is None or pd.isna(ts):
        return ""
    delta = pd.Timestamp(now or pd.Timestamp.now(tz="UTC")) - pd.Timestamp(ts)
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago"

def _ms(value: Any) -> str:
    return "unknown" if value is None or pd.isna(value) else (f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms")

def _listing(items: list[str], limit: int = 3) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    shown = items[:limit]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(shown[:-1]) + (f", {shown[-1]}" if more else f" and {shown[-1]}") + more

def _bytes(n: Any) -> str:
    if n is None or pd.isna(n):
        return "unknown size"
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


__all__ = ["Answer", "clean", "escape"]
