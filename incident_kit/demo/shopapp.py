"""The shop service's behaviour: endpoints over PostgreSQL, Redis, a payment provider and a disk.

Each endpoint returns ``(status, body, error message or None)``; :mod:`.service` serves them over
HTTP and logs them. What a stage injects is real and read at run time:

- ``version == shop.BAD_VERSION``: checkout fails with ``shop.FAULT_MESSAGE`` and leaks its
  connection idle in transaction (the high_error_rate bug);
- ``"slow_query" in faults``: the product listing ranks by units sold with a correlated subquery
  over ``orders`` (slow for real, visible in pg_stat_statements); listings slower than
  ``shop.STATEMENT_TIMEOUT_MS`` are canceled (503 "canceling statement due to statement timeout");
- ``redis_url``: the cart and checkout idempotency keys live in Redis (errors when it is down);
- ``payment_key_env``: checkout reads the payment key from that environment variable at each call
  ("... is not set" when missing); ``payment_url``: checkout charges a provider over HTTP,
  named ``shop.PAYMENT_HOST`` in messages;
- ``jwt_secret_file``: ``POST /api/login`` checks the bearer token's HS256 signature against it;
- ``receipts_dir``: checkout writes a receipt file there (ENOSPC when the filesystem is full;
  ``receipts_quota`` simulates a quota when no filesystem of that size can be mounted).
"""

from __future__ import annotations

import errno
import json
import os
import random
from pathlib import Path
from typing import Any

import psycopg

from . import shop

Reply = tuple[int, dict[str, Any], "str | None"]


