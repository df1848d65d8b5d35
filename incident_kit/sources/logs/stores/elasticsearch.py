"""``ik.elasticsearch``: Elasticsearch / OpenSearch ``_search`` with the query pushed down.

``search`` sends a time-range query (plus exact-match filters and an optional
``query_string``), sorted by time, and pages with ``search_after`` until the window is read or
``max_rows`` documents were taken (then ``attrs["truncated"]``). When the server has them it pages
inside a point in time (Elasticsearch 7.10+ ``_pit``, OpenSearch 2.4+ ``_search/point_in_time``),
so documents indexed meanwhile cannot shift the pages; a point in time is only a search context
(no data is written) and is closed at the end. ``counts`` lets the store count documents per
bucket (``date_histogram``, optionally split by a ``terms`` field).
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from .... import secrets, timeutil
from ....errors import ConfigError
from . import shared as logstore
from ..._base import source


def _window(start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    s, e = timeutil.window(start, end)
    e = e or timeutil.now()
    return (s or e - pd.Timedelta(hours=1)), e


def _query(time_field: str, s: pd.Timestamp, e: pd.Timestamp, query: Any,
           filters: Mapping[str, Any]) -> dict[str, Any]:
    clauses: list[dict[str, Any]] = [{"range": {time_field: {"gte": logstore.iso_ns(s), "lte": logstore.iso_ns(e),
                                                             "format": "strict_date_optional_time_nanos"}}}]
    for field, value in filters.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set):
            clauses.append({"terms": {field: list(value)}})
        else:
            clauses.append({"term": {field: value}})
    body: dict[str, Any] = {"bool": {"filter": clauses}}
    if isinstance(query, str) and query.strip():
        body["bool"]["must"] = [{"query_string": {"query": query}}]
    elif isinstance(query, dict):
        body["bool"]["must"] = [query]
    elif query is not None:
        raise ConfigError("elasticsearch: query must be a query_string text or a query DSL dict")
    return body


def _post(http: Any, url: str, path: str, body: dict[str, Any], window: tuple[Any, Any]) -> dict[str, Any]:
    response = http.post(path, json=body)
    logstore.check(response, "elasticsearch", url, window)
    return response.json()


KEEP_ALIVE = "1m"
# answers to a point-in-time open that mean "not here": older servers (no such endpoint) or no permission
_NO_PIT = {400, 403, 404, 405}


def _server(http: Any) -> tuple[str, tuple[int, ...]]:
    """Return the server's flavour and version from ``GET /`` (``("", ())`` when it does not say)."""
    try:
        response = http.get("/")
        info = response.json().get("version", {}) if response.status_code == 200 else {}
    except Exception:  # noqa: BLE001 - unknown server: no point in time, plain paging
        return "", ()
    number = tuple(int(p) for p in str(info.get("number", "")).split("-")[0].split(".") if p.isdigit())
    return ("opensearch" if info.get("distribution") == "opensearch" else "elasticsearch"), number


def _open_pit(http: Any, url: str, index: str, window: tuple[Any, Any]) -> tuple[str | None, str | None, str]:
    """Return ``(flavour, pit id, "")`` for a point in time opened on ``index``, or ``(None, None, why)``.

    Asks ``GET /`` what the server is, then opens one only where it exists: Elasticsearch 7.10+
    ``POST /<index>/_pit``, OpenSearch 2.4+ ``POST /<index>/_search/point_in_time`` (no body: a
    point in time is a search context, nothing is written; no path is tried blind on a server that
    could read it as a document write). A refusal meaning "not here" (400/403/404/405) is given in
    ``why``; other errors raise SourceError.
    """
    flavour, version = _server(http)
    wanted = {"elasticsearch": (7, 10), "opensearch": (2, 4)}.get(flavour)
    if wanted is None:
        return None, None, "GET / did not say which server this is (no permission, or not Elasticsearch/OpenSearch)"
    if version < wanted:
        return None, None, f"{flavour} {'.'.join(map(str, version))} has no point in time"
    endpoint, key = ("_pit", "id") if flavour == "elasticsearch" else ("_search/point_in_time", "pit_id")
    response = http.post(f"/{index}/{endpoint}", params={"keep_alive": KEEP_ALIVE})
    if response.status_code in _NO_PIT:
        return None, None, f"{endpoint}: HTTP {response.status_code} {logstore.error_text(response)[:160]}"
    logstore.check(response, "elasticsearch", url, window)
    pit = response.json().get(key)
    return (flavour, pit, "") if pit else (None, None, f"{endpoint}: no {key} in the answer")


