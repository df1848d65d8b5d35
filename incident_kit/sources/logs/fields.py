"""Field names, units, levels and timestamps: from what a log says to the canonical logs frame.

The alias table maps field names found in logs (``timestamp``, ``msg``, ``status_code``,
``request_time``...) to canonical columns, with the unit of durations. Users override it with
``aliases={"my_field": "service", "took": ("latency_ms", "s"), "noise": None}``.
Everything here works on Arrow tables, column at a time.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ...errors import ConfigError

TS_TYPE = pa.timestamp("ns", tz="UTC")

# raw name -> (canonical column, unit for durations or None). Earlier names win when several are present.
ALIASES: dict[str, tuple[str, str | None]] = {}
_ALIAS_LISTS: dict[str, list[tuple[str, str | None]]] = {
    "ts": [(n, None) for n in ("ts", "timestamp", "@timestamp", "time", "datetime", "date", "t", "asctime",
                               "time_local", "time_iso8601", "eventTime", "event_time", "_time", "__REALTIME_TIMESTAMP")],
    "level": [(n, None) for n in ("level", "severity", "lvl", "loglevel", "log_level", "levelname", "log.level", "detected_level",
                                  "severity_text", "PRIORITY")],
    "service": [(n, None) for n in ("service", "service_name", "service.name", "app", "application", "app_name",
                                    "SYSLOG_IDENTIFIER", "_SYSTEMD_UNIT")],
    "status": [(n, None) for n in ("status", "status_code", "statusCode", "http_status", "http_status_code",
                                   "response_code", "http.response.status_code", "http.status_code")],
    "latency_ms": [
        *[(n, "ms") for n in ("latency_ms", "duration_ms", "elapsed_ms", "response_time_ms", "took_ms", "time_ms")],
        *[(n, "s") for n in ("duration", "latency", "request_time", "elapsed", "response_time", "duration_s",
                             "latency_s", "elapsed_s", "request_duration")],
        *[(n, "us") for n in ("duration_us", "latency_us", "elapsed_us", "duration_micros")],
        *[(n, "ns") for n in ("duration_ns", "latency_ns", "event.duration")],
        ("took", "ms"),
    ],
    "method": [(n, None) for n in ("method", "http_method", "request_method", "verb", "http.request.method", "http.method")],
    "path": [(n, None) for n in ("path", "uri", "request_uri", "url", "endpoint", "route", "url.path", "http.target")],
    "client": [(n, None) for n in ("client", "client_ip", "remote_addr", "remote_ip", "ip", "clientip", "client.ip",
                                   "source.ip", "client_addr", "x_forwarded_for")],
    "message": [(n, None) for n in ("message", "msg", "MESSAGE", "log", "text", "event.original", "body")],
}
for _canon, _names in _ALIAS_LISTS.items():
    for _raw, _unit in _names:
        ALIASES.setdefault(_raw, (_canon, _unit))

CANONICAL = ("ts", "level", "service", "status", "latency_ms", "method", "path", "client", "message", "source")
_UNIT_TO_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0, "min": 60000.0, "h": 3600000.0}

_LEVELS = {
    "warn": "warning", "err": "error", "eror": "error", "crit": "critical", "fatal": "critical",
    "emerg": "emergency", "panic": "emergency", "information": "info", "informational": "info",
    "dbg": "debug", "severe": "error", "trace": "trace", "failure": "error", "failed": "error",
    "warnings": "warning", "information": "info", "informational": "info", "finest": "trace", "finer": "trace",
    "fine": "debug", "config": "info", "verbose": "debug", "critical": "critical", "alert": "alert",
    "emergency": "emergency", "success": "info", "audit": "info",
    # one-letter levels: logcat (V D I W E F A), Rails/Ruby Logger, glog (I W E F)
    "v": "debug", "d": "debug", "i": "info", "n": "notice", "w": "warning", "e": "error", "f": "critical",
    "a": "critical", "c": "critical",
    # PostgreSQL: LOG is its informational level; the lines that qualify a message (DETAIL, HINT...) are info
    "log": "info", "detail": "info", "hint": "info", "statement": "info", "context": "info", "location": "info",
    "query": "info", "debug1": "debug", "debug2": "debug", "debug3": "debug", "debug4": "debug", "debug5": "debug",
}
# the one scale every family maps to, from least to most severe
LEVELS = ("trace", "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
SYSLOG_SEVERITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "info", "debug")


def alias_table(overrides: Mapping[str, Any] | None = None) -> dict[str, tuple[str, str | None]]:
    """Return the alias table with ``overrides`` applied (``None`` removes a name).

    An override value is a canonical column name or ``(column, unit)``; raises ConfigError otherwise.
    """
    table = dict(ALIASES)
    for raw, target in (overrides or {}).items():
        if target is None:
            table.pop(raw, None)
            continue
        column, unit = (target, None) if isinstance(target, str) else tuple(target)  # type: ignore[misc]
        if unit is not None and unit not in _UNIT_TO_MS:
            raise ConfigError(f"aliases[{raw!r}]: unit {unit!r} is not one of {', '.join(_UNIT_TO_MS)}")
        if column == "latency_ms" and unit is None:
            unit = "ms"
        table[raw] = (column, unit)
    return table


def normalize_level(values: pa.Array) -> pa.Array:
    """Return levels lower-cased with common synonyms unified (``WARN`` -> ``warning``); syslog numbers named."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_integer(values.type):
        idx = pc.if_else(pc.and_(pc.greater_equal(values, 0), pc.less_equal(values, 7)), values, None)
        return pc.take(pa.array(SYSLOG_SEVERITIES), idx)
    # few distinct values: map the dictionary, not every row
    encoded = pc.dictionary_encode(values.cast(pa.string()))
    names = [_one_level(v) for v in encoded.dictionary.to_pylist()]
    return pc.take(pa.array(names, pa.string()), encoded.indices)


