"""Probes: is it up, how fast, what does it say. HTTP(S), TCP, DNS, TLS expiry, Redis PING, SQL SELECT 1.

Each probe function takes one target or a list, runs the targets concurrently (threads, so it
works inside a running Jupyter event loop), each with its own timeout, for ``rounds`` rounds
``interval_s`` apart, and returns a probes frame: ``ts`` (start of the attempt), ``target``,
``kind``, ``ok``, ``status``, ``latency_ms``, ``error`` (one line, empty when ok), ``detail``;
extra column ``round``. A failed probe is a row with ``ok`` False, never an exception.
"""

from __future__ import annotations

import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

import pandas as pd

from ..errors import ConfigError
from ..frames import conform
from ..secrets import mask_url, resolve
from ..timeutil import now
from ._base import source

Target = str | Mapping[str, Any]
MAX_WORKERS = 16


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def _targets(targets: Target | Iterable[Target], kind: str) -> list[dict[str, Any]]:
    if targets is None or (isinstance(targets, str) and not targets.strip()):
        raise ConfigError(f"probes.{kind}: no targets given")
    items = [targets] if isinstance(targets, (str, Mapping)) else list(targets)
    out = []
    for i, t in enumerate(items):
        if isinstance(t, str):
            out.append({"target": t.strip()})
        elif isinstance(t, Mapping) and (t.get("target") or t.get("url")):
            out.append({**t, "target": str(t.get("target") or t.get("url"))})
        else:
            raise ConfigError(f"probes.{kind}: target #{i + 1} is {t!r}; expected a string or a mapping with 'target'")
    return out


def _run(kind: str, targets: list[dict[str, Any]], probe: Callable[[dict[str, Any]], dict[str, Any]],
         rounds: int, interval_s: float) -> pd.DataFrame:
    if int(rounds) < 1:
        raise ConfigError(f"probes.{kind}: rounds={rounds!r}; expected 1 or more")
    rows: list[dict[str, Any]] = []

    def attempt(t: dict[str, Any], rnd: int) -> dict[str, Any]:
        ts = now()
        started = time.perf_counter()
        shown = mask_url(t["target"])
        try:
            row = probe(t)
        except Exception as exc:  # noqa: BLE001 - a failed probe is a row, not an exception
            row = {"ok": False, "error": _one_line(exc)}
        row.setdefault("latency_ms", (time.perf_counter() - started) * 1000)
        row.setdefault("ok", True)
        row.setdefault("error", "")
        if row["error"]:
            row["error"] = mask_url(row["error"])
        return {"ts": ts, "target": shown, "kind": kind, "round": rnd, **row}

    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, max(1, len(targets)))) as pool:
        for rnd in range(1, int(rounds) + 1):
            if rnd > 1:
                time.sleep(max(0.0, float(interval_s)))
            rows += list(pool.map(lambda t: attempt(t, rnd), targets))
    frame = pd.DataFrame(rows)
    if "status" in frame:
        frame["status"] = frame["status"].map(lambda v: None if v is None or v == "" or pd.isna(v) else str(v))
    out = conform(frame, "probes", source=f"probes:{kind}")
    cols = list(out.columns)
    cols.remove("round")
    cols.insert(8, "round")
    return out[cols]


# -- HTTP ------------------------------------------------------------------------------------
def _http_probe(t: dict[str, Any], timeout_s: float, verify: bool) -> dict[str, Any]:
    import httpx

    url = str(resolve(t["target"], field="probe target"))
    method = str(t.get("method", "GET")).upper()
    timeout = float(t.get("timeout_s", timeout_s))
    expect = t.get("expect_status")
    contains = t.get("contains")
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, verify=t.get("verify", verify),
                          headers=dict(t.get("headers") or {})) as client:
            resp = client.request(method, url)
            body = resp.text if contains else ""
    except httpx.TimeoutException as exc:
        return {"ok": False, "latency_ms": (time.perf_counter() - started) * 1000,
                "error": f"timed out after {timeout:g}s ({type(exc).__name__})"}
    except httpx.HTTPError as exc:
        return {"ok": False, "latency_ms": (time.perf_counter() - started) * 1000, "error": _one_line(exc)}
    latency = (time.perf_counter() - started) * 1000
    details = [f"{resp.http_version} {resp.status_code} {resp.reason_phrase}".strip(),
               f"{len(resp.content)} bytes"]
    if resp.history:
        chain = " -> ".join([str(r.url) for r in resp.history] + [str(resp.url)])
        details.append(f"redirects: {chain}")
    errors = []
    if expect is not None:
        wanted = [int(x) for x in (expect if isinstance(expect, (list, tuple)) else [expect])]
        if resp.status_code not in wanted:
            errors.append(f"status {resp.status_code}, expected {', '.join(map(str, wanted))}")
    elif resp.status_code >= 400:
        errors.append(f"HTTP {resp.status_code} {resp.reason_phrase}".strip())
    if contains is not None:
        if str(contains) in body:
            details.append(f"body contains {str(contains)!r}")
        else:
            errors.append(f"body does not contain {str(contains)!r}")
    return {"ok": not errors, "status": str(resp.status_code), "latency_ms": latency,
            "error": "; ".join(errors), "detail": "; ".join(details), "redirects": len(resp.history)}


@source("probes", "probes")
def http(targets: Target | Iterable[Target], rounds: int = 1, interval_s: float = 2.0, timeout_s: float = 5.0,
         *, verify: bool = True) -> pd.DataFrame:
    """Probe HTTP(S) URLs; return a probes frame (one row per target and round).

    A target is a URL or a mapping with ``url`` and optional ``method``, ``expect_status``
    (int or list), ``contains`` (text the body must hold), ``headers``, ``timeout_s``, ``verify``.
    ``ok`` is False on a connection error, a timeout, a 4xx/5xx (or unexpected) status or a
    failed body check; ``detail`` has the HTTP version, size and redirect chain.
    """
    items = _targets(targets, "http")
    return _run("http", items, lambda t: _http_probe(t, timeout_s, verify), rounds, interval_s)


__all__ = ["http"]
