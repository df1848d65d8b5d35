"""``ik.logs.read``: log files of any common format into the canonical logs frame.

Files are streamed in blocks of whole lines; each block is parsed vectorised (see
:mod:`.logformats`), its fields mapped to canonical columns (:mod:`.logfields`), and the time
window and filters applied before the next block is read, so memory is bounded by the rows
kept, not by the file size. In a time-sorted file, blocks wholly before ``start`` are skipped
without being parsed and reading stops once past ``end``. Lines that cannot be parsed are counted in ``attrs["rejected"]`` and the first ones
kept, with file and line number, in ``attrs["rejected_sample"]``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import frames, timeutil
from ..errors import ConfigError, SourceError
from . import logfields, logfiles, logformats, loglines, logsniff, logtables, logurls
from ._base import source
from .logtables import to_frame

log = logging.getLogger("incident_kit.logs")

FORMATS = ("auto", "json", "journald", "logfmt", "csv", "combined", "nginx", "common", "apache", "apache_error",
           "syslog", "syslog5424", "hdfs", "regex")
# a block wholly later than ``end`` by this much stops a time-sorted file
SORTED_SLACK = pd.Timedelta(minutes=5)


@dataclass
class _Reader:
    """One file's parser: the format name, the function and its options."""

    name: str
    parse: Callable[..., logformats.Parsed]
    options: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def _reader_for(path: Path, fmt: str, options: Mapping[str, Any]) -> _Reader | None:
    """Return the parser for ``path`` in format ``fmt`` (sniffed when ``auto``); None for an empty file."""
    opts = dict(options)
    if fmt == "auto":
        head = logfiles.head(path)
        if not head.strip():
            return None
        fmt, sniffed, share = logsniff.sniff(head)
        if not fmt:
            first = head.decode("utf-8", "replace").strip().split("\n", 1)[0][:120]
            raise SourceError("logs", path, f"cannot tell the log format from its first lines (first line: {first!r}); "
                              f"pass format= one of {', '.join(FORMATS[1:])} or a regex with named groups")
        opts.update(sniffed)
        note = f"{path}: format sniffed as {fmt} ({share:.0%} of the first lines match)"
        log.info(note)
        return _build_reader(fmt, opts, note)
    return _build_reader(fmt, opts, "")


def _build_reader(fmt: str, opts: dict[str, Any], note: str) -> _Reader:
    if "(?P<" in fmt or "(?<" in fmt:
        return _Reader("regex", loglines.parse_lines, {**opts, "line_format": loglines.user_regex(fmt)}, note)
    name = loglines.FORMAT_ALIASES.get(fmt.lower(), fmt.lower())
    if name == "regex":
        pattern = opts.pop("regex", None)
        if not pattern:
            raise ConfigError("logs: format='regex' needs regex='...' with named groups such as (?P<ts>...)")
        return _Reader("regex", loglines.parse_lines, {**opts, "line_format": loglines.user_regex(pattern)}, note)
    if name in loglines.LINE_FORMATS:
        return _Reader(name, loglines.parse_lines, {**opts, "line_format": loglines.LINE_FORMATS[name]}, note)
    simple = {"json": logformats.parse_json, "journald": logformats.parse_journald,
              "logfmt": logformats.parse_logfmt, "csv": logformats.parse_csv}
    if name not in simple:
        raise ConfigError(f"logs: format {fmt!r} is not known; expected one of {', '.join(FORMATS)} "
                          "or a regex with named groups")
    return _Reader(name, simple[name], opts, note)


def _filter_key(key: str, aliases: Mapping[str, tuple[str, str | None]]) -> str:
    return aliases[key][0] if key in aliases and key not in logfields.CANONICAL else key


