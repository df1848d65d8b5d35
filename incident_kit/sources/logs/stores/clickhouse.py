"""``ik.clickhouse``: logs kept in ClickHouse, read over its HTTP interface with the query pushed down.

Every query is sent as an HTTP GET, which ClickHouse runs read-only. The time window, filters
and row limit go into the SQL, so only the rows wanted cross the network; ``counts`` has
ClickHouse count rows per bucket. Works with old servers (18.16, as Debian ships) and new ones.
The window bounds are compared at the time column's precision (asked first with a ``LIMIT 0``
query): whole seconds for ``DateTime``, sub-second ``toDateTime64`` bounds for ``DateTime64(p)``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

import pandas as pd

from .... import secrets, timeutil
from ....errors import ConfigError, SourceError
from ..formats import jsonlines
from . import shared as logstore
from ..._base import source

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?$")
_INTERVAL = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DATETIME64 = re.compile(r"DateTime64\(\s*(\d+)")


def ident(name: str) -> str:
    """Return ``name`` (``col`` or ``db.table``) back-quoted; raises ConfigError for anything else."""
    if not _IDENT.match(name):
        raise ConfigError(f"clickhouse: {name!r} is not a plain identifier (letters, digits, _ and one dot)")
    return ".".join(f"`{part}`" for part in name.split("."))


def literal(value: Any) -> str:
    """Return ``value`` as a ClickHouse SQL literal (strings quoted and escaped)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _window(start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    s, e = timeutil.window(start, end)
    e = e or timeutil.now()
    return (s or e - pd.Timedelta(hours=1)), e


def _bound(ts: pd.Timestamp, precision: int) -> str:
    """Return ``ts`` cut to ``precision`` fractional digits as a ClickHouse time literal.

    A row stamped ``t`` at that precision stands for ``[t, t + 10**-precision s)``, which meets the
    window ``[start, end]`` exactly when ``cut(start) <= t <= cut(end)``: the rows of the start's and
    end's own seconds (or milliseconds...) are kept, none outside. Precision 0 gives
    ``toDateTime(...)`` (all 18.16 knows), 1-9 ``toDateTime64('...', p, 'UTC')``.
    """
    unit = 10 ** (9 - precision)
    ns = ts.value - ts.value % unit
    text = pd.Timestamp(ns, unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M:%S")
    if precision == 0:
        return f"toDateTime('{text}', 'UTC')"
    return f"toDateTime64('{text}.{(ns % 1_000_000_000) // unit:0{precision}d}', {precision}, 'UTC')"


def _where(time_column: str, s: pd.Timestamp, e: pd.Timestamp, where: str | None, filters: Mapping[str, Any],
           precision: int = 0) -> str:
    col = ident(time_column)
    clauses = [f"{col} >= {_bound(s, precision)}", f"{col} <= {_bound(e, precision)}"]
    for name, value in filters.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set):
            clauses.append(f"{ident(name)} IN ({', '.join(literal(v) for v in value)})")
        else:
            clauses.append(f"{ident(name)} = {literal(value)}")
    if where:
        if ";" in where:
            raise ConfigError("clickhouse: where= must be one SQL condition, without ';'")
        clauses.append(f"({where})")
    return " AND ".join(clauses)


def _precision(url: Any, table: str, time_column: str, *, database: str | None, timeout: float,
               window: tuple[Any, Any]) -> int:
    """Return the fractional digits of ``time_column``'s type: ``p`` for ``DateTime64(p, ...)``, else 0.

    Asked with ``SELECT <column> FROM <table> LIMIT 0`` (reads no rows); raises SourceError as ``_run``.
    """
    sql = f"SELECT {ident(time_column)} FROM {ident(table)} LIMIT 0 FORMAT JSON"
    meta = json.loads(_run(url, sql, database=database, timeout=timeout, window=window)).get("meta") or [{}]
    m = _DATETIME64.search(str(meta[0].get("type", "")))
    return min(int(m[1]), 9) if m else 0


def _run(url: Any, sql: str, *, database: str | None, timeout: float, window: tuple[Any, Any]) -> bytes:
    http, base = logstore.client(url, timeout=timeout)
    params: dict[str, Any] = {"query": sql}
    if database:
        params["database"] = database
    with http:
        response = http.get("/", params=params)  # GET: ClickHouse runs it read-only
    if response.status_code >= 400:
        raise SourceError("clickhouse", secrets.mask_url(url), f"HTTP {response.status_code}: "
                          f"{' '.join(response.text.split())[:400]}", window)
    return response.content


@source("clickhouse", "logs")
def logs(url: Any, table: str, start: Any = None, end: Any = None, *, time_column: str = "timestamp",
         where: str | None = None, max_rows: int = logstore.MAX_ROWS, database: str | None = None,
         aliases: Mapping[str, Any] | None = None, timeout: float = logstore.DEFAULT_TIMEOUT,
         **filters: Any) -> pd.DataFrame:
    """Return the rows of ``table`` in ``[start, end]`` as the canonical logs frame, in time order.

    ``filters`` are exact matches on columns (a list means any of them), ``where`` an extra SQL
    condition. At most ``max_rows`` rows are returned (``attrs["truncated"]`` says when more
    matched). Columns map to the canonical ones through the log alias table (``aliases``
    overrides). Default window: the last hour; its bounds are cut to the time column's precision
    (whole seconds for ``DateTime``), so rows stamped in the start's and end's seconds are kept.
    Raises SourceError with ClickHouse's message (unknown table, column, syntax...).
    """
    s, e = _window(start, end)
    precision = _precision(url, table, time_column, database=database, timeout=timeout, window=(s, e))
    sql = (f"SELECT *, toString({ident(time_column)}, 'UTC') AS __ts_utc FROM {ident(table)} "
           f"WHERE {_where(time_column, s, e, where, filters, precision)} ORDER BY {ident(time_column)} "
           f"LIMIT {int(max_rows) + 1} FORMAT JSONEachRow")
    body = _run(url, sql, database=database, timeout=timeout, window=(s, e))
    parsed = jsonlines.parse_json(body, 1) if body.strip() else None
    records = parsed.table.to_pylist() if parsed is not None else []
    truncated = len(records) > max_rows
    records = records[:max_rows]
    merged_aliases = {**(aliases or {}), "__ts_utc": "ts"}
    frame = logstore.records_frame(records, source=f"clickhouse {secrets.mask_url(url)}/{table}", truncated=truncated,
                                   aliases=merged_aliases, extra={"query": sql})
    return frame


def _interval_seconds(interval: str) -> int:
    m = _INTERVAL.match(interval)
    if not m:
        raise ConfigError(f"clickhouse: interval {interval!r} must look like 30s, 1m, 5m, 1h or 1d")
    return int(m[1]) * _SECONDS[m[2]]


@source("clickhouse", "metrics")
def counts(url: Any, table: str, start: Any = None, end: Any = None, *, interval: str = "1m",
           by: str | None = None, time_column: str = "timestamp", where: str | None = None,
           database: str | None = None, timeout: float = logstore.DEFAULT_TIMEOUT, **filters: Any) -> pd.DataFrame:
    """Return rows per ``interval`` bucket, counted by ClickHouse, as the canonical metrics frame.

    ``by`` splits the counts by a column (one label column of that name).
    """
    s, e = _window(start, end)
    step = _interval_seconds(interval)
    precision = _precision(url, table, time_column, database=database, timeout=timeout, window=(s, e))
    # arithmetic rather than toStartOfInterval, which 18.16 lacks
    bucket = f"intDiv(toUnixTimestamp({ident(time_column)}), {step}) * {step}"
    group = f", {ident(by)} AS `{by}`" if by else ""
    sql = (f"SELECT {bucket} AS bucket{group}, count() AS n FROM {ident(table)} "
           f"WHERE {_where(time_column, s, e, where, filters, precision)} "
           f"GROUP BY bucket{', `' + by + '`' if by else ''} ORDER BY bucket FORMAT JSONEachRow")
    body = _run(url, sql, database=database, timeout=timeout, window=(s, e))
    parsed = jsonlines.parse_json(body, 1) if body.strip() else None
    rows = []
    for r in parsed.table.to_pylist() if parsed is not None else []:
        row = {"ts": pd.Timestamp(int(r["bucket"]), unit="s", tz="UTC"), "metric": "count", "value": float(r["n"])}
        if by:
            row[by] = r[by]
        rows.append(row)
    frame = logstore.metrics_frame(rows, source=f"clickhouse {secrets.mask_url(url)}/{table}")
    frame.attrs["query"] = sql
    return frame


__all__ = ["logs", "counts", "ident", "literal"]