def _close_pit(http: Any, flavour: str, pit: str) -> str | None:
    """Close a point in time (best effort; it expires after ``KEEP_ALIVE`` anyway); return a note if it failed."""
    path, body = ("/_pit", {"id": pit}) if flavour == "elasticsearch" else ("/_search/point_in_time", {"pit_id": [pit]})
    try:
        response = http.request("DELETE", path, json=body)
    except Exception as exc:  # noqa: BLE001 - never hide the search's own outcome
        return f"point in time not closed ({type(exc).__name__}); it expires after {KEEP_ALIVE}"
    if response.status_code >= 400:
        return f"point in time not closed (HTTP {response.status_code}); it expires after {KEEP_ALIVE}"
    return None


@source("elasticsearch", "logs")
def search(url: Any, index: str, start: Any = None, end: Any = None, *, query: Any = None,
           time_field: str = "@timestamp", page_size: int = 1000, max_rows: int = logstore.MAX_ROWS,
           tiebreaker: str | None = None, aliases: Mapping[str, Any] | None = None, token: Any = None,
           api_key: Any = None, headers: Mapping[str, str] | None = None,
           timeout: float = logstore.DEFAULT_TIMEOUT, **filters: Any) -> pd.DataFrame:
    """Return the documents of ``index`` (a name, pattern or alias) in ``[start, end]`` as the logs frame.

    ``filters`` are exact matches on fields (``**{"service.name": "shop-api"}`` or
    ``level="error"``; a list means any of them); ``query`` is a ``query_string`` text or a DSL
    dict. Default window: the last hour. Documents are sorted by ``time_field``, then ``tiebreaker``
    (give a unique keyword field for stable paging), then the store's own tiebreaker.

    Pages are read inside a point in time when the server allows one (Elasticsearch 7.10+: sorted
    last by ``_shard_doc``; OpenSearch 2.4+: by ``_doc``); opening one creates only a search context,
    never a change to the data, and it is closed at the end, also after an error. When the server
    refuses it (400/403/404/405: an older server, or no permission) the pages are read with plain
    ``search_after`` (sorted last by ``_doc``) and ``attrs["notes"]`` says so. ``attrs["paging"]`` is
    ``"point_in_time"`` or ``"search_after"``.
    Raises SourceError with the store's error type and reason.
    """
    s, e = _window(start, end)
    extra_headers = dict(headers or {})
    if api_key is not None:
        extra_headers["Authorization"] = f"ApiKey {secrets.resolve(api_key, field='api_key')}"
    body: dict[str, Any] = {"query": _query(time_field, s, e, query, filters), "track_total_hits": True}
    http, _ = logstore.client(url, timeout=timeout, headers=extra_headers, token=token)
    records: list[dict[str, Any]] = []
    notes: list[str] = []
    truncated = False
    total = None
    pages = 0
    data: dict[str, Any] = {}
    with http:
        flavour, pit, refused = _open_pit(http, str(url), index, (s, e))
        sort = [{time_field: {"order": "asc"}}]
        if tiebreaker:
            sort.append({tiebreaker: {"order": "asc"}})
        if flavour == "elasticsearch":
            sort.append({"_shard_doc": {"order": "asc"}})
        elif not tiebreaker:
            sort.append({"_doc": {"order": "asc"}})  # OpenSearch before 3.3 has no _shard_doc
        body["sort"] = sort
        if pit is None:
            notes.append(f"elasticsearch: no point in time ({refused}); paged with plain search_after, "
                         "so documents indexed while reading may shift pages")
        try:
            while True:
                body["size"] = min(page_size, max_rows - len(records))
                if body["size"] <= 0:
                    truncated = total is None or total > len(records)
                    break
                if pit is not None:
                    body["pit"] = {"id": pit, "keep_alive": KEEP_ALIVE}
                data = _post(http, str(url), "/_search" if pit is not None else f"/{index}/_search", body, (s, e))
                pit = data.get("pit_id") or pit  # always page on with the newest id
                pages += 1
                hits = data.get("hits", {})
                if total is None:
                    t = hits.get("total")
                    total = t.get("value") if isinstance(t, dict) else t
                batch = hits.get("hits", [])
                for hit in batch:
                    records.append({**hit.get("_source", {}), "_index": hit.get("_index"), "_id": hit.get("_id")})
                if len(batch) < body["size"]:
                    break
                body["search_after"] = batch[-1]["sort"]
        finally:
            if pit is not None and flavour is not None:
                note = _close_pit(http, flavour, pit)
                if note:
                    notes.append(note)
    if data.get("timed_out") or (data.get("_shards", {}).get("failed") or 0) > 0:
        truncated = True  # partial results from the store
    frame = logstore.records_frame(records, source=f"elasticsearch {secrets.mask_url(url)}/{index}",
                                   truncated=truncated, aliases=aliases,
                                   extra={"total_hits": total, "pages": pages,
                                          "paging": "point_in_time" if flavour else "search_after"})
    frame.attrs.setdefault("notes", []).extend(notes)
    return frame


