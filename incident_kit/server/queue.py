"""Run queues: ``local`` (threads in the server, no extra service) or huey on Redis (workers anywhere).

Both carry only run ids; the ledger says what to run and a worker claims a run before
executing it (so a run enqueued twice runs once). Concurrency is bounded by the number of
local threads, or by the huey workers (``python -m incident_kit.server.worker``). A sweeper in
the server re-enqueues runs left ``queued`` and recovers runs whose worker stopped.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from .._optional import require
from ..errors import ServeError
from .executor import ExecSettings, Supervisor
from .ledger import Ledger, local_worker_dead

log = logging.getLogger("incident_kit.serve")
HUEY_NAME = "incident-kit"


def _safe(fn: Callable[[str], Any], run_id: str) -> None:
    try:
        fn(run_id)
    except Exception:  # noqa: BLE001 - a failing run never takes the queue down
        log.exception("run %s: supervisor error", run_id)


class LocalQueue:
    """``workers`` threads in this process, each supervising one run at a time."""

    kind = "local"

    def __init__(self, settings: ExecSettings, ledger: Ledger, workers: int) -> None:
        self.supervisor = Supervisor(settings, ledger)
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ik-run")
        self.resolver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ik-resolve")

    def submit(self, run_id: str) -> None:
        """Queue one run for execution."""
        self.pool.submit(_safe, self.supervisor.execute, run_id)

    def submit_resolution(self, run_id: str) -> None:
        """Queue the re-rendering of a finished run whose alert resolved."""
        self.resolver.submit(_safe, self.supervisor.resolve, run_id)

    def close(self) -> None:
        """Stop: kill running children (their runs are recovered next start), drop the in-memory queue."""
        self.supervisor.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.resolver.shutdown(wait=False, cancel_futures=True)


# -- huey ------------------------------------------------------------------------------------
_WORKER_SUPERVISOR: Supervisor | None = None


def make_huey(url: str) -> Any:
    """Return a RedisHuey on ``url`` with the two incident-kit tasks registered.

    Raises :class:`ServeError` when the URL is not a redis:// URL.
    """
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ServeError(f"queue {url!r}: expected 'local' or a redis:// URL")
    huey = require("huey", "serve")
    require("redis", "serve")
    h = huey.RedisHuey(HUEY_NAME, url=url, results=False, utc=True)

    @h.task(name="incident_kit.execute")
    def execute(run_id: str) -> None:
        _worker().execute(run_id)

    @h.task(name="incident_kit.resolve")
    def resolve(run_id: str) -> None:
        _worker().resolve(run_id)

    h.ik_execute = execute
    h.ik_resolve = resolve
    return h


def _worker() -> Supervisor:
    if _WORKER_SUPERVISOR is None:
        raise ServeError("this process is not an incident-kit worker (start it with python -m incident_kit.server.worker)")
    return _WORKER_SUPERVISOR


def set_worker_supervisor(supervisor: Supervisor) -> None:
    """Make this process execute the huey tasks it consumes with ``supervisor``."""
    global _WORKER_SUPERVISOR
    _WORKER_SUPERVISOR = supervisor


class HueyQueue:
    """Enqueue run ids on huey/Redis; workers started separately execute them."""

    kind = "huey"

    def __init__(self, url: str) -> None:
        self.huey = make_huey(url)
        try:
            self.huey.storage.conn.ping()
        except Exception as exc:  # noqa: BLE001 - any redis error is one line here
            raise ServeError(f"queue {url.split('@')[-1]}: Redis not reachable ({type(exc).__name__})") from None

    def submit(self, run_id: str) -> None:
        """Queue one run for a huey worker."""
        self.huey.ik_execute(run_id)

    def submit_resolution(self, run_id: str) -> None:
        """Queue the re-rendering of a finished run whose alert resolved."""
        self.huey.ik_resolve(run_id)

    def close(self) -> None:
        """Nothing to stop here: queued tasks stay in Redis."""


def make_queue(spec: str, settings: ExecSettings, ledger: Ledger, workers: int) -> LocalQueue | HueyQueue:
    """Return the queue for ``--queue`` (``local`` or a redis:// URL); raises ServeError otherwise."""
    if spec == "local":
        return LocalQueue(settings, ledger, workers)
    return HueyQueue(spec)


class Sweeper(threading.Thread):
    """Every few seconds: recover runs of dead workers, re-enqueue them, apply pending resolutions."""

    def __init__(self, ledger: Ledger, queue: LocalQueue | HueyQueue, settings: ExecSettings) -> None:
        super().__init__(name="ik-sweeper", daemon=True)
        self.ledger, self.queue, self.settings = ledger, queue, settings
        self.stop_event = threading.Event()

    def sweep(self) -> list[str]:
        """Run one pass; returns the run ids enqueued again."""
        again = self.ledger.recover(self.settings.stale_after_s, is_dead=local_worker_dead)
        for run_id in again:
            log.warning("run %s: worker stopped; retrying once", run_id)
            self.queue.submit(run_id)
        for run_id in self.ledger.pending_resolutions():
            self.queue.submit_resolution(run_id)
        return again

    def run(self) -> None:
        while not self.stop_event.wait(max(self.settings.stale_after_s / 2, 0.5)):
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - keep sweeping
                log.exception("sweeper error")


__all__ = ["LocalQueue", "HueyQueue", "make_queue", "make_huey", "set_worker_supervisor", "Sweeper"]
