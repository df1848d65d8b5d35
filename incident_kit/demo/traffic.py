"""Live traffic against the demo service: real HTTP requests from a few worker threads."""

from __future__ import annotations

import random
import threading

import httpx

from . import shop


class Traffic:
    """Sends about ``rps`` requests per second to ``base_url`` until :meth:`stop`."""

    def __init__(self, base_url: str, rps: float = 6.0, workers: int = 4, seed: int = 11) -> None:
        self.base_url = base_url
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
                method, path, _ = shop.pick_endpoint(rng)
                headers = {"X-Forwarded-For": shop.client_ip(rng), "X-User-Id": shop.user_id(rng)}
                try:
                    if method == "POST":
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
