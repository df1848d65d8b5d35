"""Container runtimes: Kubernetes CRI lines and Docker's json-file lines."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import stamps
from .base import Parsed
from .jsonlines import parse_json
from .lines import build_columns
from .registry import Format, line_format, register


def _build_cri(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    return build_columns(g, stamps.iso(g.field("ts"), opts.get("tz", "UTC")))


def parse_docker(block: bytes, first_line: int, **opts: Any) -> Parsed:
    """Parse Docker json-file lines (``{"log": ..., "stream": ..., "time": ...}``); the log's line end is dropped."""
    parsed = parse_json(block, first_line, **opts)
    table = parsed.table
    if "log" in table.column_names:
        i = table.column_names.index("log")
        table = table.set_column(i, "log", pc.utf8_rtrim(table.column(i).cast(pa.string()), characters="\r\n"))
        parsed.table = table
    return parsed


def _docker_share(lines: list[str]) -> float:
    hits = 0
    for text in lines:
        if not text.startswith("{"):
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            continue
        hits += isinstance(obj, dict) and "log" in obj and "stream" in obj and "time" in obj
    return hits / len(lines) if lines else 0.0


def _build_klog(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    ts = stamps.with_year(g.field("ts"), "%m%d %H:%M:%S.%f", opts.get("reference"), opts.get("tz", "UTC"))
    return build_columns(g, ts)


KLOG = register(line_format(
    "klog", r"^(?P<level>[IWEF])(?P<ts>\d{4} \d{2}:\d{2}:\d{2}\.\d{6}) +(?P<pid>\d+) (?P<file>[^\s:\]]+:\d+)\] "
    r"(?P<message>.*)$", _build_klog, rank=10, multiline=True, yearless=True,
    description="Kubernetes klog/glog: 'I1014 10:15:30.123456  12345 file.go:123] message' (no year)"), "glog")
CRI = register(line_format(
    "cri", r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) (?P<stream>stdout|stderr) "
    r"(?P<tag>[FP]) ?(?P<message>.*)$", _build_cri, rank=10,
    description="Kubernetes CRI container log lines: stamp, stream, F/P tag, message"), "kubernetes", "containerd")
DOCKER = register(Format("docker", parse_docker, _docker_share, rank=5,
                         description="Docker json-file lines"), "docker_json", "json-file")

__all__ = ["KLOG", "CRI", "DOCKER", "parse_docker"]
