"""The demo shop: schema, traffic mix and the messages of the injected fault.

Shared by the live service (:mod:`.service`) and the log history (:mod:`.history`) so that the
past written to disk and the present served for real look the same.
"""

from __future__ import annotations

import random

SERVICE = "shop-api"
GOOD_VERSION = "v1.7.3"
BAD_VERSION = "v1.8.0"
PRODUCTS = 200
BASELINE_RPS = 4.0

SCHEMA_SQL = f"""
CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, price_cents int NOT NULL);
CREATE TABLE inventory (product_id int PRIMARY KEY REFERENCES products(id), stock int NOT NULL, reserved int NOT NULL DEFAULT 0);
CREATE TABLE orders (id bigserial PRIMARY KEY, product_id int NOT NULL, user_id text NOT NULL,
                     coupon text, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO products SELECT g, 'product ' || g, 500 + (g * 37) % 9000 FROM generate_series(1, {PRODUCTS}) g;
INSERT INTO inventory SELECT g, 1000, 0 FROM generate_series(1, {PRODUCTS}) g;
"""

#: (method, path template, share of traffic, baseline median latency in ms)
ENDPOINTS: list[tuple[str, str, float, float]] = [
    ("GET", "/api/products", 0.45, 18.0),
    ("GET", "/api/products/{id}", 0.22, 9.0),
    ("POST", "/api/checkout", 0.25, 42.0),
    ("GET", "/api/cart", 0.05, 7.0),
    ("GET", "/health", 0.03, 2.0),
]

#: The injected fault: the v1.8.0 checkout path reads the coupon's currency from a None coupon,
#: and its error path forgets to roll back, leaking the connection idle in transaction.
FAULT_MESSAGE = "checkout failed: 'NoneType' object has no attribute 'currency' in apply_coupon (order {order})"
LOCK_MESSAGE = "checkout failed: could not reserve stock for order {order}: lock timeout on inventory row {product}"
BASELINE_ERRORS = [
    "upstream timeout after {ms} ms calling recommendations service",
    "client closed request after {ms} ms",
]
FAULT_COMMIT_SUBJECT = "checkout: apply coupon currency before payment (#482)"


def pick_endpoint(rng: random.Random, endpoints: list[tuple[str, str, float, float]] | None = None) -> tuple[str, str, float]:
    """Return (method, concrete path, median latency ms) drawn from the traffic mix (``ENDPOINTS`` by default)."""
    endpoints = endpoints or ENDPOINTS
    r = rng.random()
    acc = 0.0
    for method, path, share, median in endpoints:
        acc += share
        if r <= acc:
            return method, path.replace("{id}", str(rng.randint(1, PRODUCTS))), median
    method, path, _, median = endpoints[0]
    return method, path, median


def client_ip(rng: random.Random) -> str:
    """Return a client address from a documentation range (a few hundred distinct clients)."""
    return f"203.0.113.{rng.randint(1, 254)}" if rng.random() < 0.6 else f"198.51.100.{rng.randint(1, 254)}"


def user_id(rng: random.Random) -> str:
    """Return one of ~2,000 user ids."""
    return f"u{rng.randint(1000, 2999)}"


# -- login tokens (HS256 JWTs, made and checked with the standard library) -------------------
def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_token(secret: str, subject: str, issued_at: int) -> str:
    """Return an HS256 JWT for ``subject`` signed with ``secret``."""
    import hashlib
    import hmac
    import json

    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps({"sub": subject, "iat": issued_at, "iss": "auth.shop.example"}).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(sig)}"


def token_signature_ok(secret: str, token: str) -> bool:
    """Return True when ``token`` is a three-part JWT whose HS256 signature matches ``secret``."""
    import hashlib
    import hmac

    parts = token.split(".")
    if len(parts) != 3:
        return False
    sig = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(_b64(sig), parts[2])


#: What the service says when a token's signature does not match its JWT secret.
AUTH_MESSAGE = "login failed: invalid token signature"
PAYMENT_HOST = "api.payments.example"

#: v1.9.0's product listing: ranked by units sold with a correlated subquery over ``orders``
#: (one sequential scan of orders per product: slow once orders has tens of thousands of rows).
SLOW_PRODUCTS_SQL = """SELECT p.id, p.name, p.price_cents,
       (SELECT count(*) FROM orders o WHERE o.product_id = p.id) AS sold
FROM products p ORDER BY sold DESC, p.id LIMIT 20"""


def auth_record(status: int, error: str | None, client: str, user: str) -> dict[str, object]:
    """Return one auth-log record of a login attempt (level error when it failed), without timestamp."""
    failed = status >= 400
    return {"level": "error" if failed else "info", "service": SERVICE, "logger": "auth", "event": "login",
            "outcome": "failure" if failed else "success", "method": "POST", "path": "/api/login",
            "client": client, "user_id": user, "reason": (error or "").removeprefix("login failed: ") or None,
            "message": error or f"login succeeded for {user}"}


#: Statement timeout of the v1.9.0 listing's connections, and what a canceled listing logs.
STATEMENT_TIMEOUT_MS = 1500
TIMEOUT_MESSAGE = "database error: canceling statement due to statement timeout"
