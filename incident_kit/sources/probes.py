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

from .. import offline
from ..errors import ConfigError, IncidentKitError, SourceOffline
from ..frames import conform
from ..secrets import mask_url, resolve
from ..timeutil import now
from ._base import source

Target = str | Mapping[str, Any]
MAX_WORKERS = 16


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, IncidentKitError):
        return text
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
    if not out:
        raise ConfigError(f"probes.{kind}: no targets given")
    return out


def _run(kind: str, targets: list[dict[str, Any]], probe: Callable[[dict[str, Any]], dict[str, Any]],
         rounds: int, interval_s: float) -> pd.DataFrame:
    if int(rounds) < 1:
        raise ConfigError(f"probes.{kind}: rounds={rounds!r}; expected 1 or more")
    refusals = [_offline_refusal(t, kind) for t in targets]
    if refusals and all(refusals):  # nothing to probe here: the source is not contacted at all
        raise SourceOffline(f"probes.{kind}", mask_url(targets[0]["target"]) + (" ..." if len(targets) > 1 else ""),
                            str(refusals[0]))
    rows: list[dict[str, Any]] = []

    def attempt(t: dict[str, Any], rnd: int) -> dict[str, Any]:
        ts = now()
        started = time.perf_counter()
        shown = mask_url(t["target"])
        refused = _offline_refusal(t, kind)
        try:
            row = {"ok": False, "status": "offline", "error": refused} if refused else probe(t)
        except Exception as exc:  # noqa: BLE001 - a failed probe is a row, not an exception
            row = {"ok": False, "error": _one_line(exc)}
            if isinstance(exc, offline.OfflineRefused):
                row["status"] = "offline"
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


def _offline_refusal(t: dict[str, Any], kind: str) -> str | None:
    """Return why offline mode refuses this target (its host, or a DNS target's server), else None."""
    if not offline.enabled():
        return None
    try:
        target = str(resolve(t["target"], field="probe target"))
    except IncidentKitError:
        return None  # the probe itself reports the missing reference
    if kind == "dns" and t.get("server"):
        return offline.refusal(str(t["server"]), "DNS server")
    return offline.refusal(target, "DNS name" if kind == "dns" else "target")


# -- HTTP ------------------------------------------------------------------------------------
def _tls_context(verify: bool | str) -> ssl.SSLContext | bool:
    """Return one TLS context for every probe of a call (building one costs tens of ms of CPU)."""
    if verify is False:
        return False
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - httpx depends on certifi
        return ssl.create_default_context()


def _http_probe(t: dict[str, Any], timeout_s: float, verify: ssl.SSLContext | bool) -> dict[str, Any]:
    import httpx

    url = str(resolve(t["target"], field="probe target"))
    method = str(t.get("method", "GET")).upper()
    timeout = float(t.get("timeout_s", timeout_s))
    expect = t.get("expect_status")
    contains = t.get("contains")
    started = time.perf_counter()
    try:
        own = t.get("verify")
        with httpx.Client(timeout=timeout, follow_redirects=True,
                          verify=verify if own is None else _tls_context(own),
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
         *, verify: bool | str = True) -> pd.DataFrame:
    """Probe HTTP(S) URLs; return a probes frame (one row per target and round).

    A target is a URL or a mapping with ``url`` and optional ``method``, ``expect_status``
    (int or list), ``contains`` (text the body must hold), ``headers``, ``timeout_s``, ``verify``
    (False, or a CA bundle path; also the keyword for every target).
    ``ok`` is False on a connection error, a timeout, a 4xx/5xx (or unexpected) status or a
    failed body check; ``detail`` has the HTTP version, size and redirect chain.
    """
    items = _targets(targets, "http")
    context = _tls_context(verify)
    return _run("http", items, lambda t: _http_probe(t, timeout_s, context), rounds, interval_s)


# -- TCP -------------------------------------------------------------------------------------
def _host_port(target: str, default_port: int | None, kind: str) -> tuple[str, int]:
    text = target if "://" in target else f"//{target}"
    parts = urlsplit(text)
    port = parts.port or default_port
    if not parts.hostname or port is None:
        raise ConfigError(f"probes.{kind}: target {target!r} is not host:port")
    return parts.hostname, int(port)


