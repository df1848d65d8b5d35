"""``format="auto"``: tell a log file's format from its first lines."""

from __future__ import annotations

import csv
import json
import re

from .formats.logfmt import logfmt_pairs
from .formats.lines import LINE_FORMATS

SNIFF_LINES = 50
_RE2_ONLY = re.compile(r"\\[pP]\{[^}]*\}")


def _python_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(_RE2_ONLY.sub(".", pattern))


_LINE_PATTERNS = {name: _python_pattern(fmt.pattern) for name, fmt in LINE_FORMATS.items() if name != "apache"}


def _json_kind(lines: list[str]) -> tuple[str, float, bool] | None:
    objects = 0
    journald = 0
    first = False
    for i, text in enumerate(lines):
        if not text.lstrip().startswith("{"):
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            continue
        if isinstance(obj, dict):
            first = first or i == 0
            objects += 1
            journald += "__REALTIME_TIMESTAMP" in obj
    if not objects:
        return None
    return ("journald" if journald * 2 > objects else "json", objects / len(lines), first)


def _csv_kind(text: str, lines: list[str]) -> tuple[str, str] | None:
    if len(lines) < 2:
        return None
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;\t|")
    except csv.Error:
        return None
    rows = list(csv.reader(lines[:20], delimiter=dialect.delimiter))
    width = len(rows[0])
    if width < 2 or sum(len(r) == width for r in rows) < 0.8 * len(rows):
        return None
    header = rows[0]
    if not all(h.strip() and not re.fullmatch(r"[-+\d.:T ]+", h) for h in header):
        return None
    return ("csv", dialect.delimiter)


def sniff(head: bytes) -> tuple[str, dict[str, str], float]:
    """Return ``(format, options, share_of_lines_matched)`` for the first lines of a file.

    ``format`` is ``""`` when nothing fits at least half of the lines (the caller raises).
    """
    text = head.decode("utf-8", errors="replace")
    lines = [ln.rstrip("\r") for ln in text.split("\n") if ln.strip()][:SNIFF_LINES]
    if not lines:
        return ("", {}, 0.0)
    # a format fits when it matches most lines, or the first line and a fair share of the others
    kind = _json_kind(lines)
    if kind and (kind[1] >= 0.5 or (kind[2] and kind[1] >= 0.2)):
        return (kind[0], {}, kind[1])
    best, best_share, best_first = "", 0.0, False
    for name, pattern in _LINE_PATTERNS.items():
        hits = [bool(pattern.match(ln)) for ln in lines]
        share = sum(hits) / len(lines)
        if share > best_share:
            best, best_share, best_first = name, share, hits[0]
    if best_share >= 0.5 or (best_first and best_share >= 0.2):
        return (best, {}, best_share)
    logfmt = sum(bool(p) and len(p) >= 2 for p in map(logfmt_pairs, lines)) / len(lines)
    if logfmt >= 0.8:
        return ("logfmt", {}, logfmt)
    found = _csv_kind(text, lines)
    if found:
        return (found[0], {"delimiter": found[1]}, 1.0)
    if logfmt >= 0.5:
        return ("logfmt", {}, logfmt)
    return ("", {}, max(best_share, logfmt))


__all__ = ["sniff", "SNIFF_LINES"]
