"""``incident-kit check``: reach every source a parameter file configures and say, one line each, what works.

Sources are found by parameter name: ``database_url`` (any SQLAlchemy URL), ``prometheus_url``,
``redis_url``, ``probe_targets`` (each URL), ``git_repo``, ``deploy_events``, ``logs`` (paths,
globs or URLs), and any other ``*_url`` (SQL or HTTP by its scheme). Each check runs at the same
time as the others, within its own timeout, and only reads.
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

from .errors import ConfigError, IncidentKitError, SourceError
from .params import merge
from .secrets import mask_url

_SQL_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb", "sqlite", "mssql", "oracle", "clickhouse", "duckdb")


@dataclass
class Check:
    """One source to reach: the parameter it comes from, its kind, its target and how to reach it."""

    parameter: str
    kind: str
    target: str
    run: Callable[[float], str]


@dataclass
class Outcome:
    """What reaching one source gave: ``ok``, ``latency_ms`` and a one-line ``detail`` or reason."""

    check: Check
    ok: bool
    latency_ms: float | None
    detail: str

    def line(self) -> str:
        """Return the line printed for this source."""
        status = "ok  " if self.ok else "FAIL"
        latency = f"{self.latency_ms:.0f} ms" if self.latency_ms is not None else "-"
        target = mask_url(self.check.target)
        return f"{status}  {self.check.kind:<10} {self.check.parameter:<16} {target}  {latency}  {self.detail}".rstrip()


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()] if "," in value and "://" in value else [value]
    return [str(v) for v in value]


def _scheme(value: str) -> str:
    from .secrets import resolve

    try:
        text = str(resolve(value, field="url"))
    except ConfigError:
        return ""
    return text.split("://", 1)[0].split("+", 1)[0].lower() if "://" in text else ""


def _sql(url: str) -> Callable[[float], str]:
    def run(timeout_s: float) -> str:
        from .sources.db import ReadOnlySession

        with ReadOnlySession(url, source="sql", timeout_s=timeout_s) as s:
            if s.backend == "postgresql":
                return str(s.scalar("SELECT version()")).split(" on ")[0].split(",")[0]
            if s.backend in ("mysql", "mariadb"):
                return f"{s.backend} {s.scalar('SELECT VERSION()')}"
            s.scalar("SELECT 1")
            return f"{s.backend}: SELECT 1 answered"
    return run


def _prometheus(url: str) -> Callable[[float], str]:
    def run(timeout_s: float) -> str:
        from .sources import prometheus

        row = prometheus.ping(url, timeout_s=timeout_s).iloc[0]
        return f"Prometheus API {row.version or ''}: {row.targets_up} of {row.targets_total} targets up".replace("  ", " ")
    return run


def _redis(url: str) -> Callable[[float], str]:
    def run(timeout_s: float) -> str:
        from .sources import redis

        info = redis.info(url, "server", timeout_s=timeout_s)
        return f"PING ok, redis {info.attrs['text'].get('redis_version', '?')}"
    return run


def _http(url: str, *, health: bool = True) -> Callable[[float], str]:
    """A health URL must answer 2xx/3xx; a service base URL (``health=False``) only has to answer
    without a server error or an authentication refusal (Loki's ``/`` is a 404, for instance)."""
    def run(timeout_s: float) -> str:
        from .sources import probes

        row = probes.http(url, timeout_s=timeout_s).iloc[0]
        status = int(row.status) if row.status is not None and str(row.status).isdigit() else None
        reachable = status is not None and status < 500 and status not in (401, 403, 407)
        if row.ok or (not health and reachable):
            return f"HTTP {row.status}"
        raise ConfigError(row.error or f"HTTP {row.status}")
    return run


def _git(repo: str) -> Callable[[float], str]:
    def run(timeout_s: float) -> str:
        from .sources import deploys

        last = deploys.git(repo, limit=1, timeout_s=timeout_s)
        if not len(last):
            return "git repository with no commits"
        return f"last commit {last.ref.iloc[-1][:10]} at {last.ts.iloc[-1]:%Y-%m-%dT%H:%M:%SZ}"
    return run


def _events(path: str) -> Callable[[float], str]:
    def run(timeout_s: float) -> str:
        from .sources import deploys

        ev = deploys.events(path)
        bad = f", {ev.attrs['rejected']} unreadable" if ev.attrs.get("rejected") else ""
        return f"{len(ev)} events{bad}"
    return run


def _paths(pattern: str) -> Callable[[float], str]:
    def run(timeout_s: float) -> str:
        found = [p for p in glob.glob(str(Path(pattern).expanduser()), recursive=True) if Path(p).is_file()]
        if not found:
            raise ConfigError(f"no file matches {pattern}")
        size = sum(Path(p).stat().st_size for p in found)
        return f"{len(found)} file(s), {size / 1e6:.1f} MB"
    return run


def _logs_check(item: str) -> Callable[[float], str]:
    """A log store URL is checked at its health endpoint (Loki /ready, ...), a path by the files it names."""
    from .secrets import resolve
    from .sources.logs.stores import urls as logurls

    if logurls.is_store_url(item):
        return lambda timeout_s: _http(logurls.health_url(str(resolve(item, field="logs"))))(timeout_s)
    if "://" in item and not item.startswith("file://"):
        return _url_check(item)
    return _paths(item)


def _url_check(value: str) -> Callable[[float], str]:
    scheme = _scheme(value)
    if scheme in _SQL_SCHEMES:
        return _sql(value)
    if scheme in ("redis", "rediss"):
        return _redis(value)
    return _http(value, health=False)


def plan(parameters: dict[str, Any]) -> list[Check]:
    """Return the checks for the sources configured in ``parameters`` (in a stable order)."""
    checks: list[Check] = []
    handled = {"database_url", "prometheus_url", "redis_url", "probe_targets", "git_repo", "deploy_events",
               "logs", "output_dir"}
    if parameters.get("database_url"):
        url = str(parameters["database_url"])
        checks.append(Check("database_url", _scheme(url) or "sql", url, _sql(url)))
    if parameters.get("prometheus_url"):
        url = str(parameters["prometheus_url"])
        checks.append(Check("prometheus_url", "prometheus", url, _prometheus(url)))
    if parameters.get("redis_url"):
        url = str(parameters["redis_url"])
        checks.append(Check("redis_url", "redis", url, _redis(url)))
    for url in _as_list(parameters.get("probe_targets")):
        checks.append(Check("probe_targets", "http", url, _http(url)))
    if parameters.get("git_repo"):
        checks.append(Check("git_repo", "git", str(parameters["git_repo"]), _git(str(parameters["git_repo"]))))
    for path in _as_list(parameters.get("deploy_events")):
        checks.append(Check("deploy_events", "events", path, _events(path)))
    for item in _as_list(parameters.get("logs")):
        checks.append(Check("logs", "logs", item, _logs_check(item)))
    for name, value in parameters.items():
        if name in handled or not name.endswith("_url") or not value:
            continue
        checks.append(Check(name, _scheme(str(value)) or "url", str(value), _url_check(str(value))))
    return checks


def _warm_up(checks: list[Check]) -> None:
    """Import the backends before the clocks start, so a timeout measures the source, not imports."""
    import importlib

    kinds = {c.kind for c in checks}
    modules = ["httpx", "incident_kit.sources.probes"]
    if kinds - {"http", "prometheus", "git", "events", "logs", "redis"}:
        modules += ["sqlalchemy", "sqlglot", "incident_kit.sources.db"]
    if "redis" in kinds:
        modules += ["redis", "incident_kit.sources.redis"]
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # the check itself will say which extra is missing


def run_checks(checks: Iterable[Check], timeout_s: float = 5.0) -> list[Outcome]:
    """Run ``checks`` concurrently, each within ``timeout_s`` (a check still running then fails)."""
    checks = list(checks)
    _warm_up(checks)
    outcomes: dict[int, Outcome] = {}

    def one(i: int, c: Check) -> Outcome:
        started = time.perf_counter()
        try:
            detail = c.run(timeout_s)
        except SourceError as exc:  # the line names source and target already
            return Outcome(c, False, None, exc.reason)
        except IncidentKitError as exc:
            return Outcome(c, False, None, str(exc))
        except Exception as exc:  # noqa: BLE001 - a check reports, never raises
            return Outcome(c, False, None, " ".join(f"{type(exc).__name__}: {exc}".split()))
        return Outcome(c, True, (time.perf_counter() - started) * 1000, detail)

    pool = ThreadPoolExecutor(max_workers=max(1, min(16, len(checks))))
    futures = {pool.submit(one, i, c): i for i, c in enumerate(checks)}
    done, _ = wait(futures, timeout=timeout_s + 5)
    for f, i in futures.items():
        outcomes[i] = f.result() if f in done else Outcome(checks[i], False, None,
                                                             f"no answer within {timeout_s:g}s")
    pool.shutdown(wait=False, cancel_futures=True)
    return [outcomes[i] for i in range(len(checks))]


def cli_check(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """``incident-kit check``: print one line per configured source; return 0 when all answer, else 1.

    Raises :class:`ConfigError` when no source is configured or a parameter file is unusable.
    """
    out = out or sys.stdout
    files = list(getattr(args, "parameters_file", []) or [])
    pairs = [tuple(p) for p in (getattr(args, "parameter", []) or [])]
    parameters = merge(files, pairs)
    checks = plan(parameters)
    if not checks:
        where = ", ".join(files) if files else "the parameters given"
        raise ConfigError(f"no source is configured in {where}: set database_url, prometheus_url, redis_url, "
                          "probe_targets, git_repo, deploy_events or logs")
    timeout = float(getattr(args, "timeout", 5.0) or 5.0)
    outcomes = run_checks(checks, timeout)
    for o in outcomes:
        print(o.line(), file=out)
    ok = sum(o.ok for o in outcomes)
    print(f"{ok} of {len(outcomes)} sources ok", file=out)
    out.flush()
    return 0 if ok == len(outcomes) else 1


__all__ = ["Check", "Outcome", "plan", "run_checks", "cli_check"]
