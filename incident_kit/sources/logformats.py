"""Per-format parsers: a block of whole lines in, an Arrow table of fields and the rejected lines out.

Parsing is vectorised: JSON lines with ``pyarrow.json``, line formats (nginx/Apache access,
syslog, Apache error, HDFS, user regexes) with ``pyarrow.compute.extract_regex`` (RE2) and
``strptime``. Only logfmt and malformed JSON fall back to Python per line. Each parser
returns a :class:`Parsed` whose rows carry the line numbers they came from, so rows rejected
later (no readable timestamp) can still be shown with their line.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ConfigError
from . import logfields
from .logfields import TS_TYPE

MAX_SAMPLE = 20


@dataclass
class Parsed:
    """One block's result: ``table`` rows, their 1-based ``line_numbers``, their ``lines`` text (or None)."""

    table: pa.Table
    line_numbers: np.ndarray
    lines: pa.Array | None = None
    rejected: int = 0
    rejected_sample: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, line_no: int, text: str, reason: str) -> None:
        """Count one rejected line and keep it in the sample while the sample is short."""
        self.rejected += 1
        if len(self.rejected_sample) < MAX_SAMPLE:
            self.rejected_sample.append({"line": int(line_no), "text": text[:500], "reason": reason})

    def text_of(self, row: int) -> str:
        """Return the original text of ``row`` (re-serialised when the lines were not kept)."""
        if self.lines is not None:
            return str(self.lines[row].as_py())
        return json.dumps(self.table.slice(row, 1).to_pylist()[0], default=str)


# ---------------------------------------------------------------- block -> lines

def split_lines(block: bytes, first_line: int) -> tuple[pa.Array, np.ndarray]:
    """Return the non-blank lines of ``block`` as a string array (no line ends) and their line numbers."""
    buf = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    if len(block) and (len(ends) == 0 or ends[-1] != len(block) - 1):
        ends = np.append(ends, len(block))
    offsets = np.empty(len(ends) + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = np.minimum(ends + 1, len(block))
    raw = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(block))
    try:
        raw.validate(full=True)
    except pa.ArrowInvalid:  # not UTF-8: decode with replacement characters, line by line positions kept
        text = block.decode("utf-8", errors="replace").split("\n")
        if text and text[-1] == "":
            text.pop()
        raw = pa.array(text, pa.large_string())
    lines = pc.utf8_rtrim(raw, characters="\r\n")
    keep = pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(lines)), 0)
    numbers = np.arange(first_line, first_line + len(lines), dtype=np.int64)
    if not pc.all(keep).as_py():
        mask = keep.to_numpy(zero_copy_only=False)
        lines = lines.filter(keep)
        numbers = numbers[mask]
    return lines.cast(pa.string()) if lines.nbytes < (1 << 31) - 1 else lines, numbers


# ---------------------------------------------------------------- JSON lines

def _flatten(table: pa.Table) -> pa.Table:
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


def parse_json(block: bytes, first_line: int, **_: Any) -> Parsed:
    """Parse JSON lines; on any malformed line or type clash, parse line by line and reject the bad ones."""
    import pyarrow.json as pj

    try:
        table = pj.read_json(io.BytesIO(block), read_options=pj.ReadOptions(block_size=1 << 24))
        table = _flatten(table)
        lines, numbers = split_lines(block, first_line)
        if table.num_rows == len(numbers) and all(not pa.types.is_list(f.type) or True for f in table.schema):
            return Parsed(table, numbers, None)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        lines, numbers = split_lines(block, first_line)
    return _parse_json_slowly(lines, numbers)


def _parse_json_slowly(lines: pa.Array, numbers: np.ndarray) -> Parsed:
    records: list[dict[str, Any]] = []
    kept: list[int] = []
    rejected: list[tuple[int, str, str]] = []
    for i, text in enumerate(lines.to_pylist()):
        try:
            obj = json.loads(text)
        except ValueError as exc:
            rejected.append((int(numbers[i]), text, f"not JSON: {exc.msg}"))
            continue
        if not isinstance(obj, dict):
            rejected.append((int(numbers[i]), text, f"JSON {type(obj).__name__}, not an object"))
            continue
        records.append(obj)
        kept.append(i)
    table = records_to_table(records)
    parsed = Parsed(table, numbers[kept] if kept else np.empty(0, np.int64), lines.take(pa.array(kept, pa.int64())))
    for line_no, text, reason in rejected:
        parsed.reject(line_no, text, reason)
    return parsed


