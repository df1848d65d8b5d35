"""Windows servicing logs (CBS.log / DISM: ``2016-09-28 04:30:30, Info  CBS  message``)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from . import stamps
from .lines import build_columns
from .registry import line_format, register


def _build_cbs(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    return build_columns(g, stamps.iso(g.field("ts"), opts.get("tz", "UTC")))


CBS = register(line_format(
    "windows_cbs", r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}), (?P<level>[A-Za-z]+) +(?:(?P<component>\S+)(?: +|$))?"
    r"(?P<message>.*)$", _build_cbs, rank=10, multiline=True,
    description="Windows CBS/DISM servicing log: stamp, level, component, message"), "cbs", "windows", "dism")

__all__ = ["CBS"]
