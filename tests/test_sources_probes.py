"""Probes against real servers on loopback: one answers, one slowly, one fails, one resets, one redirects."""

from __future__ import annotations

import http.server
import socket
import ssl
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

import incident_kit as ik
from incident_kit import frames
from incident_kit.demo.pgcluster import free_port


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/slow":
            time.sleep(3)
        if self.path == "/reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        code = 500 if self.path == "/fail" else 200
        body = b"status: healthy" if code == 200 else b"upstream database unavailable"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def web():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_ok_slow_fail_reset_redirect(web: str) -> None:
    started = time.monotonic()
    frame = ik.probes.http([f"{web}/ok", f"{web}/slow", f"{web}/fail", f"{web}/reset", f"{web}/redirect",
                            {"url": f"{web}/ok", "contains": "healthy"},
                            {"url": f"{web}/ok", "contains": "nope"}], timeout_s=1)
    elapsed = time.monotonic() - started
    assert elapsed < 2.5  # concurrent: the slow one does not hold the others
    assert frames.check(frame, "probes") == []
    rows = {(r.target, i): r for i, r in enumerate(frame.itertuples())}
    by = list(rows.values())
    ok, slow, fail, reset, redirect, contains, missing = by
    assert ok.ok and ok.status == "200" and ok.error == "" and ok.latency_ms > 0
    assert not slow.ok and "timed out after 1s" in slow.error and pd_isna(slow.status)
    assert not fail.ok and fail.status == "500" and "HTTP 500" in fail.error
    assert not reset.ok and reset.error and "\n" not in reset.error
    assert redirect.ok and redirect.status == "200" and f"{web}/redirect -> {web}/ok" in redirect.detail
    assert contains.ok and "body contains 'healthy'" in contains.detail
    assert not missing.ok and "does not contain 'nope'" in missing.error


def pd_isna(v) -> bool:
    import pandas as pd

    return bool(pd.isna(v))


def test_http_rounds_and_expected_status(web: str) -> None:
    frame = ik.probes.http([{"url": f"{web}/fail", "expect_status": 500}], rounds=3, interval_s=0.1, timeout_s=2)
    assert list(frame["round"]) == [1, 2, 3] and frame.ok.all()
    assert frame.ts.is_monotonic_increasing


def test_http_unreachable_is_a_row_not_an_exception() -> None:
    frame = ik.probes.http(f"http://127.0.0.1:{free_port()}/health", timeout_s=1)
    assert len(frame) == 1 and not frame.ok.iloc[0] and "refused" in frame.error.iloc[0].lower()


def test_http_bad_target_is_a_config_error() -> None:
    with pytest.raises(ik.ConfigError, match="target #1"):
        ik.probes.http([42])
    with pytest.raises(ik.ConfigError, match="rounds"):
        ik.probes.http("http://127.0.0.1/", rounds=0)
