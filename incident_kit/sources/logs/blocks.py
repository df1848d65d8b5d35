"""One log file, block by block: parse, apply the window and filters, keep what is left.

Blocks come from :func:`.logfiles.chunks` (read ahead by a thread). While the calling thread
filters and keeps block *k*, worker threads already parse the next :data:`PARSE_AHEAD` blocks
(Arrow and polars release the GIL, so every core works). In a time-sorted file, blocks wholly before the window
are skipped without being parsed, and reading stops once a block starts past its end; those
decisions are always taken on the state left by every block before, so the parse-ahead never
changes which rows are kept.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ...errors import SourceError
from . import fields as logfields
from . import files as logfiles
from .formats import base as logformats
from .formats import registry as logregistry
from . import tables as logtables

# a block wholly later than ``end`` by this much stops a time-sorted file
SORTED_SLACK = pd.Timedelta(minutes=5)
# blocks parsed at once by worker threads while the oldest is kept: two keep two cores busy (polars
# parses one block on about one and a half); each adds one block's transient memory
PARSE_AHEAD = max(1, min(2, os.cpu_count() or 1))

Aliases = Mapping[str, tuple[str, str | None]]


@dataclass
class Reader:
    """One file's parser: the format name, the function and its options."""

    name: str
    parse: Callable[..., logformats.Parsed]
    options: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    multiline: bool = False
    yearless: bool = False
    confidence: float = 1.0


@dataclass
class Collector:
    """What a read accumulates across files: kept tables, rejects, notes."""

    tables: list[pa.Table] = field(default_factory=list)
    rejected: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    columns_seen: set[str] = field(default_factory=set)
    parsed_rows: int = 0
    continuations: int = 0
    inherited: int = 0  # rows of lines without a time of their own, timed by the record before them
    confidence: dict[str, float] = field(default_factory=dict)
    # per filter column: rows that carry the field, rows that match; files that lack the field
    filter_rows: dict[str, list[int]] = field(default_factory=dict)
    unfiltered: dict[str, list[str]] = field(default_factory=dict)

    def add_rejects(self, path: Path, parsed: logformats.Parsed) -> None:
        self.rejected += parsed.rejected
        self.continuations += parsed.continuations
        for item in parsed.rejected_sample:
            if len(self.sample) < logformats.MAX_SAMPLE:
                self.sample.append({"source": str(path), **item})


