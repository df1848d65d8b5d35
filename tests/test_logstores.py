"""Remote log stores: ClickHouse for real; Loki and Elasticsearch against recorded responses.

Loki and Elasticsearch/OpenSearch cannot run on this machine, so those tests serve responses
in their documented formats (Loki ``/loki/api/v1/query_range`` streams and matrix results and
its plain-text/JSON error bodies; Elasticsearch ``_search`` hits with ``sort`` values for
``search_after``, aggregations and ``error.root_cause`` bodies; Elasticsearch ``_pit`` and OpenSearch
``_search/point_in_time`` opens, point-in-time searches answering a new ``pit_id`` and their
closing) from a real HTTP server on 127.0.0.1, and check both what our code sends and what it
makes of the answers.
ClickHouse runs for real: Debian's clickhouse-server, started on free loopback ports.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pandas as pd
import pytest

from incident_kit import frames
from incident_kit.demo.pgcluster import free_port
from incident_kit.errors import ConfigError, SourceError
from incident_kit.sources.logs.stores import clickhouse, elasticsearch, loki

Handler = Callable[[str, str, dict[str, list[str]], bytes], tuple[int, str, bytes]]


class Recorded:
    """A loopback HTTP server answering with a test's recorded responses and keeping the requests."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.handler: Handler = lambda *a: (404, "text/plain", b"no handler")
        outer = self

        class _H(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                query = parse_qs(parts.query)
                outer.requests.append({"method": self.command, "path": parts.path, "query": query, "body": body,
                                       "headers": dict(self.headers)})
                status, ctype, payload = outer.handler(self.command, parts.path, query, body)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), _H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Recorded":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def recorded():
    with Recorded() as server:
        yield server


def _json(status: int, obj: Any) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(obj).encode()


# ---------------------------------------------------------------- Loki (recorded responses)

T0 = pd.Timestamp("2026-11-22T13:00:00Z")
LOKI_LINES = [  # (stream labels, seconds after T0, line)
    ({"app": "shop", "level": "error"}, 1, '{"msg": "payment failed", "status": 500, "path": "/api/checkout", "duration_ms": 12}'),
    ({"app": "shop", "level": "info"}, 2, "level=info msg=\"served\" status=200 path=/api/products duration=0.004"),
    ({"app": "shop", "level": "info"}, 3, "plain text line"),
    ({"app": "shop", "level": "error"}, 4, '{"msg": "payment failed", "status": 502}'),
    ({"app": "shop", "level": "info"}, 4, '{"msg": "same nanosecond, other stream", "status": 200}'),
    ({"app": "shop", "level": "info"}, 6, '{"msg": "six", "status": 200}'),
    ({"app": "shop", "level": "info"}, 7, '{"msg": "seven", "status": 200}'),
]


def loki_streams(query: dict[str, list[str]]) -> tuple[int, str, bytes]:
    """query_range as Loki answers it: entries in [start, end), at most `limit`, grouped by stream."""
    start, end, limit = int(query["start"][0]), int(query["end"][0]), int(query.get("limit", ["100"])[0])
    backward = query.get("direction", ["backward"])[0] == "backward"
    entries = [(labels, T0.value + s * 1_000_000_000, line) for labels, s, line in LOKI_LINES
               if start <= T0.value + s * 1_000_000_000 < end]
    entries.sort(key=lambda x: x[1], reverse=backward)
    entries = entries[:limit]
    streams: dict[str, dict[str, Any]] = {}
    for labels, ts, line in entries:
        key = json.dumps(labels, sort_keys=True)
        streams.setdefault(key, {"stream": labels, "values": []})["values"].append([str(ts), line])
    return _json(200, {"status": "success", "data": {"resultType": "streams", "result": list(streams.values()),
                                                     "stats": {"summary": {"totalEntriesReturned": len(entries)}}}})


def test_loki_query_pages_and_parses_lines(recorded: Recorded) -> None:
    recorded.handler = lambda m, p, q, b: loki_streams(q) if p == "/loki/api/v1/query_range" else (404, "text/plain", b"404 page not found")
    df = loki.query(recorded.url, '{app="shop"}', start=T0, end=T0 + pd.Timedelta(seconds=10), limit=2,
                    org_id="tenant-1")
    assert frames.check(df, "logs") == []
    assert len(df) == 7 and df.attrs["truncated"] is False
    assert df.attrs["pages"] == len(recorded.requests) >= 4  # paged by 2, nothing lost at the shared nanosecond
    assert list(df["ts"]) == [T0 + pd.Timedelta(seconds=s) for s in (1, 2, 3, 4, 4, 6, 7)]
    assert sorted(df["message"][3:5]) == ["payment failed", "same nanosecond, other stream"]
    first = df.iloc[0]
    assert (first["status"], first["path"], first["latency_ms"], first["level"], first["service"]) == (
        500, "/api/checkout", 12.0, "error", "shop")
    assert df.iloc[1]["latency_ms"] == 4.0 and df.iloc[1]["message"] == "served"  # logfmt line
    assert df.iloc[2]["message"] == "plain text line"
    sent = recorded.requests[0]
    assert sent["query"]["query"] == ['{app="shop"}'] and sent["query"]["direction"] == ["forward"]
    assert sent["headers"]["X-Scope-OrgID"] == "tenant-1"
    assert int(sent["query"]["end"][0]) == (T0 + pd.Timedelta(seconds=10)).value + 1
    assert df.attrs["source"] == f"loki {recorded.url}"


