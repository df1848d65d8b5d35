"""The stage registry: one staged incident per scenario, used by ``DemoEnvironment(scenario=NAME)``.

``SCENARIOS`` lists the names; :func:`get_stage` returns the stage of one. Each stage makes its
incident real on local services and knows the answer (``DemoEnvironment.story``):

==========================  =========================================================================
scenario                    what is made real
==========================  =========================================================================
high_error_rate             bad deploy v1.8.0: checkout NoneType errors, connections idle in transaction
triage, postmortem          the high_error_rate incident (any alert / composing earlier runs)
high_latency                deploy v1.9.0 ranks products with a correlated subquery: /api/products slow
db_connection_exhaustion    a leaking pool holds idle sessions up to the role's connection limit
db_slow_queries_and_locks   a batch job holds a table lock; checkouts and sessions wait behind it
site_outage                 the shop service is killed: connection refused everywhere
bad_deploy                  deploy v1.9.0 + config change: PAYMENT_API_KEY unset, every payment fails
auth_failures               JWT secret rotated on shop-api only: logins fail "invalid token signature"
resource_pressure           a 16 MB tmpfs filled up (ENOSPC on receipts), CPU and memory hogs, OOM kills
redis_failure               a real redis-server started, used, then stopped: connection refused
queue_backlog               bull:video-processing:waiting grows, stuck active jobs, failed jobs
dependency_failure          a local payment provider (api.payments.example) that hangs or answers 503
==========================  =========================================================================
"""

from __future__ import annotations

from typing import Any

from ...errors import ConfigError
from .base import Stage
from .app import AuthFailures, BadDeploy, HighErrorRate, Postmortem, SiteOutage, Triage
from .db import DbConnectionExhaustion, DbSlowQueriesAndLocks, HighLatency
from .deps import DependencyFailure, QueueBacklog, RedisFailure
from .host import ResourcePressure

_STAGES: dict[str, type[Stage]] = {cls.name: cls for cls in (
    Triage, HighErrorRate, HighLatency, DbConnectionExhaustion, DbSlowQueriesAndLocks, SiteOutage, BadDeploy,
    AuthFailures, ResourcePressure, RedisFailure, QueueBacklog, DependencyFailure, Postmortem,
)}

#: Names of the scenarios that can be staged, in catalog order.
SCENARIOS: tuple[str, ...] = tuple(_STAGES)


def get_stage(name: str) -> Stage:
    """Return a new stage for scenario ``name``; raises ConfigError naming the known scenarios."""
    try:
        return _STAGES[name]()
    except KeyError:
        raise ConfigError(f"demo: no staged incident for scenario {name!r}; known: {', '.join(SCENARIOS)}") from None


def cold_parameters(env: Any) -> dict[str, Any]:
    """Return the parameters a user of the running staged incident ``env`` (a started
    :class:`~incident_kit.demo.environment.DemoEnvironment`) would give: only what they know (their
    files and the endpoints the incident is about), no demo defaults. The sweep of every scenario
    over every staged incident and the cold/historical tests start from these."""
    return env.stage.cold_parameters(env)


__all__ = ["SCENARIOS", "Stage", "cold_parameters", "get_stage"]
