"""Prometheus sources against a real Prometheus scraping a real node_exporter and postgres_exporter.

Also the host's node_exporter route (ik.host.node). Warnings: Prometheus 2.42 has no query that
answers with warnings, so that one case is a loopback server replaying the documented response
format (https://prometheus.io/docs/prometheus/latest/querying/api/#format-overview), and says so.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
import time

import httpx
import pandas as pd
import pytest
from waiting import stop_process, wait_http

import incident_kit as ik
from incident_kit import frames
from incident_kit.demo.pgcluster import free_port
from incident_kit.errors import SourceError

pytestmark = pytest.mark.slow  # real services on loopback


def _start(args: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})})






@pytest.fixture(scope="module")
def prom(pg_cluster, tmp_path_factory):
    d = tmp_path_factory.mktemp("prom")
    node_port, pge_port, prom_port = free_port(), free_port(), free_port()
    procs: list[subprocess.Popen] = []
    try:
        procs.append(_start(["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{node_port}",
                             "--collector.disable-defaults", "--collector.cpu", "--collector.meminfo",
                             "--collector.loadavg", "--collector.filesystem"]))
        wait_http(f"http://127.0.0.1:{node_port}/metrics", procs[-1], "node_exporter")
        dsn = f"postgresql://postgres:{pg_cluster.password}@127.0.0.1:{pg_cluster.port}/postgres?sslmode=disable"
        procs.append(_start(["prometheus-postgres-exporter", f"--web.listen-address=127.0.0.1:{pge_port}"],
                            env={"DATA_SOURCE_NAME": dsn}))
        wait_http(f"http://127.0.0.1:{pge_port}/metrics", procs[-1], "postgres_exporter")
        (d / "rules.yml").write_text(
            "groups:\n- name: ik\n  interval: 1s\n  rules:\n"
            "  - alert: PostgresUp\n    expr: pg_up == 1\n    labels: {severity: info}\n"
            "    annotations: {summary: postgres exporter reaches the database}\n"
            "  - alert: NeverFires\n    expr: vector(0) > 1\n")
        (d / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: [rules.yml]\n"
            "scrape_configs:\n"
            f"- job_name: node\n  static_configs: [{{targets: ['127.0.0.1:{node_port}']}}]\n"
            f"- job_name: postgres\n  static_configs: [{{targets: ['127.0.0.1:{pge_port}']}}]\n")
        procs.append(_start(["prometheus", f"--config.file={d / 'prometheus.yml'}",
                             f"--storage.tsdb.path={d / 'data'}", f"--web.listen-address=127.0.0.1:{prom_port}"]))
        url = f"http://127.0.0.1:{prom_port}"
        wait_http(f"{url}/-/ready", procs[-1], "prometheus")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # both targets scraped and the alert active
            body = httpx.get(f"{url}/api/v1/query", params={"query": "count(up == 1)"}).json()
            alerts = httpx.get(f"{url}/api/v1/alerts").json()["data"]["alerts"]
            cpu = httpx.get(f"{url}/api/v1/query", params={"query": "rate(node_cpu_seconds_total[1m])"}).json()
            if body["data"]["result"] and body["data"]["result"][0]["value"][1] == "2" and alerts \
                    and cpu["data"]["result"]:
                break
            time.sleep(0.25)
        else:
            pytest.fail("prometheus did not scrape both exporters")
        yield {"url": url, "node": f"127.0.0.1:{node_port}", "postgres": f"127.0.0.1:{pge_port}"}
    finally:
        for p in reversed(procs):
            stop_process(p)


def test_instant_query_one_column_per_label(prom) -> None:
    up = ik.prometheus.query(prom["url"], "up")
    assert frames.check(up, "metrics") == []
    assert set(up.job) == {"node", "postgres"} and (up.value == 1).all() and set(up.metric) == {"up"}
    assert set(up.instance) == {prom["node"], prom["postgres"]}
    pg_up = ik.prometheus.query(prom["url"], "pg_up")
    assert pg_up.value.iloc[0] == 1  # postgres_exporter reaches the real cluster
    scalar = ik.prometheus.query(prom["url"], "scalar(count(up))")
    assert scalar.metric.iloc[0] == "scalar(count(up))" and scalar.value.iloc[0] == 2
    at = pd.Timestamp.now(tz="UTC") - pd.Timedelta(seconds=1)
    assert ik.prometheus.query(prom["url"], "up", at=at).ts.iloc[0] == at.round("ms")


def test_range_query_picks_a_step_from_the_window(prom) -> None:
    end = pd.Timestamp.now(tz="UTC")
    frame = ik.prometheus.query_range(prom["url"], 'up{job="node"}', start=end - pd.Timedelta("20s"), end=end)
    assert frame.attrs["step"] == "1s"  # 20 s / 300 points -> the smallest step, 1 s
    assert 2 <= len(frame) <= 21 and frame.ts.is_monotonic_increasing and (frame.value == 1).all()
    assert frame.ts.diff().dropna().eq(pd.Timedelta("1s")).all() and frame.ts.max() <= end.ceil("ms")
    assert ik.prometheus.choose_step(pd.Timestamp("2026-01-01T00:00Z"), pd.Timestamp("2026-01-01T06:00Z")) == "120s"
    assert ik.prometheus.choose_step(pd.Timestamp("2026-01-01T00:00Z"), pd.Timestamp("2026-01-08T00:00Z")) == "3600s"


def test_prometheus_errors_are_surfaced_as_they_are(prom) -> None:
    with pytest.raises(SourceError, match=r"prometheus http://127.0.0.1:\d+: query 'rate\(up\[': bad_data: .*parse error"):
        ik.prometheus.query(prom["url"], "rate(up[")
    with pytest.raises(SourceError, match="bad_data") as info:
        ik.prometheus.query_range(prom["url"], "up", start="2026-01-02T00:00Z", end="2026-01-02T01:00Z", step="0.001s")
    assert "window 2026-01-02T00:00:00Z .. 2026-01-02T01:00:00Z" in str(info.value)


def test_alerts(prom) -> None:
    al = ik.prometheus.alerts(prom["url"])
    assert frames.check(al, "events") == []
    row = al[al.ref == "PostgresUp"].iloc[0]
    assert row.state in ("pending", "firing") and row.severity == "info" and row.value == 1
    assert row.text == "PostgresUp: postgres exporter reaches the database"
    assert "NeverFires" not in set(al.ref)


def test_node_exporter_route_for_a_remote_host(prom) -> None:
    node = ik.host.node(prom["url"], instance=prom["node"])
    assert frames.check(node, "metrics") == []
    got = dict(zip(node.metric, node.value))
    assert 0 <= got["cpu_busy_percent"] <= 100 and got["load1"] >= 0
    local = ik.host.stats()
    local_mem = local[local.metric == "memory_used_percent"].value.iloc[0]
    assert abs(got["memory_used_percent"] - local_mem) < 15  # same machine, read two ways
    assert "mountpoint" in node.columns and node[node.metric == "disk_used_percent"].value.between(0, 100).all()


def test_unreachable_and_not_prometheus() -> None:
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        ik.prometheus.query(f"http://admin:pw@127.0.0.1:{free_port()}", "up", timeout_s=2)
    assert time.monotonic() - started < 4
    assert str(info.value).startswith("prometheus http://admin:***@127.0.0.1:") and "\n" not in str(info.value)


class _Recorded(http.server.BaseHTTPRequestHandler):
    """Replays a documented Prometheus API answer carrying warnings (recorded format, not a live server)."""

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = json.dumps({"status": "success", "warnings": ["partial response: store 2 unavailable"],
                           "data": {"resultType": "vector", "result": [
                               {"metric": {"__name__": "http_requests_total", "code": "500", "job": "api"},
                                "value": [1769868000.0, "42"]}]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_warnings_are_kept_and_shown() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.warns(UserWarning, match="partial response: store 2 unavailable"):
            frame = ik.prometheus.query(f"http://127.0.0.1:{server.server_address[1]}", "http_requests_total")
        assert frame.attrs["warnings"] == ["partial response: store 2 unavailable"]
        assert frame.code.iloc[0] == "500" and frame.value.iloc[0] == 42
        assert frame.ts.iloc[0] == pd.Timestamp("2026-01-31T14:00:00Z")
    finally:
        server.shutdown()
        server.server_close()
