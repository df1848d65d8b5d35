"""Live traffic against the demo service: real HTTP requests from a few worker threads.

Logins (when the mix has ``/api/login``) carry HS256 tokens signed with ``token_secret``; a
``fresh_share`` of them are signed with ``fresh_secret`` instead (clients that already hold a
token made after a secret rotation).
"""

from __future__ import annotations

import random
import threading
import time

import httpx

from . import shop


class Traffic:
    """Sends about ``rps`` requests per second to ``base_url`` until :meth:`stop`."""

    def __init__(self, base_url: str, rps: float = 6.0, workers: int = 4, seed: int = 11, *,
                 endpoints: list[tuple[str, str, float, float]] | None = None, token_secret: str = "demo-jwt-secret",
                 fresh_secret: str | None = None, fresh_share: float = 0.0) -> None:
        self.base_url = base_url
        self.endpoints = endpoints
        self.token_secret = token_secret
        self.fresh_secret = fresh_secret
        self.fresh_share = fresh_share
        self.rps = rps
        self.workers = workers
        self.sent = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._seed = seed
        self._lock = threading.Lock()

    def _worker(self, index: int) -> None:
        rng = random.Random(self._seed + index)
        with httpx.Client(base_url=self.base_url, timeout=5.0) as client:
            while not self._stop.is_set():
                method, path, _ = shop.pick_endpoint(rng, self.endpoints)
                headers = {"X-Forwarded-For": shop.client_ip(rng), "X-User-Id": shop.user_id(rng)}
                try:
                    if path == "/api/login":
                        fresh = self.fresh_secret is not None and rng.random() < self.fresh_share
                        secret = self.fresh_secret if fresh and self.fresh_secret else self.token_secret
                        headers["Authorization"] = "Bearer " + shop.sign_token(secret, headers["X-User-Id"], int(time.time()))
                        client.post(path, headers=headers)
                    elif method == "POST":
                        body = {"product_id": rng.randint(1, shop.PRODUCTS), "user_id": headers["X-User-Id"]}
                        if rng.random() < 0.1:
                            body["coupon"] = "WELCOME10"
                        client.post(path, json=body, headers=headers)
                    else:
                        client.get(path, headers=headers)
                except httpx.HTTPError:
                    pass
                with self._lock:
                    self.sent += 1
                self._stop.wait(rng.expovariate(self.rps / self.workers))

    def start(self) -> "Traffic":
        """Start the worker threads; returns self."""
        for i in range(self.workers):
            t = threading.Thread(target=self._worker, args=(i,), name=f"demo-traffic-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        """Stop sending and wait for the workers."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=6)
        self._threads.clear()
