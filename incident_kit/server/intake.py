"""Intake: alerts -> runs. Routing (which scenario) and de-duplication (which run).

Alerts are grouped by their group key (Alertmanager/Grafana ``groupKey``, the generic form's
``group_key``, else the alert's fingerprint). A group with firing alerts starts one run unless
it was seen within the de-duplication period, in which case its alerts attach to that run
(running or finished). A group whose alerts are all resolved records the end time on its run.
Everything happens in one transaction under the ledger's lock, so concurrent deliveries of one
group never start two runs.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from ..alerts import Alert, PayloadError, Route, route_for, scenario_for
from .ledger import GroupTaken


@dataclass
class Intake:
    """What one delivery did: per-alert actions, runs to start, runs to resolve."""

    actions: list[dict[str, Any]] = field(default_factory=list)
    new_runs: list[str] = field(default_factory=list)
    resolved_runs: list[str] = field(default_factory=list)


def new_run_id(scenario: str, now: datetime | None = None) -> str:
    """Return ``<UTC yyyymmddTHHMMSSZ>-<scenario>-<6 hex>`` (scenario already validated)."""
    now = now or datetime.now(timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{scenario}-{secrets.token_hex(3)}"


def _groups(items: Iterable[Alert]) -> "OrderedDict[str, list[Alert]]":
    out: OrderedDict[str, list[Alert]] = OrderedDict()
    for a in items:
        out.setdefault(a.group_key, []).append(a)
    return out


def plan(items: list[Alert], routes: list[Route], check_scenario: Callable[[str], None] | None = None
         ) -> dict[str, tuple[str, dict[str, Any], Alert]]:
    """Return ``group_key -> (scenario, route, leading alert)`` for groups with firing alerts.

    ``route`` is ``{"parameters": {...}, "parameter_files": [...]}`` of the matching route (empty
    when the alert names its scenario or no route matches).

    Raises :class:`PayloadError` when an alert names a scenario that is not a plain name, or
    (with ``check_scenario``) one that does not exist. Nothing is recorded.
    """
    out = {}
    for key, group in _groups(items).items():
        firing = [a for a in group if a.firing]
        if not firing:
            continue
        lead = min(firing, key=lambda a: a.starts_at or "")
        scenario = scenario_for(lead, routes)
        if check_scenario is not None:
            check_scenario(scenario)
        route = route_for(lead, routes) if not (lead.labels.get("scenario") or lead.annotations.get("scenario")) else None
        out[key] = (scenario, {"parameters": dict(route.parameters), "parameter_files": list(route.parameter_files)}
                    if route else {}, lead)
    return out


def ingest(ledger: Any, items: list[Alert], routes: list[Route], *, period_s: float,
           check_scenario: Callable[[str], None] | None = None) -> Intake:
    """Record a delivery's alerts in the ledger; returns what to enqueue.

    Raises :class:`PayloadError` (nothing recorded) when routing refuses an alert.
    """
    if not items:
        raise PayloadError("payload carries no alerts")
    planned = plan(items, routes, check_scenario)
    import sqlalchemy as sa

    for attempt in range(5):
        try:
            return _record(ledger, items, planned, period_s)
        except (GroupTaken, sa.exc.IntegrityError, sa.exc.OperationalError):
            # Another server (same database) created the group first, or SQLite was busy:
            # the transaction was rolled back; do it again, the repeat now attaches.
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _record(ledger: Any, items: list[Alert], planned: dict[str, tuple[str, dict[str, Any], Alert]],
            period_s: float) -> Intake:
    result = Intake()
    with ledger.lock, ledger.write_transaction() as conn:
        for key, group in _groups(items).items():
            firing = [a for a in group if a.firing]
            resolved = [a for a in group if not a.firing]
            run_id = None
            if firing:
                scenario, route_params, lead = planned[key]
                run_id, previous = ledger.group_run(conn, key, period_s)
                started = run_id is None
                if started:
                    run_id = new_run_id(scenario)
                    ledger.take_group(conn, key, run_id, previous)  # raises GroupTaken on a race
                    alert = {**lead.to_dict(), "group_size": len(firing)}
                    ledger.insert_run(conn, run_id, scenario, key, alert, route_params)
                    result.new_runs.append(run_id)
                else:
                    ledger.touch_group(conn, key)
                for a in firing:
                    action = "started" if started and a is lead else "attached"
                    ledger.insert_alert(conn, a, run_id, action)
                    result.actions.append({"alert": a.name, "fingerprint": a.fingerprint, "run_id": run_id, "action": action})
            if resolved:
                target = run_id or ledger.last_run_of_group(conn, key)
                for a in resolved:
                    action = "resolved" if target else "unmatched"
                    ledger.insert_alert(conn, a, target, action)
                    result.actions.append({"alert": a.name, "fingerprint": a.fingerprint, "run_id": target, "action": action})
                if target and not firing:
                    ends = [a.ends_at for a in resolved if a.ends_at]
                    resolved_at = max(ends) if ends else datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
                    ledger.set_resolved(conn, target, resolved_at)
                    result.resolved_runs.append(target)
    return result


__all__ = ["Intake", "new_run_id", "plan", "ingest"]