@source("elasticsearch", "metrics")
def counts(url: Any, index: str, start: Any = None, end: Any = None, *, interval: str = "1m",
           by: str | None = None, size: int = 20, query: Any = None, time_field: str = "@timestamp",
           token: Any = None, headers: Mapping[str, str] | None = None,
           timeout: float = logstore.DEFAULT_TIMEOUT, **filters: Any) -> pd.DataFrame:
    """Return documents per ``interval`` bucket counted by the store (``date_histogram``), as a metrics frame.

    ``by`` splits each bucket by a field's top ``size`` values (``terms``); the label column is
    named after the field. ``attrs["truncated"]`` is set when other values were left out.
    """
    s, e = _window(start, end)
    http, _ = logstore.client(url, timeout=timeout, headers=headers, token=token)
    histogram = {"date_histogram": {"field": time_field, "fixed_interval": interval, "min_doc_count": 0,
                                    "extended_bounds": {"min": logstore.iso_ns(s), "max": logstore.iso_ns(e)}}}
    aggs = {"by": {"terms": {"field": by, "size": size}, "aggs": {"t": histogram}}} if by else {"t": histogram}
    body = {"size": 0, "query": _query(time_field, s, e, query, filters), "aggs": aggs}
    with http:
        data = _post(http, str(url), f"/{index}/_search", body, (s, e))
    rows: list[dict[str, Any]] = []
    truncated = False

    def buckets(agg: dict[str, Any], labels: dict[str, Any]) -> None:
        for b in agg.get("buckets", []):
            rows.append({"ts": pd.Timestamp(b["key"], unit="ms", tz="UTC"), "metric": "doc_count",
                         "value": float(b["doc_count"]), **labels})

    if by:
        top = data["aggregations"]["by"]
        truncated = bool(top.get("sum_other_doc_count"))
        for term in top.get("buckets", []):
            buckets(term["t"], {by: term["key"]})
    else:
        buckets(data["aggregations"]["t"], {})
    frame = logstore.metrics_frame(rows, source=f"elasticsearch {secrets.mask_url(url)}/{index}", truncated=truncated)
    return frame


__all__ = ["search", "counts"]