def filter_mask(table: pa.Table, filters: Mapping[str, Any],
                counts: dict[str, list[int]] | None = None) -> pa.Array | None:
    """Return the mask of rows kept by every ``column=value`` filter (a list means any of); None without filters.

    A filter judges only the rows that carry its field: rows whose value is null, and tables
    without the column, are kept. ``counts[column]`` adds up [rows carrying the field, rows matching].
    """
    mask = None
    for column, wanted in filters.items():
        if column not in table.column_names:
            continue
        col = table.column(column)
        values = list(wanted) if isinstance(wanted, list | tuple | set | frozenset) else [wanted]
        if column == "level":
            values = [logfields.level_value(v) for v in values]
        try:
            value_set = pa.array(values).cast(col.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            value_set = pa.array([str(v) for v in values])
            col = col.cast(pa.string())
        matched = pc.fill_null(pc.is_in(col, value_set=value_set), False)
        if counts is not None:
            tally = counts.setdefault(column, [0, 0])
            tally[0] += len(col) - col.null_count
            tally[1] += pc.sum(matched).as_py() or 0
        cond = pc.or_(matched, pc.is_null(col)) if col.null_count else matched
        mask = cond if mask is None else pc.and_(mask, cond)
    return mask


def reference_time(path: Path, window: tuple[pd.Timestamp | None, pd.Timestamp | None]) -> pd.Timestamp:
    """Return the instant year-less stamps are read near: the window's end, else its start, else the file's mtime."""
    if window[1] is not None:
        return window[1]
    if window[0] is not None:
        return window[0]
    try:
        return pd.Timestamp(os.path.getmtime(path), unit="s", tz="UTC")
    except OSError:
        return pd.Timestamp.now(tz="UTC")


@dataclass
class _Block:
    """A parsed block on its way to being kept."""

    first_line: int
    parsed: logformats.Parsed
    table: pa.Table


class FileBlocks:
    """The per-file state of a read: window, filters, sortedness seen so far, what was skipped."""

    def __init__(self, path: Path, reader: Reader, window: tuple[pd.Timestamp | None, pd.Timestamp | None],
                 filters: Mapping[str, Any], aliases: Aliases, *, time_format: str | None, tz: str,
                 early_stop: bool, out: Collector) -> None:
        self.path, self.reader, self.filters, self.aliases = path, reader, filters, aliases
        self.time_format, self.tz, self.early_stop, self.out = time_format, tz, early_stop, out
        self.start, self.end = window
        self.lo = pa.scalar(self.start.value, logfields.TS_TYPE) if self.start is not None else None
        self.hi = pa.scalar(self.end.value, logfields.TS_TYPE) if self.end is not None else None
        self.stop_after = (self.end + SORTED_SLACK).value if self.end is not None else None
        self.skip_before = (self.start - SORTED_SLACK).value if self.start is not None else None
        self.options = dict(reader.options)
        self.sorted_so_far, self.seen_before_end = True, False
        self.last_max: int | None = None
        self.skipped_lines = 0
        self.encode: set[str] | None = None  # text columns kept dictionary-encoded, chosen on the file's first rows
        self.reference = reference_time(path, window)
        # the time of the file's last timed record so far (ns), carried to the untimed lines after it
        self.carry: int | None = None
        self.inherited, self.untimed_rejected, self.any_time = 0, 0, False
        self.untimed_formats: set[str] = set()

    @property
    def needs_header(self) -> bool:
        """True for a CSV file whose header the first parsed block has not given yet."""
        return self.reader.name == "csv" and "header" not in self.options

    def skippable(self, block: bytes) -> int | None:
        """Return the time of ``block``'s last line when it is wholly before the window in a time-sorted file, else None."""
        if not (self.early_stop and self.sorted_so_far and self.skip_before is not None and not self.needs_header):
            return None
        first_ts, last_ts = edge_times(block, self.reader, self.options, self.aliases, time_format=self.time_format,
                                       tz=self.tz, end=self.reference)
        if (first_ts is not None and last_ts is not None and first_ts <= last_ts < self.skip_before
                and (self.last_max is None or first_ts >= self.last_max - SORTED_SLACK.value)):
            return last_ts
        return None

    def skip(self, block: bytes, last_ts: int) -> None:
        """Count ``block``'s lines as skipped, unparsed."""
        self.skipped_lines += logfiles.count_lines(block)
        self.last_max, self.seen_before_end = last_ts, True
        self.carry = last_ts

    def note_skipped(self, first_line: int) -> None:
        if self.skipped_lines:
            self.out.notes.append(f"{self.path}: lines 1-{first_line - 1} are before the window start and were not "
                                  "parsed (time-sorted file)")
            self.skipped_lines = 0

    def parse(self, block: bytes, first_line: int, options: dict[str, Any]) -> _Block:
        """Parse ``block`` into canonical columns (runs on the worker thread; touches no shared state)."""
        parsed = self.reader.parse(block, first_line, tz=self.tz, reference=self.reference, **options)
        table = logfields.canonicalize(parsed.table, self.aliases, time_format=self.time_format, tz=self.tz)
        return _Block(first_line, parsed, table)

    def keep(self, block: _Block) -> bool:
        """Reject rows without a time, update the sortedness, keep the rows in the window; False to stop the file."""
        parsed, table = block.parsed, block.table
        if self.needs_header:
            self.options["header"] = parsed.table.column_names
        if table.num_rows and "ts" not in table.column_names:
            raise SourceError("logs", self.path, f"no timestamp field among "
                              f"{', '.join(parsed.table.column_names)[:300]}; name it with aliases={{'<field>': 'ts'}}")
        ts = table.column("ts") if table.num_rows else None
        untimed = None
        if ts is not None and parsed.inherit is not None and len(parsed.inherit):
            ts, untimed = self._carry_time(ts, parsed)
            table = table.set_column(table.schema.get_field_index("ts"), "ts", ts)
        if ts is not None and ts.null_count:
            bad_ts = unreadable = pc.is_null(ts).to_numpy(zero_copy_only=False)
            if untimed is not None:
                orphans = bad_ts & untimed
                self.untimed_rejected += int(orphans.sum())
                parsed.reject_rows(np.flatnonzero(orphans), f"no timestamp on this line nor on any line before it "
                                   f"({', '.join(parsed.inherit_formats)} lines carry none)")
                unreadable = bad_ts & ~untimed
            parsed.reject_rows(np.flatnonzero(unreadable), "timestamp missing or unreadable")
            table = table.filter(pa.array(~bad_ts))
            ts = table.column("ts")
        if ts is not None and table.num_rows:
            self.carry, self.any_time = ts[-1].value, True
        self.out.add_rejects(self.path, parsed)
        self.out.parsed_rows += table.num_rows
        self.out.columns_seen.update(table.column_names)
        if ts is None or table.num_rows == 0:
            return True
        tmin, tmax = (v.value for v in pc.min_max(ts).values())
        if self.last_max is not None and tmin < self.last_max - SORTED_SLACK.value:
            self.sorted_so_far = False
        if self._past_the_end(tmin, tmax):
            self.out.notes.append(f"{self.path}: stopped reading at line {block.first_line}, past the window end "
                                  "(time-sorted file)")
            return False
        self.last_max = tmax if self.last_max is None else max(self.last_max, tmax)
        self.seen_before_end = self.seen_before_end or (self.stop_after is not None and tmin <= self.stop_after)
        self._keep_rows(table, ts)
        return True

    def _carry_time(self, ts: pa.ChunkedArray | pa.Array, parsed: logformats.Parsed) -> tuple[pa.Array, np.ndarray]:
        """Return ``ts`` with each untimed row (``parsed.inherit``) given the time of the last timed
        record before it (in this block, else the file's earlier blocks), and the untimed rows' mask."""
        arr = ts.combine_chunks() if isinstance(ts, pa.ChunkedArray) else ts
        untimed = np.zeros(len(arr), bool)
        untimed[parsed.inherit] = True
        before = pa.array([self.carry], logfields.TS_TYPE)
        filled = pc.fill_null_forward(pa.concat_arrays([before, arr.cast(logfields.TS_TYPE)])).slice(1)
        out = pc.if_else(pa.array(untimed), filled, arr)
        got = int((untimed & pc.is_valid(out).to_numpy(zero_copy_only=False)).sum())
        self.inherited += got
        self.out.inherited += got
        self.untimed_formats.update(parsed.inherit_formats)
        return out, untimed

    def untimed_notes(self) -> list[str]:
        """Return the notes on lines without a time of their own: carried, rejected, or a file with none at all."""
        if not self.untimed_formats:
            return []
        names = ", ".join(sorted(self.untimed_formats))
        notes = []
        if self.inherited:
            notes.append(f"{self.path}: {self.inherited} line(s) without a time of their own ({names}) took the time "
                         "of the record before them")
        if self.untimed_rejected and not self.any_time:
            hints = [f.untimed for n in sorted(self.untimed_formats) if (f := logregistry.get(n)) is not None and f.untimed]
            notes.append(f"{self.path}: no line has a timestamp ({names}): its {self.untimed_rejected} line(s) are "
                         f"counted as rejected; to read it, {'; or '.join(hints) or 'make the program write a time'}")
        elif self.untimed_rejected:
            notes.append(f"{self.path}: {self.untimed_rejected} line(s) without a time ({names}) come before the first "
                         "timestamped record and are counted as rejected")
        return notes

    def _past_the_end(self, tmin: int, tmax: int) -> bool:
        if not (self.early_stop and self.sorted_so_far and self.stop_after is not None and tmin > self.stop_after):
            return False
        return self.seen_before_end or (self.last_max is None and self._ends_later(tmax))

    def _keep_rows(self, table: pa.Table, ts: pa.ChunkedArray) -> None:
        mask = pc.greater_equal(ts, self.lo) if self.lo is not None else None
        if self.hi is not None:
            below = pc.less_equal(ts, self.hi)
            mask = below if mask is None else pc.and_(mask, below)
        if mask is not None and self.filters:  # filters are judged (and counted) on the rows in the window
            table, mask = table.filter(mask), None
        for column in self.filters:
            if column not in table.column_names and str(self.path) not in self.out.unfiltered.get(column, []):
                self.out.unfiltered.setdefault(column, []).append(str(self.path))
        matching = filter_mask(table, self.filters, self.out.filter_rows)
        if matching is not None:
            mask = matching if mask is None else pc.and_(mask, matching)
        if mask is not None:
            table = table.filter(mask)
        if not table.num_rows:
            return
        # one path per file: a dictionary of one value, not a copy of the path per row
        table = table.append_column("source", pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(table.num_rows, dtype=np.int32)), pa.array([str(self.path)], pa.large_string())))
        if self.encode is None:
            self.encode = logtables.encoded_columns(table)
        self.out.tables.append(logtables.compact(table, self.encode))

    def _ends_later(self, first_max: int) -> bool:
        """True when the file's last lines are not earlier than its first block (so it looks time-sorted).

        Only plain files can be checked cheaply; for compressed ones the answer is False (read on).
        """
        tail = logfiles.tail(self.path)
        if tail is None:
            return False
        _, last = edge_times(tail, self.reader, self.options, self.aliases, time_format=self.time_format, tz=self.tz,
                             end=self.reference)
        return last is not None and last >= first_max - SORTED_SLACK.value