def records_to_table(records: list[dict[str, Any]]) -> pa.Table:
    """Return a table from dict records whose fields may clash in type (clashing columns become text)."""
    import pandas as pd

    if not records:
        return pa.table({})
    frame = pd.json_normalize(records, sep=".")
    columns: dict[str, pa.Array] = {}
    for name in frame.columns:
        values = frame[name].tolist()
        values = [None if (v is None or (isinstance(v, float) and v != v)) else v for v in values]
        try:
            columns[str(name)] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            columns[str(name)] = pa.array([None if v is None else (v if isinstance(v, str) else json.dumps(v, default=str))
                                           for v in values], pa.string())
    return pa.table(columns)


def parse_journald(block: bytes, first_line: int, **kw: Any) -> Parsed:
    """Parse ``journalctl -o json`` export: binary MESSAGE arrays decoded, PRIORITY kept for the level."""
    parsed = parse_json(block, first_line, **kw)
    table = parsed.table
    if "MESSAGE" in table.column_names and pa.types.is_list(table.schema.field("MESSAGE").type):
        fixed = [bytes(v).decode("utf-8", "replace") if isinstance(v, list) else v for v in table.column("MESSAGE").to_pylist()]
        table = table.set_column(table.column_names.index("MESSAGE"), "MESSAGE", pa.array(fixed, pa.string()))
    if "__REALTIME_TIMESTAMP" in table.column_names:
        idx = table.column_names.index("__REALTIME_TIMESTAMP")
        micros = logfields._to_int(table.column(idx).combine_chunks())
        table = table.set_column(idx, "__REALTIME_TIMESTAMP", pc.multiply(micros, 1000).cast(TS_TYPE))
    if "PRIORITY" in table.column_names:
        idx = table.column_names.index("PRIORITY")
        table = table.set_column(idx, "PRIORITY", logfields._to_int(table.column(idx).combine_chunks()))
    parsed.table = table
    return parsed


# ---------------------------------------------------------------- logfmt

_LOGFMT_PAIR = re.compile(r'([^\s="]+)=("(?:[^"\\]|\\.)*"|\S*)')


def _logfmt_pairs(text: str) -> dict[str, str] | None:
    pairs = _LOGFMT_PAIR.findall(text)
    if not pairs:
        return None
    out: dict[str, str] = {}
    for key, value in pairs:
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out[key] = value
    return out


def parse_logfmt(block: bytes, first_line: int, **_: Any) -> Parsed:
    """Parse logfmt (``key=value key2="quoted value"``); lines without any pair are rejected."""
    lines, numbers = split_lines(block, first_line)
    records: list[dict[str, Any]] = []
    kept: list[int] = []
    bad: list[int] = []
    for i, text in enumerate(lines.to_pylist()):
        pairs = _logfmt_pairs(text)
        if pairs is None:
            bad.append(i)
        else:
            records.append(pairs)
            kept.append(i)
    table = pa.table({k: pa.array([r.get(k) for r in records], pa.string())
                      for k in dict.fromkeys(k for r in records for k in r)}) if records else pa.table({})
    parsed = Parsed(table, numbers[kept] if kept else np.empty(0, np.int64), lines.take(pa.array(kept, pa.int64())))
    for i in bad:
        parsed.reject(int(numbers[i]), lines[i].as_py(), "no key=value pair")
    return parsed


# ---------------------------------------------------------------- CSV

def parse_csv(block: bytes, first_line: int, *, header: list[str] | None = None, delimiter: str = ",", **_: Any) -> Parsed:
    """Parse CSV with a header (taken from the file's first line, passed on to later blocks)."""
    import pyarrow.csv as pcsv

    bad: list[tuple[int, str]] = []

    def on_invalid(row: Any) -> str:
        bad.append((int(row.number or 0), str(row.text)))
        return "skip"

    skip = 0 if header is not None else 1
    names = header
    if names is None:
        first = block.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
        import csv

        names = next(csv.reader([first], delimiter=delimiter))
    table = pcsv.read_csv(
        io.BytesIO(block),
        read_options=pcsv.ReadOptions(column_names=names, skip_rows=skip, block_size=1 << 24),
        parse_options=pcsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
        convert_options=pcsv.ConvertOptions(strings_can_be_null=True, timestamp_parsers=[]),
    )
    lines, numbers = split_lines(block, first_line)
    if skip:
        lines, numbers = lines.slice(1), numbers[1:]
    bad_lines = {first_line + skip + n - 1 for n, _ in bad}
    if bad_lines:
        keep = np.array([n not in bad_lines for n in numbers])
        lines, numbers = lines.filter(pa.array(keep)), numbers[keep]
    if len(numbers) != table.num_rows:  # quoted newlines: numbers are approximate, texts re-serialised
        numbers, lines = np.arange(first_line + skip, first_line + skip + table.num_rows), None
    parsed = Parsed(table, numbers, lines)
    for n, text in bad:
        parsed.reject(first_line + skip + n - 1, text, f"wrong number of fields (expected {len(names)})")
    return parsed


