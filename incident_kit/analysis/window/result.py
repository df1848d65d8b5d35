"""The incident window's result: :class:`IncidentWindow`, how a metric is named and shown, and
:func:`bounds`, which reads any window argument."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...errors import ConfigError
from ...timeutil import iso


@dataclass
class IncidentWindow:
    """Result of :func:`window`. ``found`` is False for noise; ``end`` is None while ongoing.

    ``direction`` is the way the series went ("up" or "down"; the direction asked for when nothing
    was found); ``kind`` the shape of the change: "spike" (one or two points), "level" (a shift),
    "variance" (wider swings around the same level), "trend" (a ramp) or "rate" (a rate frame's
    binomial test). ``confidence`` is 1 minus the expected number of false alarms per day of quiet
    data at this strength (0 when nothing was found).
    """

    found: bool
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    peak: pd.Timestamp | None = None
    peak_value: float | None = None
    baseline: float | None = None
    effect: float | None = None
    confidence: float = 0.0
    direction: str = "up"
    metric: str = ""
    episodes: int = 0
    reason: str = ""
    kind: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.found

    @property
    def ongoing(self) -> bool:
        """True when an incident was found and has not recovered within the data."""
        return self.found and self.end is None

    @property
    def duration(self) -> pd.Timedelta | None:
        """End minus start (None while ongoing or when nothing was found)."""
        if not self.found or self.start is None or self.end is None:
            return None
        return pd.Timestamp(self.end) - pd.Timestamp(self.start)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (times as ISO 8601 UTC strings)."""
        out = asdict(self)
        for key in ("start", "end", "peak"):
            value = out[key]
            out[key] = iso(value) if isinstance(value, pd.Timestamp) else value
        return out


def label(metric: str) -> str:
    """Return a metric's name for people ("error_rate" -> "error rate", "p95_ms" -> "p95 latency")."""
    names = {"error_rate": "error rate", "p50_ms": "p50 latency", "p95_ms": "p95 latency", "p99_ms": "p99 latency",
             "requests": "requests per bucket", "errors": "errors per bucket"}
    return names.get(metric, metric.replace("_", " ") if metric.isidentifier() else metric)


def show(value: float | None, metric: str) -> str:
    """Return ``value`` formatted for ``metric``: rates as percentages, latencies in ms."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if metric.endswith("rate") or metric.endswith("ratio"):
        return f"{value:.1%}" if value >= 0.001 else f"{value:.2%}"
    if metric.endswith("_ms"):
        return f"{value:.0f} ms"
    return f"{value:.4g}"


def bounds(incident: Any) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Return ``(start, end)`` from an IncidentWindow, a ``(start, end)`` pair, one start time or None.

    Raises ConfigError for anything else.
    """
    from ...timeutil import parse_time

    if incident is None:
        return None, None
    if isinstance(incident, IncidentWindow):
        return (incident.start, incident.end) if incident.found else (None, None)
    if isinstance(incident, tuple | list) and len(incident) == 2:
        return parse_time(incident[0], field="window start"), parse_time(incident[1], field="window end")
    if isinstance(incident, dict) and "start" in incident:
        return parse_time(incident.get("start"), field="window start"), parse_time(incident.get("end"), field="window end")
    try:
        return parse_time(incident, field="window"), None
    except ConfigError:
        raise ConfigError(
            f"window: {incident!r} is not an IncidentWindow, a (start, end) pair or a time"
        ) from None


__all__ = ["IncidentWindow", "bounds", "label", "show"]
