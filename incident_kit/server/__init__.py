"""``incident-kit serve``: alert webhooks -> queued scenario runs -> reports.

Modules: ``config`` (options and environment), ``auth`` (bearer / HMAC), ``intake`` (routing and
de-duplication), ``ledger`` (SQLAlchemy run ledger), ``queue`` (local threads or huey on Redis),
``executor`` (supervises one run in a child process), ``child`` (the run process), ``resolution``
(recovery into a finished report), ``notify`` (Slack-compatible webhook), ``app`` (Starlette),
``worker`` (huey worker entry point). Backends are imported only when ``serve`` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the run processes import this package: keep it light
    import argparse


def cli_serve(args: "argparse.Namespace") -> int:
    """Run the webhook server until interrupted; returns the exit code.

    Raises ServeError/ConfigError (one line) when it cannot start: no token beyond loopback,
    bad routes file, unreachable Redis, port in use.
    """
    import logging

    from .._optional import require

    require("starlette", "serve")
    uvicorn = require("uvicorn", "serve")
    from ..errors import ServeError
    from .app import build_app
    from .config import from_args
    from ..redact_io import install_log_redaction
    from .ledger import Ledger

    config = from_args(args)
    ledger = Ledger(config.ledger_url)
    if config.queue != "local":  # fail fast, before listening, when Redis is not there
        from .queue import HueyQueue

        HueyQueue(config.queue)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    app = build_app(config, ledger)
    import socket

    with socket.socket(socket.AF_INET6 if ":" in config.host else socket.AF_INET) as probe:
        try:
            probe.bind((config.host, config.port))
        except OSError as exc:
            raise ServeError(f"cannot listen on {config.host}:{config.port}: {exc.strerror}") from None
    print(f"incident-kit serve: listening on http://{config.host}:{config.port} "
          f"(queue {config.queue if config.queue == 'local' else 'huey/redis'}, reports in {config.out_dir})", flush=True)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", access_log=False,
                limit_concurrency=512, timeout_graceful_shutdown=5)
    return 0


__all__ = ["cli_serve"]