def _filter_mask(table: pa.Table, filters: Mapping[str, Any]) -> pa.Array | None:
    mask = None
    for column, wanted in filters.items():
        if column not in table.column_names:
            cond = pa.array(np.zeros(table.num_rows, dtype=bool))
        else:
            col = table.column(column)
            values = list(wanted) if isinstance(wanted, list | tuple | set | frozenset) else [wanted]
            if column == "level":
                values = [logfields.level_value(v) for v in values]
            try:
                value_set = pa.array(values).cast(col.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                value_set = pa.array([str(v) for v in values])
                col = col.cast(pa.string())
            cond = pc.fill_null(pc.is_in(col, value_set=value_set), False)
        mask = cond if mask is None else pc.and_(mask, cond)
    return mask


@dataclass
class _Collector:
    """What a read accumulates across files: kept tables, rejects, notes."""

    tables: list[pa.Table] = field(default_factory=list)
    rejected: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    columns_seen: set[str] = field(default_factory=set)
    parsed_rows: int = 0

    def add_rejects(self, path: Path, parsed: logformats.Parsed) -> None:
        self.rejected += parsed.rejected
        for item in parsed.rejected_sample:
            if len(self.sample) < logformats.MAX_SAMPLE:
                self.sample.append({"source": str(path), **item})


def _read_file(path: Path, reader: _Reader, window: tuple[pd.Timestamp | None, pd.Timestamp | None],
               filters: Mapping[str, Any], aliases: Mapping[str, tuple[str, str | None]], *,
               time_format: str | None, tz: str, chunk_bytes: int, early_stop: bool, out: _Collector) -> None:
    start, end = window
    lo = pa.scalar(start.value, logfields.TS_TYPE) if start is not None else None
    hi = pa.scalar(end.value, logfields.TS_TYPE) if end is not None else None
    stop_after = (end + SORTED_SLACK).value if end is not None else None
    sorted_so_far, last_max, seen_before_end = True, None, False
    options = dict(reader.options)
    skipped = 0
    encode: set[str] | None = None  # text columns kept dictionary-encoded, chosen on the file's first rows
    skip_before = (start - SORTED_SLACK).value if start is not None else None
    for block, first_line in logfiles.prefetch(logfiles.chunks(path, chunk_bytes)):
        if early_stop and sorted_so_far and skip_before is not None and (reader.name != "csv" or "header" in options):
            first_ts, last_ts = _edge_times(block, reader, options, aliases, time_format=time_format, tz=tz, end=end)
            if (first_ts is not None and last_ts is not None and first_ts <= last_ts and last_ts < skip_before
                    and (last_max is None or first_ts >= last_max - SORTED_SLACK.value)):
                # a time-sorted block wholly before the window: not parsed, only its lines counted
                skipped += block.count(b"\n")
                last_max, seen_before_end = last_ts, True
                continue
        if skipped:
            out.notes.append(f"{path}: lines 1-{first_line - 1} are before the window start and were not parsed "
                             "(time-sorted file)")
            skipped = 0
        parsed = reader.parse(block, first_line, tz=tz, reference=end, **options)
        if reader.name == "csv" and "header" not in options:
            options["header"] = parsed.table.column_names
        table = logfields.canonicalize(parsed.table, aliases, time_format=time_format, tz=tz)
        if table.num_rows and "ts" not in table.column_names:
            raise SourceError("logs", path, f"no timestamp field among {', '.join(parsed.table.column_names)[:300]}; "
                              "name it with aliases={'<field>': 'ts'}")
        ts = table.column("ts")
        bad_ts = pc.is_null(ts)
        if table.num_rows and pc.any(bad_ts).as_py():
            parsed.reject_rows(np.flatnonzero(bad_ts.to_numpy(zero_copy_only=False)), "timestamp missing or unreadable")
            table = table.filter(pc.invert(bad_ts))
            ts = table.column("ts")
        out.add_rejects(path, parsed)
        out.parsed_rows += table.num_rows
        out.columns_seen.update(table.column_names)
        if table.num_rows == 0:
            continue
        tmin, tmax = (v.value for v in pc.min_max(ts).values())
        if last_max is not None and tmin < last_max - SORTED_SLACK.value:
            sorted_so_far = False
        if (early_stop and sorted_so_far and stop_after is not None and tmin > stop_after
                and (seen_before_end or (last_max is None
                                         and _ends_later(path, tmax, reader, options, aliases, time_format, tz, end)))):
            out.notes.append(f"{path}: stopped reading at line {first_line}, past the window end (time-sorted file)")
            return
        last_max = tmax if last_max is None else max(last_max, tmax)
        seen_before_end = seen_before_end or (stop_after is not None and tmin <= stop_after)
        mask = None
        if lo is not None:
            mask = pc.greater_equal(ts, lo)
        if hi is not None:
            m = pc.less_equal(ts, hi)
            mask = m if mask is None else pc.and_(mask, m)
        fmask = _filter_mask(table, filters)
        if fmask is not None:
            mask = fmask if mask is None else pc.and_(mask, fmask)
        if mask is not None:
            table = table.filter(mask)
        if table.num_rows:
            # one path per file: a dictionary of one value, not a copy of the path per row
            table = table.append_column("source", pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(table.num_rows, dtype=np.int32)), pa.array([str(path)], pa.large_string())))
            if encode is None:
                encode = logtables.encoded_columns(table)
            out.tables.append(logtables.compact(table, encode))
        del parsed, table, ts
        pa.default_memory_pool().release_unused()  # give the block's transient memory back before the next


