"""The format registry: every log format is one declared :class:`Format` (name, how it is sniffed, how it is parsed).

A family module declares its formats and calls :func:`register` once per format; importing
:mod:`incident_kit.sources.logs.formats` imports every family, so the registry is complete.
Sniffing (:mod:`..sniff`) asks each format what share of a file's first lines it reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

from .base import Parsed
from .lines import UNTIMED, LineFormat, parse_lines

# lines that continue the record above: indented text, Java and Python stack traces
CONTINUATION = re.compile(r"^(?:\s|Caused by:|Suppressed:|Traceback \(|During handling|The above exception|\.\.\. \d+ "
                          r"(?:more|common)|[\w$.]+(?:Exception|Error|Throwable|Warning)(?::|$)|\}|\]|\)$)")
_RE2_ONLY = re.compile(r"\\[pP]\{[^}]*\}")


@dataclass(frozen=True)
class Format:
    """One log format.

    ``parse(block, first_line, **options) -> Parsed``; ``sniff(lines) -> share`` of the sample
    lines it reads (None: never chosen by ``format="auto"``). On equal shares the lower
    ``rank`` wins (specific formats before general ones). ``multiline``: lines that are not
    records continue the record above. ``yearless``: its stamps carry no year (taken from the
    investigation window, else the file's modification time).
    """

    name: str
    parse: Callable[..., Parsed]
    sniff: Callable[[list[str]], float] | None = None
    rank: int = 50
    multiline: bool = False
    yearless: bool = False
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    untimed: str = ""


REGISTRY: dict[str, Format] = {}
ALIASES: dict[str, str] = {}


def register(fmt: Format, *aliases: str) -> Format:
    """Add ``fmt`` (and other names for it) to the registry; return it."""
    REGISTRY[fmt.name] = fmt
    for alias in aliases:
        ALIASES[alias] = fmt.name
    return fmt


def get(name: str) -> Format | None:
    """Return the format registered as ``name`` or one of its aliases (case-insensitive), else None."""
    key = name.lower()
    return REGISTRY.get(ALIASES.get(key, key))


def python_pattern(pattern: str) -> re.Pattern[str]:
    """Return ``pattern`` (RE2) compiled by Python's ``re`` for sniffing (RE2-only classes widened)."""
    return re.compile(_RE2_ONLY.sub(".", pattern))


def share_matching(pattern: re.Pattern[str], lines: list[str], multiline: bool) -> float:
    """Return the share of ``lines`` that ``pattern`` matches; continuation lines do not count for multi-line formats."""
    if multiline:
        lines = [ln for ln in lines if not CONTINUATION.match(ln)]
    if not lines:
        return 0.0
    return sum(1 for ln in lines if pattern.match(ln)) / len(lines)


def line_format(name: str, pattern: str, build: Callable[..., Any], *, rank: int = 50, multiline: bool = False,
                yearless: bool = False, description: str = "", sniffed: bool = True,
                presplit: Callable[[Any], Any] | None = None, untimed: str = "") -> Format:
    """Return the :class:`Format` of an RE2 line pattern with named groups and its column builder.

    ``presplit(lines)`` may read the format's commonest layout more cheaply (see :class:`.lines.LineFormat`).
    ``untimed``: the lines carry no time (see :class:`Format`); such a format is also tried on the
    lines any other line format does not read.
    """
    lf = LineFormat(name, pattern, build, description, multiline=multiline, presplit=presplit, untimed=bool(untimed))
    if untimed:
        UNTIMED.append(lf)
    compiled = python_pattern(pattern)
    sniff = partial(share_matching, compiled, multiline=multiline) if sniffed else None
    return Format(name, partial(parse_lines, line_format=lf), sniff, rank, multiline, yearless, description,
                  untimed=untimed)


__all__ = ["Format", "REGISTRY", "ALIASES", "CONTINUATION", "register", "get", "line_format", "python_pattern",
           "share_matching"]
