"""What a stage is: the hooks a scenario's staged incident plugs into :class:`DemoEnvironment`.

The environment calls, in order: :meth:`Stage.prepare` (before the service starts: seed the
database, start Redis or a provider, mount a filesystem), :meth:`Stage.fault` (the history
variant, written to disk), :meth:`Stage.service_args` / :meth:`Stage.service_env` (how the shop
service runs), :meth:`Stage.traffic` (options of the live traffic), :meth:`Stage.parameters`
(what the scenario's notebook needs beyond the shared ones), :meth:`Stage.inject` (make the
fault real on the live services) and :meth:`Stage.expected` (the known top cause). Everything a
stage starts is registered with ``env.on_stop(fn)`` and stopped by the environment, always.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..faults import COUPON, Fault

if TYPE_CHECKING:
    from .context import StageContext


class Stage:
    """A scenario's staged incident; the defaults stage the high_error_rate incident (bad deploy v1.8.0)."""

    #: Scenario name (fixed by the catalog); ``title`` is one line for ``incident-kit list`` and the CLI.
    name = "high_error_rate"
    title = "bad deploy v1.8.0: checkout fails with a NoneType error and leaks connections idle in transaction"
    #: ``max_connections`` of the demo's PostgreSQL cluster.
    max_connections = 120
    #: File under ``logs/`` the live service appends its access log to (``access.log``: after the history).
    live_access_log = "access.log"
    #: Shared parameters an on-call user of this incident would give beyond the files (their logs,
    #: repository and deploy events) and the stage's own parameters: the live endpoints they know.
    user_knows: tuple[str, ...] = ()

    def prepare(self, env: "StageContext") -> None:
        """Set up what the service needs before it starts (nothing by default)."""

    def fault(self, env: "StageContext") -> Fault:
        """Return the history variant to write (the coupon bug by default)."""
        return COUPON

    def version(self, env: "StageContext") -> str:
        """Return the version the live service runs: the fault's."""
        return env.fault.version if env.fault is not None else COUPON.version

    def service_args(self, env: "StageContext") -> list[str]:
        """Return extra command-line options of the shop service (see :mod:`.service`)."""
        return []

    def service_env(self, env: "StageContext") -> dict[str, str]:
        """Return environment variables to set (or, with value ``""``, to remove) for the service."""
        return {}

    def traffic(self, env: "StageContext") -> dict[str, Any]:
        """Return keyword options of :class:`.traffic.Traffic` (endpoints, token secrets)."""
        fault = env.fault
        return {"endpoints": fault.endpoints} if fault is not None and fault.endpoints != COUPON.endpoints else {}

    def parameters(self, env: "StageContext") -> dict[str, Any]:
        """Return scenario parameters beyond the shared ones (service, logs, database_url, ...)."""
        return {}

    def cold_parameters(self, env: "StageContext") -> dict[str, Any]:
        """Return the parameters a user of this incident would give, "cold": their logs, repository and
        deploy events, the stage's own parameters and :attr:`user_knows`; never the demo's service
        name, database, probes or Redis unless the incident is about them."""
        own = set(env.stage_parameters)
        keep = {"logs", "git_repo", "deploy_events", *self.user_knows, *own}
        return {k: v for k, v in env.parameters.items() if k in keep}

    def inject(self, env: "StageContext") -> None:
        """Make the fault real on the running services (the bad version already is, by default)."""

    def expected(self, env: "StageContext") -> tuple[str, list[str]]:
        """Return ``(kind, words)`` of the hypothesis that must rank first."""
        return "deploy", [COUPON.version]


__all__ = ["Stage"]
