"""Incidents with known answers, as canonical frames: for tests, benchmarks and trying the analysis.

:func:`incident` builds the classic one: steady traffic with ~0.5% errors, harmless commits,
then a deploy touching checkout after which ``POST /api/checkout`` fails with a lock timeout and
PostgreSQL sessions pile up idle in transaction. :func:`noise` is the same traffic without an
incident. Everything is vectorised numpy, so a million rows take about a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..frames import conform

ENDPOINTS = [("GET", "/api/products", 0.45, 18.0), ("GET", "/api/products/{id}", 0.22, 9.0),
             ("POST", "/api/checkout", 0.25, 42.0), ("GET", "/api/cart", 0.05, 7.0), ("GET", "/health", 0.03, 2.0)]
FAULT = "checkout failed: could not reserve stock for order {order}: lock timeout on inventory row {row}"
FAULT_TEMPLATE = "checkout failed: could not reserve stock for order <*>: lock timeout on inventory row <*>"
BASELINE_ERRORS = ["upstream timeout after {n} ms calling recommendations service",
                   "client closed request after {n} ms", "payment provider returned 502 for charge {n}"]


@dataclass
class Incident:
    """Frames of a synthetic incident and the answers a correct analysis must give."""

    logs: pd.DataFrame
    events: pd.DataFrame
    db_activity: pd.DataFrame
    start: pd.Timestamp
    errors_from: pd.Timestamp | None
    deploy_at: pd.Timestamp | None
    culprit_ref: str | None
    fault_template: str = FAULT_TEMPLATE
    notes: dict[str, object] = field(default_factory=dict)


def _traffic(rng: np.random.Generator, start: pd.Timestamp, seconds: float, rps: float, rows: int | None) -> pd.DataFrame:
    n = rows if rows is not None else int(rng.poisson(rps * seconds))
    offsets = np.sort(rng.uniform(0, seconds, n))
    ts = start + pd.to_timedelta(offsets, unit="s")
    pick = rng.choice(len(ENDPOINTS), size=n, p=[e[2] for e in ENDPOINTS])
    method = np.array([e[0] for e in ENDPOINTS], dtype=object)[pick]
    path = np.array([e[1] for e in ENDPOINTS], dtype=object)[pick]
    ids = rng.integers(1, 5000, n).astype(str)
    path = np.where(path == "/api/products/{id}", "/api/products/" + ids.astype(object), path)
    median = np.array([e[3] for e in ENDPOINTS])[pick]
    latency = np.round(median * rng.lognormal(0, 0.45, n), 2)
    clients = np.array([f"10.0.{i // 250}.{i % 250 + 1}" for i in range(400)], dtype=object)[rng.integers(0, 400, n)]
    users = ("u" + rng.integers(1000, 9000, n).astype(str).astype(object))
    return pd.DataFrame({"ts": ts, "method": method, "path": path, "latency_ms": latency, "client": clients,
                         "user_id": users, "status": 200, "level": "info",
                         "message": method + " " + path + " 200 in " + latency.astype(str).astype(object) + " ms"})


def _baseline_errors(rng: np.random.Generator, frame: pd.DataFrame, rate: float) -> None:
    bad = rng.random(len(frame)) < rate
    k = int(bad.sum())
    frame.loc[bad, "status"] = rng.choice([502, 504], size=k)
    frame.loc[bad, "level"] = "error"
    texts = np.array(BASELINE_ERRORS, dtype=object)[rng.integers(0, len(BASELINE_ERRORS), k)]
    numbers = rng.integers(3000, 9000, k).astype(str)
    frame.loc[bad, "message"] = [t.format(n=x) for t, x in zip(texts, numbers)]


def _activity(rng: np.random.Generator, start: pd.Timestamp, end: pd.Timestamp, errors_from: pd.Timestamp | None) -> pd.DataFrame:
    rows = []
    for snap in pd.date_range(start, end, freq="1min", tz="UTC"):
        active = int(rng.integers(2, 6))
        leaked = 0 if errors_from is None or snap < errors_from else min(30, 2 + int((snap - errors_from) / pd.Timedelta(minutes=1)) * 2)
        for i in range(active + leaked):
            idle_tx = i >= active
            rows.append({"ts": snap, "pid": 1000 + i, "datname": "shop", "usename": "shop", "application_name": "shop-api",
                         "state": "idle in transaction" if idle_tx else rng.choice(["active", "idle"]),
                         "wait_event_type": "Lock" if idle_tx and i % 5 == 0 else None,
                         "xact_start": snap - pd.Timedelta(seconds=30 * (i - active + 1)) if idle_tx else None,
                         "blocked_by": [1000 + active] if idle_tx and i % 5 == 0 else [],
                         "query": "UPDATE inventory SET reserved = reserved + 1 WHERE product_id = $1" if idle_tx else "SELECT 1"})
    return conform(pd.DataFrame(rows), "db_activity", source="synthetic:postgres")


def incident(
    *,
    seed: int = 1,
    hours: float = 2.0,
    rps: float = 4.0,
    rows: int | None = None,
    deploy_before_end_min: float = 22.0,
    errors_after_deploy_min: float = 4.0,
    fail_share: float = 0.9,
    baseline_error_rate: float = 0.005,
    start: str = "2026-03-02T12:00:00Z",
    with_incident: bool = True,
) -> Incident:
    """Return a synthetic incident (or, with ``with_incident=False``, the same traffic without one).

    ``rows`` fixes the number of log rows (else Poisson at ``rps``). The culprit deploy happens
    ``deploy_before_end_min`` before the end; ``errors_after_deploy_min`` later, ``fail_share``
    of ``POST /api/checkout`` requests fail with a lock timeout. Two harmless deploys come hours
    and 70 minutes before it.
    """
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start)
    seconds = hours * 3600
    t1 = t0 + pd.Timedelta(seconds=seconds)
    logs = _traffic(rng, t0, seconds, rps, rows)
    _baseline_errors(rng, logs, baseline_error_rate)
    deploy_at = t1 - pd.Timedelta(minutes=deploy_before_end_min)
    errors_from = deploy_at + pd.Timedelta(minutes=errors_after_deploy_min) if with_incident else None
    events = [
        {"ts": t0 - pd.Timedelta(hours=5), "kind": "deploy", "source": "ci", "text": "deploy shop-api v1.7.2 (search: paginate product listing)",
         "ref": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "files": ["shop/products.py"]},
        {"ts": deploy_at - pd.Timedelta(minutes=70), "kind": "deploy", "source": "ci", "text": "deploy shop-api v1.7.3 (deps: bump httpx to 0.27)",
         "ref": "b2c3d4e5f60718293a4b5c6d7e8f9012345678a1", "files": ["requirements.txt"]},
    ]
    culprit = None
    if with_incident:
        culprit = "c3d4e5f60718293a4b5c6d7e8f9012345678a1b2"
        events.append({"ts": deploy_at, "kind": "deploy", "source": "ci", "ref": culprit,
                       "text": "deploy shop-api v1.8.0 (checkout: reserve stock inside the payment transaction)",
                       "files": ["shop/checkout.py", "shop/inventory.py"]})
        failing = ((logs["ts"] >= errors_from) & (logs["path"] == "/api/checkout")).to_numpy() & (rng.random(len(logs)) < fail_share)
        k = int(failing.sum())
        logs.loc[failing, "status"] = 500
        logs.loc[failing, "level"] = "error"
        logs.loc[failing, "latency_ms"] = np.round(5000 + rng.random(k) * 50, 2)
        logs.loc[failing, "message"] = [FAULT.format(order=o, row=r) for o, r in
                                        zip(rng.integers(40000, 99999, k), rng.integers(1, 40, k))]
        logs["version"] = np.where(logs["ts"] >= deploy_at, "v1.8.0", "v1.7.3")
    else:
        logs["version"] = "v1.7.3"
    logs["service"] = "shop-api"
    logs["source"] = "synthetic:access.log"
    logs_frame = conform(logs, "logs", source="synthetic:access.log")
    events_frame = conform(pd.DataFrame(events), "events", source="synthetic:deploys")
    activity = _activity(rng, t1 - pd.Timedelta(minutes=40), t1, errors_from)
    return Incident(logs_frame, events_frame, activity, t0, errors_from, deploy_at if with_incident else None, culprit)


def noise(**kwargs: object) -> Incident:
    """Return the traffic of :func:`incident` without an incident (no culprit, no failures)."""
    return incident(with_incident=False, **kwargs)  # type: ignore[arg-type]


__all__ = ["FAULT", "FAULT_TEMPLATE", "Incident", "incident", "noise"]