# ---------------------------------------------------------------- line formats (regex)

@dataclass(frozen=True)
class LineFormat:
    """A line format: an RE2 pattern with named groups, and how to build ``ts`` from the groups."""

    name: str
    pattern: str
    build: Callable[[pa.StructArray, dict[str, Any]], dict[str, pa.Array]]
    description: str = ""


def _blank_to_null(arr: pa.Array, dash: bool = True) -> pa.Array:
    empty = pc.equal(arr, "")
    if dash:
        empty = pc.or_(empty, pc.equal(arr, "-"))
    return pc.if_else(empty, pa.scalar(None, arr.type), arr)


def _fields(groups: pa.StructArray, skip: set[str]) -> dict[str, pa.Array]:
    return {f.name: _blank_to_null(groups.field(f.name)) for f in groups.type if f.name not in skip}


def _build_access(seconds_factor: float) -> Callable[[pa.StructArray, dict[str, Any]], dict[str, pa.Array]]:
    def build(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
        out = _fields(g, {"time", "request_time", "rest"})
        out["ts"] = pc.strptime(g.field("time"), format="%d/%b/%Y:%H:%M:%S %z", unit="ns", error_is_null=True).cast(TS_TYPE)
        rt = _blank_to_null(g.field("request_time"))
        out["latency_ms"] = pc.multiply(pc.cast(rt, pa.float64()), seconds_factor)
        out["status"] = pc.cast(out["status"], pa.int64())
        out["bytes"] = pc.cast(out["bytes"], pa.int64())
        rest = pc.utf8_trim_whitespace(g.field("rest"))
        if pc.any(pc.not_equal(rest, "")).as_py():
            out["extra"] = _blank_to_null(rest, dash=False)
        return {"ts": out.pop("ts"), **out}
    return build


_Q = r'(?:[^"\\]|\\.)*'
ACCESS = (
    r'^(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] '
    r'"(?:(?P<method>[A-Za-z]+) (?P<path>[^ "]*)(?: (?P<protocol>' + _Q + r'))?|(?P<request>' + _Q + r'))" '
    r'(?P<status>\d{3}|-) (?P<bytes>\d+|-)'
    r'(?: "(?P<referer>' + _Q + r')" "(?P<user_agent>' + _Q + r')")?'
    r'(?: (?P<request_time>\d+(?:\.\d+)?|-))?(?P<rest>.*)$'
)


def _syslog_year_fix(g: pa.StructArray, opts: dict[str, Any]) -> pa.Array:
    """RFC 3164 stamps have no year: take the reference year, or the year before if that is in the future."""
    ref = opts.get("reference")
    import pandas as pd

    ref = pd.Timestamp(ref) if ref is not None else pd.Timestamp.now(tz="UTC")
    tz = opts.get("tz", "UTC")

    def at(year: int) -> pa.Array:
        text = pc.binary_join_element_wise(str(year), g.field("mon"), g.field("day"), g.field("hms"), " ")
        return logfields.to_timestamp(text, time_format="%Y %b %d %H:%M:%S", tz=tz)

    this_year = at(ref.year)
    limit = pa.scalar((ref + pd.Timedelta(days=2)).value, TS_TYPE)
    future = pc.fill_null(pc.greater(this_year, limit), False)
    if not pc.any(future).as_py():
        return this_year
    return pc.if_else(future, at(ref.year - 1), this_year)


def _build_syslog(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    out = _fields(g, {"mon", "day", "hms", "iso", "pri"})
    short = _syslog_year_fix(g, opts)
    iso = logfields.to_timestamp(_blank_to_null(g.field("iso")), tz=opts.get("tz", "UTC"))
    ts = pc.if_else(pc.equal(g.field("iso"), ""), short, iso)
    return {"ts": ts, **_pri_fields(g.field("pri")), **out}


def _pri_fields(pri: pa.Array) -> dict[str, pa.Array]:
    number = pc.cast(_blank_to_null(pri), pa.int64())
    if pc.all(pc.is_null(number)).as_py():
        return {}
    return {"level": logfields.normalize_level(pc.bit_wise_and(number, 7)), "facility": pc.divide(number, 8)}


def _build_syslog5424(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    out = _fields(g, {"time", "pri", "message"})
    msg = g.field("message")
    out["message"] = pc.utf8_ltrim(msg, characters="\ufeff")
    return {"ts": logfields.to_timestamp(_blank_to_null(g.field("time")), tz=opts.get("tz", "UTC")),
            **_pri_fields(g.field("pri")), **out}


def _build_apache_error(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    out = _fields(g, {"dow", "mon", "day", "hms", "frac", "year"})
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
    out = _fields(g, {"date", "hms"})
    out["message"] = g.field("message")
    text = pc.binary_join_element_wise(g.field("date"), g.field("hms"), " ")
    out["pid"] = pc.cast(out["pid"], pa.int64())
    return {"ts": logfields.to_timestamp(text, time_format="%y%m%d %H%M%S", tz=opts.get("tz", "UTC")), **out}


def _build_generic(g: pa.StructArray, opts: dict[str, Any]) -> dict[str, pa.Array]:
    return _fields(g, set())


LINE_FORMATS: dict[str, LineFormat] = {
    "combined": LineFormat("combined", ACCESS, _build_access(1000.0),
                           "NCSA combined/common access log; optional trailing request time in seconds (nginx $request_time)"),
    "apache": LineFormat("apache", ACCESS, _build_access(0.001),
                         "Apache access log; optional trailing request time in microseconds (%D)"),
    "syslog": LineFormat(
        "syslog",
        r"^(?:<(?P<pri>\d{1,3})>)?(?:(?P<mon>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2}) (?P<hms>\d{2}:\d{2}:\d{2})"
        r"|(?P<iso>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)) "
        r"(?P<host>\S+) (?:(?P<service>[^\s:\[]+)(?:\[(?P<pid>\d+)\])?: ?)?(?P<message>.*)$",
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
        r"(?: \[pid (?P<pid>\d+)(?::tid (?P<tid>\d+))?\])?(?: \[client (?P<client>[^\]]+?)(?::\d+)?\])? ?(?P<message>.*)$",
        _build_apache_error, "Apache error log (2.2 and 2.4 styles)"),
    "hdfs": LineFormat(
        "hdfs",
        r"^(?P<date>\d{6}) (?P<hms>\d{6}) (?P<pid>\d+) (?P<level>[A-Z]+) (?P<component>[^\s:]+): (?P<message>.*)$",
        _build_hdfs, "Hadoop HDFS log (loghub)"),
}
FORMAT_ALIASES = {"nginx": "combined", "common": "combined", "clf": "combined", "apache_combined": "apache",
                  "apache_common": "apache", "rfc3164": "syslog", "rfc5424": "syslog5424", "jsonl": "json",
                  "ndjson": "json", "journal": "journald", "apache_error_log": "apache_error"}


def parse_lines(block: bytes, first_line: int, *, line_format: LineFormat, **opts: Any) -> Parsed:
    """Parse a block with a line format; lines the pattern does not match are rejected."""
    lines, numbers = split_lines(block, first_line)
    groups = pc.extract_regex(lines, line_format.pattern)
    matched = pc.is_valid(groups)
    all_matched = pc.all(matched).as_py() if len(lines) else True
    if not all_matched:
        mask = matched.to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(~mask)
        rejected_lines, rejected_numbers = lines.take(pa.array(bad[:MAX_SAMPLE])), numbers[bad[:MAX_SAMPLE]]
        groups, lines, numbers = groups.filter(matched), lines.filter(matched), numbers[mask]
    columns = line_format.build(groups, opts) if len(groups) else {}
    table = pa.table(columns) if columns else pa.table({"ts": pa.nulls(0, TS_TYPE)})
    parsed = Parsed(table, numbers, lines)
    if not all_matched:
        for n, text in zip(rejected_numbers, rejected_lines.to_pylist()):
            parsed.reject(int(n), text, f"does not match the {line_format.name} format")
        parsed.rejected = int(len(bad))
    return parsed


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


__all__ = ["Parsed", "LineFormat", "LINE_FORMATS", "FORMAT_ALIASES", "MAX_SAMPLE", "split_lines", "parse_json",
           "parse_journald", "parse_logfmt", "parse_csv", "parse_lines", "user_regex", "records_to_table"]