class Shop:
    """State of the running service: version, database DSN, dependencies, logs, leaked connections."""

    def __init__(self, dsn: str, access: Any, app: Any, version: str, *, faults: set[str] | None = None,
                 redis_url: str | None = None, payment_url: str | None = None, payment_key_env: str | None = None,
                 jwt_secret_file: Path | None = None, receipts_dir: Path | None = None,
                 receipts_quota: int | None = None, auth: Any = None) -> None:
        self.dsn = dsn
        self.version = version
        self.access = access
        self.app = app
        self.faults = set(faults or ())
        self.leaked: list[psycopg.Connection] = []
        self.rng = random.Random()
        self.redis = None
        if redis_url:
            import redis

            self.redis = redis.Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=1.0)
        self.payment_url = payment_url
        self.payment_key_env = payment_key_env
        self.jwt_secret = jwt_secret_file.read_text().strip() if jwt_secret_file else None
        self.receipts_dir = receipts_dir
        self.receipts_quota = receipts_quota
        self.auth = auth
        self.app.write({"level": "info", "service": shop.SERVICE, "logger": "boot", "message": f"shop-api {version} started"})

    def connect(self) -> psycopg.Connection:
        """Return a new database connection (raises psycopg.Error)."""
        return psycopg.connect(self.dsn, application_name=shop.SERVICE, connect_timeout=3)

    def deploy(self, version: str) -> None:
        """Switch to ``version`` and log the deploy."""
        self.app.write({"level": "info", "service": shop.SERVICE, "logger": "deploy",
                        "message": f"deploy {self.version} -> {version}"})
        self.version = version

    # -- endpoints ------------------------------------------------------------------------------
    def health(self) -> Reply:
        with self.connect() as conn:
            conn.execute("SELECT 1")
        return 200, {"status": "ok", "version": self.version}, None

    def products(self) -> Reply:
        slow = "slow_query" in self.faults
        sql = shop.SLOW_PRODUCTS_SQL if slow else "SELECT id, name, price_cents FROM products ORDER BY id LIMIT 20"
        with self.connect() as conn:
            if slow:  # the pool's statement timeout: the slowest listings fail instead of piling up
                conn.execute(f"SET statement_timeout = '{shop.STATEMENT_TIMEOUT_MS}ms'")
            rows = conn.execute(sql).fetchall()
        return 200, {"products": [list(r) for r in rows]}, None

    def product(self, pid: int) -> Reply:
        with self.connect() as conn:
            row = conn.execute("SELECT id, name, price_cents FROM products WHERE id = %s", (pid,)).fetchone()
        if row is None:
            return 404, {"error": "not found"}, None
        return 200, {"product": list(row)}, None

    def cart(self, user: str) -> Reply:
        """Return the user's cart (from Redis when configured; raises redis errors)."""
        if self.redis is None:
            return 200, {"items": []}, None
        raw = self.redis.get(f"cart:{user}")
        return 200, {"items": json.loads(raw) if raw else []}, None

    def login(self, authorization: str, client: str = "", user: str = "") -> Reply:
        """Check the bearer token's signature: 200, or 401 with ``shop.AUTH_MESSAGE``; each attempt
        goes to the auth log when there is one."""
        token = authorization.removeprefix("Bearer ").strip()
        reply: Reply = (200, {"session": os.urandom(8).hex()}, None)
        if not token:
            reply = (401, {"error": "unauthorized"}, "login failed: missing bearer token")
        elif self.jwt_secret is not None and not shop.token_signature_ok(self.jwt_secret, token):
            reply = (401, {"error": "unauthorized"}, shop.AUTH_MESSAGE)
        if self.auth is not None:
            self.auth.write(shop.auth_record(reply[0], reply[2], client, user))
        return reply

    def checkout(self, body: dict[str, Any]) -> Reply:
        product = int(body.get("product_id") or self.rng.randint(1, shop.PRODUCTS))
        user = str(body.get("user_id") or "anonymous")
        if self.redis is not None:  # idempotency key first; a Redis outage fails the checkout
            self.redis.set(f"idempotency:{user}:{product}", "1", ex=60)
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
        failure = self._pay(order) or self._receipt(order, product, user)
        if failure is not None:
            conn.rollback()
            conn.close()
            return failure
        conn.commit()
        conn.close()
        return 200, {"order": order}, None

    # -- checkout steps: None when fine, else the reply ---------------------------------------------
    def _pay(self, order: int) -> Reply | None:
        key = ""
        if self.payment_key_env:
            key = os.environ.get(self.payment_key_env, "")
            if not key:
                return 500, {"error": "payment failed"}, f"payment failed: {self.payment_key_env} is not set (order {order})"
        if not self.payment_url:
            return None
        import httpx

        call = f"POST https://{shop.PAYMENT_HOST}/v1/charges"
        try:
            resp = httpx.post(f"{self.payment_url}/v1/charges", json={"order": order}, timeout=2.0,
                              headers={"Authorization": f"Bearer {key or 'demo'}", "Host": shop.PAYMENT_HOST})
        except httpx.TimeoutException:
            return 502, {"error": "payment provider unavailable"}, \
                f"payment provider {shop.PAYMENT_HOST} timed out after 2000 ms ({call}, order {order})"
        except httpx.HTTPError as exc:
            return 502, {"error": "payment provider unavailable"}, \
                f"payment provider {shop.PAYMENT_HOST} unreachable: {type(exc).__name__} ({call}, order {order})"
        if resp.status_code >= 500:
            return 502, {"error": "payment provider unavailable"}, \
                f"payment provider {shop.PAYMENT_HOST} returned {resp.status_code} {resp.reason_phrase} ({call}, order {order})"
        return None

    def _receipt(self, order: int, product: int, user: str) -> Reply | None:
        if self.receipts_dir is None:
            return None
        path = self.receipts_dir / f"receipt-{order}.json"
        data = json.dumps({"order": order, "product": product, "user": user, "lines": ["x" * 64] * 24}).encode()
        try:
            if self.receipts_quota is not None:  # simulated quota: the directory may not grow past it
                used = sum(p.stat().st_size for p in self.receipts_dir.rglob("*") if p.is_file())
                if used + len(data) > self.receipts_quota:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            with open(path, "wb") as f:
                f.write(data)
        except OSError as exc:
            try:
                path.unlink()
            except OSError:
                pass
            return 500, {"error": "checkout failed"}, f"checkout failed: {exc}"
        return None


__all__ = ["Shop"]
