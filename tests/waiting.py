"""Small helpers the service tests share: waiting without fixed sleeps, stopping processes by pid."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import pytest


def wait_until(predicate: Callable[[], Any], timeout_s: float = 10.0, what: str = "condition",
               interval_s: float = 0.05) -> Any:
    """Poll ``predicate`` every ``interval_s`` until it returns something other than None/False; returns that value.

    Fails the test naming ``what`` after ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()  # once more after the deadline: a slow predicate still gets its last look
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(interval_s)


def stop_process(proc: "subprocess.Popen[bytes] | None", timeout_s: float = 10.0) -> None:
    """Stop ``proc`` by its pid: SIGTERM, then SIGKILL after ``timeout_s``; no-op if it already ended."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)


def wait_http(url: str, proc: "subprocess.Popen[bytes] | None" = None, what: str = "service",
              timeout_s: float = 30.0, log: Path | None = None) -> None:
    """Poll ``url`` until it answers 200; fails naming ``what`` (with ``log``'s tail) if ``proc`` exits or time runs out."""
    import httpx

    tail = lambda: f": {log.read_text(errors='replace')[-800:]}" if log is not None and log.exists() else ""  # noqa: E731
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}{tail()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{what} not ready at {url} within {timeout_s:.0f}s{tail()}")
