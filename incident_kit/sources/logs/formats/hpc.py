"""Supercomputer logs: Blue Gene/L RAS, Thunderbird (alert tag, epoch, date) and HPC node logs (epoch in the middle)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import stamps
from .lines import build_columns
from .registry import line_format, register


def _build_epoch(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    out = build_columns(g, stamps.epoch(g.field("epoch")), skip=("epoch",), ints=("log_id", "flag", "pid"))
    if "label" in out:  # "-" is "no alert": keep it as null
        out["alert"] = out.pop("label")
    return out


def _build_bgl(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    out = _build_epoch(g, opts)
    frac = pc.extract_regex(g.field("time"), r"\.(?P<f>\d{1,9})$")
    micros = pc.cast(pc.utf8_slice_codeunits(pc.utf8_rpad(pc.if_else(pc.is_valid(frac), frac.field("f"), "0"),
                                                          width=9, padding="0"), 0, 9), pa.int64())
    out["ts"] = pc.add(out["ts"].cast(pa.int64()), micros).cast(stamps.fields.TS_TYPE)
    return out


BGL = register(line_format(
    "bgl", r"^(?P<label>\S+) (?P<epoch>\d{9,10}) (?P<date>\d{4}\.\d{2}\.\d{2}) (?P<node>\S+) "
    r"(?P<time>\d{4}-\d{2}-\d{2}-\d{2}\.\d{2}\.\d{2}\.\d+) (?P<node_repeat>\S+) (?P<type>\S+) (?P<component>\S+) "
    r"(?P<level>\S+)(?: (?P<message>.*))?$", _build_bgl, rank=10,
    description="Blue Gene/L RAS log: alert tag, epoch, date, node, time, type, component, level, message"),
    "bluegene")
THUNDERBIRD = register(line_format(
    "thunderbird", r"^(?P<label>\S+) (?P<epoch>\d{9,10}) (?P<date>\d{4}\.\d{2}\.\d{2}) (?P<host>\S+) "
    r"(?P<syslog_time>" + stamps.MONTHS + r" +\d{1,2} \d{2}:\d{2}:\d{2}) (?P<location>\S+) "
    r"(?:(?P<component>\S+?)(?:\[(?P<pid>\d+)\])?: )?(?P<message>.*)$", _build_epoch, rank=10,
    description="Thunderbird/Spirit/Liberty: alert tag, epoch, date, host, syslog line"), "spirit", "liberty")
HPC = register(line_format(
    "hpc", r"^(?P<log_id>\d+) (?P<node>\S+) (?P<component>\S+) (?P<state>\S+) (?P<epoch>\d{9,10}) (?P<flag>\d+) "
    r"(?P<message>.*)$", _build_epoch, rank=10,
    description="HPC cluster node log: id, node, component, state, epoch, flag, message"))

__all__ = ["BGL", "THUNDERBIRD", "HPC"]