def _ends_later(path: Path, first_max: int, reader: _Reader, options: Mapping[str, Any],
                aliases: Mapping[str, tuple[str, str | None]], time_format: str | None, tz: str,
                end: pd.Timestamp | None) -> bool:
    """True when the file's last lines are not earlier than its first block (so it looks time-sorted).

    Only plain files can be checked cheaply; for compressed ones the answer is False (read on).
    """
    tail = logfiles.tail(path)
    if tail is None:
        return False
    _, last = _edge_times(tail, reader, options, aliases, time_format=time_format, tz=tz, end=end)
    return last is not None and last >= first_max - SORTED_SLACK.value


def _edge_times(block: bytes, reader: _Reader, options: Mapping[str, Any],
                aliases: Mapping[str, tuple[str, str | None]], *, time_format: str | None, tz: str,
                end: pd.Timestamp | None) -> tuple[int | None, int | None]:
    """Return the times (ns) of the first and last lines of ``block`` (None when unreadable), parsing only them."""
    edges: list[int | None] = []
    cut = 0
    for _ in range(3):
        nxt = block.find(b"\n", cut)
        cut = len(block) if nxt < 0 else nxt + 1
    tail_start = len(block.rstrip(b"\r\n"))
    for _ in range(3):
        tail_start = block.rfind(b"\n", 0, max(tail_start, 0))
        if tail_start < 0:
            break
    for piece, pick in ((block[:cut], 0), (block[max(tail_start + 1, 0):], -1)):
        try:
            parsed = reader.parse(piece, 1, tz=tz, reference=end, **options)
            table = logfields.canonicalize(parsed.table, aliases, time_format=time_format, tz=tz)
        except Exception:  # noqa: BLE001 - an unreadable edge only means "parse this block"
            return None, None
        if "ts" not in table.column_names or table.num_rows == 0 or parsed.rejected:
            return None, None
        ts = table.column("ts").drop_null()
        if len(ts) == 0:
            return None, None
        edges.append(int(ts[pick].value))
    return edges[0], edges[1]


@source("logs", "logs")
def read(paths: Any, format: str = "auto", start: Any = None, end: Any = None, *,
         aliases: Mapping[str, Any] | None = None, time_format: str | None = None, tz: str = "UTC",
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
    (dicts: source, line, text, reason), ``format``, ``formats`` (per file) and ``notes``.
    Raises :class:`SourceError` naming a missing/unreadable file or an unknown format, and
    :class:`ConfigError` for bad options or a filter on a column no file has.
    """
    window = timeutil.window(start, end)
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
    frame, out, formats, truncated = _read_files(files, format, window, wanted, table_aliases, options,
                                                 time_format=time_format, tz=tz, chunk_bytes=chunk_bytes,
                                                 early_stop=early_stop, max_rows=max_rows)
    label = logfiles.describe(paths if isinstance(paths, str | os.PathLike) else files)
    result = frames.conform(frame, "logs", source=label, truncated=truncated, rejected=out.rejected, sort=False)
    kinds = sorted(set(v for v in formats.values() if v != "empty")) or ["empty"]
    result.attrs.update({"rejected_sample": out.sample, "format": ",".join(kinds), "formats": formats,
                         "notes": out.notes, "files": [str(f) for f in files]})
    return result


def _read_files(files: list[Path], fmt: str, window: tuple[Any, Any], wanted: Mapping[str, Any],
                table_aliases: Mapping[str, tuple[str, str | None]], options: dict[str, Any], *,
                time_format: str | None, tz: str, chunk_bytes: int, early_stop: bool,
                max_rows: int | None) -> tuple[pd.DataFrame, _Collector, dict[str, str], bool]:
    """Read every file into one frame (not yet conformed); return it, the collector, formats and truncation."""
    out = _Collector()
    formats: dict[str, str] = {}
    for path in files:
        reader = _reader_for(path, fmt or "auto", options)
        if reader is None:
            formats[str(path)] = "empty"
            out.notes.append(f"{path}: empty file")
            continue
        formats[str(path)] = reader.name
        if reader.note:
            out.notes.append(reader.note)
        _read_file(path, reader, window, wanted, table_aliases, time_format=time_format, tz=tz,
                   chunk_bytes=chunk_bytes, early_stop=early_stop, out=out)
    if out.parsed_rows:
        missing = [k for k in wanted if k not in out.columns_seen]
        if missing:
            raise ConfigError(f"logs {logfiles.describe(files)}: no column {', '.join(map(repr, missing))} to filter on; "
                              f"columns are {', '.join(sorted(out.columns_seen))}")
    truncated = False
    if out.tables:
        frame = logtables.to_frame(out.tables)  # emptied: the conversion frees each column as it goes
        if max_rows is not None and len(frame) > max_rows:
            frame, truncated = frame.iloc[:max_rows], True
    else:
        frame = pd.DataFrame()
    return frame, out, formats, truncated


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
