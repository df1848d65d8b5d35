"""Services of a staged incident beside shop-api that log the way their kind does: not JSON.

``order-sync`` is a Spring Boot service (HikariPool) that writes logback's file layout
``%d{yyyy-MM-dd HH:mm:ss.SSS} %-5level [%thread] %logger - %msg%n`` with Java stack traces
(:class:`LogbackWriter` renders it as logback does). ``stock-alerts`` is a Python worker that
logs through the standard :mod:`logging` package (``%(asctime)s - %(name)s - %(levelname)s -
%(message)s``, tracebacks by ``exc_info``). Both share the shop's database role, so when a
leaking pool fills the role's connection limit their connections are refused too. Each has a
history (two hours, written with the incident's other logs) and a live part: a thread that
really connects to the demo's PostgreSQL every few seconds and logs what happened.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TextIO

import psycopg

if TYPE_CHECKING:
    from .context import StageContext
    from ..history import Story

JVM_LOG = "order-sync.log"
PYTHON_LOG = "stock-alerts.log"
POOL = "HikariPool-1"
POOL_TIMEOUT = f"{POOL} - Connection is not available, request timed out after 30000ms"
PYTHON_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
#: order-sync's API requests a second (a busy internal service: its pool errors outnumber shop-api's).
JVM_RPS = 2.0
#: Live: every LIVE_EVERY_S a burst of LIVE_BURST order-sync requests, each wanting its own connection.
LIVE_EVERY_S, LIVE_BURST = 1.5, 5

#: Java frames of a request that waits for a connection, innermost first (class, method, file:line).
_HIKARI_FRAMES = [
    "com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)",
    "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)",
    "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:146)",
    "com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:100)",
]
_CALLER_FRAMES = [
    "org.hibernate.engine.jdbc.connections.internal.DatasourceConnectionProviderImpl.getConnection("
    "DatasourceConnectionProviderImpl.java:122)",
    "org.hibernate.internal.NonContextualJdbcConnectionAccess.obtainConnection(NonContextualJdbcConnectionAccess.java:46)",
    "com.shop.sync.OrderRepository.findPending(OrderRepository.java:57)",
    "com.shop.sync.web.OrderSyncController.order(OrderSyncController.java:42)",
    "org.apache.tomcat.util.threads.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1190)",
    "org.apache.tomcat.util.threads.TaskThread$WrappingRunnable.run(TaskThread.java:61)",
    "java.base/java.lang.Thread.run(Thread.java:840)",
]
_PG_FRAMES = [
    "org.postgresql.core.v3.ConnectionFactoryImpl.doAuthentication(ConnectionFactoryImpl.java:693)",
    "org.postgresql.core.v3.ConnectionFactoryImpl.tryConnect(ConnectionFactoryImpl.java:203)",
    "org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:258)",
    "org.postgresql.jdbc.PgConnection.<init>(PgConnection.java:263)",
    "com.zaxxer.hikari.pool.PoolBase.newConnection(PoolBase.java:359)",
    "com.zaxxer.hikari.pool.HikariPool.createPoolEntry(HikariPool.java:477)",
]


class LogbackWriter:
    """Appends records to a file in logback's layout ``%d{yyyy-MM-dd HH:mm:ss.SSS} %-5level [%thread]
    %logger - %msg%n``, a throwable rendered as logback's ``%ex`` (``Caused by:``, tab-indented
    ``at`` frames, ``... N common frames omitted``)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def log(self, ts: datetime, level: str, thread: str, logger: str, message: str,
            throwable: list[tuple[str, list[str]]] | None = None) -> None:
        """Write one record at ``ts`` (UTC); ``throwable`` is the exception chain, outermost first:
        ``(class: message, frames)`` each."""
        stamp = ts.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.") + f"{ts.microsecond // 1000:03d}"
        lines = [f"{stamp} {level:<5} [{thread}] {logger} - {message}"]
        outer: list[str] = []
        for depth, (head, frames) in enumerate(throwable or []):
            lines.append(head if depth == 0 else f"Caused by: {head}")
            common = _common_tail(frames, outer) if depth else 0
            lines += [f"\tat {f}" for f in frames[:len(frames) - common]]
            if common:
                lines.append(f"\t... {common} common frames omitted")
            outer = frames
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()


def _common_tail(inner: list[str], outer: list[str]) -> int:
    n = 0
    while n < min(len(inner), len(outer)) and inner[-1 - n] == outer[-1 - n]:
        n += 1
    return n


def pool_timeout_chain(database_error: str) -> list[tuple[str, list[str]]]:
    """Return the exception chain of a request whose Hikari pool cannot get a connection because
    PostgreSQL refuses it with ``database_error`` (outermost first)."""
    return [(f"java.sql.SQLTransientConnectionException: {POOL_TIMEOUT}.", _HIKARI_FRAMES + _CALLER_FRAMES),
            (f"org.postgresql.util.PSQLException: {database_error}", _PG_FRAMES + _CALLER_FRAMES[-2:])]


def _jvm_record(out: LogbackWriter, ts: datetime, rng: random.Random, refused: str | None) -> None:
    """Log one request of order-sync's API: served, or (``refused`` by PostgreSQL) Hikari's timeout
    with its stack trace, then Hibernate's error line, as a Spring Boot service logs them."""
    thread = f"http-nio-8080-exec-{rng.randint(1, 20)}"
    order = rng.randint(40000, 99999)
    if refused is None:
        out.log(ts, "INFO", thread, "com.shop.sync.web.OrderSyncController",
                f"GET /sync/orders/{order} served in {rng.randint(4, 60)} ms")
        return
    out.log(ts, "WARN", thread, "com.zaxxer.hikari.pool.HikariPool",
            f"{POOL_TIMEOUT} (total=0, active=0, idle=0, waiting={rng.randint(4, 16)})", pool_timeout_chain(refused))
    out.log(ts + timedelta(milliseconds=rng.randint(1, 9)), "ERROR", thread, "o.h.engine.jdbc.spi.SqlExceptionHelper",
            f"{POOL_TIMEOUT}.")


def _python_logger(path: Path) -> tuple[logging.Logger, logging.Handler]:
    """Return the worker's logger (its own, not the process's root) writing ``path`` in UTC."""
    logger = logging.Logger("stock_alerts.check")
    handler = logging.FileHandler(path, encoding="utf-8")
    formatter = logging.Formatter(PYTHON_FORMAT)
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    return logger, handler


def check_stock(connect: Callable[[], psycopg.Connection]) -> int:
    """Return how many products run low on stock; raises psycopg.OperationalError when no connection is had."""
    with connect() as conn:
        return int(conn.execute("SELECT count(*) FROM inventory WHERE stock - reserved < 50").fetchone()[0])


def _python_record(logger: logging.Logger, ts: datetime, low: int | None, error: str | None) -> None:
    """Log one stock check at ``ts`` through ``logging`` (the record's time set to the past one)."""
    exc_info = None
    if error is not None:
        def refuse() -> psycopg.Connection:
            raise psycopg.OperationalError(error)
        try:
            check_stock(refuse)
        except psycopg.OperationalError as exc:
            exc_info = (type(exc), exc, exc.__traceback__)
    level, msg = (logging.ERROR, "stock check failed: could not connect to the database") if exc_info else \
        (logging.INFO, f"stock check done: {low} products low on stock")
    record = logger.makeRecord(logger.name, level, __file__, 0, msg, (), exc_info, func="check_stock")
    record.created, record.msecs = ts.timestamp(), (ts.microsecond // 1000)
    logger.handle(record)


def write_history(logdir: Path, story: "Story", rng: random.Random, port: int) -> None:
    """Write both services' two hours before ``story.now``: every few seconds a sync or a stock
    check; from ``story.errors_from`` on most fail: PostgreSQL on ``port`` refuses the role."""
    refused = 'FATAL: too many connections for role "shop"'
    python_error = f'connection failed: connection to server at "127.0.0.1", port {port} failed: FATAL:  {refused[7:]}'
    start = story.now - timedelta(hours=2)
    with open(logdir / JVM_LOG, "w", encoding="utf-8") as f:
        out, ts = LogbackWriter(f), start
        while ts < story.now:
            ts += timedelta(seconds=rng.expovariate(JVM_RPS))
            failing = ts >= story.errors_from and rng.random() < 0.85
            _jvm_record(out, ts, rng, refused if failing else None)
    logger, handler = _python_logger(logdir / PYTHON_LOG)
    try:
        ts = start
        while ts < story.now:
            ts += timedelta(seconds=rng.uniform(10.0, 20.0))
            failing = ts >= story.errors_from and rng.random() < 0.8
            _python_record(logger, ts, None if failing else rng.randint(0, 6), python_error if failing else None)
    finally:
        handler.close()


def run_live(env: "StageContext", dsn: str, every_s: float = LIVE_EVERY_S) -> None:
    """Start both services live (a thread, stopped at env stop). Each round order-sync's pool grows
    for a burst of :data:`LIVE_BURST` requests: it really opens one connection per request as the
    shop's role, holding them, so once the role's last free slots are taken the rest are refused by
    PostgreSQL; meanwhile (every third round) stock-alerts really tries its check. Each logs what
    happened, the server's refusal in the stack trace or traceback."""
    stop = threading.Event()
    logdir = env.workdir / "logs"
    logger, handler = _python_logger(logdir / PYTHON_LOG)
    rng = random.Random(5)

    def connect(name: str) -> Callable[[], psycopg.Connection]:
        return lambda: psycopg.connect(dsn, application_name=name, autocommit=True, connect_timeout=5)

    def one_round(out: LogbackWriter, check: bool) -> None:
        held: list[psycopg.Connection] = []
        refused: list[str | None] = []
        try:
            for _ in range(LIVE_BURST):
                try:
                    held.append(connect("order-sync")())
                    refused.append(None)
                except psycopg.OperationalError as exc:
                    refused.append(_one_line(exc))
            if check:
                try:
                    low = check_stock(connect("stock-alerts"))
                    logger.info("stock check done: %d products low on stock", low)
                except psycopg.OperationalError:
                    logger.exception("stock check failed: could not connect to the database")
        finally:
            for conn in held:
                conn.close()
        for outcome in refused:
            _jvm_record(out, datetime.now(timezone.utc), rng, outcome)

    def run() -> None:
        with open(logdir / JVM_LOG, "a", encoding="utf-8") as f:
            out, rounds = LogbackWriter(f), 0
            while not stop.wait(every_s):
                one_round(out, rounds % 3 == 0)
                rounds += 1

    thread = threading.Thread(target=run, name="demo-side-services", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=10)
        handler.close()

    env.on_stop(halt)


def _one_line(exc: Exception) -> str:
    """Return the server's message of a refused connection (libpq's last line, ``FATAL: ...``)."""
    text = " ".join(str(exc).split())
    return text[text.index("FATAL:"):] if "FATAL:" in text else text


__all__ = ["JVM_LOG", "LogbackWriter", "POOL_TIMEOUT", "PYTHON_FORMAT", "PYTHON_LOG", "check_stock", "pool_timeout_chain",
           "run_live", "write_history"]
