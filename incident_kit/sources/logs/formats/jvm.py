"""log4j / logback / java.util.logging patterns, and the same family's Python ``logging`` and Spring Boot defaults.

One pattern reads the common layouts: a stamp (ISO-like, comma or dot milliseconds, optional
zone; or log4j's ``yy/MM/dd``), then in the usual orders a pid, ``[thread]``, ``logger -``, the
level, Spring Boot's ``pid ---`` and ``[thread]``s, and ``logger:`` or ``logger -`` before the
message. Hadoop, Zookeeper, Spark, Kafka, Tomcat, gunicorn and ``logging.basicConfig(format=...)``
with ``%(asctime)s`` first all fit. Stack traces below a record are its ``exception``.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import pyarrow as pa
import pyarrow.compute as pc

from . import stamps
from .lines import build_columns
from .registry import line_format, register

# a file-name prefix (``nova-api.log.1.2017-05-16_13:53:08 ``) or a compose prefix (``web-1  | ``)
PREFIX = r"^(?:(?P<logfile>\S+\.log\S*) +|(?P<container>[\w.-]+) +\| )?"
THREAD = r"[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*"
LOGGER = r"[A-Za-z_$][\w$]*(?:[.$/][\w$-]+)*"
REST = (
    r"(?: +- +| +)"
    r"(?:(?P<pid>\d+) +)?"
    r"(?:\[(?P<thread>" + THREAD + r")\] +)?"
    r"(?:(?P<logger>" + LOGGER + r") +(?:- +)?)?"
    r"\[?(?P<level>" + stamps.LEVEL + r")\]?:?"
    r"(?: +(?P<boot_pid>\d+) +---)?"
    r"(?: +\[(?P<thread2>" + THREAD + r")\])*"
    r"(?: +(?P<logger2>" + LOGGER + r") *(?:: +|- +|:$)| +- +| *:? +|$)"
    r"(?P<message>.*)$"
)


# the commonest layout's head, with no optional group (RE2 extracts those several times slower)
_HEAD = r"^(?P<ts>{ts}) +(?P<level>[A-Za-z]+) +\[(?P<thread>[^\]]*)\] +(?P<logger>[\w$.]+)$"
_LEVEL_WORD = re.compile(stamps.LEVEL + "$")


def _presplit(head_pattern: str) -> Callable[[pa.Array], pa.StructArray | None]:
    """Return a reader of the commonest layout, ``stamp LEVEL [thread] logger - message``, without a full-line regex.

    Lines are cut at their first `` - `` and only the short head is matched: a regex capturing the
    message to the end of every line costs four times as much. Lines of another layout are null.
    """
    def presplit(lines: pa.Array) -> pa.StructArray | None:
        parts = pc.split_pattern(lines, " - ", max_splits=1)
        if pc.any(pc.equal(pc.list_value_length(parts), 2)).as_py() is not True:
            return None
        head = pc.list_element(parts, 0)
        groups = pc.extract_regex(head, head_pattern)
        ok = pc.and_(pc.is_valid(groups), pc.equal(pc.list_value_length(parts), 2))
        levels = pc.dictionary_encode(groups.field("level"))
        known = pa.array([bool(v) and _LEVEL_WORD.match(v) is not None for v in levels.dictionary.to_pylist()], pa.bool_())
        ok = pc.and_(ok, pc.fill_null(pc.take(known, levels.indices), False))
        if not pc.any(ok).as_py():
            return None
        message = pc.if_else(ok, pc.list_element(pc.if_else(ok, parts, pa.scalar([None, ""], parts.type)), 1), "")
        names = [f.name for f in groups.type]
        columns = [pc.fill_null(groups.field(n), "") for n in names] + [message.cast(pa.string())]
        return pa.StructArray.from_arrays(columns, names + ["message"], mask=pc.invert(ok))

    return presplit


def _merge(out: dict[str, pa.Array], a: str, b: str) -> None:
    """Fold the optional second spelling ``b`` of a column into ``a``."""
    if b not in out:
        return
    second = out.pop(b)
    if a in out:
        out[a] = pc.coalesce(second, out[a]) if a != "pid" else pc.coalesce(out[a], second)
    else:
        out[a] = second


def _columns(g: pa.StructArray, ts: pa.Array) -> dict[str, pa.Array]:
    out = build_columns(g, ts, ints=("pid", "boot_pid"))
    _merge(out, "pid", "boot_pid")
    _merge(out, "thread", "thread2")
    if "thread" in out:  # Spring Boot pads it: "[           main]"
        out["thread"] = pc.utf8_trim_whitespace(out["thread"])
    _merge(out, "logger", "logger2")
    return out


def _build_log4j(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    return _columns(g, stamps.iso(g.field("ts"), opts.get("tz", "UTC")))


def _build_short_year(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    return _columns(g, stamps.short_year(g.field("ts"), opts.get("tz", "UTC")))


def _build_time_only(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    return _columns(g, stamps.with_date(g.field("ts"), opts.get("reference"), opts.get("tz", "UTC")))


LOG4J = register(line_format(
    "log4j", PREFIX + r"\[?(?P<ts>" + stamps.ISO + r")\]?" + REST, _build_log4j, rank=20, multiline=True,
    presplit=_presplit(_HEAD.format(ts=r"\d{4}-\d{2}-\d{2}[T ][\d:.,]+(?:Z|[+-]\d{2}:?\d{2})?")),
    description="log4j/logback/JUL/Python logging layouts: stamp, level, [thread], logger, message; stack traces kept"),
    "logback", "log4j2", "java", "python", "python_logging", "spring", "spring_boot", "zookeeper", "hadoop", "gunicorn")
SHORT_YEAR = register(line_format(
    "log4j_short_year", PREFIX + r"(?P<ts>" + stamps.SHORT_YEAR + r")" + REST, _build_short_year, rank=20,
    presplit=_presplit(_HEAD.format(ts=r"\d{2}/\d{2}/\d{2} [\d:.,]+")),
    multiline=True, description="log4j with a yy/MM/dd stamp (Spark's default)"), "spark")

TIME_ONLY = register(line_format(
    "logback_time", PREFIX + r"(?P<ts>\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?)" + REST, _build_time_only, rank=25,
    presplit=_presplit(_HEAD.format(ts=r"\d{2}:\d{2}:\d{2}[.,]?\d*")),
    multiline=True, yearless=True,
    description="logback's default console layout '%d{HH:mm:ss.SSS} [%thread] %-5level %logger - %msg' (no date)"))

__all__ = ["LOG4J", "SHORT_YEAR", "TIME_ONLY", "PREFIX", "REST", "THREAD", "LOGGER"]