def read_file(path: Path, reader: Reader, window: tuple[pd.Timestamp | None, pd.Timestamp | None],
              filters: Mapping[str, Any], aliases: Aliases, *, time_format: str | None, tz: str, chunk_bytes: int,
              early_stop: bool, out: Collector) -> None:
    """Read one file into ``out``: its kept blocks, rejects and notes.

    Raises :class:`SourceError` naming the file when it cannot be read or has no timestamp field.
    """
    state = FileBlocks(path, reader, window, filters, aliases, time_format=time_format, tz=tz,
                       early_stop=early_stop, out=out)
    _read_blocks(path, reader, state, chunk_bytes)
    out.notes.extend(state.untimed_notes())


def _read_blocks(path: Path, reader: Reader, state: FileBlocks, chunk_bytes: int) -> None:
    """Feed ``path``'s blocks through ``state``: parsed ahead on worker threads, kept in file order."""
    pending: deque[Future[_Block]] = deque()

    def keep_oldest() -> bool:
        kept = state.keep(pending.popleft().result())
        pa.default_memory_pool().release_unused()  # the block's transient memory, for the next one
        return kept

    with ThreadPoolExecutor(PARSE_AHEAD, thread_name_prefix="incident-kit-log-parse") as workers:
        try:
            quote = b'"' if reader.name == "csv" else None  # a quoted CSV field may hold newlines
            blocks = logfiles.chunks(path, chunk_bytes, quote=quote, continued=reader.multiline)
            for block, first_line in logfiles.prefetch(blocks):
                # with blocks still being parsed the state lags: it can only say "skip" too often, never
                # too rarely, so a "skip" is decided again once every earlier block is kept
                last_ts = state.skippable(block)
                if pending and (state.needs_header or last_ts is not None):
                    while pending:
                        if not keep_oldest():
                            return
                    last_ts = state.skippable(block)
                if last_ts is not None:
                    state.skip(block, last_ts)
                    continue
                state.note_skipped(first_line)
                pending.append(workers.submit(state.parse, block, first_line, dict(state.options)))
                del block
                if len(pending) > PARSE_AHEAD and not keep_oldest():
                    return
            while pending:
                if not keep_oldest():
                    return
        finally:
            for parsing in pending:
                parsing.cancel()


def edge_times(block: bytes, reader: Reader, options: Mapping[str, Any], aliases: Aliases, *,
               time_format: str | None, tz: str, end: pd.Timestamp | None) -> tuple[int | None, int | None]:
    """Return the times (ns) of the first and last lines of ``block`` (None when unreadable), parsing only them."""
    edges: list[int | None] = []
    cut = 0
    for _ in range(3):
        nxt = block.find(b"\n", cut)
        cut = len(block) if nxt < 0 else nxt + 1
    tail_start = len(block)
    while tail_start and block[tail_start - 1] in (10, 13):  # no rstrip(): it would copy the block
        tail_start -= 1
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


__all__ = ["Reader", "Collector", "FileBlocks", "SORTED_SLACK", "filter_mask", "read_file", "edge_times", "reference_time"]
