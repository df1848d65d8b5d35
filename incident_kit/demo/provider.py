"""A local stand-in for the payment provider (``api.payments.example``), degraded on purpose.

Run as its own process: ``python -m incident_kit.demo.provider --port P --hang-share 0.85``.
Every request (charges, status) either hangs for ``--hang-s`` seconds before answering 504
(the share ``--hang-share``) or answers 503 at once, so callers with a 2-3 s timeout see
timeouts and 503s, as with a third-party API in an incident.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Handler(BaseHTTPRequestHandler):
    server_version = "payments-edge"
    hang_share = 0.85
    hang_s = 30.0

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        hang = random.random() < self.hang_share
        if hang:
            time.sleep(self.hang_s)
        status = 504 if hang else 503
        body = json.dumps({"error": "upstream timeout" if hang else "service unavailable"}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the caller gave up (timed out) long ago
            pass

    do_GET = _answer
    do_POST = _answer


def main() -> None:
    p = argparse.ArgumentParser(description="incident-kit demo: a degraded payment provider")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--hang-share", type=float, default=0.85)
    p.add_argument("--hang-s", type=float, default=30.0)
    a = p.parse_args()
    Handler.hang_share, Handler.hang_s = a.hang_share, a.hang_s
    httpd = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    httpd.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown).start())
    httpd.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
