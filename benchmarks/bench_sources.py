"""Sources: cost of the SQL guard, of a PostgreSQL activity snapshot under load, and probe concurrency.

Figures:
- sqlguard_checks_per_s: distinct statements checked per second (a realistic catalog query read by
  PostgreSQL's parser, pglast, and walked for functions, operators, relations and types, without a
  server; a repeated statement is a cache hit and costs microseconds).
- pg_activity_ms_200_sessions: one ik.postgres.activity() call (connect, read-only transaction,
  pg_stat_activity with pg_blocking_pids) with 200 extra sessions open, median of 5.
- probes_concurrency_speedup: one ik.probes.http call on 20 HTTP targets that each answer in 200 ms,
  one probe at a time (MAX_WORKERS=1) vs concurrently (the default), as a ratio.
"""

from __future__ import annotations

import http.server
import statistics
import threading
import time
from contextlib import ExitStack, closing

import psycopg

import incident_kit as ik
from incident_kit import sqlguard
from incident_kit.demo.pgcluster import PostgresCluster

CATALOG = """
SELECT a.pid, a.state, pg_blocking_pids(a.pid) AS blocked_by, l.mode, l.relation::regclass::text
FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() ORDER BY a.query_start
"""


class _Slow(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        time.sleep(0.2)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


def bench_sqlguard() -> float:
    n = 300
    sqlguard.check(CATALOG, "postgres")  # loads the parser once
    statements = [f"{CATALOG} LIMIT {i}" for i in range(n)]  # distinct: no cache hit
    started = time.perf_counter()
    for sql in statements:
        sqlguard.check(sql, "postgres")
    return n / (time.perf_counter() - started)


def bench_activity() -> float:
    with PostgresCluster(max_connections=230) as cluster, ExitStack() as stack:
        dsn = f"host=127.0.0.1 port={cluster.port} user=postgres password={cluster.password} dbname=postgres"
        for _ in range(200):
            stack.enter_context(closing(psycopg.connect(dsn)))
        url = cluster.url()
        ik.postgres.activity(url)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            frame = ik.postgres.activity(url)
            times.append((time.perf_counter() - started) * 1000)
        print(f"activity rows: {len(frame)}; times ms: {[round(t, 1) for t in times]}")
        return statistics.median(times)


def bench_probes() -> float:
    http.server.ThreadingHTTPServer.request_queue_size = 64
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        targets = [f"http://127.0.0.1:{server.server_address[1]}/{i}" for i in range(20)]
        from incident_kit.sources import probes

        probes.MAX_WORKERS = 1  # the same call, one probe at a time
        started = time.perf_counter()
        ik.probes.http(targets, timeout_s=5)
        sequential = time.perf_counter() - started
        probes.MAX_WORKERS = 16
        started = time.perf_counter()
        frame = ik.probes.http(targets, timeout_s=5)
        concurrent = time.perf_counter() - started
        assert frame.ok.all()
        print(f"20 probes: sequential {sequential:.2f} s, concurrent {concurrent:.2f} s")
        return sequential / concurrent
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    guard = bench_sqlguard()
    activity_ms = bench_activity()
    speedup = bench_probes()
    print("--- figures ---")
    print(f"sqlguard_checks_per_s: {guard:.0f}")
    print(f"pg_activity_ms_200_sessions: {activity_ms:.1f}")
    print(f"probes_concurrency_speedup: {speedup:.2f}x")


if __name__ == "__main__":
    main()
