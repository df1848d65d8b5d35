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


def pick_endpoint(rng: random.Random) -> tuple[str, str, float]:
    """Return (method, concrete path, median latency ms) drawn from the traffic mix."""
    r = rng.random()
    acc = 0.0
    for method, path, share, median in ENDPOINTS:
        acc += share
        if r <= acc:
            return method, path.replace("{id}", str(rng.randint(1, PRODUCTS))), median
    method, path, _, median = ENDPOINTS[0]
    return method, path, median


def client_ip(rng: random.Random) -> str:
    """Return a client address from a documentation range (a few hundred distinct clients)."""
    return f"203.0.113.{rng.randint(1, 254)}" if rng.random() < 0.6 else f"198.51.100.{rng.randint(1, 254)}"


def user_id(rng: random.Random) -> str:
    """Return one of ~2,000 user ids."""
    return f"u{rng.randint(1000, 2999)}"
