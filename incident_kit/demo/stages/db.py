"""Stages whose fault is in PostgreSQL: a slow query after a deploy, exhausted connections, a held
lock with sessions waiting behind it (and a slow report in pg_stat_statements).

Sessions the stage opens itself are real client connections as the application's role; they are
held by the stage process and closed at stop (the lock holder first, so the waiters finish).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import psycopg

from ...errors import RunError
from .. import shop
from ..faults import Fault, any_of, on_paths, quiet, slow
from . import services
from .base import Stage

if TYPE_CHECKING:
    from .context import StageContext

#: Past orders seeded before the service starts: enough that a correlated subquery is slow for real.
SEED_ORDERS = 12_000
DB_PATHS = ("/health", "/api/products", "/api/checkout")
#: The slow report of db_slow_queries_and_locks: one scan of ``orders`` per customer.
SLOW_REPORT_SQL = """SELECT u.user_id, (SELECT count(*) FROM orders o2 WHERE o2.user_id = u.user_id) AS orders
FROM (SELECT DISTINCT user_id FROM orders ORDER BY user_id LIMIT 100) u ORDER BY orders DESC"""


def seed_orders(env: "StageContext", n: int = SEED_ORDERS) -> None:
    """Insert ``n`` past orders (as superuser), analyze, and reset pg_stat_statements so that the
    seeding itself is not what tops it; raises RunError from psql."""
    assert env.cluster is not None
    env.cluster.psql(
        "INSERT INTO orders (product_id, user_id, created_at) SELECT 1 + (g * 7919) % "
        f"{shop.PRODUCTS}, 'u' || (1000 + (g * 31) % 2000), now() - make_interval(secs => g * 15) "
        f"FROM generate_series(1, {n}) g", "ANALYZE orders", "SELECT pg_stat_statements_reset()", dbname="shop")


def app_dsn(env: "StageContext") -> str:
    """Return the application's libpq connection string (role ``shop``)."""
    return (env.workdir / "secrets" / "app_dsn").read_text().strip()


def open_sessions(env: "StageContext", n: int, application_name: str, first_sql: str | None = None,
                  workers: int = 8) -> list[psycopg.Connection]:
    """Open ``n`` autocommit sessions as the app role (each runs ``first_sql``), closed at env stop;
    returns them. Raises RunError (after closing the opened ones) when one cannot connect."""
    dsn = app_dsn(env)

    def one(_: int) -> psycopg.Connection:
        # A busy machine can take seconds to fork a backend: a connection that timed out is tried again.
        for attempt in range(3):
            try:
                conn = psycopg.connect(dsn, application_name=application_name, autocommit=True, connect_timeout=10)
                break
            except psycopg.OperationalError as exc:
                if attempt == 2 or "timeout" not in str(exc).lower():
                    raise
        if first_sql:
            conn.execute(first_sql).fetchall()
        return conn

    opened: list[psycopg.Connection] = []
    env.on_stop(lambda: [c.close() for c in opened])
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, i) for i in range(n)]
        errors = []
        for f in futures:
            try:
                opened.append(f.result())
            except psycopg.Error as exc:
                errors.append(exc)
    if errors:
        raise RunError(f"demo: could not open {len(errors)} of {n} sessions: {str(errors[0]).strip().splitlines()[0]}")
    return opened


