"""Sparklines: a count per time bucket drawn small, as an inline SVG image (HTML) or block characters (Markdown).

The series travels with the frame it belongs to: an analysis function puts
``frame.attrs["row_series"] = {"start": ISO, "step_s": seconds, "counts": {row label: [counts]},
"window_start": ISO | None}`` (row labels are the frame's index labels, so selections and
``head()`` keep the right series per row). Both forms are static: they survive export and paste.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Mapping
from xml.sax.saxutils import escape

import pandas as pd

_BLOCKS = "▁▂▃▄▅▆▇█"
WIDTH, HEIGHT = 120, 24


@dataclass(frozen=True)
class Series:
    """Counts per bucket from ``start`` every ``step_s`` seconds; ``window_start`` shades the incident."""

    start: pd.Timestamp
    step_s: float
    counts: tuple[int, ...]
    window_start: pd.Timestamp | None = None

    def position(self, at: Any) -> float | None:
        """Return the fractional bucket index of time ``at`` (None outside the series)."""
        if at is None or not len(self.counts):
            return None
        x = (pd.Timestamp(at) - self.start).total_seconds() / self.step_s
        return x if 0 <= x <= len(self.counts) else None


def series_for(attrs: Mapping[str, Any], row: Any) -> Series | None:
    """Return the Series the frame attributes ``attrs`` hold for row label ``row`` (None when absent)."""
    spec = attrs.get("row_series") if attrs else None
    if not isinstance(spec, Mapping):
        return None
    counts = (spec.get("counts") or {}).get(row)
    if counts is None or not len(counts):
        return None
    win = spec.get("window_start")
    return Series(pd.Timestamp(spec["start"]), float(spec["step_s"]), tuple(int(c) for c in counts),
                  pd.Timestamp(win) if win else None)


def svg(s: Series, *, mark: Any = None, mark_name: str = "deploy", title: str = "") -> str:
    """Return the SVG document of ``s``: an area line, the incident shaded, ``mark`` as a dashed line."""
    n = len(s.counts)
    top = max(max(s.counts), 1)
    dx = WIDTH / max(n - 1, 1)
    pts = [(i * dx, HEIGHT - 2 - (c / top) * (HEIGHT - 4)) for i, c in enumerate(s.counts)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">']
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    w = s.position(s.window_start)
    if w is not None:
        parts.append(f'<rect x="{w * dx:.1f}" y="0" width="{max(WIDTH - w * dx, 0):.1f}" height="{HEIGHT}" fill="#d9480f" fill-opacity="0.10"/>')
    if n > 1:
        parts.append(f'<polygon points="0,{HEIGHT} {line} {WIDTH},{HEIGHT}" fill="#b00020" fill-opacity="0.15"/>')
        parts.append(f'<polyline points="{line}" fill="none" stroke="#b00020" stroke-width="1.3"/>')
    m = s.position(mark)
    if m is not None:
        parts.append(f'<line x1="{m * dx:.1f}" x2="{m * dx:.1f}" y1="0" y2="{HEIGHT}" stroke="#6b46c1" stroke-width="1.2" stroke-dasharray="2,2"/>')
    parts.append("</svg>")
    return "".join(parts)


def img(s: Series, *, mark: Any = None, mark_name: str = "deploy", label: str = "") -> str:
    """Return an ``<img>`` element with the SVG inline as a data URI (allowed by the report's CSP)."""
    alt = label or describe(s, mark=mark, mark_name=mark_name)
    data = base64.b64encode(svg(s, mark=mark, mark_name=mark_name, title=alt).encode()).decode()
    return (f'<img class="ik-spark" width="{WIDTH}" height="{HEIGHT}" alt="{escape(alt, {chr(34): "&quot;"})}" '
            f'src="data:image/svg+xml;base64,{data}">')


def blocks(s: Series, *, mark: Any = None, width: int = 24) -> str:
    """Return ``s`` as block characters (``▁▂▅█``), at most ``width`` wide, ``|`` where ``mark`` falls."""
    counts = list(s.counts)
    group = max(1, -(-len(counts) // width))
    sums = [sum(counts[i:i + group]) for i in range(0, len(counts), group)]
    top = max(max(sums), 1)
    chars = [_BLOCKS[0] if c == 0 else _BLOCKS[min(7, 1 + int(c / top * 6.999))] for c in sums]
    m = s.position(mark)
    if m is not None:
        chars.insert(min(len(chars), int(m // group)), "|")
    return "".join(chars)


def describe(s: Series, *, mark: Any = None, mark_name: str = "deploy") -> str:
    """Return the series in words (its peak and where the mark falls), for alt text and titles."""
    peak = max(s.counts)
    at = s.start + pd.Timedelta(seconds=s.step_s * s.counts.index(peak))
    text = f"count per {int(s.step_s // 60) or 1} min, peak {peak:,} at {at.tz_convert('UTC').strftime('%H:%M UTC')}"
    if s.position(mark) is not None:
        text += f"; dashed line: the {mark_name}"
    return text


__all__ = ["HEIGHT", "WIDTH", "Series", "blocks", "describe", "img", "series_for", "svg"]
