"""Phones: Android logcat (threadtime, time, brief) and pipe-delimited app logs such as HealthApp's."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import stamps
from .lines import build_columns
from .registry import line_format, register

_LOGCAT_LEVELS = r"(?P<level>[VDIWEFAS])"


def _build_logcat(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    ts = stamps.with_year(g.field("ts"), "%m-%d %H:%M:%S.%f", opts.get("reference"), opts.get("tz", "UTC"))
    return build_columns(g, ts, ints=("pid", "tid"))


def _build_brief(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    return build_columns(g, pa.nulls(len(g), stamps.fields.TS_TYPE), ints=("pid",))


def _build_pipes(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    t = pc.extract_regex(g.field("ts"), r"^(?P<d>\d{8})-(?P<h>\d{1,2}):(?P<m>\d{1,2}):(?P<s>\d{1,2})(?::(?P<f>\d{1,3}))?$")
    pad = [pc.utf8_lpad(t.field(k), width=2, padding="0") for k in ("h", "m", "s")]
    frac = pc.utf8_lpad(pc.if_else(pc.equal(t.field("f"), ""), "0", t.field("f")), width=3, padding="0")
    text = pc.binary_join_element_wise(t.field("d"), pad[0], pad[1], pad[2], frac, "")
    ts = stamps.fields.to_timestamp(text, time_format="%Y%m%d%H%M%S%f", tz=opts.get("tz", "UTC"))
    return build_columns(g, ts, ints=("pid",))


LOGCAT = register(line_format(
    "logcat", r"^(?P<ts>\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) +(?P<pid>\d+) +(?P<tid>\d+) " + _LOGCAT_LEVELS
    + r" (?P<component>.*?): ?(?P<message>.*)$", _build_logcat, rank=10, yearless=True,
    description="Android logcat -v threadtime (no year)"), "android", "threadtime")
LOGCAT_TIME = register(line_format(
    "logcat_time", r"^(?P<ts>\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) " + _LOGCAT_LEVELS
    + r"/(?P<component>[^(]*?)\( *(?P<pid>\d+)\): ?(?P<message>.*)$", _build_logcat, rank=10, yearless=True,
    description="Android logcat -v time (no year)"))
LOGCAT_BRIEF = register(line_format(
    "logcat_brief", r"^" + _LOGCAT_LEVELS + r"/(?P<component>[^(]*?)\( *(?P<pid>\d+)\): ?(?P<message>.*)$",
    _build_brief, rank=30, description="Android logcat -v brief 'L/tag( pid): message' (no time of its own)",
    untimed="capture with `adb logcat -v threadtime` (or -v time), which writes a time on every line"))
PIPES = register(line_format(
    "pipes", r"^(?P<ts>\d{8}-\d{1,2}:\d{1,2}:\d{1,2}(?::\d{1,3})?)\|(?P<component>[^|]*)\|(?P<pid>\d+)\|(?P<message>.*)$",
    _build_pipes, rank=10, description="pipe-delimited 'yyyyMMdd-H:m:s:ms|component|pid|message' (HealthApp)"),
    "healthapp")

__all__ = ["LOGCAT", "LOGCAT_TIME", "LOGCAT_BRIEF", "PIPES"]