def test_loki_limits_labels_and_truncation(recorded: Recorded) -> None:
    recorded.handler = lambda m, p, q, b: loki_streams(q)
    df = loki.query(recorded.url, labels={"app": "shop", "level": ["error", "warn"]}, contains="payment",
                    start=T0, end=T0 + pd.Timedelta(seconds=10), limit=2, max_rows=3)
    assert len(df) == 3 and df.attrs["truncated"] is True
    assert recorded.requests[0]["query"]["query"] == ['{app="shop", level=~"error|warn"} |= "payment"']
    newest = loki.query(recorded.url, '{app="shop"}', start=T0, end=T0 + pd.Timedelta(seconds=10),
                        direction="backward", max_rows=2, limit=5)
    assert list(newest["message"]) == ["six", "seven"] and newest.attrs["truncated"] is True


def test_loki_error_bodies_are_one_line(recorded: Recorded) -> None:
    recorded.handler = lambda m, p, q, b: (400, "text/plain; charset=utf-8",
                                           b"parse error at line 1, col 8: syntax error: unexpected IDENTIFIER\n")
    with pytest.raises(SourceError) as err:
        loki.query(recorded.url.replace("http://", "http://admin:s3cret@"), "{app=shop}", start=T0, end="2026-11-22T14:00Z")
    text = str(err.value)
    assert text.startswith("loki http://admin:***@127.0.0.1") and "HTTP 400: parse error at line 1, col 8" in text
    assert "s3cret" not in text and "\n" not in text
    recorded.handler = lambda m, p, q, b: _json(422, {"status": "error", "errorType": "bad_data",
                                                      "error": "the query time range exceeds the limit (query length: 1000h, limit: 721h)"})
    with pytest.raises(SourceError, match="bad_data: the query time range exceeds the limit"):
        loki.query(recorded.url, '{app="shop"}', start="2026-01-01T00:00Z", end="2026-03-01T00:00Z")
    with pytest.raises(ConfigError, match="not a Loki label name"):
        loki.query(recorded.url, labels={"bad-label": "x"})


def test_loki_counts_are_computed_by_loki(recorded: Recorded) -> None:
    matrix = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"level": "error"}, "values": [[T0.value / 1e9, "2"], [T0.value / 1e9 + 60, "5"]]},
        {"metric": {"level": "info"}, "values": [[T0.value / 1e9, "40"]]},
    ]}}
    recorded.handler = lambda m, p, q, b: _json(200, matrix)
    df = loki.counts(recorded.url, '{app="shop"} |= "checkout"', start=T0, end=T0 + pd.Timedelta(minutes=2),
                     step="1m", by=["level"])
    assert frames.check(df, "metrics") == []
    assert recorded.requests[0]["query"]["query"] == ['sum by (level) (count_over_time({app="shop"} |= "checkout" [1m]))']
    assert recorded.requests[0]["query"]["step"] == ["1m"]
    assert list(df["value"]) == [2.0, 40.0, 5.0] or sorted(df["value"]) == [2.0, 5.0, 40.0]
    assert set(df["metric"]) == {"count_over_time"} and set(df["level"]) == {"error", "info"}
    recorded.handler = lambda m, p, q, b: loki_streams(q)
    with pytest.raises(ConfigError, match="expected a metric query"):
        loki.metric(recorded.url, '{app="shop"}', start=T0, end=T0 + pd.Timedelta(seconds=10))


# ---------------------------------------------------------------- Elasticsearch (recorded responses)

ES_DOCS = [
    {"@timestamp": f"2026-11-22T13:00:{i:02d}.{i:03d}Z", "log": {"level": "error" if i % 3 == 0 else "info"},
     "service": {"name": "shop-api"}, "http": {"response": {"status_code": 500 if i % 3 == 0 else 200},
                                               "request": {"method": "GET"}},
     "url": {"path": f"/api/{i}"}, "client": {"ip": "203.0.113.7"}, "event": {"duration": 2_500_000 * i},
     "message": f"request {i}"}
    for i in range(7)
]


