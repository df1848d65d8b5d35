"""The fallback for files no format recognises: the first timestamp near the start of a line, the rest as message.

The stamp may follow up to three tokens (kept as ``prefix``) and be ISO-like, slashed, syslog's
``Mon dd HH:MM:SS``, CLF's ``dd/Mon/yyyy:HH:MM:SS``, ``yy/MM/dd``, ``MM-dd HH:MM:SS`` or epoch
seconds/milliseconds; a level word right after it is read. Lines without a stamp continue the
record above. A file with timestamps is thus never refused.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import stamps
from .lines import blank_to_null, build_columns
from .registry import line_format, register

_STAMPS = {
    "iso": stamps.ISO,
    "slashed": stamps.SLASHED,
    "ctime": r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) " + stamps.MONTHS + r" +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4}",
    "clf": r"\d{2}/" + stamps.MONTHS + r"/\d{4}:\d{2}:\d{2}:\d{2}(?: [+-]\d{4})?",
    "bsd": stamps.MONTHS + r" +\d{1,2} \d{2}:\d{2}:\d{2}",
    "day_month": r"\d{1,2} " + stamps.MONTHS + r" \d{4} \d{2}:\d{2}:\d{2}(?:\.\d{1,9})?",
    "short_year": stamps.SHORT_YEAR,
    "month_day": r"\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?",
    "compact": r"\d{8}[-T ]?\d{2}:?\d{2}:?\d{2}",
    "epoch": r"1\d{9}(?:\.\d+)?|1\d{12}",
}
PATTERN = (r"^(?P<prefix>(?:\S+ +){0,3}?)[\[(<]?(?:" + "|".join(f"(?P<{k}>{v})" for k, v in _STAMPS.items())
           + r")[\])>]?[,:]?(?:\s+|$|\b|\[)(?:\[?(?P<level>" + stamps.LEVEL + r")\s*\]?:?\s*)?(?P<message>.*)$")


def _only(column: pa.Array) -> pa.Array | None:
    """Return ``column`` with empty strings as nulls, or None when every row is empty."""
    column = blank_to_null(column, dash=False)
    return None if column.null_count == len(column) else column


def _convert(g: pa.StructArray, opts: dict[str, Any]) -> pa.Array:
    tz, ref = opts.get("tz", "UTC"), opts.get("reference")
    found: list[pa.Array] = []
    for name in _STAMPS:
        text = _only(g.field(name))
        if text is None:
            continue
        if name in ("iso", "slashed"):
            found.append(stamps.iso(text, tz))
        elif name == "short_year":
            found.append(stamps.short_year(text, tz))
        elif name == "epoch":
            found.append(stamps.epoch(text))
        elif name == "bsd":
            found.append(stamps.with_year(pc.replace_substring_regex(text, " +", " "), "%b %d %H:%M:%S", ref, tz))
        elif name == "month_day":
            whole = pc.replace_substring_regex(text, r"\.\d+$", "")
            found.append(stamps.with_year(whole, "%m-%d %H:%M:%S", ref, tz))
        elif name == "day_month":
            whole = pc.replace_substring_regex(text, r"\.\d+$", "")
            found.append(stamps.fields.to_timestamp(whole, time_format="%d %b %Y %H:%M:%S", tz=tz))
        elif name == "ctime":
            found.append(stamps.fields.to_timestamp(pc.replace_substring_regex(text, r"\.\d+", ""),
                                                    time_format="%a %b %d %H:%M:%S %Y", tz=tz))
        elif name == "clf":
            zoned = pc.match_substring_regex(text, r" [+-]\d{4}$")
            found.append(pc.if_else(zoned, pc.strptime(text, format="%d/%b/%Y:%H:%M:%S %z", unit="ns",
                                                       error_is_null=True).cast(stamps.fields.TS_TYPE),
                                    stamps.fields.to_timestamp(text, time_format="%d/%b/%Y:%H:%M:%S", tz=tz)))
        elif name == "compact":
            digits = pc.replace_substring_regex(text, r"[-T :]", "")
            found.append(stamps.fields.to_timestamp(digits, time_format="%Y%m%d%H%M%S", tz=tz))
    if not found:
        return pa.nulls(len(g), stamps.fields.TS_TYPE)
    return stamps.coalesce(*found)


def _build_generic(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    return build_columns(g, _convert(g, opts), skip=tuple(_STAMPS))


GENERIC = register(line_format(
    "generic", PATTERN, _build_generic, rank=90, multiline=True, yearless=True,
    description="fallback: a timestamp near the start of each record, the rest as message"), "timestamped", "fallback")

__all__ = ["GENERIC", "PATTERN"]
