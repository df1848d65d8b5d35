"""Line formats: an RE2 pattern with named groups per format, applied with ``pyarrow.compute.extract_regex``.

nginx/Apache access logs (with the fast path of :mod:`.logaccess`), RFC 3164 and 5424 syslog,
the Apache error log, Hadoop HDFS (loghub) and any user regex with named groups. Lines a
pattern does not match are rejected with their line numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ....errors import ConfigError
from .. import fields as logfields
from ..fields import TS_TYPE
from . import stamps
from .base import MAX_SAMPLE, Parsed, known_lines, split_lines


@dataclass(frozen=True)
class LineFormat:
    """A line format: an RE2 pattern with named groups, and how to build ``ts`` from the groups."""

    name: str
    pattern: str
    build: Callable[[pa.StructArray, dict[str, Any]], dict[str, pa.Array]]
    description: str = ""
    multiline: bool = False
    # a cheaper reading of the format's commonest layout: groups (null where it does not apply) or None
    presplit: Callable[[pa.Array], pa.StructArray | None] | None = None
    # its lines carry no time (uvicorn's default, logcat brief): each row takes the time of the record before it
    untimed: bool = False


#: The formats whose lines carry no time, also tried on the lines another format does not read.
UNTIMED: list[LineFormat] = []


def blank_to_null(arr: pa.Array, dash: bool = True) -> pa.Array:
    empty = pc.equal(arr, "")
    if dash:
        empty = pc.or_(empty, pc.equal(arr, "-"))
    if not pc.any(empty).as_py():
        return arr  # nothing to null: no copy
    return pc.if_else(empty, pa.scalar(None, arr.type), arr)


def group_columns(groups: pa.StructArray, skip: set[str] | tuple[str, ...] = ()) -> dict[str, pa.Array]:
    """Return the groups of ``groups`` not in ``skip`` as columns, empty strings and ``-`` as nulls."""
    return {f.name: blank_to_null(groups.field(f.name)) for f in groups.type if f.name not in skip}


def build_columns(g: pa.StructArray, ts: pa.Array, *, skip: tuple[str, ...] = (), ints: tuple[str, ...] = ("pid",),
                  keep_dash: tuple[str, ...] = ("message",)) -> dict[str, pa.Array]:
    """Return ``ts`` first, then every other group of ``g`` (levels normalised, ``ints`` as integers).

    Empty groups become null; so does ``-`` except in ``keep_dash`` groups. Used by the line formats
    whose groups are already the columns.
    """
    out: dict[str, pa.Array] = {"ts": ts}
    for f in g.type:
        if f.name in skip or f.name == "ts":
            continue
        col = blank_to_null(g.field(f.name), dash=f.name not in keep_dash)
        if f.name == "level":
            col = logfields.normalize_level(col)
        elif f.name in ints:
            col = pc.cast(col, pa.int64())
        elif f.name == "message" and col.null_count:
            col = pc.fill_null(col, "")
        out[f.name] = col
    return out


def _build_access(seconds_factor: float) -> Callable[[pa.StructArray, dict[str, Any]], dict[str, pa.Array]]:
    def build(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
        out = group_columns(g, {"time", "request_time", "rest"})
        out["ts"] = pc.strptime(g.field("time"), format="%d/%b/%Y:%H:%M:%S %z", unit="ns", error_is_null=True).cast(TS_TYPE)
        rt = blank_to_null(g.field("request_time"))
        out["latency_ms"] = pc.multiply(pc.cast(rt, pa.float64()), seconds_factor)
        out["status"] = pc.cast(out["status"], pa.int64())
        out["bytes"] = pc.cast(out["bytes"], pa.int64())
        rest = pc.utf8_trim_whitespace(g.field("rest"))
        if pc.any(pc.not_equal(rest, "")).as_py():
            out["extra"] = blank_to_null(rest, dash=False)
        return {"ts": out.pop("ts"), **out}
    return build


_Q = r'(?:[^"\\]|\\.)*'
ACCESS = (
    r'^(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] '
    r'"(?P<message>(?P<method>[A-Za-z]+) (?P<path>(?:[^ "\\]|\\.)*)(?: (?P<protocol>' + _Q + r'))?|' + _Q + r')" '
    r'(?P<status>\d{3}|-) (?P<bytes>\d+|-)'
    r'(?: "(?P<referer>' + _Q + r')" "(?P<user_agent>' + _Q + r')")?'
    r'(?: (?P<request_time>\d+(?:\.\d+)?|-))?(?P<rest>.*)$'
)


def _syslog_year_fix(g: pa.StructArray, opts: dict[str, Any]) -> pa.Array:
    """RFC 3164 stamps have no year: take the reference year, or the year before if that is in the future."""
    text = pc.binary_join_element_wise(g.field("mon"), g.field("day"), g.field("hms"), " ")
    return stamps.with_year(text, "%b %d %H:%M:%S", opts.get("reference"), opts.get("tz", "UTC"))


def _build_syslog(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    out = group_columns(g, {"mon", "day", "hms", "iso", "pri", "spaced_service", "spaced_pid", "worded_service"})
    spaced = pc.coalesce(blank_to_null(g.field("spaced_service")), blank_to_null(g.field("worded_service")))
    if spaced.null_count < len(spaced):  # a tag with spaces ("Google Chrome Helper[19736]:", macOS)
        out["service"] = pc.coalesce(out["service"], spaced)
        out["pid"] = pc.coalesce(out["pid"], blank_to_null(g.field("spaced_pid")))
    short = _syslog_year_fix(g, opts)
    iso = logfields.to_timestamp(blank_to_null(g.field("iso")), tz=opts.get("tz", "UTC"))
    ts = pc.if_else(pc.equal(g.field("iso"), ""), short, iso)
    return {"ts": ts, **_pri_fields(g.field("pri")), **out}


def _pri_fields(pri: pa.Array) -> dict[str, pa.Array]:
    number = pc.cast(blank_to_null(pri), pa.int64())
    if pc.all(pc.is_null(number)).as_py():
        return {}
    return {"level": logfields.normalize_level(pc.bit_wise_and(number, 7)), "facility": pc.divide(number, 8)}


def _build_syslog5424(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    out = group_columns(g, {"time", "pri", "message"})
    msg = g.field("message")
    out["message"] = pc.utf8_ltrim(msg, characters="\ufeff")
    return {"ts": logfields.to_timestamp(blank_to_null(g.field("time")), tz=opts.get("tz", "UTC")),
            **_pri_fields(g.field("pri")), **out}


def _build_apache_error(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    out = group_columns(g, {"dow", "mon", "day", "hms", "frac", "year"})
    out["message"] = g.field("message")
    text = pc.binary_join_element_wise(g.field("year"), g.field("mon"), g.field("day"), g.field("hms"), " ")
    ts = logfields.to_timestamp(text, time_format="%Y %b %d %H:%M:%S", tz=opts.get("tz", "UTC"))
    frac = g.field("frac")
    has_frac = pc.not_equal(frac, "")
    if pc.any(has_frac).as_py():
        digits = pc.utf8_slice_codeunits(pc.binary_join_element_wise(frac, "000000000", ""), 0, 9)
        nanos = pc.cast(pc.if_else(has_frac, digits, "0"), pa.int64())
        ts = pc.add(ts.cast(pa.int64()), nanos).cast(TS_TYPE)
    out["level"] = logfields.normalize_level(g.field("level"))
    return {"ts": ts, **out}


def _build_hdfs(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    out = group_columns(g, {"date", "hms"})
    out["message"] = g.field("message")
    text = pc.binary_join_element_wise(g.field("date"), g.field("hms"), " ")
    out["pid"] = pc.cast(out["pid"], pa.int64())
    return {"ts": logfields.to_timestamp(text, time_format="%y%m%d %H%M%S", tz=opts.get("tz", "UTC")), **out}


def _build_generic(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    return group_columns(g, set())


LINE_FORMATS: dict[str, LineFormat] = {
    "combined": LineFormat("combined", ACCESS, _build_access(1000.0),
                           "NCSA combined/common access log; optional trailing request time in seconds (nginx $request_time)"),
    "apache": LineFormat("apache", ACCESS, _build_access(0.001),
                         "Apache access log; optional trailing request time in microseconds (%D)"),
    "syslog": LineFormat(
        "syslog",
        r"^(?:<(?P<pri>\d{1,3})>)?(?:(?P<mon>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2}) (?P<hms>\d{2}:\d{2}:\d{2})"
        r"|(?P<iso>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)) "
        r"(?P<host>\S+) (?:(?:(?P<service>[^\s:\[]+)(?:\[(?P<pid>\d+)\])?|(?P<spaced_service>[^:\[]+?)\[(?P<spaced_pid>\d+)\]"
        r"|(?P<worded_service>[^\s:\[]+(?: [^\s:\[]+){1,2}))"
        r"(?: \((?P<address>[^)]*)\))?: ?)?(?P<message>.*)$",
        _build_syslog, "RFC 3164 syslog (also with RFC 3339 stamps, as rsyslog writes /var/log/syslog)"),
    "syslog5424": LineFormat(
        "syslog5424",
        r"^<(?P<pri>\d{1,3})>1 (?P<time>\S+) (?P<host>\S+) (?P<service>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
        r"(?P<structured_data>-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?P<message>.*))?$",
        _build_syslog5424, "RFC 5424 syslog"),
    "apache_error": LineFormat(
        "apache_error",
        r"^\[(?P<dow>[A-Z][a-z]{2}) (?P<mon>[A-Z][a-z]{2}) (?P<day>\d{1,2}) (?P<hms>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))? "
        r"(?P<year>\d{4})\] \[(?:(?P<module>[^:\]]+):)?(?P<level>[^\]]+)\]"
        r"(?: \[pid (?P<pid>\d+)(?::tid (?P<tid>\d+))?\])? ?(?P<message>(?:\[client (?P<client>[^\]]+?)(?::\d+)?\] )?.*)$",
        _build_apache_error, "Apache error log (2.2 and 2.4 styles)"),
    "hdfs": LineFormat(
        "hdfs",
        r"^(?P<date>\d{6}) (?P<hms>\d{6}) (?P<pid>\d+) (?P<level>[A-Z]+) (?P<component>[^\s:]+): (?P<message>.*)$",
        _build_hdfs, "Hadoop HDFS log (loghub)"),
}

def parse_lines(block: bytes, first_line: int, *, line_format: LineFormat, **opts: Any) -> Parsed:
    """Parse a block with a line format; lines the pattern does not match continue a record or are rejected."""
    lines, numbers = split_lines(block, first_line)
    return parse_line_array(lines, numbers, line_format, opts)


def parse_line_array(lines: pa.Array, numbers: np.ndarray, line_format: LineFormat, opts: dict[str, Any]) -> Parsed:
    """Parse lines with ``line_format``: matching lines are rows, continuation lines join the row above, others are rejected.

    A line the pattern does not match is, in this order: a record of a format whose lines carry
    no time (:data:`UNTIMED`: uvicorn's default, logcat brief), a row whose time is taken from
    the record before it (``Parsed.inherit``); or it continues the record above when it is
    indented, or, in a multi-line format, when it does not start like a record (a digit or
    ``[``): its text goes to that row's ``exception`` column and it is counted in
    ``Parsed.continuations``. Any other line is rejected on its own (it never takes a neighbour with it).
    """
    groups = _groups(lines, line_format)
    matched = pc.is_valid(groups)
    all_matched = pc.all(matched).as_py() if len(lines) else True
    exception = None
    continuations = 0
    bad = np.empty(0, np.int64)
    untimed: list[tuple[LineFormat, np.ndarray, pa.StructArray]] = []
    if not all_matched:
        mask = matched.to_numpy(zero_copy_only=False)
        untimed = _untimed_records(lines, ~mask, line_format)
        record = mask.copy()
        for _, idx, _ in untimed:
            record[idx] = True
        cont = ~record & _continues(lines, line_format.multiline)
        owner = np.cumsum(record) - 1
        orphan = cont & (owner < 0)
        if int(numbers[0]) == 1:  # the file's first line: no record above
            cont &= ~orphan
        continuations = int(cont.sum())
        if continuations and record.any():
            exception = _attach(lines, cont & ~orphan, owner, int(record.sum()))
        bad = np.flatnonzero(~record & ~cont)
        rejected_lines, rejected_numbers = lines.take(pa.array(bad[:MAX_SAMPLE])), numbers[bad[:MAX_SAMPLE]]
        groups = groups.filter(matched)
        kept = np.flatnonzero(record)
        lines, numbers = lines.take(pa.array(kept, pa.int64())), numbers[record]
    columns = line_format.build(groups, opts) if len(groups) else {}
    table = pa.table(columns) if columns else None
    inherit, names = None, tuple(fmt.name for fmt, _, _ in untimed)
    if untimed:
        table, inherit = _with_untimed(table, mask, untimed, opts)
    if line_format.untimed and table is not None:  # every row of an untimed format inherits
        inherit, names = np.arange(table.num_rows), (line_format.name, *names)
    if table is None:
        table = pa.table({"ts": pa.nulls(0, TS_TYPE)})
    if exception is not None and table.num_rows:
        table = table.append_column("exception", exception)
    parsed = Parsed(table, known_lines(numbers, lines), continuations=continuations, inherit=inherit,
                    inherit_formats=names)
    if len(bad):
        for n, text in zip(rejected_numbers, rejected_lines.to_pylist()):
            parsed.reject(int(n), text, f"does not match the {line_format.name} format")
        parsed.rejected = int(len(bad))
    return parsed


def _untimed_records(lines: pa.Array, candidates: np.ndarray,
                     current: LineFormat | None) -> list[tuple[LineFormat, np.ndarray, pa.StructArray]]:
    """Return, per format of :data:`UNTIMED` (other than ``current``), the ``candidates`` lines it reads:
    ``(format, line indices, their groups)``."""
    found = []
    left = candidates.copy()
    for fmt in UNTIMED:
        if (current is not None and fmt.name == current.name) or not left.any():
            continue
        idx = np.flatnonzero(left)
        # a match test first: the candidates are mostly stack-trace lines, where extracting groups costs ~3x more
        ok = pc.fill_null(pc.match_substring_regex(lines.take(pa.array(idx, pa.int64())), fmt.pattern), False)
        idx = idx[ok.to_numpy(zero_copy_only=False)]
        if len(idx):
            found.append((fmt, idx, pc.extract_regex(lines.take(pa.array(idx, pa.int64())), fmt.pattern)))
            left[idx] = False
    return found


def merge_untimed(parsed: Parsed, lines: pa.Array, numbers: np.ndarray, candidates: np.ndarray,
                  opts: dict[str, Any]) -> tuple[Parsed, np.ndarray]:
    """Return ``parsed`` (rows of another kind of format, e.g. JSON lines) with the ``candidates`` lines an
    untimed format reads merged in as rows in line order (``Parsed.inherit``), and the candidates left
    over. On a type clash between the two kinds of rows ``parsed`` is returned unchanged."""
    untimed = _untimed_records(lines, candidates, None)
    if not untimed:
        return parsed, candidates
    row_numbers, row_lines = parsed.locate()
    mask = np.zeros(len(lines), bool)
    mask[np.searchsorted(numbers, row_numbers)] = True
    try:
        table, inherit = _with_untimed(parsed.table if parsed.table.num_rows else None, mask, untimed, opts)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return parsed, candidates
    left = candidates.copy()
    for _, idx, _ in untimed:
        mask[idx], left[idx] = True, False
    kept = np.flatnonzero(mask)
    merged = Parsed(table, known_lines(numbers[kept], lines.take(pa.array(kept, pa.int64()))),
                    parsed.rejected, parsed.rejected_sample, parsed.continuations, inherit,
                    tuple(fmt.name for fmt, _, _ in untimed))
    return merged, left


def _with_untimed(table: pa.Table | None, mask: np.ndarray, untimed: list[tuple[LineFormat, np.ndarray, pa.StructArray]],
                  opts: dict[str, Any]) -> tuple[pa.Table, np.ndarray]:
    """Return the rows of ``table`` (the lines in ``mask``) and of the untimed records merged in file
    order, and the indices of the untimed rows."""
    parts, positions, from_untimed = [], [], []
    if table is not None and table.num_rows:
        parts.append(table)
        positions.append(np.flatnonzero(mask))
        from_untimed.append(np.zeros(table.num_rows, bool))
    for fmt, idx, groups in untimed:
        part = pa.table(fmt.build(groups, opts))
        parts.append(part.set_column(part.schema.get_field_index("ts"), "ts", pa.nulls(part.num_rows, TS_TYPE)))
        positions.append(idx)
        from_untimed.append(np.ones(part.num_rows, bool))
    merged = pa.concat_tables(parts, promote_options="permissive") if len(parts) > 1 else parts[0]
    order = np.argsort(np.concatenate(positions), kind="stable")
    return merged.take(pa.array(order, pa.int64())), np.flatnonzero(np.concatenate(from_untimed)[order])


def _groups(lines: pa.Array, line_format: LineFormat) -> pa.StructArray:
    """Return the pattern's groups per line (null where it does not match), the presplit layout first if any."""
    fast = line_format.presplit(lines) if line_format.presplit is not None and len(lines) else None
    if fast is None:
        return pc.extract_regex(lines, line_format.pattern)
    if fast.null_count == 0:
        return fast
    missing = pc.is_null(fast)
    rest = pc.extract_regex(lines.filter(missing), line_format.pattern)
    names = [f.name for f in rest.type]
    have = {f.name for f in fast.type}
    empty = pa.array([""] * len(lines), pa.string()) if set(names) - have else None
    columns = []
    for name in names:
        base = fast.field(name) if name in have else empty
        columns.append(pc.replace_with_mask(pc.fill_null(base, ""), missing, pc.fill_null(rest.field(name), "")))
    valid = pc.or_(pc.invert(missing), pc.replace_with_mask(pc.invert(missing), missing, pc.is_valid(rest)))
    return pa.StructArray.from_arrays(columns, names, mask=pc.invert(valid))


def _continues(lines: pa.Array, multiline: bool) -> np.ndarray:
    """Return which lines may continue the record above (indented; in multi-line formats, not record-like)."""
    indented = pc.match_substring_regex(lines, r"^[ \t]")
    if multiline:
        record_like = pc.match_substring_regex(lines, r"^(?:\[?\d|<\d)")
        indented = pc.or_(indented, pc.invert(record_like))
    return pc.fill_null(indented, False).to_numpy(zero_copy_only=False)


def _attach(lines: pa.Array, cont: np.ndarray, owner: np.ndarray, records: int) -> pa.Array:
    """Return per record the text of its continuation lines joined by newlines (null for none)."""
    idx = np.flatnonzero(cont)
    owners = owner[idx]
    offsets = np.searchsorted(owners, np.arange(records + 1)).astype(np.int32)
    texts = lines.take(pa.array(idx, pa.int64())).cast(pa.string())
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), texts), "\n")
    return pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), joined)


def user_regex(pattern: str, name: str = "regex") -> LineFormat:
    """Return a line format for a user pattern with named groups (``ts`` or an alias of it among them).

    Raises ConfigError when the pattern has no named group or RE2 cannot compile it.
    """
    if "(?P<" not in pattern and "(?<" not in pattern:
        raise ConfigError(f"log format regex {pattern!r} has no named group; expected e.g. (?P<ts>\\S+) (?P<message>.*)")
    pattern = pattern.replace("(?<", "(?P<").replace("(?P<P<", "(?P<").replace("(?P<=", "(?<=").replace("(?P<!", "(?<!")
    try:
        pc.extract_regex(pa.array([""], pa.string()), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ConfigError(f"log format regex {pattern!r} is not a valid RE2 pattern with named groups: {exc}") from None
    return LineFormat(name, pattern, _build_generic, "user regex")


__all__ = ["LineFormat", "LINE_FORMATS", "UNTIMED", "merge_untimed", "ACCESS", "blank_to_null", "group_columns", "build_columns", "parse_lines", "parse_line_array", "user_regex"]
