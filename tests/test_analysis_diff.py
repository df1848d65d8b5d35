"""What is different: the over-represented dimension of a known incident comes first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import incident_kit.analysis as A
from incident_kit.analysis import synthetic
from incident_kit.errors import ConfigError
from incident_kit.frames import conform


def test_failing_requests_of_the_demo_incident_share_version_path_and_signature():
    inc = synthetic.incident(seed=51)
    w = A.window(A.rates(inc.logs))
    d = A.diff(inc.logs, w)
    assert list(d.columns) == ["column", "value", "incident_count", "incident_share", "baseline_count",
                               "baseline_share", "delta", "lift", "text"]
    assert d.attrs["failing_only"]
    top = {(r.column, r.value) for r in d.head(5).itertuples()}
    assert ("version", "v1.8.0") in top
    assert ("path", "/api/checkout") in top and ("method", "POST") in top
    assert ("signature", synthetic.FAULT_TEMPLATE) in top
    checkout = d[(d["column"] == "path") & (d["value"] == "/api/checkout")].iloc[0]
    assert checkout["incident_share"] > 0.95 and 0.2 < checkout["baseline_share"] < 0.3
    assert "vs 2" in checkout["text"]
    assert "status" not in set(d["column"]) and "ts" not in set(d["column"])
    assert d["delta"].is_monotonic_decreasing


def test_known_dimension_with_masks_numeric_bands_and_no_false_dimension():
    rng = np.random.default_rng(0)
    n = 20000
    frame = pd.DataFrame({
        "region": rng.choice(["eu", "us", "ap"], n),
        "tenant": rng.choice([f"t{i}" for i in range(50)], n),
        "payload_kb": rng.exponential(10, n),
        "request_id": [f"r{i}" for i in range(n)],
    })
    selected = rng.random(n) < 0.05
    frame.loc[selected & (rng.random(n) < 0.8), "tenant"] = "t7"
    frame.loc[selected, "payload_kb"] = 500 + rng.random(int(selected.sum()))
    d = A.diff(frame, ~selected, selected)
    assert d.iloc[0]["column"] in ("tenant", "payload_kb")
    assert {("tenant", "t7")} <= {(r.column, r.value) for r in d.itertuples()}
    assert d[d["column"] == "payload_kb"]["incident_share"].max() > 0.9
    assert "region" not in set(d["column"])       # region is not different: no false dimension
    assert "request_id" not in set(d["column"])   # unique per row: not compared


def test_paths_are_compared_as_routes_and_time_pairs_work():
    t0 = pd.Timestamp("2026-03-02T12:00:00Z")
    rows = [{"ts": t0 + pd.Timedelta(seconds=i), "path": f"/api/orders/{i}" if i >= 600 else f"/api/items/{i}",
             "status": 500 if i >= 600 else 200} for i in range(900)]
    logs = conform(pd.DataFrame(rows), "logs")
    d = A.diff(logs, (t0, t0 + pd.Timedelta(seconds=600)), (t0 + pd.Timedelta(seconds=600), None))
    assert d.iloc[0]["column"] == "path" and d.iloc[0]["value"] == "/api/orders/<*>"


def test_bad_selections_are_config_errors():
    frame = pd.DataFrame({"a": [1, 2, 3]})
    with pytest.raises(ConfigError, match="boolean mask of 3 rows"):
        A.diff(frame, [True, False], [False, True])
    with pytest.raises(ConfigError, match="incident rows are required"):
        A.diff(frame)
    with pytest.raises(ConfigError, match="was not found"):
        A.diff(frame, A.IncidentWindow(False))
    with pytest.raises(ConfigError, match="no incident rows"):
        A.diff(frame, np.array([True] * 3), np.array([False] * 3))


def test_a_latency_window_compares_the_slow_requests():
    clean = synthetic.noise(seed=10)
    logs = clean.logs.copy()
    start = logs["ts"].max() - pd.Timedelta(minutes=15)
    slow = (logs["ts"] >= start).to_numpy() & (logs["path"] == "/api/products").to_numpy()
    logs.loc[slow, "latency_ms"] = 900.0
    w = A.window(logs, column="p95_ms")
    d = A.diff(logs, w)
    assert d.attrs["selection"] == "slow" and "latency_ms" not in set(d["column"])
    top = d.iloc[0]
    assert (top["column"], top["value"]) == ("path", "/api/products") and "of the slow requests" in top["text"]
