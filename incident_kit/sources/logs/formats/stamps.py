"""Timestamps as logs write them: RE2 pieces for patterns, and their conversion to UTC, column at a time.

Stamps without a zone are taken in ``tz`` (the ``timezone=`` of ``logs.read``, UTC by default).
Stamps without a year take the year of ``reference`` (the investigation window, else the file's
modification time), or the year before when that would put them more than two days after it.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import fields
from ..fields import TS_TYPE

FRACTION = r"(?:[.,:]\d{1,9})?"
ZONE = r"(?:Z| ?[+-]\d{2}(?::?\d{2})?| UTC)?"
ISO = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}" + FRACTION + ZONE
SLASHED = r"\d{4}/\d{2}/\d{2}[T ]\d{2}:\d{2}:\d{2}" + FRACTION + ZONE
SHORT_YEAR = r"\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}" + FRACTION
LEVEL = (r"(?i:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|SEVERE|FATAL|CRITICAL|CRIT|ALERT|EMERG|EMERGENCY"
         r"|FINEST|FINER|FINE|CONFIG|VERBOSE|PANIC)")
MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"


def _text(values: Any) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.cast(pa.string())


_PLAIN = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?")
_ZONED = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:\d{2})")


def iso(values: Any, tz: str = "UTC") -> pa.Array:
    """Return ISO-like stamps (``2015-10-18 18:01:47,978``, ``...T...+02:00``, ``2023/10/14 10:15:30``) as UTC."""
    text = _text(values)
    fast = _iso_fast(text, tz)
    if fast is not None:
        return fast
    text = pc.replace_substring_regex(text, r"^(\d{4})/(\d{2})/(\d{2})", r"\1-\2-\3")
    text = pc.replace_substring_regex(text, r"(\d{2}:\d{2}:\d{2})[,:](\d)", r"\1.\2")
    text = pc.replace_substring_regex(text, r" ?(?:UTC|Z)$", "Z")
    text = pc.replace_substring_regex(text, r" ([+-]\d{2}):?(\d{2})$", r"\1:\2")
    text = pc.replace_substring_regex(text, r"([+-]\d{2})(\d{2})$", r"\1:\2")
    return fields.to_timestamp(text, tz=tz)


def _iso_fast(text: pa.Array, tz: str) -> pa.Array | None:
    """Return the stamps cast by Arrow's ISO 8601 parser when the first one has a layout it reads, else None.

    One cast, no regex: a comma before the milliseconds becomes a dot. None (normalise first)
    when any stamp does not parse.
    """
    if not len(text) or text.null_count:
        return None
    first = text[0].as_py()
    if _PLAIN.fullmatch(first):
        target = pa.timestamp("ns")
    elif _ZONED.fullmatch(first):
        target = TS_TYPE
    else:
        return None
    if "," in first:
        text = pc.replace_substring(text, ",", ".")
    try:
        parsed = text.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if target == TS_TYPE:
        return parsed
    if tz == "UTC":
        return parsed.cast(TS_TYPE)
    return pc.assume_timezone(parsed, tz, ambiguous="earliest", nonexistent="earliest").cast(TS_TYPE)


def short_year(values: Any, tz: str = "UTC") -> pa.Array:
    """Return ``17/06/09 20:10:40`` stamps (yy/mm/dd, log4j ``%d{yy/MM/dd HH:mm:ss}``) as UTC."""
    text = pc.replace_substring_regex(_text(values), r"^(\d{2})/(\d{2})/(\d{2}) ", r"20\1-\2-\3 ")
    return iso(text, tz)


def reference_time(reference: Any) -> pd.Timestamp:
    """Return the reference instant for year-less stamps (now when none is known)."""
    if reference is None:
        return pd.Timestamp.now(tz="UTC")
    ts = pd.Timestamp(reference)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def with_year(values: Any, time_format: str, reference: Any, tz: str = "UTC") -> pa.Array:
    """Return year-less stamps read with ``"%Y " + time_format`` (year from ``reference``) as UTC."""
    text = _text(values)
    ref = reference_time(reference)

    def at(year: int) -> pa.Array:
        joined = pc.binary_join_element_wise(pa.scalar(str(year)), text, " ")
        return fields.to_timestamp(joined, time_format="%Y " + time_format, tz=tz)

    this_year = at(ref.year)
    limit = pa.scalar((ref + pd.Timedelta(days=2)).value, TS_TYPE)
    future = pc.fill_null(pc.greater(this_year, limit), False)
    if not pc.any(future).as_py():
        return this_year
    return pc.if_else(future, at(ref.year - 1), this_year)


def with_date(values: Any, reference: Any, tz: str = "UTC") -> pa.Array:
    """Return time-of-day stamps (``09:26:01.042``) on the date of ``reference`` (the day before when later than it)."""
    ref = reference_time(reference)
    text = pc.replace_substring_regex(_text(values), r"(\d{2}:\d{2}:\d{2})[,:](\d)", r"\1.\2")

    def on(day: pd.Timestamp) -> pa.Array:
        return fields.to_timestamp(pc.binary_join_element_wise(pa.scalar(day.strftime("%Y-%m-%d")), text, " "), tz=tz)

    today = on(ref)
    limit = pa.scalar((ref + pd.Timedelta(hours=1)).value, TS_TYPE)
    later = pc.fill_null(pc.greater(today, limit), False)
    if not pc.any(later).as_py():
        return today
    return pc.if_else(later, on(ref - pd.Timedelta(days=1)), today)


def epoch(values: Any) -> pa.Array:
    """Return epoch seconds or milliseconds (told apart by magnitude) as UTC; non-numbers become null."""
    text = pc.utf8_trim_whitespace(_text(values))
    ok = pc.match_substring_regex(text, r"^\d{9,16}(?:\.\d+)?$")
    numbers = pc.cast(pc.if_else(ok, text, None), pa.float64())
    return fields.to_timestamp(numbers)


def join(*parts: Any, sep: str = " ") -> pa.Array:
    """Return the text columns ``parts`` joined element-wise by ``sep``."""
    return pc.binary_join_element_wise(*[_text(p) if not isinstance(p, str) else pa.scalar(p) for p in parts], sep)


def coalesce(*columns: pa.Array | None) -> pa.Array:
    """Return the first non-null timestamp of ``columns`` per row."""
    present = [c for c in columns if c is not None]
    return present[0] if len(present) == 1 else pc.coalesce(*present)


__all__ = ["ISO", "SLASHED", "SHORT_YEAR", "FRACTION", "ZONE", "LEVEL", "MONTHS", "iso", "short_year", "with_year",
           "with_date",
           "epoch", "join", "coalesce", "reference_time"]
