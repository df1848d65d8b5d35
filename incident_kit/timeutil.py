"""Time parsing: ISO 8601, relative offsets (``-2h``, ``-30m``, ``now``) and epochs, all to UTC."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pandas as pd

from .errors import ConfigError

_RELATIVE = re.compile(r"^\s*(?:now\s*)?([+-])\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.I)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def now() -> pd.Timestamp:
    """Return the current time as a tz-aware UTC Timestamp."""
    return pd.Timestamp.now(tz="UTC")


def parse_time(value: Any, *, field: str = "time", reference: pd.Timestamp | None = None) -> pd.Timestamp | None:
    """Parse ``value`` into a tz-aware UTC Timestamp.

    Accepts ``None``/``""`` (returns ``None``), ``"now"``, relative offsets such as ``"-2h"``
    or ``"now-15m"`` (relative to ``reference`` or now), ISO 8601 strings (naive ones are taken
    as UTC), epoch seconds, datetimes and Timestamps.
    Raises :class:`ConfigError` naming ``field`` when the value cannot be read.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        ts = pd.Timestamp(value)
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return pd.Timestamp(float(value), unit="s", tz="UTC")
    text = str(value).strip()
    if text.lower() == "now":
        return reference if reference is not None else now()
    m = _RELATIVE.match(text)
    if m:
        sign, amount, unit = m.groups()
        delta = pd.Timedelta(**{_UNITS[unit.lower()]: float(amount)})
        base = reference if reference is not None else now()
        return base - delta if sign == "-" else base + delta
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{field}: {text!r} is not a time; expected ISO 8601 (2026-01-31T14:00:00Z), "
            "a relative offset (-2h, -30m) or 'now'"
        ) from None
    if ts is pd.NaT:
        raise ConfigError(f"{field}: {text!r} is not a time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def offset(value: Any) -> pd.Timedelta | None:
    """Return the signed offset of a relative time (``"-2h"`` -> -2 hours, ``"now"`` -> 0), or
    ``None`` when ``value`` is not relative (absent, ISO 8601, epoch, a datetime)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.lower() == "now":
        return pd.Timedelta(0)
    m = _RELATIVE.match(text)
    if not m:
        return None
    sign, amount, unit = m.groups()
    delta = pd.Timedelta(**{_UNITS[unit.lower()]: float(amount)})
    return -delta if sign == "-" else delta


def iso(ts: Any) -> str | None:
    """Return ``ts`` as an ISO 8601 UTC string ending in ``Z`` (``None`` stays ``None``)."""
    if ts is None or (not isinstance(ts, str) and pd.isna(ts)):
        return None
    t = parse_time(ts)
    assert t is not None
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond // 1000:03d}" if t.microsecond else "") + "Z"


def window(start: Any = None, end: Any = None) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Parse a ``(start, end)`` pair; ``end`` is parsed first so ``start`` may be relative to it.

    Raises :class:`ConfigError` when start is not before end.
    """
    e = parse_time(end, field="end")
    s = parse_time(start, field="start", reference=e)
    if s is not None and e is not None and s >= e:
        raise ConfigError(f"start {iso(s)} is not before end {iso(e)}")
    return s, e


__all__ = ["now", "offset", "parse_time", "iso", "window"]