def es_search(body: bytes) -> tuple[int, str, bytes]:
    """_search as Elasticsearch answers it: sorted hits with `sort` values, search_after honoured."""
    req = json.loads(body)
    size = req["size"]
    after = req.get("search_after")
    docs = [(int(pd.Timestamp(d["@timestamp"]).value // 1_000_000), i, d) for i, d in enumerate(ES_DOCS)]
    if after:
        docs = [x for x in docs if (x[0], x[1]) > tuple(after)]
    page = docs[:size]
    hits = [{"_index": "logs-2026.11.22", "_id": f"id{i}", "_score": None, "_source": d, "sort": [ms, i]}
            for ms, i, d in page]
    return _json(200, {"took": 3, "timed_out": False, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                       "hits": {"total": {"value": len(ES_DOCS), "relation": "eq"}, "max_score": None, "hits": hits}})


class FakeES:
    """Elasticsearch (7.10+/8.x), OpenSearch (2.x) or an older server, answering as documented.

    ``flavour`` "elasticsearch" opens points in time at ``POST /<index>/_pit`` (``{"id": ...}``) and
    closes them at ``DELETE /_pit`` (``{"id": ...}``); "opensearch" at ``POST
    /<index>/_search/point_in_time`` (``{"pit_id": ...}``) and ``DELETE /_search/point_in_time``
    (``{"pit_id": [...]}``); "old" has neither (404 / 405 "no handler"). A point-in-time search goes
    to ``/_search`` without an index and each answer carries a new ``pit_id``; a search with a
    stale or closed id gets ``search_context_missing_exception``. ``fail_page`` makes that search
    page (1-based) fail that way too.
    """

    def __init__(self, flavour: str, fail_page: int | None = None) -> None:
        self.flavour, self.fail_page = flavour, fail_page
        self.ids: list[str] = []  # every pit id handed out, newest last
        self.closed: list[str] = []
        self.pages = 0
        self.requests: list[tuple[str, str]] = []

    def _new_id(self) -> str:
        self.ids.append(base64.b64encode(f"{self.flavour}-pit-{len(self.ids)}".encode()).decode())
        return self.ids[-1]

    def _missing(self, pit: Any) -> tuple[int, str, bytes]:
        reason = f"No search context found for id [{pit}]"
        return _json(404, {"error": {"root_cause": [{"type": "search_context_missing_exception", "reason": reason}],
                                     "type": "search_phase_execution_exception", "reason": "all shards failed"},
                           "status": 404})

    VERSIONS = {"elasticsearch": {"number": "8.15.0", "build_flavor": "default"},
                "opensearch": {"distribution": "opensearch", "number": "2.17.0"},
                "old": {"number": "7.9.3", "build_flavor": "default"},
                "denied": {"number": "8.15.0", "build_flavor": "default"}}

    def __call__(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, str, bytes]:
        req = json.loads(body) if body else {}
        shards = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
        self.requests.append((method, path))
        if method == "GET" and path == "/":  # documented root answer (trimmed): name, cluster, version
            return _json(200, {"name": "node-1", "cluster_name": "logs", "version": self.VERSIONS[self.flavour],
                               "tagline": "You Know, for Search" if self.flavour != "opensearch"
                               else "The OpenSearch Project: https://opensearch.org/"})
        if method == "POST" and path.endswith("/_pit") and self.flavour == "denied":
            return _json(403, {"error": {"root_cause": [{"type": "security_exception", "reason": "action "
                                                         "[indices:data/read/open_point_in_time] is unauthorized"}],
                                         "type": "security_exception", "reason": "action [indices:data/read/"
                                         "open_point_in_time] is unauthorized for user [reader]"}, "status": 403})
        if method == "POST" and path.endswith("/_pit"):
            if self.flavour != "elasticsearch" or query.get("keep_alive") != ["1m"]:
                return _json(404, {"error": f"no handler found for uri [{path}] and method [POST]"})
            return _json(200, {"id": self._new_id(), "_shards": shards})
        if method == "POST" and path.endswith("/_search/point_in_time"):
            if self.flavour != "opensearch" or query.get("keep_alive") != ["1m"]:
                return _json(405, {"error": f"Incorrect HTTP method for uri [{path}] and method [POST], allowed: [GET]",
                                   "status": 405})
            return _json(200, {"pit_id": self._new_id(), "_shards": shards, "creation_time": 1795352400000})
        if method == "DELETE" and path == "/_pit" and self.flavour == "elasticsearch":
            self.closed.append(req["id"])
            return _json(200, {"succeeded": True, "num_freed": 1})
        if method == "DELETE" and path == "/_search/point_in_time" and self.flavour == "opensearch":
            self.closed.extend(req["pit_id"])
            return _json(200, {"pits": [{"successful": True, "pit_id": pit} for pit in req["pit_id"]]})
        if method == "POST" and path.endswith("/_search"):
            self.pages += 1
            if "pit" not in req:
                return es_search(body)
            pit = req["pit"]["id"]
            if path != "/_search":
                return _json(400, {"error": {"root_cause": [{"type": "action_request_validation_exception",
                                                             "reason": "[indices] cannot be used with point in time"}],
                                             "type": "action_request_validation_exception"}, "status": 400})
            if pit != self.ids[-1] or pit in self.closed or self.pages == self.fail_page:
                return self._missing(pit)
            status, ctype, payload = es_search(body)
            return status, ctype, json.dumps({"pit_id": self._new_id(), **json.loads(payload)}).encode()
        return _json(404, {"error": f"no handler found for uri [{path}] and method [{method}]"})


def searches(recorded: Recorded) -> list[dict[str, Any]]:
    """The search requests the server saw (not the point-in-time opens and closes), bodies decoded."""
    return [{**r, "json": json.loads(r["body"])} for r in recorded.requests if r["path"].endswith("/_search")]


def test_elasticsearch_search_after_paging(recorded: Recorded) -> None:
    recorded.handler = FakeES("elasticsearch")
    df = elasticsearch.search(recorded.url, "logs-*", "2026-11-22T12:59Z", "2026-11-22T13:10Z", page_size=3,
                              query="message:request", **{"service.name": "shop-api"})
    assert frames.check(df, "logs") == []
    assert len(df) == 7 and df.attrs["truncated"] is False and df.attrs["pages"] == 3
    assert df.attrs["total_hits"] == 7
    row = df.iloc[3]
    assert row["ts"] == pd.Timestamp("2026-11-22T13:00:03.003Z") and row["level"] == "error"
    assert (row["status"], row["method"], row["path"], row["client"]) == (500, "GET", "/api/3", "203.0.113.7")
    assert row["latency_ms"] == 7.5 and row["service"] == "shop-api"  # event.duration is nanoseconds
    first = searches(recorded)[0]["json"]
    assert first["sort"] == [{"@timestamp": {"order": "asc"}}, {"_shard_doc": {"order": "asc"}}]
    assert first["query"]["bool"]["filter"][0]["range"]["@timestamp"]["gte"] == "2026-11-22T12:59:00.000000000Z"
    assert {"term": {"service.name": "shop-api"}} in first["query"]["bool"]["filter"]
    assert first["query"]["bool"]["must"] == [{"query_string": {"query": "message:request"}}]
    assert "search_after" not in first
    assert searches(recorded)[1]["json"]["search_after"] == [
        int(pd.Timestamp(ES_DOCS[2]["@timestamp"]).value // 1_000_000), 2]


def test_elasticsearch_truncation_and_errors(recorded: Recorded) -> None:
    recorded.handler = FakeES("elasticsearch")
    df = elasticsearch.search(recorded.url, "logs-*", "2026-11-22T12:59Z", "2026-11-22T13:10Z", page_size=2, max_rows=5)
    assert len(df) == 5 and df.attrs["truncated"] is True
    assert searches(recorded)[-1]["json"]["size"] == 1
    error = {"error": {"root_cause": [{"type": "index_not_found_exception", "reason": "no such index [nope]",
                                       "index": "nope"}], "type": "index_not_found_exception",
                       "reason": "no such index [nope]"}, "status": 404}
    recorded.handler = lambda m, p, q, b: _json(404, error)
    with pytest.raises(SourceError) as err:
        elasticsearch.search(recorded.url, "nope", "-1h", "now")
    assert "HTTP 404: index_not_found_exception: no such index [nope]" in str(err.value)
    partial = {"took": 1, "timed_out": True, "_shards": {"total": 2, "successful": 1, "failed": 1},
               "hits": {"total": {"value": 1, "relation": "eq"}, "hits": [
                   {"_index": "x", "_id": "1", "_source": ES_DOCS[0], "sort": [1, 0]}]}}
    recorded.handler = lambda m, p, q, b: _json(200, partial)
    assert elasticsearch.search(recorded.url, "x", "-1h", "now").attrs["truncated"] is True


def test_elasticsearch_point_in_time_paging(recorded: Recorded) -> None:
    """Elasticsearch cannot run here: responses in the documented _pit / _search format are replayed."""
    server = FakeES("elasticsearch")
    recorded.handler = server
    df = elasticsearch.search(recorded.url, "logs-*", "2026-11-22T12:59Z", "2026-11-22T13:10Z", page_size=3)
    assert list(df["message"]) == [f"request {i}" for i in range(7)] and df["ts"].is_monotonic_increasing
    assert df.attrs["paging"] == "point_in_time" and df.attrs["pages"] == 3 and df.attrs["notes"] == []
    sent = [(r["method"], r["path"]) for r in recorded.requests]
    assert sent == [("GET", "/"), ("POST", "/logs-*/_pit")] + [("POST", "/_search")] * 3 + [("DELETE", "/_pit")]
    assert recorded.requests[1]["query"] == {"keep_alive": ["1m"]} and recorded.requests[1]["body"] == b""
    pages = searches(recorded)
    # the opened id first, then each time the id the previous answer returned
    assert [p["json"]["pit"] for p in pages] == [{"id": server.ids[i], "keep_alive": "1m"} for i in range(3)]
    assert len(set(server.ids)) == 4
    assert all(p["json"]["sort"] == [{"@timestamp": {"order": "asc"}}, {"_shard_doc": {"order": "asc"}}]
               for p in pages)
    assert [p["json"].get("search_after") for p in pages] == [
        None, [int(pd.Timestamp(ES_DOCS[2]["@timestamp"]).value // 1_000_000), 2],
        [int(pd.Timestamp(ES_DOCS[5]["@timestamp"]).value // 1_000_000), 5]]
    assert json.loads(recorded.requests[-1]["body"]) == {"id": server.ids[-1]} and server.closed == [server.ids[-1]]


def test_opensearch_point_in_time_paging(recorded: Recorded) -> None:
    """OpenSearch cannot run here: responses in the documented _search/point_in_time format are replayed."""
    server = FakeES("opensearch")
    recorded.handler = server
    df = elasticsearch.search(recorded.url, "logs-*", "2026-11-22T12:59Z", "2026-11-22T13:10Z", page_size=4,
                              tiebreaker="event.id")
    assert list(df["message"]) == [f"request {i}" for i in range(7)] and df.attrs["paging"] == "point_in_time"
    sent = [(r["method"], r["path"]) for r in recorded.requests]
    # asked what it is first: only OpenSearch's own open is sent, never Elasticsearch's
    assert sent == [("GET", "/"), ("POST", "/logs-*/_search/point_in_time"), ("POST", "/_search"),
                    ("POST", "/_search"), ("DELETE", "/_search/point_in_time")]
    pages = searches(recorded)
    assert [p["json"]["pit"]["id"] for p in pages] == server.ids[:2]
    assert pages[0]["json"]["sort"] == [{"@timestamp": {"order": "asc"}}, {"event.id": {"order": "asc"}}]
    assert json.loads(recorded.requests[-1]["body"]) == {"pit_id": [server.ids[-1]]}
    assert server.closed == [server.ids[-1]]


def test_elasticsearch_without_point_in_time_falls_back(recorded: Recorded) -> None:
    """ES cannot run here: documented answers of a 7.9 server (no point in time) and of a user refused one are replayed.

    An older server is never sent an open it does not know (a POST it might read as a document write).
    """
    recorded.handler = FakeES("old")
    df = elasticsearch.search(recorded.url, "logs-*", "2026-11-22T12:59Z", "2026-11-22T13:10Z", page_size=3)
    assert list(df["message"]) == [f"request {i}" for i in range(7)]
    assert df.attrs["paging"] == "search_after" and df.attrs["pages"] == 3
    [note] = df.attrs["notes"]
    assert "elasticsearch 7.9.3 has no point in time" in note and "search_after" in note
    sent = [(r["method"], r["path"]) for r in recorded.requests]
    assert sent == [("GET", "/")] + [("POST", "/logs-*/_search")] * 3  # no open, no close
    pages = searches(recorded)
    assert all("pit" not in p["json"] for p in pages)
    assert pages[0]["json"]["sort"] == [{"@timestamp": {"order": "asc"}}, {"_doc": {"order": "asc"}}]
    assert pages[2]["json"]["search_after"] == [int(pd.Timestamp(ES_DOCS[5]["@timestamp"]).value // 1_000_000), 5]
    recorded.requests.clear()
    recorded.handler = FakeES("denied")
    df = elasticsearch.search(recorded.url, "logs-*", "2026-11-22T12:59Z", "2026-11-22T13:10Z", page_size=3)
    assert len(df) == 7 and df.attrs["paging"] == "search_after"
    assert "_pit: HTTP 403" in df.attrs["notes"][0] and "security_exception" in df.attrs["notes"][0]


def test_elasticsearch_point_in_time_closed_when_a_page_fails(recorded: Recorded) -> None:
    """ES cannot run here: the documented search_context_missing_exception answer is replayed on page 2."""
    server = FakeES("elasticsearch", fail_page=2)
    recorded.handler = server
    with pytest.raises(SourceError) as err:
        elasticsearch.search(recorded.url.replace("http://", "http://elastic:s3cret@"), "logs-*",
                             "2026-11-22T12:59Z", "2026-11-22T13:10Z", page_size=3)
    text = str(err.value)
    assert text.startswith("elasticsearch http://elastic:***@127.0.0.1") and "\n" not in text and "s3cret" not in text
    assert f"HTTP 404: search_context_missing_exception: No search context found for id [{server.ids[1]}]" in text
    assert [(r["method"], r["path"]) for r in recorded.requests][-1] == ("DELETE", "/_pit")
    assert server.closed == [server.ids[1]]  # the newest id, the one page 2 was sent with


def test_elasticsearch_counts_use_a_date_histogram(recorded: Recorded) -> None:
    t = int(T0.value // 1_000_000)
    answer = {"took": 2, "timed_out": False, "hits": {"total": {"value": 9, "relation": "eq"}, "hits": []},
              "aggregations": {"by": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 4, "buckets": [
                  {"key": "error", "doc_count": 3, "t": {"buckets": [{"key_as_string": "x", "key": t, "doc_count": 1},
                                                                     {"key": t + 60000, "doc_count": 2}]}},
                  {"key": "info", "doc_count": 2, "t": {"buckets": [{"key": t, "doc_count": 2}]}}]}}}
    recorded.handler = lambda m, p, q, b: _json(200, answer)
    df = elasticsearch.counts(recorded.url, "logs-*", T0, T0 + pd.Timedelta(minutes=2), interval="1m", by="log.level")
    assert frames.check(df, "metrics") == []
    body = json.loads(recorded.requests[0]["body"])
    assert body["size"] == 0 and body["aggs"]["by"]["terms"]["field"] == "log.level"
    assert body["aggs"]["by"]["aggs"]["t"]["date_histogram"]["fixed_interval"] == "1m"
    assert sorted(df["value"]) == [1.0, 2.0, 2.0] and set(df["log.level"]) == {"error", "info"}
    assert df.attrs["truncated"] is True  # sum_other_doc_count: some values left out


# ---------------------------------------------------------------- ClickHouse (real server)

CH_ROWS = [
    {"timestamp": f"2026-11-22 13:{m:02d}:00", "level": "error" if m % 4 == 0 else "info", "service": "shop-api",
     "status": 500 if m % 4 == 0 else 200, "duration_ms": float(m), "path": f"/p/{m % 3}",
     "message": f"it's minute {m}"}
    for m in range(20)
]


@pytest.fixture(scope="module")
def clickhouse_url(tmp_path_factory: pytest.TempPathFactory):
    """A real clickhouse-server on free loopback ports, stopped by pid at the end."""
    binary = shutil.which("clickhouse-server") or "/usr/sbin/clickhouse-server"
    if not Path(binary).exists():
        pytest.fail("clickhouse-server is not installed: scripts/install-system-deps.sh test installs it")
    root = tmp_path_factory.mktemp("clickhouse")
    http_port, tcp_port = free_port(), free_port()
    (root / "users.xml").write_text(
        "<?xml version=\"1.0\"?><yandex><profiles><default><max_memory_usage>2000000000</max_memory_usage></default>"
        "</profiles><users><default><password></password><networks><ip>127.0.0.1</ip></networks>"
        "<profile>default</profile><quota>default</quota></default></users><quotas><default><interval>"
        "<duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows>"
        "<read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas></yandex>")
    (root / "config.xml").write_text(
        f"<?xml version=\"1.0\"?><yandex><logger><level>warning</level><log>{root}/server.log</log>"
        f"<errorlog>{root}/server.err.log</errorlog><console>0</console></logger>"
        f"<http_port>{http_port}</http_port><tcp_port>{tcp_port}</tcp_port><listen_host>127.0.0.1</listen_host>"
        f"<path>{root}/data/</path><tmp_path>{root}/tmp/</tmp_path><user_files_path>{root}/user_files/</user_files_path>"
        f"<format_schema_path>{root}/schemas/</format_schema_path><users_config>{root}/users.xml</users_config>"
        "<default_profile>default</default_profile><default_database>default</default_database>"
        "<mark_cache_size>536870912</mark_cache_size></yandex>")
    proc = subprocess.Popen([binary, f"--config-file={root / 'config.xml'}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=root)
    url = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ping", timeout=1).text.strip() == "Ok.":
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"clickhouse-server did not start: {(root / 'server.err.log').read_text()[-500:] if (root / 'server.err.log').exists() else proc.returncode}")
            time.sleep(0.2)
        setup = ["CREATE TABLE app_logs (timestamp DateTime, level String, service String, status UInt16, "
                 "duration_ms Float64, path String, message String) ENGINE = MergeTree ORDER BY timestamp"]
        for sql in setup:
            httpx.post(url, content=sql.encode(), timeout=30).raise_for_status()
        rows = "\n".join(json.dumps(r) for r in CH_ROWS).encode()
        httpx.post(url, params={"query": "INSERT INTO app_logs FORMAT JSONEachRow"}, content=rows,
                   timeout=30).raise_for_status()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_clickhouse_logs_window_filters_and_limit(clickhouse_url: str) -> None:
    df = clickhouse.logs(clickhouse_url, "app_logs", "2026-11-22T13:05:00Z", "2026-11-22T13:12:00Z")
    assert frames.check(df, "logs") == []
    assert len(df) == 8 and df.attrs["truncated"] is False
    assert df["ts"].iloc[0] == pd.Timestamp("2026-11-22T13:05:00Z") and df["ts"].iloc[-1] == pd.Timestamp("2026-11-22T13:12:00Z")
    assert df["latency_ms"].iloc[0] == 5.0 and df["message"].iloc[0] == "it's minute 5"
    errors = clickhouse.logs(clickhouse_url, "app_logs", "2026-11-22T13:00Z", "2026-11-22T14:00Z", level="error",
                             status=500, path=["/p/0", "/p/1"])
    assert list(errors["message"]) == ["it's minute 0", "it's minute 4", "it's minute 12", "it's minute 16"]
    quoted = clickhouse.logs(clickhouse_url, "app_logs", "2026-11-22T13:00Z", "2026-11-22T14:00Z",
                             message="it's minute 3")
    assert len(quoted) == 1  # the quote is escaped, not injected
    few = clickhouse.logs(clickhouse_url, "app_logs", "2026-11-22T13:00Z", "2026-11-22T14:00Z", max_rows=3,
                          where="duration_ms >= 10")
    assert len(few) == 3 and few.attrs["truncated"] is True and few["latency_ms"].iloc[0] == 10.0


def test_clickhouse_counts_per_bucket(clickhouse_url: str) -> None:
    df = clickhouse.counts(clickhouse_url, "app_logs", "2026-11-22T13:00Z", "2026-11-22T14:00Z", interval="5m", by="level")
    assert frames.check(df, "metrics") == []
    got = {(ts.strftime("%H:%M"), lvl): v for ts, lvl, v in zip(df["ts"], df["level"], df["value"])}
    assert got == {("13:00", "error"): 2.0, ("13:00", "info"): 3.0, ("13:05", "error"): 1.0, ("13:05", "info"): 4.0,
                   ("13:10", "error"): 1.0, ("13:10", "info"): 4.0, ("13:15", "error"): 1.0, ("13:15", "info"): 4.0}
    total = clickhouse.counts(clickhouse_url, "app_logs", "2026-11-22T13:00Z", "2026-11-22T14:00Z", interval="1h")
    assert list(total["value"]) == [20.0]


def test_clickhouse_sub_second_window_bounds(clickhouse_url: str) -> None:
    """18.16 has no DateTime64: a DateTime column is compared in whole seconds, the bounds cut down.

    A row stamped 13:05:00 stands for some instant of that second, so a window from 13:05:00.250
    keeps it; one stamped 13:12:01 is after an end of 13:12:00.750, so it is left out.
    """
    edge = ["13:04:59", "13:05:00", "13:05:01", "13:11:59", "13:12:00", "13:12:01"]
    httpx.post(clickhouse_url, content=b"CREATE TABLE edge_logs (timestamp DateTime, message String) "
               b"ENGINE = MergeTree ORDER BY timestamp", timeout=30).raise_for_status()
    rows = "\n".join(json.dumps({"timestamp": f"2026-11-22 {t}", "message": t}) for t in edge).encode()
    httpx.post(clickhouse_url, params={"query": "INSERT INTO edge_logs FORMAT JSONEachRow"}, content=rows,
               timeout=30).raise_for_status()
    start, end = "2026-11-22T13:05:00.250Z", "2026-11-22T13:12:00.750Z"
    df = clickhouse.logs(clickhouse_url, "edge_logs", start, end)
    assert list(df["message"]) == ["13:05:00", "13:05:01", "13:11:59", "13:12:00"]
    assert ("`timestamp` >= toDateTime('2026-11-22 13:05:00', 'UTC') AND "
            "`timestamp` <= toDateTime('2026-11-22 13:12:00', 'UTC')") in df.attrs["query"]
    counted = clickhouse.counts(clickhouse_url, "edge_logs", start, end, interval="1h")
    assert list(counted["value"]) == [4.0]
    whole = clickhouse.logs(clickhouse_url, "edge_logs", "2026-11-22T13:05:00Z", "2026-11-22T13:12:00Z")
    assert list(whole["message"]) == ["13:05:00", "13:05:01", "13:11:59", "13:12:00"]
    # what newer servers get for a DateTime64(p) column (no such type on 18.16, so only the SQL is checked)
    s, e = pd.Timestamp(start), pd.Timestamp("2026-11-22T13:12:00.7509Z")
    assert clickhouse._where("ts", s, e, None, {}, 3) == (
        "`ts` >= toDateTime64('2026-11-22 13:05:00.250', 3, 'UTC') AND "
        "`ts` <= toDateTime64('2026-11-22 13:12:00.750', 3, 'UTC')")
    assert "toDateTime64('2026-11-22 13:12:00.750900000', 9, 'UTC')" in clickhouse._where("ts", s, e, None, {}, 9)


def test_clickhouse_errors_and_read_only(clickhouse_url: str) -> None:
    with pytest.raises(SourceError) as err:
        clickhouse.logs(clickhouse_url, "no_such_table", "-1h", "now")
    assert "HTTP 404" in str(err.value) or "HTTP 500" in str(err.value)
    assert "no_such_table" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="not a plain identifier"):
        clickhouse.logs(clickhouse_url, "app_logs; DROP TABLE app_logs", "-1h", "now")
    with pytest.raises(ConfigError, match="without ';'"):
        clickhouse.logs(clickhouse_url, "app_logs", "-1h", "now", where="1=1; DROP TABLE app_logs")
    # the transport itself is read-only: a write sent the way our queries are sent is refused by the server
    refused = httpx.get(clickhouse_url, params={"query": "INSERT INTO app_logs (level) VALUES ('x')"})
    assert refused.status_code >= 400 and "readonly" in refused.text.lower()
    with pytest.raises(SourceError, match="clickhouse http://127.0.0.1:1"):
        clickhouse.logs("http://127.0.0.1:1", "app_logs", "-1h", "now", timeout=2)


# ---------------------------------------------------------------- store URLs in ik.logs.read

def test_logs_read_takes_store_urls(recorded: Recorded, clickhouse_url: str, tmp_path: Path) -> None:
    from incident_kit.sources import logs

    es_server = FakeES("elasticsearch")
    recorded.handler = lambda m, p, q, b: loki_streams(q) if p.startswith("/loki") else es_server(m, p, q, b)
    loki_url = f'loki+{recorded.url}?query={{app="shop", level=~"error|info"}}'
    df = logs.read(loki_url, start=T0, end=T0 + pd.Timedelta(seconds=10), status=500)
    # the plain text line carries no status: a filter judges only rows with the field, so it is kept
    assert list(df["message"]) == ["payment failed", "plain text line"] and df.attrs["format"] == "loki"
    assert recorded.requests[0]["query"]["query"] == ['{app="shop", level=~"error|info"}']
    es = logs.read(f"es+{recorded.url}/logs-*?q=message:request", "auto", "2026-11-22T12:59Z", "2026-11-22T13:10Z",
                   level="error")
    assert list(es["path"]) == ["/api/0", "/api/3", "/api/6"]
    ch = logs.read(f"clickhouse+{clickhouse_url}/app_logs", start="2026-11-22T13:00Z", end="2026-11-22T13:03Z")
    assert len(ch) == 4 and ch.attrs["format"] == "clickhouse"
    local = tmp_path / "app.jsonl"
    local.write_text('{"time": "2026-11-22T13:01:30Z", "msg": "from a file", "status": 200}\n')
    mixed = logs.read(f"clickhouse+{clickhouse_url}/app_logs\n{local}", start="2026-11-22T13:00Z",
                      end="2026-11-22T13:03Z", status=200)
    assert list(mixed["message"]) == ["it's minute 1", "from a file", "it's minute 2", "it's minute 3"]
    assert set(mixed["source"]) == {f"clickhouse {clickhouse_url}/app_logs", str(local)}
    assert frames.check(mixed, "logs") == []
    from incident_kit.sources.logs.stores import urls as logurls

    assert logurls.health_url(f"clickhouse+{clickhouse_url}/app_logs") == f"{clickhouse_url}/ping"
    assert httpx.get(logurls.health_url(f"clickhouse+{clickhouse_url}/app_logs")).text.strip() == "Ok."
    assert logurls.health_url("loki+https://user:pw@loki:3100?query={a=\"b\"}") == "https://user:pw@loki:3100/ready"
    with pytest.raises(ConfigError, match="needs \\?query=<LogQL>"):
        logs.read(f"loki+{recorded.url}", start=T0, end=T0 + pd.Timedelta(seconds=10))
