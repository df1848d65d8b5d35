"""Small helpers the service tests share: waiting for a condition without fixed sleeps."""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest


def wait_until(predicate: Callable[[], Any], timeout_s: float = 10.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something other than None/False; returns that value.

    Fails the test naming ``what`` after ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value is not None and value is not False:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")
