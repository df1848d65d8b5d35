"""The scenario registry: one entry per shipped scenario, the one place that names them.

``incident-kit list``, the default alert routes of ``serve`` (and the shipped
``parameters/routes.yaml``), the README's scenario table, the demo's staged incidents and the
tests all read :data:`REGISTRY`. Adding a scenario = its notebook ``notebooks/<name>.ipynb``, its
example ``parameters/<name>.yaml``, one :class:`Scenario` here and, to stage it, one demo stage.
A team's own notebooks (``./notebooks/``) are scenarios too; they are found by
:mod:`incident_kit.catalog` and simply have no entry here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class Scenario:
    """A shipped scenario: its name, one-line title, when to use it, the demo stage that stages its
    incident (``stage``: a scenario sharing another's incident names that one), the alert names that
    route to it (``routes``: full-match regular expressions of ``alertname``, tried in
    ``route_order``) and ``staged``: what the demo stages for it."""

    name: str
    title: str
    use_when: str
    staged: str
    stage: str | None = None
    routes: str | None = None
    route_order: int = 0

    @property
    def notebook(self) -> str:
        """Return the notebook's path relative to the project (``notebooks/<name>.ipynb``)."""
        return f"notebooks/{self.name}.ipynb"

    @property
    def example(self) -> str:
        """Return the example parameters file (``parameters/<name>.yaml``)."""
        return f"parameters/{self.name}.yaml"


_BAD_DEPLOY = "the bad deploy v1.8.0: checkouts fail with a NoneType error, connections idle in transaction"

#: Every shipped scenario, in catalog order.
REGISTRY: tuple[Scenario, ...] = (
    Scenario("triage", "Triage any alert", "first, for any alert: is it up, since when, which deploy, database health, "
             "severity, which scenario next", _BAD_DEPLOY, stage="triage"),
    Scenario("high_error_rate", "High error rate", "an error-rate alert fires or users report failures", _BAD_DEPLOY,
             stage="high_error_rate", routes=r"(?i).*(error.?rate|5xx|errors).*", route_order=1),
    Scenario("high_latency", "High latency", "p95 is over its threshold or users report slowness",
             "deploy v1.9.0's slow product query (correlated subquery, statement timeouts)",
             stage="high_latency", routes=r"(?i).*(latency|slow.?requests|p9[59]).*", route_order=2),
    Scenario("db_connection_exhaustion", "Database connection exhaustion",
             'pool usage over 80%, "too many connections", requests waiting for the database',
             "idle sessions of a leaking pool at 96% of max_connections", stage="db_connection_exhaustion",
             routes=r"(?i).*(too.?many.?connections|connection.?pool|connections.?(high|exhausted)).*", route_order=3),
    Scenario("db_slow_queries_and_locks", "Slow queries and locks", "slow queries, lock timeouts or deadlocks",
             "a batch transaction holding row locks, sessions waiting, a slow report in pg_stat_statements",
             stage="db_slow_queries_and_locks", routes=r"(?i).*(slow.?quer|lock|deadlock|long.?running.?transaction).*",
             route_order=4),
    Scenario("site_outage", "Site outage", "health checks fail, users get 502/503 or nothing (DNS, TCP, TLS, HTTP per endpoint)",
             "the service killed: every probe refused", stage="site_outage",
             routes=r"(?i).*(instance.?down|target.?down|endpoint.?down|outage|unreachable|probe.?failed).*", route_order=10),
    Scenario("bad_deploy", "Bad deploy", "errors start after a deploy or configuration change (new errors, unset secrets, "
             "build failures)", "PAYMENT_API_KEY unset after a deploy", stage="bad_deploy"),
    Scenario("auth_failures", "Authentication failures", "users cannot log in, requests fail with 401/403",
             "the JWT secret rotated on one side: logins fail with 401", stage="auth_failures",
             routes=r"(?i).*(auth|login|jwt|401|403).*", route_order=8),
    Scenario("resource_pressure", "Resource pressure", 'disk, memory or CPU alerts, OOM kills, "No space left on device"',
             "a full 16 MB tmpfs (a simulated quota where mounting is not allowed), CPU/memory hogs, OOM kills in a kernel log",
             stage="resource_pressure", routes=r"(?i).*(cpu|memory|oom|disk|filesystem|load).*", route_order=7),
    Scenario("redis_failure", "Redis failure", "Redis connection errors, `redis-cli ping` fails", "Redis stopped under the shop",
             stage="redis_failure", routes=r"(?i).*(redis).*", route_order=5),
    Scenario("queue_backlog", "Queue backlog", "background jobs are late, queue depth grows",
             "a BullMQ-shaped queue nobody consumes", stage="queue_backlog",
             routes=r"(?i).*(queue|backlog|consumer.?lag).*", route_order=6),
    Scenario("dependency_failure", "Dependency failure", "a third-party API or storage fails or is slow",
             "a payment provider that hangs or answers 503", stage="dependency_failure",
             routes=r"(?i).*(dependency|upstream|third.?party|external.?api).*", route_order=9),
    Scenario("postmortem", "Postmortem", "afterwards: composes earlier runs with the responders' root cause, resolution, "
             "action items and lessons into the final report", _BAD_DEPLOY, stage="postmortem"),
)

_BY_NAME = {s.name: s for s in REGISTRY}


def names() -> tuple[str, ...]:
    """Return the shipped scenario names, in catalog order."""
    return tuple(_BY_NAME)


def get(name: str) -> Scenario:
    """Return the registry entry of ``name``; raises ConfigError naming the shipped scenarios."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ConfigError(f"no shipped scenario {name!r}; shipped: {', '.join(_BY_NAME)}") from None


def routes() -> list[dict[str, object]]:
    """Return the default alert routes (``routes.yaml`` entries: ``match_re`` on ``alertname``,
    ``scenario``), in the order they are tried."""
    routed = sorted((s for s in REGISTRY if s.routes), key=lambda s: s.route_order)
    return [{"match_re": {"alertname": s.routes}, "scenario": s.name} for s in routed]


def readme_table() -> str:
    """Return the README's scenario table (Markdown), one row per scenario."""
    rows = ["| scenario | use it when |", "| --- | --- |"]
    rows += [f"| `{s.name}` | {s.use_when} |" for s in REGISTRY]
    return "\n".join(rows)


def staged_table() -> str:
    """Return the README's staged-incidents table (Markdown): what the demo stages per scenario."""
    grouped: dict[str, list[str]] = {}
    for s in REGISTRY:
        grouped.setdefault(s.staged, []).append(s.name)
    rows = ["| scenario | what is staged |", "| --- | --- |"]
    rows += [f"| {', '.join(n)} | {what} |" for what, n in grouped.items()]
    return "\n".join(rows)


__all__ = ["REGISTRY", "Scenario", "get", "names", "readme_table", "routes", "staged_table"]
