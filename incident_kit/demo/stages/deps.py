"""Stages whose fault is a dependency of the shop: Redis stopped, a job queue nobody consumes,
a third-party payment provider that times out. Each dependency is a real process on loopback."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import shop
from ..faults import Fault, any_of, on_paths, quiet
from ..pgcluster import free_port
from ..procs import start_module, start_redis, stop_process
from .base import Stage

if TYPE_CHECKING:
    from .context import StageContext
    from ..history import Story


def _never(rng: random.Random, method: str, path: str, latency: float) -> None:
    return None


# -- redis_failure -------------------------------------------------------------------------------
class RedisFailure(Stage):
    """A real redis-server holds carts and checkout idempotency keys; it is stopped after warm-up.

    Live: the service runs with ``--redis-url``; once redis-server is stopped (SIGTERM by pid),
    carts and checkouts answer 503 "redis error: Error 111 connecting to 127.0.0.1:PORT.
    Connection refused." and a Redis probe is refused.
    """

    name = "redis_failure"
    title = "redis-server stopped: carts and checkouts fail with connection refused"

    def prepare(self, env: "StageContext") -> None:
        self.proc, self.url = start_redis(env)
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def fault(self, env: "StageContext") -> Fault:
        message = f"redis error: Error 111 connecting to 127.0.0.1:{self.port}. Connection refused."
        return quiet("redis", on_paths(("/api/cart", "/api/checkout"), 0.98, 503, message,
                                       latency=lambda rng, n: rng.uniform(0.5, 3.0)),
                     errors_ago_min=8.0, logger=lambda path, msg: "redis" if msg.startswith("redis") else "http")

    def service_args(self, env: "StageContext") -> list[str]:
        return ["--redis-url", self.url]

    def parameters(self, env: "StageContext") -> dict[str, Any]:
        return {"redis_url": self.url, "app_logs": [str(env.workdir / "logs" / "app.log")]}

    def inject(self, env: "StageContext") -> None:
        time.sleep(1.0)  # a few carts served from Redis first
        pid = self.proc.pid
        stop_process(self.proc)
        env.story.facts.update(redis_pid=pid, redis_port=self.port, redis_exit_code=self.proc.returncode)

    def expected(self, env: "StageContext") -> tuple[str, list[str]]:
        return "dependency", ["redis"]


# -- queue_backlog -------------------------------------------------------------------------------
QUEUE = "video-processing"
PREFIX = f"bull:{QUEUE}"
QUEUE_KEYS = [f"{PREFIX}:waiting", f"{PREFIX}:active", f"{PREFIX}:failed", f"{PREFIX}:delayed"]
STUCK = 4          # worker concurrency: every slot holds a hung job
FAILED = 17
ARRIVALS_PER_S = 0.3
PRODUCE_EVERY_S = 1.5   # live uploads keep coming while the workers hang


def _stats_line(ts: str, waiting: int, active: int, failed: int) -> str:
    return json.dumps({"timestamp": ts, "level": "info", "service": "video-worker", "logger": "queue-stats",
                       "queue": QUEUE, "waiting": waiting, "active": active, "failed": failed,
                       "message": f"queue {QUEUE}: waiting={waiting} active={active} failed={failed}"},
                      separators=(",", ":"))


def _worker_history(logdir: Path, story: "Story", rng: random.Random) -> None:
    """Write ``worker.log``: jobs flowing, then from ``errors_from`` the four workers hang on
    their jobs, stalls and failures are logged and the waiting list grows; queue stats every 30 s."""
    from ..history import iso_ms

    ts = story.now - timedelta(hours=2)
    job, waiting, failed, stats_at = 9000, 2, 0, ts
    lines: list[str] = []
    stuck: list[int] = []
    while ts < story.now:
        ts += timedelta(seconds=rng.expovariate(ARRIVALS_PER_S))
        job += 1
        if ts < story.errors_from:
            lines.append(json.dumps({"timestamp": iso_ms(ts), "level": "info", "service": "video-worker",
                                     "logger": "worker", "job": job, "message": f"job {job} completed in "
                                     f"{rng.uniform(8, 20):.1f} s (transcode 1080p)"}, separators=(",", ":")))
            waiting = max(0, min(4, waiting + rng.choice((-1, 0, 1))))
        else:
            if len(stuck) < STUCK:
                stuck.append(job)
                lines.append(json.dumps({"timestamp": iso_ms(ts), "level": "info", "service": "video-worker",
                                         "logger": "worker", "job": job,
                                         "message": f"job {job} started (transcode 1080p)"}, separators=(",", ":")))
            else:
                waiting += 1
                if rng.random() < 0.06:
                    failed += 1
                    lines.append(json.dumps({"timestamp": iso_ms(ts), "level": "error", "service": "video-worker",
                                             "logger": "worker", "job": job, "message": f"job {job} failed: job stalled "
                                             "more than allowable limit (worker lock expired)"}, separators=(",", ":")))
                elif rng.random() < 0.1:
                    hung = rng.choice(stuck)
                    lines.append(json.dumps({"timestamp": iso_ms(ts), "level": "error", "service": "video-worker",
                                             "logger": "worker", "job": hung, "message": f"job {hung} stalled: "
                                             "no progress for 300 s (ffmpeg waiting on storage read)"},
                                            separators=(",", ":")))
        while stats_at + timedelta(seconds=30) <= ts:
            stats_at += timedelta(seconds=30)
            active = len(stuck) if stats_at >= story.errors_from else rng.randint(1, 3)
            lines.append(_stats_line(iso_ms(stats_at), waiting, active, failed))
    lines.sort(key=lambda line: json.loads(line)["timestamp"])
    (logdir / "worker.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    story.facts.update(history_waiting=waiting, history_failed=failed, stuck_jobs=list(stuck))


class QueueBacklog(Stage):
    """BullMQ-shaped video-processing queue: nothing consumes it, the waiting list grows.

    Live: a real redis-server holds ``bull:video-processing:waiting`` (a list, as deep as the
    history says, growing ~``ARRIVALS_PER_S`` a second from a producer thread), ``:active`` with
    the four hung jobs (their hashes' ``processedOn`` minutes old), ``:failed`` (a sorted set with
    failed reasons). The producer also appends queue stats (real LLEN) to ``worker.log``.
    """

    name = "queue_backlog"
    title = "video-processing queue backlog: all four workers hung, waiting list growing"

    def prepare(self, env: "StageContext") -> None:
        self.proc, self.url = start_redis(env)

    def fault(self, env: "StageContext") -> Fault:
        return quiet("queue", _never, errors_ago_min=25.0, extra=_worker_history)

    def parameters(self, env: "StageContext") -> dict[str, Any]:
        worker_log = str(env.workdir / "logs" / "worker.log")
        return {"redis_url": self.url, "queue_keys": QUEUE_KEYS, "queue_name": QUEUE, "service": "video-worker",
                "logs": [worker_log], "worker_logs": [worker_log]}

    def inject(self, env: "StageContext") -> None:
        import redis

        story = env.story
        r = redis.Redis.from_url(self.url, decode_responses=True)
        now_ms = int(time.time() * 1000)
        started_ms = int(story.errors_from.timestamp() * 1000)
        next_id = 20000
        pipe = r.pipeline()
        stuck = story.facts.get("stuck_jobs") or list(range(9100, 9100 + STUCK))
        for i, job in enumerate(stuck):
            pipe.hset(f"{PREFIX}:{job}", mapping={"name": "transcode", "data": json.dumps({"video": f"v{job}", "preset": "1080p"}),
                                                  "timestamp": started_ms - 4000, "processedOn": started_ms + 1000 * i,
                                                  "attemptsMade": 0})
            pipe.rpush(f"{PREFIX}:active", job)
        failed = int(story.facts.get("history_failed") or FAILED)
        for i in range(failed):
            job = next_id + i
            pipe.hset(f"{PREFIX}:{job}", mapping={"name": "transcode", "timestamp": now_ms - 600_000, "attemptsMade": 3,
                                                  "failedReason": "job stalled more than allowable limit",
                                                  "finishedOn": now_ms - 60_000 * (failed - i)})
            pipe.zadd(f"{PREFIX}:failed", {str(job): now_ms - 60_000 * (failed - i)})
        waiting = int(story.facts.get("history_waiting") or 400)
        ids = [str(next_id + failed + i) for i in range(waiting)]
        for chunk in range(0, len(ids), 500):
            pipe.lpush(f"{PREFIX}:waiting", *ids[chunk:chunk + 500])
        pipe.set(f"{PREFIX}:id", next_id + failed + waiting)
        pipe.execute()
        story.facts.update(waiting_pushed=waiting, active_jobs=[str(j) for j in stuck], failed_jobs=failed)
        self._produce(env, r, next_id + failed + waiting)

    def _produce(self, env: "StageContext", r: Any, first_id: int) -> None:
        """Start the producer thread (stopped at env stop): push jobs, log real queue stats every 5 s."""
        from ..history import iso_ms

        stop = threading.Event()
        lock = threading.Lock()
        facts = env.story.facts
        log = env.workdir / "logs" / "worker.log"

        def run() -> None:
            job, last_stats = first_id, 0.0
            while not stop.wait(PRODUCE_EVERY_S):
                with lock:
                    r.lpush(f"{PREFIX}:waiting", job)
                    facts["waiting_pushed"] += 1
                job += 1
                if time.monotonic() - last_stats >= 5.0:
                    last_stats = time.monotonic()
                    with open(log, "a", encoding="utf-8") as f:
                        f.write(_stats_line(iso_ms(datetime.now(timezone.utc)),
                                            r.llen(f"{PREFIX}:waiting"), r.llen(f"{PREFIX}:active"),
                                            r.zcard(f"{PREFIX}:failed")) + "\n")

        thread = threading.Thread(target=run, name="demo-queue-producer", daemon=True)
        thread.start()
        self.lock = lock

        def halt() -> None:
            stop.set()
            thread.join(timeout=5)
            r.close()

        env.on_stop(halt)

    def expected(self, env: "StageContext") -> tuple[str, list[str]]:
        return "saturation", ["queue", QUEUE]


# -- dependency_failure --------------------------------------------------------------------------
class DependencyFailure(Stage):
    """The payment provider ``api.payments.example`` (a local process) hangs or answers 503.

    Live: checkout charges the provider with a 2 s timeout (``--payment-url``); the provider hangs
    85% of calls for 30 s and answers 503 to the rest, so checkouts fail with "payment provider
    api.payments.example timed out after 2000 ms" and probes of its health URL fail.
    """

    name = "dependency_failure"
    title = "payment provider api.payments.example times out or answers 503: checkouts fail"

    def prepare(self, env: "StageContext") -> None:
        self.port = free_port()
        self.proc = start_module(env, "provider", "--port", str(self.port), what="payment provider", port=self.port)
        self.url = f"http://127.0.0.1:{self.port}"

    def fault(self, env: "StageContext") -> Fault:
        call = f"POST https://{shop.PAYMENT_HOST}/v1/charges"
        timeout = on_paths(("/api/checkout",), 0.85, 502,
                           lambda rng: f"payment provider {shop.PAYMENT_HOST} timed out after 2000 ms ({call}, "
                                       f"order {rng.randint(40000, 99999)})", latency=lambda rng, n: 2000 + rng.random() * 15)
        unavailable = on_paths(("/api/checkout",), 0.9, 502,
                               lambda rng: f"payment provider {shop.PAYMENT_HOST} returned 503 Service Unavailable "
                                           f"({call}, order {rng.randint(40000, 99999)})")
        return quiet("payment_provider", any_of(timeout, unavailable), errors_ago_min=10.0)

    def service_args(self, env: "StageContext") -> list[str]:
        return ["--payment-url", self.url]

    def parameters(self, env: "StageContext") -> dict[str, Any]:
        health = f"{self.url}/v1/payments/health"
        return {"probe_targets": [f"{env.base_url}/health", f"{env.base_url}/api/products", health],
                "dependency_urls": [health], "dependency_hosts": [shop.PAYMENT_HOST]}

    def inject(self, env: "StageContext") -> None:
        env.story.facts.update(provider_pid=self.proc.pid, provider_url=self.url, provider_host=shop.PAYMENT_HOST)

    def expected(self, env: "StageContext") -> tuple[str, list[str]]:
        return "dependency", ["payments"]


__all__ = ["DependencyFailure", "QUEUE_KEYS", "QueueBacklog", "RedisFailure"]
