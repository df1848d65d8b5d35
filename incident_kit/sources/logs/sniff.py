"""``format="auto"``: tell a log file's format from its first lines.

JSON objects are told apart first (Docker json-file, journald, plain JSON lines); then every
registered format with a sniffer says what share of the lines it reads, and the best share wins
(on equal shares the more specific format: lower ``rank``); then logfmt and CSV; the generic
timestamp fallback last. The share is the confidence recorded in the notes.
"""

from __future__ import annotations

import csv
import json
import re

from .formats import REGISTRY
from .formats.logfmt import logfmt_pairs

SNIFF_LINES = 50
FALLBACK = "generic"


def _json_kind(lines: list[str]) -> tuple[str, float, bool] | None:
    objects = journald = docker = 0
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
            docker += "log" in obj and "stream" in obj and "time" in obj
    if not objects:
        return None
    kind = "journald" if journald * 2 > objects else "docker" if docker * 2 > objects else "json"
    return (kind, objects / len(lines), first)


def _csv_kind(lines: list[str]) -> tuple[str, str] | None:
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


def best_line_format(lines: list[str], timed_only: bool = False) -> tuple[str, float, bool]:
    """Return ``(name, share, first_line_matches)`` of the registered line format reading most of ``lines``
    (``timed_only``: among formats whose lines carry a time)."""
    best, best_share, best_rank = "", 0.0, 10**6
    for fmt in REGISTRY.values():
        if fmt.sniff is None or fmt.name == FALLBACK or (timed_only and fmt.untimed):
            continue
        share = fmt.sniff(lines)
        if share > best_share + 1e-9 or (abs(share - best_share) <= 1e-9 and share > 0 and fmt.rank < best_rank):
            best, best_share, best_rank = fmt.name, share, fmt.rank
    first = bool(best) and REGISTRY[best].sniff([lines[0]]) > 0  # type: ignore[misc]
    return best, best_share, first


def _timed_among_untimed(lines: list[str]) -> tuple[str, dict[str, str], float] | None:
    """Return the timed format of a file whose records mix with lines of an untimed format (uvicorn's
    lines in an app's log), with the share of lines both read; None when there are no such lines
    or no timed format reads the others."""
    untimed = [fmt for fmt in REGISTRY.values() if fmt.untimed and fmt.sniff is not None]
    plain = [ln for ln in lines if not any(fmt.sniff([ln]) for fmt in untimed)]  # type: ignore[misc]
    if not plain or len(plain) == len(lines):
        return None
    kind = _json_kind(plain)
    if kind and kind[1] >= 0.5:
        return (kind[0], {}, (len(lines) - len(plain) + kind[1] * len(plain)) / len(lines))
    name, share, first = best_line_format(plain, timed_only=True)
    if not name or not (share >= 0.5 or (first and share >= 0.2)):
        name, share = FALLBACK, REGISTRY[FALLBACK].sniff(plain)  # type: ignore[misc]
        if share < 0.5:
            return None
    return (name, {}, (len(lines) - len(plain) + share * len(plain)) / len(lines))


def sniff(head: bytes) -> tuple[str, dict[str, str], float]:
    """Return ``(format, options, share_of_lines_matched)`` for the first lines of a file.

    ``format`` is ``""`` when nothing reads the lines, not even the timestamp fallback (the caller raises).
    """
    text = head.decode("utf-8", errors="replace")
    lines = [ln.rstrip("\r") for ln in text.split("\n") if ln.strip()][:SNIFF_LINES]
    if not lines:
        return ("", {}, 0.0)
    # a format fits when it matches most lines, or the first line and a fair share of the others
    kind = _json_kind(lines)
    if kind and (kind[1] >= 0.5 or (kind[2] and kind[1] >= 0.2)):
        return (kind[0], {}, kind[1])
    timed = _timed_among_untimed(lines)
    if timed is not None:
        return timed
    best, best_share, best_first = best_line_format(lines)
    if best_share >= 0.5 or (best_first and best_share >= 0.2):
        return (best, {}, best_share)
    logfmt = sum(bool(p) and len(p) >= 2 for p in map(logfmt_pairs, lines)) / len(lines)
    if logfmt >= 0.8:
        return ("logfmt", {}, logfmt)
    found = _csv_kind(lines)
    if found:
        return (found[0], {"delimiter": found[1]}, 1.0)
    if logfmt >= 0.5:
        return ("logfmt", {}, logfmt)
    fallback = REGISTRY[FALLBACK].sniff(lines)  # type: ignore[misc]
    if fallback > 0:
        return (FALLBACK, {}, fallback)
    return ("", {}, max(best_share, logfmt))


__all__ = ["sniff", "best_line_format", "SNIFF_LINES", "FALLBACK"]
