"""Rails' Logger, Go's ``log`` package, Heroku/Railway router and app lines."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import stamps
from .lines import blank_to_null, build_columns
from .registry import line_format, register


def _build_rails(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    return build_columns(g, stamps.iso(g.field("ts"), opts.get("tz", "UTC")), skip=("letter",))


def _build_go(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    return build_columns(g, stamps.iso(g.field("ts"), opts.get("tz", "UTC")))


_ROUTER = {
    "method": (r"\bmethod=(?P<v>\S+)", None), "path": (r"\bpath=\"?(?P<v>[^\" ]*)", None),
    "status": (r"\bstatus=(?P<v>\d{3})\b", pa.int64()), "latency_ms": (r"\bservice=(?P<v>\d+(?:\.\d+)?)ms\b", pa.float64()),
    "client": (r"\bfwd=\"?(?P<v>[^\" ,]*)", None), "code": (r"\bcode=(?P<v>H\d+)\b", None),
    "router_level": (r"^at=(?P<v>\w+)", None),
}


def _build_heroku(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    out = build_columns(g, stamps.iso(g.field("ts"), opts.get("tz", "UTC")))
    _fields_from(g.field("message"), _ROUTER, out)
    if "router_level" in out:
        level = out.pop("router_level")
        out["level"] = pc.if_else(pc.equal(level, "error"), "error", pc.if_else(pc.is_null(level), None, "info"))
    return out


_NGINX_FIELDS = {
    "client": (r"\bclient: (?P<v>[^,]+)", None), "server": (r"\bserver: (?P<v>[^,]+)", None),
    "method": (r"\brequest: \"(?P<v>[A-Z]+) ", None), "path": (r"\brequest: \"[A-Z]+ (?P<v>[^\" ]+)", None),
    "upstream": (r"\bupstream: \"(?P<v>[^\"]*)\"", None), "host": (r"\bhost: \"(?P<v>[^\"]*)\"", None),
}


def _fields_from(message: pa.Array, table: dict[str, tuple[str, Any]], out: dict[str, pa.Array]) -> None:
    """Add to ``out`` the fields that ``table``'s patterns (one ``v`` group each) find in ``message``."""
    for name, (pattern, kind) in table.items():
        found = pc.extract_regex(message, pattern)
        value = blank_to_null(pc.if_else(pc.is_valid(found), found.field("v"), ""))
        if value.null_count == len(value):
            continue
        out[name] = pc.cast(value, kind) if kind is not None else value


def _build_nginx_error(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    out = build_columns(g, stamps.iso(g.field("ts"), opts.get("tz", "UTC")), ints=("pid", "tid", "connection"))
    _fields_from(g.field("message"), _NGINX_FIELDS, out)
    return out


NGINX_ERROR = register(line_format(
    "nginx_error", r"^(?P<ts>\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) \[(?P<level>\w+)\] (?P<pid>\d+)#(?P<tid>\d+): "
    r"(?:\*(?P<connection>\d+) )?(?P<message>.*)$", _build_nginx_error, rank=10, multiline=True,
    description="nginx error log: stamp, [level], pid#tid: *connection message, client/server/request/upstream read"))
RAILS = register(line_format(
    "rails", r"^(?P<letter>[DIWEFAU]), \[(?P<ts>" + stamps.ISO + r") #(?P<pid>\d+)\] +(?P<level>[A-Z]+) -- "
    r"(?P<progname>[^:]*): (?P<message>.*)$", _build_rails, rank=10, multiline=True,
    description="Ruby/Rails Logger: 'I, [stamp #pid]  INFO -- progname: message'"), "ruby")
GO = register(line_format(
    "golog", r"^(?P<ts>" + stamps.SLASHED + r") (?:(?P<file>[\w./-]+\.go:\d+): )?(?:\[?(?P<level>" + stamps.LEVEL
    + r")\]?:? +)?(?P<message>.*)$", _build_go, rank=20, multiline=True,
    description="Go's log package: '2009/11/10 23:00:00[.micros] [file.go:12: ]message'"), "go")
HEROKU = register(line_format(
    "heroku", r"^(?:<\d{1,3}>1 )?(?P<ts>\d{4}-\d{2}-\d{2}T\S+) (?:host )?(?P<service>[\w.-]+)\[(?P<dyno>[\w.-]+)\]:? "
    r"(?:- )?(?P<message>.*)$", _build_heroku, rank=10,
    description="Heroku/Railway lines: 'stamp source[dyno]: message', router fields read"), "railway", "heroku_router")

__all__ = ["NGINX_ERROR", "RAILS", "GO", "HEROKU"]
