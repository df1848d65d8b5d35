"""Python services: OpenStack's oslo.log, Django's runserver, uvicorn's default, and the ``LEVEL:name:message`` default.

Python ``logging`` layouts that start with ``%(asctime)s`` are read by :mod:`.jvm` (same family).
uvicorn's default carries no time: among timestamped records (an app's log with uvicorn's
lines interleaved) each of its lines takes the time of the record before it; a file of such
lines only is rejected, line by line, with a note saying how to make uvicorn write times.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import stamps
from .jvm import PREFIX
from .lines import blank_to_null, build_columns
from .registry import line_format, register


def _build_oslo(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    return build_columns(g, stamps.iso(g.field("ts"), opts.get("tz", "UTC")))


def _build_runserver(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    ts = stamps.iso(pc.strptime(g.field("ts"), format="%d/%b/%Y %H:%M:%S", unit="ns", error_is_null=True)
                    .cast(pa.string()), opts.get("tz", "UTC"))
    out = build_columns(g, ts, ints=("status", "bytes"))
    return out


def _build_untimed(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    out = build_columns(g, pa.nulls(len(g), stamps.fields.TS_TYPE), ints=("status",))
    if "client" in out:
        out["client"] = blank_to_null(out["client"])
    return out


OSLO = register(line_format(
    "oslo", PREFIX + r"(?P<ts>" + stamps.ISO + r") (?P<pid>\d+) (?P<level>" + stamps.LEVEL + r") (?P<logger>\S+) "
    r"\[(?P<context>[^\]]*)\] ?(?P<message>.*)$", _build_oslo, rank=10, multiline=True,
    description="OpenStack oslo.log: stamp, pid, level, logger, [request context], message"), "openstack", "oslo_log")
RUNSERVER = register(line_format(
    "django", r"^\[(?P<ts>\d{2}/[A-Z][a-z]{2}/\d{4} \d{2}:\d{2}:\d{2})\] \"(?P<message>(?P<method>[A-Z]+) (?P<path>\S+)"
    r"(?: (?P<protocol>[^\"]*))?)\" (?P<status>\d{3}) (?P<bytes>\d+|-)$", _build_runserver, rank=10,
    description="Django runserver requests"), "runserver")
UVICORN = register(line_format(
    "uvicorn", r"^(?P<level>CRITICAL|ERROR|WARNING|INFO|DEBUG|TRACE): +(?P<message>(?P<client>[\d.:a-f\[\]]+:\d+) - "
    r"\"(?P<method>[A-Z]+) (?P<path>\S+) (?P<protocol>[^\"]*)\" (?P<status>\d{3})(?: .*)?|.*)$", _build_untimed, rank=30,
    multiline=True, description="uvicorn's default 'LEVEL:     message' and access lines (no time of their own)",
    untimed="give uvicorn a log config whose formatters start with %(asctime)s (uvicorn --log-config), "
            "or read the timestamped log the service writes"))

__all__ = ["OSLO", "RUNSERVER", "UVICORN"]
