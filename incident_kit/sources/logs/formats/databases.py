"""Database servers' own logs: PostgreSQL's default ``%m [%p] `` prefix (with or without ``user@db``)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import stamps
from .lines import build_columns
from .registry import line_format, register

_PG_LEVELS = r"(?P<level>LOG|ERROR|WARNING|FATAL|PANIC|NOTICE|INFO|DEBUG[1-5]?|DETAIL|HINT|STATEMENT|CONTEXT|LOCATION|QUERY)"


def _build_postgres(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    # "2023-10-14 10:15:30.123 UTC": UTC/GMT are read as zones; other abbreviations are ambiguous, read in tz=
    text = pc.replace_substring_regex(g.field("ts"), r" (?:UTC|GMT)$", "Z")
    text = pc.replace_substring_regex(text, r" [A-Z]{2,5}$", "")
    return build_columns(g, stamps.iso(text, opts.get("tz", "UTC")), ints=("pid",))


POSTGRES = register(line_format(
    "postgres", r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?(?: [A-Z]{2,5}| [+-]\d{2})?) \[(?P<pid>\d+)\]"
    r"(?:-\d+)? (?:(?P<user>[\w.-]*)@(?P<database>[\w.-]*) )?" + _PG_LEVELS + r":  (?P<message>.*)$", _build_postgres,
    rank=10, multiline=True, description="PostgreSQL server log with the default '%m [%p] ' prefix"), "postgresql")

__all__ = ["POSTGRES"]
