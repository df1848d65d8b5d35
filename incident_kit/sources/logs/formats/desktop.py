"""Desktop programs: Proxifier's ``[MM.DD HH:MM:SS] program - message`` (no year)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from . import stamps
from .lines import build_columns
from .registry import line_format, register


def _build_proxifier(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    ts = stamps.with_year(g.field("ts"), "%m.%d %H:%M:%S", opts.get("reference"), opts.get("tz", "UTC"))
    return build_columns(g, ts)


PROXIFIER = register(line_format(
    "proxifier", r"^\[(?P<ts>\d{2}\.\d{2} \d{2}:\d{2}:\d{2})\] (?P<program>.*?) - (?P<message>.*)$", _build_proxifier,
    rank=10, yearless=True, description="Proxifier: [MM.DD HH:MM:SS] program - message (no year)"))

__all__ = ["PROXIFIER"]