class HighLatency(Stage):
    """Deploy v1.9.0 ranks the product listing by units sold with a correlated subquery.

    Live: ``orders`` holds 12,000 past orders and the service runs ``--fault slow_query``, so
    ``GET /api/products`` scans ``orders`` once per product (hundreds of ms per call, seen in
    pg_stat_statements; the slowest are canceled by the 1.5 s statement timeout and answer 503);
    the history has the deploy 20 min ago and the listing slow 2 min later, 8% of it canceled.
    """

    name = "high_latency"
    title = "deploy v1.9.0: /api/products ranks by units sold with a correlated subquery (p95 up ~40x)"

    def prepare(self, env: "StageContext") -> None:
        seed_orders(env)

    def fault(self, env: "StageContext") -> Fault:
        canceled = on_paths(("/api/products",), 0.08, 503, shop.TIMEOUT_MESSAGE,
                            latency=lambda rng, n: shop.STATEMENT_TIMEOUT_MS + rng.uniform(2, 40))
        return Fault(name="slow_query", version="v1.9.0", fail=any_of(canceled, slow(("/api/products",), 900.0)),
                     commit_subject="products: rank the listing by units sold, popular first (#497)",
                     commit_files={"shop/products.py": f"LISTING_SQL = '''{shop.SLOW_PRODUCTS_SQL}'''\n"},
                     deploy_ago_min=20.0, errors_after_min=2.0)

    def service_args(self, env: "StageContext") -> list[str]:
        return ["--fault", "slow_query"]

    def parameters(self, env: "StageContext") -> dict[str, Any]:
        return {"latency_threshold_ms": 500}

    def inject(self, env: "StageContext") -> None:
        with psycopg.connect(app_dsn(env)) as conn:
            started = time.perf_counter()
            conn.execute(shop.SLOW_PRODUCTS_SQL).fetchall()
            env.story.facts["slow_query_ms"] = round((time.perf_counter() - started) * 1000, 1)
        env.story.facts.update(slow_path="/api/products", slow_query=shop.SLOW_PRODUCTS_SQL, version="v1.9.0")

    def expected(self, env: "StageContext") -> tuple[str, list[str]]:
        return "deploy", ["v1.9.0"]


class DbConnectionExhaustion(Stage):
    """A leaking pool: idle sessions of shop-api fill the role's connection limit.

    Live: ``leaked`` idle sessions named ``shop-api`` are held open and then ``ALTER ROLE shop
    CONNECTION LIMIT`` leaves the live service ``role_limit - leaked`` slots, so the cluster is
    ~96% full (of max_connections minus the superuser reserve) and the service gets "too many
    connections for role" when more than that many of its requests overlap; the read-only reader
    (another role) still has room, so the notebook can look. Two more services share the role and
    are refused too (:mod:`.services`): ``order-sync`` (Java, a logback log with HikariPool stack
    traces) and ``stock-alerts`` (Python ``logging`` with tracebacks); their logs are in ``logs``.
    """

    name = "db_connection_exhaustion"
    user_knows = ("database_url",)
    title = "a leaking pool holds idle shop-api sessions: connections at ~96% of max_connections"
    leaked = 112
    role_limit = 115

    def fault(self, env: "StageContext") -> Fault:
        assert env.cluster is not None
        message = ('database error: connection failed: connection to server at "127.0.0.1", port '
                   f'{env.cluster.port} failed: FATAL:  too many connections for role "shop"')
        port = env.cluster.port
        return quiet("too_many_connections", on_paths(DB_PATHS, 0.3, 503, message, prefix=True,
                                                      latency=lambda rng, n: rng.uniform(2.0, 9.0)),
                     errors_ago_min=12.0, extra=lambda logdir, story, rng: services.write_history(logdir, story, rng, port))

    def parameters(self, env: "StageContext") -> dict[str, Any]:
        logdir = env.workdir / "logs"
        return {"logs": [str(logdir / "access.log"), str(logdir / services.JVM_LOG), str(logdir / services.PYTHON_LOG)]}

    def inject(self, env: "StageContext") -> None:
        assert env.cluster is not None
        leaked = open_sessions(env, self.leaked, shop.SERVICE,
                               "SELECT id, name, price_cents FROM products ORDER BY id LIMIT 20")
        env.cluster.psql(f"ALTER ROLE shop CONNECTION LIMIT {self.role_limit}")  # after: the leak itself got in
        services.run_live(env, app_dsn(env))
        env.story.facts.update(leaked_sessions=len(leaked), role_limit=self.role_limit,
                               max_connections=self.max_connections, leaked_pids=[c.info.backend_pid for c in leaked],
                               in_findings="Connection is not available")  # the pool error, in the findings

    def expected(self, env: "StageContext") -> tuple[str, list[str]]:
        return "saturation", ["database connections"]


