"""``ik.logs.read``: log files of any common format into the canonical logs frame.

Files are streamed in blocks of whole lines (:mod:`.logblocks`); each block is parsed vectorised
(:mod:`.logformats`, :mod:`.loglines`), its fields mapped to canonical columns (:mod:`.logfields`),
and the time window and filters applied as it comes, so memory is bounded by the rows kept, not
by the file size. In a time-sorted file, blocks wholly before ``start`` are skipped without
being parsed and reading stops once past ``end``. Lines that cannot be parsed are counted in
``attrs["rejected"]`` and the first ones kept, with file and line number, in
``attrs["rejected_sample"]``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ... import frames, timeutil
from ...errors import ConfigError, SourceError
from . import fields as logfields
from . import files as logfiles
from . import formats
from .formats import base as logformats
from .formats import lines as loglines
from . import sniff as logsniff
from . import tables as logtables
from .stores import urls as logurls
from .blocks import Collector, Reader, read_file, reference_time
from .._base import source
from .tables import to_frame

log = logging.getLogger("incident_kit.logs")

FORMATS = ("auto", *sorted(n for n in formats.REGISTRY if n != "generic"), "generic", "regex")


def _reader_for(path: Path, fmt: str, options: Mapping[str, Any]) -> Reader | None:
    """Return the parser for ``path`` in format ``fmt`` (sniffed when ``auto``); None for an empty file."""
    opts = dict(options)
    if fmt == "auto":
        head = logfiles.head(path)
        if not head.strip():
            return None
        fmt, sniffed, share = logsniff.sniff(head)
        if not fmt:
            first = head.decode("utf-8", "replace").strip().split("\n", 1)[0][:120]
            raise SourceError("logs", path, f"cannot tell the log format from its first lines and no line starts with "
                              f"a timestamp (first line: {first!r}); pass format= one of {', '.join(FORMATS[1:])} "
                              "or a regex with named groups")
        opts.update(sniffed)
        confidence = "low confidence: " if share < 0.8 else ""
        note = f"{path}: format sniffed as {fmt} ({confidence}{share:.0%} of the first lines match)"
        log.info(note)
        return _build_reader(fmt, opts, note, share)
    return _build_reader(fmt, opts, "", 1.0)


def _build_reader(fmt: str, opts: dict[str, Any], note: str, confidence: float) -> Reader:
    if "(?P<" in fmt or "(?<" in fmt:
        return Reader("regex", loglines.parse_lines, {**opts, "line_format": loglines.user_regex(fmt)}, note)
    if fmt.lower() == "regex":
        pattern = opts.pop("regex", None)
        if not pattern:
            raise ConfigError("logs: format='regex' needs regex='...' with named groups such as (?P<ts>...)")
        return Reader("regex", loglines.parse_lines, {**opts, "line_format": loglines.user_regex(pattern)}, note)
    found = formats.get(fmt)
    if found is None:
        raise ConfigError(f"logs: format {fmt!r} is not known; expected one of {', '.join(FORMATS)} "
                          "or a regex with named groups")
    return Reader(found.name, found.parse, opts, note, multiline=found.multiline, yearless=found.yearless,
                  confidence=confidence)


# formats whose stamps usually carry no zone (read in ``timezone``, UTC by default)
_ZONELESS = {"log4j", "log4j_short_year", "oslo", "windows_cbs", "pipes", "golog", "django", "hdfs", "apache_error",
             "generic", "syslog"}


def _filter_key(key: str, aliases: Mapping[str, tuple[str, str | None]]) -> str:
    return aliases[key][0] if key in aliases and key not in logfields.CANONICAL else key


@source("logs", "logs")
def read(paths: Any, format: str = "auto", start: Any = None, end: Any = None, *,
         aliases: Mapping[str, Any] | None = None, time_format: str | None = None, tz: str = "UTC",
         timezone: str | None = None,
         regex: str | None = None, delimiter: str | None = None, rotated: bool = True,
         max_rows: int | None = None, early_stop: bool = True,
         chunk_bytes: int = logfiles.DEFAULT_CHUNK_BYTES, **filters: Any) -> pd.DataFrame:
    """Read log files into the canonical logs frame (PRODUCT.md), rows in time order.

    ``paths``: a file, glob, directory, rotated set or a list of them (``.gz``/``.zst`` read
    transparently). ``format``: ``auto`` (sniffed per file, recorded in ``attrs["format"]``), one
    of ``FORMATS``, or a regex with named groups. ``start``/``end``: anything
    :func:`timeutil.parse_time` accepts; rows with ``start <= ts <= end`` are kept. ``filters``:
    column=value exact matches (a list means any of), on canonical or extra columns
    (``service="shop-api", level="error", status=500``). ``aliases`` overrides the field-name
    table of :mod:`.logfields`; ``time_format`` is a strptime format for the time field; naive
    times are taken in ``tz``. ``max_rows`` keeps the first rows in time order and sets
    ``attrs["truncated"]``. ``early_stop=False`` parses every block even of time-sorted files;
    ``chunk_bytes`` is the block size. Items that are log-store URLs (``loki+http://...``,
    ``es+https://...``, ``clickhouse+http://...``, see :mod:`.logurls`) are read from the store.

    Returns the frame with attrs ``source``, ``truncated``, ``rejected``, ``rejected_sample``
    (dicts: source, line, text, reason), ``format``, ``formats`` and ``confidence`` (per file: the share
    of the first lines the sniffed format reads, 1.0 when given), ``continuations`` (lines kept in
    the ``exception`` of the record above), ``inherited_timestamps`` (rows of lines with no time of
    their own, such as uvicorn's or logcat brief's, timed by the record before them), ``timezone`` and ``notes`` (sniffing, year and zone
    assumptions, filters that could not apply or matched nothing). ``timezone`` (alias of ``tz``)
    names the zone of stamps that carry none.
    Raises :class:`SourceError` naming a missing/unreadable file or an unknown format, and
    :class:`ConfigError` for bad options or a filter on a column no file has.
    """
    window = timeutil.window(start, end)
    tz = timezone or tz
    items = logfiles.as_list(paths) if not isinstance(paths, Path) else [str(paths)]
    stores = [i for i in items if logurls.is_store_url(i)]
    if stores:
        return _read_with_stores(items, stores, format, window, aliases=aliases, time_format=time_format, tz=tz,
                                 regex=regex, delimiter=delimiter, rotated=rotated, max_rows=max_rows,
                                 early_stop=early_stop, chunk_bytes=chunk_bytes, filters=filters)
    files = logfiles.expand(paths, rotated=rotated)
    table_aliases = logfields.alias_table(aliases)
    wanted = {_filter_key(k, table_aliases): v for k, v in filters.items() if v is not None and v != ""}
    options: dict[str, Any] = {}
    if regex:
        options["regex"] = regex
    if delimiter:
        options["delimiter"] = delimiter
    named = {os.path.realpath(p) for p in logfiles.as_list(paths) if os.path.isfile(os.path.expanduser(p))}
    frame, out, file_formats, truncated = _read_files(files, format, window, wanted, table_aliases, options,
                                                 time_format=time_format, tz=tz, chunk_bytes=chunk_bytes,
                                                 early_stop=early_stop, max_rows=max_rows, named=named)
    label = logfiles.describe(paths if isinstance(paths, str | os.PathLike) else files)
    result = frames.conform(frame, "logs", source=label, truncated=truncated, rejected=out.rejected, sort=False)
    kinds = sorted(set(v for v in file_formats.values() if v != "empty")) or ["empty"]
    out.notes.extend(filter_notes(wanted, out))
    result.attrs.update({"rejected_sample": out.sample, "format": ",".join(kinds), "formats": file_formats,
                         "notes": out.notes, "files": [str(f) for f in files], "continuations": out.continuations,
                         "inherited_timestamps": out.inherited,
                         "confidence": out.confidence, "timezone": tz})
    return result


def filter_notes(wanted: Mapping[str, Any], out: Collector) -> list[str]:
    """Return the notes on equality filters: files they could not judge, and filters that matched nothing."""
    notes = []
    for column, value in wanted.items():
        files = out.unfiltered.get(column, [])
        if files:
            shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
            notes.append(f"filter {column}={value!r} not applied to {shown}: no {column} field there, its rows are kept")
        carrying, matched = out.filter_rows.get(column, [0, 0])
        if carrying and not matched:
            notes.append(f"filter {column}={value!r} matched nothing: none of the {carrying} rows with a {column} "
                         "field has that value")
    return notes


def _read_files(files: list[Path], fmt: str, window: tuple[Any, Any], wanted: Mapping[str, Any],
                table_aliases: Mapping[str, tuple[str, str | None]], options: dict[str, Any], *,
                time_format: str | None, tz: str, chunk_bytes: int, early_stop: bool,
                max_rows: int | None, named: set[str]) -> tuple[pd.DataFrame, Collector, dict[str, str], bool]:
    """Read every file into one frame (not yet conformed); return it, the collector, formats and truncation.

    A file found in a directory, glob or rotated set (not ``named``) whose format cannot be
    sniffed is skipped: its lines are counted as rejected, with a note. Raises
    :class:`SourceError` when a named file's format is unknown or no file at all could be read.
    """
    out = Collector()
    file_formats: dict[str, str] = {}
    unknown: list[SourceError] = []
    for path in files:
        try:
            reader = _reader_for(path, fmt or "auto", options)
        except SourceError as exc:
            if (fmt or "auto") != "auto" or os.path.realpath(path) in named:
                raise
            unknown.append(exc)
            _skip_unknown(path, exc, out)
            file_formats[str(path)] = "unknown"
            continue
        if reader is None:
            file_formats[str(path)] = "empty"
            out.notes.append(f"{path}: empty file")
            continue
        file_formats[str(path)] = reader.name
        out.confidence[str(path)] = round(reader.confidence, 3)
        if reader.note:
            out.notes.append(reader.note)
        if reader.yearless:
            ref = reference_time(path, window)
            whence = "the investigation window" if window[0] is not None or window[1] is not None else \
                "the file's modification time"
            what = f"the date of {ref:%Y-%m-%d}" if reader.name == "logback_time" else str(ref.year)
            out.notes.append(f"{path}: {reader.name} stamps carry no year: taken as {what} (from {whence}), "
                             f"times in {tz}")
        elif reader.name in _ZONELESS:
            out.notes.append(f"{path}: {reader.name} stamps without a zone are taken in {tz}"
                             + (" (pass timezone= otherwise)" if tz == "UTC" else ""))
        read_file(path, reader, window, wanted, table_aliases, time_format=time_format, tz=tz,
                  chunk_bytes=chunk_bytes, early_stop=early_stop, out=out)
    if unknown and len(unknown) == sum(1 for f in file_formats.values() if f != "empty"):
        raise unknown[0]
    truncated = False
    if out.tables:
        frame = logtables.to_frame(out.tables)  # emptied: the conversion frees each column as it goes
        if max_rows is not None and len(frame) > max_rows:
            frame, truncated = frame.iloc[:max_rows], True
    else:
        frame = pd.DataFrame()
    return frame, out, file_formats, truncated


def _skip_unknown(path: Path, error: SourceError, out: Collector) -> None:
    """Count the lines of a file of unknown format as rejected, sample its first line, say it was skipped."""
    lines = sum(logfiles.count_lines(block) for block, _ in logfiles.chunks(path))
    first = logfiles.head(path, 4096).decode("utf-8", "replace").split("\n", 1)[0][:300]
    out.rejected += max(lines, 1)
    if len(out.sample) < logformats.MAX_SAMPLE:
        out.sample.append({"source": str(path), "line": 1, "text": first,
                           "reason": "the file's log format is not recognised; the file was skipped"})
    out.notes.append(f"{path}: skipped, {lines} line(s) not read: {error.reason.split(' (first line')[0]}")


def _read_with_stores(items: list[str], stores: list[str], fmt: str, window: tuple[Any, Any], *,
                      filters: Mapping[str, Any], aliases: Mapping[str, Any] | None, max_rows: int | None,
                      **file_options: Any) -> pd.DataFrame:
    """``read`` when some items are log-store URLs: each store read with the window pushed down."""
    table_aliases = logfields.alias_table(aliases)
    wanted = {_filter_key(k, table_aliases): v for k, v in filters.items() if v is not None and v != ""}
    parts: list[pd.DataFrame] = []
    for url in stores:
        parts.append(logurls.filter_frame(logurls.read_store(url, window[0], window[1], aliases=aliases,
                                                             max_rows=max_rows), wanted))
    files = [i for i in items if i not in stores]
    if files:
        parts.append(read(files, fmt, window[0], window[1], aliases=aliases, max_rows=max_rows, **file_options,
                          **filters))
    label = ", ".join(frame.attrs.get("source", "") for frame in parts)
    merged = frames.concat(parts, "logs", source=label)
    merged.attrs.update({
        "rejected_sample": [s for frame in parts for s in frame.attrs.get("rejected_sample", [])][:logformats.MAX_SAMPLE],
        "format": ",".join(sorted({frame.attrs.get("format", "store") for frame in parts})),
        "notes": [n for frame in parts for n in frame.attrs.get("notes", [])],
    })
    return merged


__all__ = ["read", "FORMATS", "to_frame"]
