"""log4j / logback / java.util.logging patterns, and the same family's Python ``logging`` and Spring Boot defaults.

One pattern reads the common layouts: a stamp (ISO-like, comma or dot milliseconds, optional
zone; or log4j's ``yy/MM/dd``), then in the usual orders a pid, ``[thread]``, ``logger -``, the
level, Spring Boot's ``pid ---`` and ``[thread]``s, and ``logger:`` or ``logger -`` before the
message. Hadoop, Zookeeper, Spark, Kafka, Tomcat, gunicorn and ``logging.basicConfig(format=...)``
with ``%(asctime)s`` first all fit. Stack traces below a record are its ``exception``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

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
    r"(?:(?P<logger>" + LOGGER + r") +- +)?"
    r"\[?(?P<level>" + stamps.LEVEL + r")\]?:?"
    r"(?: +(?P<boot_pid>\d+) +---)?"
    r"(?: +\[(?P<thread2>" + THREAD + r")\])*"
    r"(?: +(?P<logger2>" + LOGGER + r") *(?:: +|- +|:$)| +- +| *:? +|$)"
    r"(?P<message>.*)$"
)


def _merge(out: dict[str, pa.Array], a: str, b: str) -> None:
    """Fold the optional second spelling ``b`` of a column into ``a``."""
    if b not in out:
        return
    second = out.pop(b)
    if a in out:
        import pyarrow.compute as pc

        out[a] = pc.coalesce(second, out[a]) if a != "pid" else pc.coalesce(out[a], second)
    else:
        out[a] = second


def _columns(g: pa.StructArray, ts: pa.Array) -> dict[str, pa.Array]:
    out = build_columns(g, ts, ints=("pid", "boot_pid"))
    _merge(out, "pid", "boot_pid")
    _merge(out, "thread", "thread2")
    if "thread" in out:  # Spring Boot pads it: "[           main]"
        import pyarrow.compute as pc

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
    description="log4j/logback/JUL/Python logging layouts: stamp, level, [thread], logger, message; stack traces kept"),
    "logback", "log4j2", "java", "python", "python_logging", "spring", "spring_boot", "zookeeper", "hadoop", "gunicorn")
SHORT_YEAR = register(line_format(
    "log4j_short_year", PREFIX + r"(?P<ts>" + stamps.SHORT_YEAR + r")" + REST, _build_short_year, rank=20,
    multiline=True, description="log4j with a yy/MM/dd stamp (Spark's default)"), "spark")

TIME_ONLY = register(line_format(
    "logback_time", PREFIX + r"(?P<ts>\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?)" + REST, _build_time_only, rank=25,
    multiline=True, yearless=True,
    description="logback's default console layout '%d{HH:mm:ss.SSS} [%thread] %-5level %logger - %msg' (no date)"))

__all__ = ["LOG4J", "SHORT_YEAR", "TIME_ONLY", "PREFIX", "REST", "THREAD", "LOGGER"]
