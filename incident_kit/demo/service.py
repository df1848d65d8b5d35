"""The demo's real HTTP service: a small shop API on 127.0.0.1 backed by PostgreSQL.

Run as its own process (``python -m incident_kit.demo.service ...``). It writes a JSON-lines
access log and a JSON-lines application log. ``POST /admin/deploy {"version": ...}`` switches
version; version ``shop.BAD_VERSION`` carries the injected fault: checkout fails with
``shop.FAULT_MESSAGE`` and leaks its database connection idle in transaction, holding a row lock.
The other faults a stage can inject (slow query, Redis, payment provider, unset secret, JWT
secret, full disk) are options described in :mod:`.shopapp`.
"""

from __future__ import annotations

import argparse
import json
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
from .shopapp import Shop


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
                status, payload, error = self.shop.cart(self.headers.get("X-User-Id") or "anonymous")
            elif method == "POST" and path == "/api/login":
                status, payload, error = self.shop.login(self.headers.get("Authorization") or "",
                                                         self.headers.get("X-Forwarded-For") or self.client_address[0],
                                                         self.headers.get("X-User-Id") or "")
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
        except Exception as exc:  # noqa: BLE001 - Redis and other dependencies: a 503 with the reason
            if type(exc).__module__.split(".")[0] != "redis":
                raise
            status, payload = 503, {"error": "cache unavailable"}
            error = f"redis error: {str(exc).strip().splitlines()[0]}"
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        elapsed = (time.perf_counter() - started) * 1000
        client = self.headers.get("X-Forwarded-For") or self.client_address[0]
        record = {
            "level": "error" if status >= 500 else ("warning" if status in (401, 403) else "info"), "service": shop.SERVICE, "method": method,
            "path": path, "status": status, "duration_ms": round(elapsed, 2), "client": client,
            "user_id": self.headers.get("X-User-Id"), "request_id": uuid.uuid4().hex[:16],
            "version": self.shop.version, "message": error or f"{method} {path} {status}",
        }
        self.shop.access.write(record)
        if error:
            logger = "redis" if error.startswith("redis") else ("auth" if "login" in path else
                                                                 ("checkout" if "checkout" in path else "http"))
            self.shop.app.write({"level": record["level"], "service": shop.SERVICE, "logger": logger, "message": error})

    def do_GET(self) -> None:
        self._respond("GET")

    def do_POST(self) -> None:
        self._respond("POST")


def serve(port: int, dsn: str, access_log: Path, app_log: Path, version: str, **options: Any) -> None:
    """Serve until SIGTERM/SIGINT (``options`` go to :class:`Shop`); closes leaked connections on the way out."""
    auth_log = options.pop("auth_log", None)
    Handler.shop = Shop(dsn, _Log(access_log), _Log(app_log), version, auth=_Log(auth_log) if auth_log else None, **options)
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
    p.add_argument("--fault", action="append", default=[], help="slow_query (repeatable)")
    p.add_argument("--redis-url")
    p.add_argument("--payment-url", help="base URL of the payment provider (named shop.PAYMENT_HOST in messages)")
    p.add_argument("--payment-key-env", help="environment variable holding the payment API key")
    p.add_argument("--jwt-secret-file")
    p.add_argument("--receipts-dir")
    p.add_argument("--receipts-quota", type=int, help="simulated quota of --receipts-dir in bytes")
    p.add_argument("--auth-log", help="JSON-lines log of login attempts")
    a = p.parse_args()
    serve(a.port, Path(a.dsn_file).read_text().strip(), Path(a.access_log), Path(a.app_log), a.version,
          faults=set(a.fault), redis_url=a.redis_url, payment_url=a.payment_url, payment_key_env=a.payment_key_env,
          jwt_secret_file=Path(a.jwt_secret_file) if a.jwt_secret_file else None,
          receipts_dir=Path(a.receipts_dir) if a.receipts_dir else None, receipts_quota=a.receipts_quota,
          auth_log=Path(a.auth_log) if a.auth_log else None)


if __name__ == "__main__":
    main()
