"""Scenario evidence: the tables the scenario notebooks answer from, computed on canonical frames.

Every signal that moved (triage), slow endpoints, auth failures, error signatures naming a provider, layer-by-layer probe results,
resource use, queue trends, configuration differences, build failures, the scenario to open
next and the composition of earlier runs for a postmortem. Pure functions: no source is read.
"""

from .config import BUILD_ERROR, build_failures, config_changes, config_events
from .postmortem import (
    NEXT_SCENARIO,
    home_scenario,
    POSTMORTEM_OWN,
    carried_findings,
    compose,
    findings_table,
    next_scenarios,
    people_timeline,
)
from .requests import (
    AUTH_WORDS,
    LAYERS,
    auth_failures,
    first_failing_layer,
    providers,
    route,
    slow_endpoints,
    status_rates,
)
from .signals import SCENARIO_OF, SIGNAL_COLUMNS, signal_window, signals
from .resources import (
    depth_series,
    fullest_path,
    queue_history,
    queue_trend,
    resource_metrics,
    resource_use,
    stuck_jobs,
    waiting,
)

__all__ = ["home_scenario", "AUTH_WORDS", "LAYERS", "route", "slow_endpoints", "auth_failures", "status_rates", "first_failing_layer", "providers", "resource_use", "resource_metrics", "queue_trend", "queue_history", "depth_series", "fullest_path", "stuck_jobs", "waiting", "BUILD_ERROR", "config_changes", "config_events", "build_failures", "NEXT_SCENARIO", "next_scenarios", "compose", "people_timeline", "findings_table", "POSTMORTEM_OWN", "carried_findings", "SCENARIO_OF", "SIGNAL_COLUMNS", "signals", "signal_window"]