class DbSlowQueriesAndLocks(Stage):
    """An inventory-sync job holds row locks on every inventory row, idle in transaction.

    Live: the holder (``inventory-sync``) updated all of ``inventory`` and left its transaction
    open; three ``order-worker`` sessions wait behind it (no lock timeout) and every checkout of
    the service times out on its 200 ms lock timeout. A ``reporting`` session runs a slow report
    (one scan of orders per customer) a few times, so it tops pg_stat_statements by mean time.
    """

    name = "db_slow_queries_and_locks"
    user_knows = ("database_url",)
    title = "an inventory-sync transaction holds row locks: checkouts and workers wait, a slow report runs"
    waiters = 3

    def prepare(self, env: "StageContext") -> None:
        seed_orders(env)

    def fault(self, env: "StageContext") -> Fault:
        return quiet("locks", on_paths(("/api/checkout",), 0.95, 500,
                                       lambda rng: shop.LOCK_MESSAGE.format(order=rng.randint(40000, 99999),
                                                                            product=rng.randint(1, shop.PRODUCTS)),
                                       latency=lambda rng, n: 200 + rng.random() * 30), errors_ago_min=15.0)

    def inject(self, env: "StageContext") -> None:
        dsn = app_dsn(env)
        holder = psycopg.connect(dsn, application_name="inventory-sync", connect_timeout=5)
        stop = threading.Event()
        threads: list[threading.Thread] = []

        def release() -> None:
            stop.set()
            try:
                holder.rollback()
            finally:
                holder.close()
            for t in threads:
                t.join(timeout=15)

        env.on_stop(release)
        holder.execute("SET idle_in_transaction_session_timeout = 0")
        holder.commit()
        holder.execute("UPDATE inventory SET stock = stock - 0, reserved = reserved WHERE product_id > 0")
        # the transaction stays open: every inventory row is locked until stop

        pids: list[int] = []
        ready = threading.Barrier(self.waiters + 1, timeout=20)

        def wait_behind(product: int) -> None:
            with psycopg.connect(dsn, application_name="order-worker", autocommit=True) as conn:
                conn.execute("SET statement_timeout = '15min'")
                pids.append(conn.info.backend_pid)
                ready.wait()
                try:
                    conn.execute("UPDATE inventory SET reserved = reserved + 1 WHERE product_id = %s", (product,))
                except psycopg.Error:
                    pass

        for i in range(self.waiters):
            t = threading.Thread(target=wait_behind, args=(7 + i,), name=f"demo-lock-waiter-{i}", daemon=True)
            t.start()
            threads.append(t)
        ready.wait()

        def report() -> None:
            with psycopg.connect(dsn, application_name="reporting", autocommit=True) as conn:
                while not stop.is_set():
                    conn.execute(SLOW_REPORT_SQL).fetchall()
                    stop.wait(4.0)

        reporter = threading.Thread(target=report, name="demo-slow-report", daemon=True)
        reporter.start()
        threads.append(reporter)
        self._wait_blocked(env, len(pids))
        env.story.facts.update(holder_pid=holder.info.backend_pid, blocked_pids=sorted(pids),
                               slow_query=SLOW_REPORT_SQL, locked_table="inventory")

    def _wait_blocked(self, env: "StageContext", n: int, timeout_s: float = 10.0) -> None:
        """Wait until ``n`` order-worker sessions wait on a lock; raises RunError otherwise."""
        deadline = time.monotonic() + timeout_s
        assert env.cluster is not None
        while time.monotonic() < deadline:
            got = env.cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'order-worker' "
                                   "AND wait_event_type = 'Lock'").strip()
            if int(got or 0) >= n:
                return
            time.sleep(0.2)
        raise RunError(f"demo: the {n} waiting sessions did not block on the inventory lock within {timeout_s:.0f}s")

    def expected(self, env: "StageContext") -> tuple[str, list[str]]:
        return "lock_contention", ["lock"]


__all__ = ["DbConnectionExhaustion", "DbSlowQueriesAndLocks", "HighLatency", "SLOW_REPORT_SQL", "open_sessions",
           "seed_orders"]