def _one_level(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip().lower()
    if text.isdigit() and len(text) == 1 and int(text) < 8:
        return SYSLOG_SEVERITIES[int(text)]
    return _LEVELS.get(text, text)


def level_value(value: Any) -> str:
    """Return one level as :func:`normalize_level` would write it (for filters)."""
    return normalize_level(pa.array([str(value)])).to_pylist()[0]


def _epoch_to_ts(values: pa.Array) -> pa.Array:
    numbers = pc.cast(values, pa.float64(), safe=False)
    valid = numbers.drop_null()
    if len(valid) == 0:
        return pa.nulls(len(values), TS_TYPE)
    magnitude = float(np.nanmedian(np.abs(valid.to_numpy(zero_copy_only=False))))
    scale = 1e9 if magnitude < 1e11 else 1e6 if magnitude < 1e14 else 1e3 if magnitude < 1e17 else 1.0
    if pa.types.is_integer(values.type) and scale == 1.0:
        return pc.cast(values, pa.int64()).cast(TS_TYPE)
    if pa.types.is_integer(values.type):
        return pc.multiply(pc.cast(values, pa.int64()), int(scale)).cast(TS_TYPE)
    return pc.cast(pc.round(pc.multiply(numbers, scale)), pa.int64()).cast(TS_TYPE)


def to_timestamp(values: pa.Array, *, time_format: str | None = None, tz: str = "UTC") -> pa.Array:
    """Return ``values`` as ``timestamp[ns, UTC]``; what cannot be read becomes null.

    Accepts Arrow timestamps, epoch numbers (s/ms/us/ns told apart by magnitude), ISO 8601
    strings (naive ones taken in ``tz``) and, with ``time_format``, strptime formats.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    t = values.type
    if pa.types.is_timestamp(t):
        if t.tz is None:
            values = pc.assume_timezone(values, tz, ambiguous="earliest", nonexistent="earliest") if tz != "UTC" else values
        return values.cast(pa.timestamp("ns", tz="UTC"))
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return _epoch_to_ts(values)
    if pa.types.is_null(t):
        return pa.nulls(len(values), TS_TYPE)
    text = values.cast(pa.string())
    if time_format:
        has_zone = "%z" in time_format or "%Z" in time_format
        if "%f" in time_format:  # Arrow's strptime has no %f: pandas' vectorised parser does
            import pandas as pd

            series = pd.to_datetime(pd.Series(text.to_pandas(), dtype=object), format=time_format, errors="coerce")
            if series.dt.tz is None:
                series = series.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
            return pa.array(series.dt.tz_convert("UTC").astype("datetime64[ns, UTC]"), type=TS_TYPE, from_pandas=True)
        parsed = pc.strptime(text, format=time_format, unit="ns", error_is_null=True)
        if not has_zone:
            parsed = _localize(parsed, tz)
        return parsed.cast(TS_TYPE)
    try:
        return text.cast(TS_TYPE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    try:
        return _localize(text.cast(pa.timestamp("ns")), tz).cast(TS_TYPE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    return _slow_timestamps(text, tz)


def _localize(values: pa.Array, tz: str) -> pa.Array:
    if tz == "UTC":
        return values.cast(pa.timestamp("ns", tz="UTC"))
    return pc.assume_timezone(values, tz, ambiguous="earliest", nonexistent="earliest")


def _slow_timestamps(text: pa.Array, tz: str) -> pa.Array:
    """Mixed or unusual time strings: pandas vectorised ISO 8601 first, then element by element."""
    import pandas as pd

    series = pd.Series(text.to_pylist(), dtype=object)
    out = pd.to_datetime(series, format="ISO8601", errors="coerce", utc=True).astype("datetime64[ns, UTC]")
    if tz != "UTC":
        naive = series.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True, na=True) == False  # noqa: E712
        if naive.any():
            local = pd.to_datetime(series[naive], format="ISO8601", errors="coerce")
            out[naive] = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    for idx in out.index[out.isna() & series.notna()]:
        out[idx] = _one_timestamp(series[idx], tz)
    return pa.array(out.astype("datetime64[ns, UTC]"), type=TS_TYPE, from_pandas=True)


def _one_timestamp(value: Any, tz: str) -> Any:
    import pandas as pd

    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if number is not None:
        return _epoch_to_ts(pa.array([number])).to_pylist()[0]
    try:
        ts = pd.Timestamp(str(value).replace(",", "."))
    except (ValueError, TypeError, OverflowError):
        return pd.NaT
    if ts is pd.NaT:
        return ts
    return ts.tz_localize(tz).tz_convert("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def duration_to_ms(values: pa.Array, unit: str | None) -> pa.Array:
    """Return durations in milliseconds as float64; strings like ``12.5ms`` or ``1.2s`` carry their own unit."""
    factor = _UNIT_TO_MS.get(unit or "ms", 1.0)
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return pc.multiply(pc.cast(values, pa.float64()), factor)
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), pa.float64())
    text = pc.utf8_trim_whitespace(values.cast(pa.string()))
    parts = pc.extract_regex(text, r"^(?P<n>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<u>ns|us|µs|ms|s|m|min|h)?$")
    number = pc.cast(pc.if_else(pc.equal(parts.field("n"), ""), None, parts.field("n")), pa.float64())
    result = pc.multiply(number, factor)
    units = parts.field("u")
    for u, f in _UNIT_TO_MS.items():
        result = pc.if_else(pc.equal(units, u), pc.multiply(number, f), result)
    return result


def to_int(values: pa.Array) -> pa.Array:
    """Return integers (or integer-looking text) as int64; anything else becomes null."""
    if pa.types.is_integer(values.type):
        return values.cast(pa.int64())
    if pa.types.is_floating(values.type):
        return pc.cast(pc.round(values), pa.int64())
    text = pc.utf8_trim_whitespace(values.cast(pa.string()))
    ok = pc.match_substring_regex(text, r"^[-+]?\d{1,18}$")
    return pc.cast(pc.if_else(ok, text, None), pa.int64())


def _to_text(values: pa.Array) -> pa.Array:
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    if pa.types.is_struct(values.type) or pa.types.is_list(values.type) or pa.types.is_map(values.type):
        import json

        return pa.array([None if v is None else json.dumps(v, default=str) for v in values.to_pylist()], pa.string())
    return values.cast(pa.string())


def _convert(canon: str, col: Any, unit: str | None, time_format: str | None, tz: str) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        if canon not in ("ts", "status", "latency_ms", "level") and (
                pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            return col  # text stays as parsed: no copy
        col = col.combine_chunks()
    if canon == "ts":
        return to_timestamp(col, time_format=time_format, tz=tz)
    if canon == "status":
        return to_int(col)
    if canon == "latency_ms":
        return duration_to_ms(col, unit)
    if canon == "level":
        return normalize_level(col)
    if canon in CANONICAL:
        return _to_text(col)
    return col


def canonicalize(table: pa.Table, aliases: Mapping[str, tuple[str, str | None]], *,
                 time_format: str | None = None, tz: str = "UTC") -> pa.Table:
    """Return ``table`` with raw fields renamed to canonical columns and typed (ts still may hold nulls).

    The first alias present wins for each canonical column; later ones stay as extra columns.
    A raw ``source`` field is kept as ``source_field`` (``source`` names the file).
    """
    names = table.column_names
    rank = {raw: i for i, raw in enumerate(ALIASES)}
    candidates: dict[str, list[tuple[int, str, str | None]]] = {}
    for raw in names:
        target = aliases.get(raw)
        if target is None or target[0] == "source":
            continue
        # user overrides (absent from the built-in table) outrank built-in names
        r = rank.get(raw, -1) if ALIASES.get(raw) == target else -1
        candidates.setdefault(target[0], []).append((r, raw, target[1]))
    columns: dict[str, pa.Array] = {}
    used: set[str] = set()
    for canon, found in candidates.items():
        merged = None
        for _, raw, unit in sorted(found):
            col = _convert(canon, table.column(raw), unit, time_format, tz)
            # several names for one column (e.g. duration and latency_ms): first non-null per row wins
            merged = col if merged is None else pc.coalesce(merged, col)
            used.add(raw)
        columns[canon] = merged
    out: dict[str, pa.Array] = {c: columns[c] for c in CANONICAL if c in columns}
    for raw in names:
        if raw in used:
            continue
        name = "source_field" if raw == "source" else raw
        while name in out:
            name = f"{name}_"
        out[name] = table.column(raw)
    return pa.table(out) if out else pa.table({"ts": pa.nulls(table.num_rows, TS_TYPE)})


__all__ = ["ALIASES", "CANONICAL", "TS_TYPE", "SYSLOG_SEVERITIES", "LEVELS", "alias_table", "normalize_level",
           "level_value", "to_timestamp", "duration_to_ms", "canonicalize", "to_int"]
