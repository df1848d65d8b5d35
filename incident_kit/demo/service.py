"""The demo's real HTTP service: a small shop API on 127.0.0.1 backed by PostgreSQL.

Run as its own process (``python -m incident_kit.demo.service ...``). It writes a JSON-lines
access log and a JSON-lines application log. ``POST /admin/deploy {"version": ...}`` switches
version; version ``shop.BAD_VERSION`` carries the injected fault: checkout fails with
``shop.FAULT_MESSAGE`` and leaks its database connection idle in transaction, holding a row lock.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg

from . import shop


class _Log:
    """A JSON-lines file appended to by many threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(path, "a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        record = {"timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"), **record}
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            self._f.write(line)


class Shop:
    """State of the running service: version, database DSN, logs, leaked connections."""

    def __init__(self, dsn: str, access_log: Path, app_log: Path, version: str) -> None:
        self.dsn = dsn
        self.version = version
        self.access = _Log(access_log)
        self.app = _Log(app_log)
        self.leaked: list[psycopg.Connection] = []
        self.rng = random.Random()
        self.app.write({"level": "info", "service": shop.SERVICE, "logger": "boot", "message": f"shop-api {version} started"})

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn, application_name=shop.SERVICE, connect_timeout=3)

    def deploy(self, version: str) -> None:
        self.app.write({"level": "info", "service": shop.SERVICE, "logger": "deploy",
                        "message": f"deploy {self.version} -> {version}"})
        self.version = version

    # -- endpoints: each returns (status, body, error message or None) ----------------------
    def health(self) -> tuple[int, dict[str, Any], str | None]:
        with self.connect() as conn:
            conn.execute("SELECT 1")
        return 200, {"status": "ok", "version": self.version}, None

    def products(self) -> tuple[int, dict[str, Any], str | None]:
        with self.connect() as conn:
            rows = conn.execute("SELECT id, name, price_cents FROM products ORDER BY id LIMIT 20").fetchall()
        return 200, {"products": [list(r) for r in rows]}, None

    def product(self, pid: int) -> tuple[int, dict[str, Any], str | None]:
        with self.connect() as conn:
            row = conn.execute("SELECT id, name, price_cents FROM products WHERE id = %s", (pid,)).fetchone()
        if row is None:
            return 404, {"error": "not found"}, None
        return 200, {"product": list(row)}, None

    def checkout(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], str | None]:
        product = int(body.get("product_id") or self.rng.randint(1, shop.PRODUCTS))
        user = str(body.get("user_id") or "anonymous")
        conn = self.connect()
        try:
            conn.execute("SET lock_timeout = '200ms'")
            conn.execute("UPDATE inventory SET reserved = reserved + 1 WHERE product_id = %s", (product,))
            order = conn.execute("INSERT INTO orders (product_id, user_id, coupon) VALUES (%s, %s, %s) RETURNING id",
                                 (product, user, body.get("coupon"))).fetchone()[0]
        except psycopg.errors.LockNotAvailable:
            conn.rollback()
            conn.close()
            order = self.rng.randint(40000, 99999)
            return 500, {"error": "checkout failed"}, shop.LOCK_MESSAGE.format(order=order, product=product)
        if self.version == shop.BAD_VERSION and not body.get("coupon"):
            # The v1.8.0 bug: the error path returns without rollback; the connection leaks.
            self.leaked.append(conn)
            return 500, {"error": "checkout failed"}, shop.FAULT_MESSAGE.format(order=order)
        conn.commit()
        conn.close()
        return 200, {"order": order}, None


class Handler(BaseHTTPRequestHandler):
    server_version = "shop-api"
    shop: Shop  # set on the class by serve()

    def log_message(self, *args: Any) -> None:  # the access log is ours
        pass

    def _respond(self, method: str) -> None:
        started = time.perf_counter()
        path = self.path.split("?")[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        error: str | None = None
        try:
            if method == "GET" and path == "/health":
                status, payload, error = self.shop.health()
            elif method == "GET" and path == "/api/products":
                status, payload, error = self.shop.products()
            elif method == "GET" and path.startswith("/api/products/") and path.rsplit("/", 1)[1].isdigit():
                status, payload, error = self.shop.product(int(path.rsplit("/", 1)[1]))
            elif method == "GET" and path == "/api/cart":
                status, payload, error = 200, {"items": []}, None
            elif method == "POST" and path == "/api/checkout":
                status, payload, error = self.shop.checkout(body)
            elif method == "POST" and path == "/admin/deploy":
                self.shop.deploy(str(body.get("version", shop.BAD_VERSION)))
                status, payload = 200, {"version": self.shop.version}
            else:
                status, payload = 404, {"error": "not found"}
        except psycopg.Error as exc:
            status, payload = 503, {"error": "database unavailable"}
            error = f"database error: {str(exc).strip().splitlines()[0]}"
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        elapsed = (time.perf_counter() - started) * 1000
        client = self.headers.get("X-Forwarded-For") or self.client_address[0]
        record = {
            "level": "error" if status >= 500 else "info", "service": shop.SERVICE, "method": method,
            "path": path, "status": status, "duration_ms": round(elapsed, 2), "client": client,
            "user_id": self.headers.get("X-User-Id"), "request_id": uuid.uuid4().hex[:16],
            "version": self.shop.version, "message": error or f"{method} {path} {status}",
        }
        self.shop.access.write(record)
        if error:
            self.shop.app.write({"level": "error", "service": shop.SERVICE, "logger": "checkout" if "checkout" in path else "http",
                                 "message": error})

    def do_GET(self) -> None:
        self._respond("GET")

    def do_POST(self) -> None:
        self._respond("POST")


def serve(port: int, dsn: str, access_log: Path, app_log: Path, version: str) -> None:
    """Serve until SIGTERM/SIGINT; closes leaked connections on the way out."""
    Handler.shop = Shop(dsn, access_log, app_log, version)
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown).start())
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        for conn in Handler.shop.leaked:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        httpd.server_close()


def main() -> None:
    p = argparse.ArgumentParser(description="incident-kit demo shop service")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dsn-file", required=True, help="file holding the libpq connection string")
    p.add_argument("--access-log", required=True)
    p.add_argument("--app-log", required=True)
    p.add_argument("--version", default=shop.GOOD_VERSION)
    a = p.parse_args()
    serve(a.port, Path(a.dsn_file).read_text().strip(), Path(a.access_log), Path(a.app_log), a.version)


if __name__ == "__main__":
    main()