@source("probes", "probes")
def tcp(targets: Target | Iterable[Target], rounds: int = 1, interval_s: float = 2.0,
        timeout_s: float = 3.0) -> pd.DataFrame:
    """Open a TCP connection to each ``host:port`` (or ``scheme://host:port``); return a probes frame.

    ``latency_ms`` is the connect time; ``detail`` the address connected to.
    """
    items = _targets(targets, "tcp")
    for t in items:
        _host_port(t["target"], None, "tcp")

    def probe(t: dict[str, Any]) -> dict[str, Any]:
        host, port = _host_port(str(resolve(t["target"], field="probe target")), None, "tcp")
        started = time.perf_counter()
        try:
            with socket.create_connection((host, port), timeout=float(t.get("timeout_s", timeout_s))) as sock:
                peer = sock.getpeername()
        except socket.timeout:
            return {"ok": False, "error": f"connect to {host}:{port} timed out after {float(t.get('timeout_s', timeout_s)):g}s"}
        except OSError as exc:
            return {"ok": False, "error": f"connect to {host}:{port}: {exc.strerror or exc}"}
        return {"ok": True, "status": "open", "latency_ms": (time.perf_counter() - started) * 1000,
                "detail": f"connected to {peer[0]}:{peer[1]}"}

    return _run("tcp", items, probe, rounds, interval_s)


# -- DNS -------------------------------------------------------------------------------------
@source("probes", "probes")
def dns(targets: Target | Iterable[Target], rounds: int = 1, interval_s: float = 2.0, timeout_s: float = 3.0,
        *, record: str = "A", server: str | None = None) -> pd.DataFrame:
    """Resolve each name; return a probes frame (``status`` is the DNS rcode, ``detail`` the answers).

    Without ``server`` (or a target's ``server``) the system resolver is used (``/etc/hosts``
    included, A/AAAA only); with ``server`` (``ip`` or ``ip:port``) dnspython asks it directly
    for ``record`` (A, AAAA, CNAME, MX, TXT, ...). A mapping target may carry ``expect`` (an
    answer that must be present).
    """
    items = _targets(targets, "dns")
    if server:
        items = [{"server": server, **t} for t in items]

    def probe(t: dict[str, Any]) -> dict[str, Any]:
        name = t["target"]
        rtype = str(t.get("record", record)).upper()
        srv = t.get("server", server)
        timeout = float(t.get("timeout_s", timeout_s))
        started = time.perf_counter()
        if srv:
            answers, rcode = _ask_server(name, rtype, str(srv), timeout)
        else:
            answers, rcode = _system_resolve(name, rtype, timeout)
        latency = (time.perf_counter() - started) * 1000
        error = "" if answers else f"{name} {rtype}: {rcode}"
        expect = t.get("expect")
        if expect is not None and answers and str(expect) not in answers:
            error = f"{name} {rtype} answered {', '.join(answers)}, expected {expect}"
        return {"ok": not error, "status": rcode, "latency_ms": latency, "error": error,
                "detail": ", ".join(answers)}

    return _run("dns", items, probe, rounds, interval_s)


def _ask_server(name: str, rtype: str, server: str, timeout: float) -> tuple[list[str], str]:
    from .._optional import require

    require("dns.resolver", "dns")
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode

    host, _, port = server.partition(":")
    query = dns.message.make_query(name, rtype)
    try:
        response = dns.query.udp(query, host, timeout=timeout, port=int(port or 53))
    except dns.exception.Timeout:
        return [], f"no answer from {server} within {timeout:g}s"
    answers = sorted(item.to_text() for rrset in response.answer for item in rrset)
    return answers, dns.rcode.to_text(response.rcode())


def _system_resolve(name: str, rtype: str, timeout: float) -> tuple[list[str], str]:
    if rtype not in ("A", "AAAA"):
        raise ConfigError(f"probes.dns: record {rtype} needs a server= (the system resolver only does A/AAAA)")
    family = socket.AF_INET if rtype == "A" else socket.AF_INET6
    with ThreadPoolExecutor(max_workers=1) as pool:  # getaddrinfo has no timeout of its own
        future = pool.submit(socket.getaddrinfo, name, None, family, socket.SOCK_STREAM)
        try:
            infos = future.result(timeout=timeout)
        except TimeoutError:
            return [], f"no answer within {timeout:g}s"
        except socket.gaierror as exc:
            return [], "NXDOMAIN" if exc.errno in (socket.EAI_NONAME,) else str(exc.strerror or exc)
    return sorted({i[4][0] for i in infos}), "NOERROR"


# -- TLS -------------------------------------------------------------------------------------
def _cert_not_after(der: bytes) -> pd.Timestamp | None:
    import os
    import tempfile

    decode = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    if decode is None:  # pragma: no cover - every CPython has it
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as f:
        f.write(ssl.DER_cert_to_PEM_cert(der))
    try:
        info = decode(f.name)
    finally:
        os.unlink(f.name)
    return pd.Timestamp(ssl.cert_time_to_seconds(info["notAfter"]), unit="s", tz="UTC")


