"""A huey worker for the distributed mode: ``python -m incident_kit.server.worker``.

Start one or more on any machine that sees the same Redis, the same ledger database and the
same reports directory (shared storage)::

    python -m incident_kit.server.worker --queue redis://queue:6379/0 \\
        --ledger postgresql+psycopg://ik@db/ik --out /srv/reports --workers 2

Each worker thread supervises one run at a time in a child process (see ``executor``); the
runs' settings (timeouts, notification webhook, run function) come from the same environment
variables as ``incident-kit serve``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from types import SimpleNamespace

from ..errors import IncidentKitError
from ..redact_io import install_log_redaction


def build_parser() -> argparse.ArgumentParser:
    """Return the worker's argument parser."""
    p = argparse.ArgumentParser(prog="python -m incident_kit.server.worker", description="A huey worker for the distributed mode of incident-kit serve.")
    p.add_argument("--queue", required=True, help="redis:// URL of the huey queue")
    p.add_argument("--ledger", default=None, help="SQLAlchemy URL of the run ledger (default: sqlite in --out)")
    p.add_argument("--out", default="reports", help="reports directory (default: ./reports)")
    p.add_argument("--workers", type=int, default=1, help="concurrent runs in this process (default 1)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Consume runs until interrupted; returns the exit code (1 with a one-line reason on error)."""
    args = build_parser().parse_args(argv)
    try:
        from .config import from_args
        from .executor import Supervisor
        from .queue import HueyQueue, set_worker_supervisor

        config = from_args(SimpleNamespace(host="127.0.0.1", port=8787, routes="parameters/routes.yaml",
                                           out=args.out, ledger=args.ledger, workers=max(args.workers, 1),
                                           queue=args.queue))
        queue = HueyQueue(args.queue)
        supervisor = Supervisor(config.exec)
        set_worker_supervisor(supervisor)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        install_log_redaction()
        consumer = queue.huey.create_consumer(workers=max(args.workers, 1), worker_type="thread",
                                              initial_delay=0.05, max_delay=0.5, periodic=False)
        print(f"incident-kit worker: consuming with {args.workers} thread(s); reports in {config.out_dir}", flush=True)
        try:
            consumer.run()
        finally:
            supervisor.stop()
    except IncidentKitError as exc:
        print(f"incident-kit worker: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
