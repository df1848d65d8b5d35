"""Log-store URLs in the ``logs`` parameter: ``ik.logs.read`` reads them like files.

- ``loki+http://host:3100?query={app="shop"}`` -> :func:`loki.query`
- ``es+https://host:9200/logs-*?q=level:error`` (also ``elasticsearch+``, ``opensearch+``) -> :func:`elasticsearch.search`
- ``clickhouse+http://host:8123/db.table?time_column=ts`` -> :func:`clickhouse.logs`

The window (and the store's own query) is pushed down; ``**filters`` of ``ik.logs.read`` are
applied to the returned frame with the same exact-match rules as for files.
"""

from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pandas as pd

from .... import secrets
from ....errors import ConfigError
from .. import fields as logfields
from . import shared as logstore

_SCHEME = re.compile(r"^(loki|es|elasticsearch|opensearch|clickhouse)\+(https?)://", re.I)


def is_store_url(item: Any) -> bool:
    """Return True when ``item`` is a log-store URL (``loki+http://...`` and the like)."""
    return isinstance(item, str) and bool(_SCHEME.match(item))


def _split(url: str) -> tuple[str, str, str, dict[str, str]]:
    """Return ``(kind, base url, path, options)`` for a store URL."""
    m = _SCHEME.match(url)
    assert m is not None
    kind = m[1].lower()
    parts = urlsplit(url[len(m[1]) + 1:])
    options = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    base = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return ("elasticsearch" if kind in ("es", "opensearch") else kind), base, parts.path.strip("/"), options


def read_store(url: str, start: Any, end: Any, *, aliases: Mapping[str, Any] | None,
               max_rows: int | None) -> pd.DataFrame:
    """Return the logs frame a store URL designates over ``[start, end]``.

    Raises ConfigError when the URL lacks what its store needs (a LogQL query, an index, a table).
    """
    kind, base, path, opts = _split(str(secrets.resolve(url, field="logs")))
    limit = int(opts.pop("max_rows", max_rows or logstore.MAX_ROWS))
    if kind == "loki":
        from . import loki

        logql = opts.pop("query", None)
        if not logql:
            raise ConfigError(f"logs {secrets.mask_url(url)}: a Loki URL needs ?query=<LogQL>")
        return loki.query(base, logql, start, end, max_rows=limit, aliases=aliases, org_id=opts.pop("org_id", None))
    if kind == "elasticsearch":
        from . import elasticsearch

        if not path:
            raise ConfigError(f"logs {secrets.mask_url(url)}: an Elasticsearch URL needs an index: es+http://host:9200/<index>")
        return elasticsearch.search(base, path, start, end, query=opts.pop("q", None) or None, max_rows=limit,
                                    time_field=opts.pop("time_field", "@timestamp"), aliases=aliases)
    from . import clickhouse

    if not path:
        raise ConfigError(f"logs {secrets.mask_url(url)}: a ClickHouse URL needs a table: clickhouse+http://host:8123/<table>")
    return clickhouse.logs(base, path, start, end, time_column=opts.pop("time_column", "timestamp"),
                           where=opts.pop("where", None), database=opts.pop("database", None), max_rows=limit,
                           aliases=aliases)


def health_url(url: str) -> str:
    """Return the plain HTTP URL that says whether a store URL's server is up (for ``incident-kit check``).

    Loki ``/ready``, Elasticsearch/OpenSearch ``/_cluster/health``, ClickHouse ``/ping``.
    """
    kind, base, _, _ = _split(url)
    return base + {"loki": "/ready", "elasticsearch": "/_cluster/health", "clickhouse": "/ping"}[kind]


def filter_frame(frame: pd.DataFrame, filters: Mapping[str, Any]) -> pd.DataFrame:
    """Return the rows of a logs frame kept by every ``column=value`` (a list means any of them).

    As for files, a filter judges only rows that carry its field: null values and a frame
    without the column are kept, and ``attrs["notes"]`` says so, or that a filter matched nothing.
    """
    if not filters or frame.empty:
        return frame
    keep = pd.Series(True, index=frame.index)
    notes = list(frame.attrs.get("notes", []))
    for column, wanted in filters.items():
        if column not in frame.columns:
            notes.append(f"filter {column}={wanted!r} not applied to {frame.attrs.get('source', '')}: no {column} "
                         "field there, its rows are kept")
            continue
        values = list(wanted) if isinstance(wanted, list | tuple | set | frozenset) else [wanted]
        if column == "level":
            values = [logfields.level_value(v) for v in values]
        col = frame[column]
        matched = (col.isin(values).fillna(False) | col.astype(str).isin([str(v) for v in values]).fillna(False))
        matched &= col.notna()
        if col.notna().any() and not matched.any():
            notes.append(f"filter {column}={wanted!r} matched nothing: none of the {int(col.notna().sum())} rows "
                         f"with a {column} field has that value")
        keep &= matched | col.isna()
    out = frame[keep.to_numpy()].reset_index(drop=True)
    out.attrs.update(frame.attrs)
    out.attrs["notes"] = notes
    return out


__all__ = ["is_store_url", "read_store", "health_url", "filter_frame"]