@source("probes", "probes")
def tls(targets: Target | Iterable[Target], rounds: int = 1, interval_s: float = 2.0, timeout_s: float = 5.0,
        *, warn_days: float = 14.0, cafile: str | None = None) -> pd.DataFrame:
    """Handshake with each ``host[:port]`` (default 443) and read its certificate's expiry.

    ``ok`` is False when the handshake or verification fails or the certificate expires within
    ``warn_days``; ``status`` is the days left (rounded down); extra columns ``expires``
    (UTC) and ``days_left``; ``detail`` has the TLS version and the verification result.
    """
    items = _targets(targets, "tls")

    def probe(t: dict[str, Any]) -> dict[str, Any]:
        host, port = _host_port(t["target"], 443, "tls")
        timeout = float(t.get("timeout_s", timeout_s))
        started = time.perf_counter()
        verified, verify_error = True, ""
        try:
            ctx = ssl.create_default_context(cafile=t.get("cafile", cafile))
            with socket.create_connection((host, port), timeout=timeout) as raw, \
                    ctx.wrap_socket(raw, server_hostname=host) as conn:
                der, version = conn.getpeercert(binary_form=True), conn.version()
        except ssl.SSLCertVerificationError as exc:
            verified, verify_error = False, f"certificate not trusted: {exc.verify_message or exc}"
            ctx = ssl._create_unverified_context()  # noqa: S323 - to read the expiry of an untrusted cert
            with socket.create_connection((host, port), timeout=timeout) as raw, \
                    ctx.wrap_socket(raw, server_hostname=host) as conn:
                der, version = conn.getpeercert(binary_form=True), conn.version()
        latency = (time.perf_counter() - started) * 1000
        expires = _cert_not_after(der) if der else None
        days = (expires - now()).total_seconds() / 86400 if expires is not None else None
        errors = [verify_error] if verify_error else []
        if days is not None and days < warn_days:
            errors.append(f"certificate expired {-days:.1f} days ago" if days < 0
                          else f"certificate expires in {days:.1f} days (< {warn_days:g})")
        return {"ok": not errors, "status": None if days is None else str(int(days // 1)), "latency_ms": latency,
                "error": "; ".join(errors), "detail": f"{version}; {'verified' if verified else 'not verified'}; "
                f"expires {expires.isoformat() if expires is not None else 'unknown'}",
                "expires": expires, "days_left": days}

    return _run("tls", items, probe, rounds, interval_s)


# -- Redis and SQL ---------------------------------------------------------------------------
@source("probes", "probes")
def redis(targets: Target | Iterable[Target], rounds: int = 1, interval_s: float = 2.0,
          timeout_s: float = 3.0) -> pd.DataFrame:
    """Send ``PING`` to each Redis URL (``redis://``, ``rediss://``, secret references allowed)."""
    from .._optional import require

    redis_lib = require("redis", "redis")
    items = _targets(targets, "redis")

    def probe(t: dict[str, Any]) -> dict[str, Any]:
        url = str(resolve(t["target"], field="redis url"))
        timeout = float(t.get("timeout_s", timeout_s))
        client = redis_lib.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            started = time.perf_counter()
            pong = client.ping()
            latency = (time.perf_counter() - started) * 1000
        finally:
            client.close()
        return {"ok": bool(pong), "status": "PONG" if pong else "no PONG", "latency_ms": latency}

    return _run("redis", items, probe, rounds, interval_s)


@source("probes", "probes")
def sql(targets: Target | Iterable[Target], rounds: int = 1, interval_s: float = 2.0,
        timeout_s: float = 5.0) -> pd.DataFrame:
    """Run ``SELECT 1`` (read-only, with a timeout) on each SQLAlchemy URL; ``latency_ms`` includes connecting."""
    from .db import ReadOnlySession

    items = _targets(targets, "sql")

    def probe(t: dict[str, Any]) -> dict[str, Any]:
        with ReadOnlySession(t["target"], source="sql", timeout_s=float(t.get("timeout_s", timeout_s))) as s:
            value = s.scalar("SELECT 1")
        return {"ok": value == 1, "status": "ok" if value == 1 else f"SELECT 1 returned {value!r}"}

    return _run("sql", items, probe, rounds, interval_s)


__all__ = ["http", "tcp", "dns", "tls", "redis", "sql"]
