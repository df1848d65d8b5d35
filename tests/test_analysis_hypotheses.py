"""Hypotheses and correlation: known culprits among harmless candidates, each cause kind, no false cause on clean data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import incident_kit.analysis as A
from incident_kit.analysis import synthetic
from incident_kit.errors import ConfigError
from incident_kit.frames import conform


@pytest.fixture(scope="module")
def demo():
    inc = synthetic.incident(seed=21)
    return inc, A.window(A.rates(inc.logs))


def test_the_deploy_just_before_the_start_that_touched_checkout_ranks_first(demo):
    inc, w = demo
    ranked = A.hypotheses(window=w, events=inc.events, logs=inc.logs, db_activity=inc.db_activity)
    assert list(ranked.columns) == ["cause", "evidence", "score", "kind", "ref"]
    top = ranked.iloc[0]
    assert top["ref"] == inc.culprit_ref and top["kind"] == "deploy" and top["score"] > 0.85
    assert "checkout" in top["evidence"] and "before the incident started" in top["evidence"]
    harmless = ranked[ranked["kind"].eq("deploy") & ranked["ref"].ne(inc.culprit_ref)]
    assert len(harmless) == 2 and (harmless["score"] < 0.3).all()
    locks = ranked[ranked["kind"] == "lock_contention"].iloc[0]
    assert "idle in transaction rising" in locks["evidence"] and "lock errors" in locks["evidence"]
    assert harmless["score"].max() < locks["score"] < top["score"]
    assert ranked["score"].is_monotonic_decreasing and ranked["score"].between(0, 1).all()


def test_git_commit_and_deploy_event_of_one_ref_are_one_hypothesis(demo):
    inc, w = demo
    commit = inc.events[inc.events["ref"] == inc.culprit_ref].copy()
    commit["kind"], commit["ts"] = "commit", commit["ts"] - pd.Timedelta(minutes=3)
    commit["text"] = "checkout: reserve stock inside the payment transaction"
    events = conform(pd.concat([inc.events, commit], ignore_index=True), "events")
    ranked = A.hypotheses(window=w, events=events, logs=inc.logs)
    assert (ranked["ref"] == inc.culprit_ref).sum() == 1
    assert ranked.iloc[0]["kind"] == "deploy"


def test_a_deploy_after_the_start_cannot_be_the_cause(demo):
    inc, w = demo
    late = conform(pd.DataFrame([{"ts": w.start + pd.Timedelta(minutes=10), "kind": "deploy", "text": "rollback checkout",
                                  "ref": "dddd111122223333"}]), "events")
    ranked = A.hypotheses(window=w, events=late, logs=inc.logs)
    row = ranked[ranked["ref"] == "dddd111122223333"].iloc[0]
    assert row["score"] <= 0.05 and "cannot have caused it" in row["evidence"]


def _clean_with_window(seed: int = 4):
    clean = synthetic.noise(seed=seed)
    start = clean.logs["ts"].max() - pd.Timedelta(minutes=15)
    return clean, (start, None)


def test_failing_dependency_from_probes_and_from_hosts_in_error_messages():
    clean, window = _clean_with_window()
    logs = clean.logs.copy()
    hit = (logs["ts"] >= window[0]).to_numpy() & (logs["path"] == "/api/checkout").to_numpy()
    logs.loc[hit, "status"] = 502
    logs.loc[hit, "message"] = "charge failed: POST https://api.payments.example.com/v1/charges: connection refused"
    t = window[0]
    probes = conform(pd.DataFrame({
        "ts": [t + pd.Timedelta(minutes=i) for i in range(6)] * 2,
        "target": ["https://api.payments.example.com/health"] * 6 + ["http://127.0.0.1/health"] * 6,
        "kind": "http", "ok": [False, False, False, True, False, False] + [True] * 6,
        "error": ["ConnectError: connection refused"] * 6 + [None] * 6,
    }), "probes")
    ranked = A.hypotheses(window=window, logs=logs, probes=probes)
    deps = ranked[ranked["kind"] == "dependency"]
    assert set(deps["ref"]) == {"https://api.payments.example.com/health", "api.payments.example.com"}
    assert ranked.iloc[0]["kind"] == "dependency"
    assert "5 of 6" in deps.iloc[0]["evidence"] or "name api.payments.example.com" in deps.iloc[0]["evidence"]


def test_saturation_connections_disk_and_growing_queue():
    clean, window = _clean_with_window()
    t = window[0]
    idx = pd.date_range(t - pd.Timedelta(minutes=30), t + pd.Timedelta(minutes=14), freq="1min", tz="UTC")
    after = idx >= t
    disk = np.where(after, 0.97, 0.62)
    queue = np.where(after, 10 + 40 * np.cumsum(after), 8.0)
    flat = np.full(len(idx), 5.0)
    metrics = conform(pd.DataFrame({
        "ts": np.r_[idx, idx, idx], "metric": ["disk_used_ratio"] * len(idx) + ["jobs_queue_depth"] * len(idx) + ["flat"] * len(idx),
        "value": np.r_[disk, queue, flat],
    }), "metrics")
    ranked = A.hypotheses(window=window, logs=clean.logs, connections={"used": 98, "max": 100}, metrics=metrics)
    kinds = dict(zip(ranked["ref"], ranked["kind"]))
    assert kinds["connections"] == kinds["disk_used_ratio"] == kinds["jobs_queue_depth"] == "saturation"
    assert "flat" not in kinds
    conn = ranked[ranked["ref"] == "connections"].iloc[0]
    assert conn["cause"] == "database connections exhausted" and "98 of 100" in conn["evidence"]


def test_traffic_surge_and_bad_client():
    clean, window = _clean_with_window(seed=6)
    logs = clean.logs
    inside = logs[logs["ts"] >= window[0]]
    surge = conform(pd.concat([logs, inside, inside], ignore_index=True), "logs")
    ranked = A.hypotheses(window=window, logs=surge)
    assert ranked.iloc[0]["kind"] == "traffic_surge" and "3.0x" in ranked.iloc[0]["evidence"]

    bad = logs.copy()
    rows = (bad["ts"] >= window[0]).to_numpy() & (np.arange(len(bad)) % 4 == 0)
    bad.loc[rows, ["client", "status", "message"]] = ["203.0.113.9", 500, "invalid JSON body: unexpected token"]
    ranked = A.hypotheses(window=window, logs=bad)
    top = ranked[ranked["kind"] == "bad_client"].iloc[0]
    assert top["ref"] == "203.0.113.9" and ranked.iloc[0]["kind"] in ("bad_client", "new_error")
    assert top["score"] > 0.6


def test_clean_data_gives_no_strong_hypothesis():
    clean = synthetic.noise(seed=8)
    w = A.window(A.rates(clean.logs))
    assert not w.found
    ranked = A.hypotheses(window=w, events=clean.events, logs=clean.logs)
    assert (ranked["score"] < 0.45).all()


def test_correlation_orders_series_by_how_close_their_change_is_to_the_start():
    start = pd.Timestamp("2026-03-02T13:00:00Z")
    idx = pd.date_range(start - pd.Timedelta(hours=2), start + pd.Timedelta(minutes=30), freq="1min", tz="UTC")
    rng = np.random.default_rng(0)
    series = {
        "connections": pd.Series(np.where(idx >= start + pd.Timedelta(minutes=1), 90, 20) + rng.normal(0, 1, len(idx)), index=idx),
        "latency": pd.Series(np.where(idx >= start + pd.Timedelta(minutes=8), 400, 100) + rng.normal(0, 5, len(idx)), index=idx),
        "cache_hits": pd.Series(np.where(idx >= start - pd.Timedelta(minutes=2), 100, 900) + rng.normal(0, 10, len(idx)), index=idx),
        "early": pd.Series(np.where(idx >= start - pd.Timedelta(minutes=80), 50, 10) + rng.normal(0, 1, len(idx)), index=idx),
        "noise": pd.Series(rng.normal(0, 1, len(idx)), index=idx),
    }
    moved = A.correlate(series, start)
    assert moved["series"].tolist()[:3] == ["connections", "cache_hits", "latency"]
    assert "noise" not in moved["series"].tolist() and "early" not in moved["series"].tolist()
    assert moved.iloc[1]["direction"] == "down" and moved.iloc[0]["lag_s"] == 60
    with pytest.raises(ConfigError, match="start"):
        A.correlate(series, A.IncidentWindow(False))


def test_bad_input_is_a_config_error():
    with pytest.raises(ConfigError, match="logs must be a DataFrame"):
        A.hypotheses(window=None, logs=[1, 2])
    with pytest.raises(ConfigError, match="not an IncidentWindow"):
        A.hypotheses(window=object())
    assert A.hypotheses(window=None).empty


def test_a_service_named_in_the_errors_with_its_endpoint_is_a_failing_dependency():
    clean, window = _clean_with_window(seed=9)
    logs = clean.logs.copy()
    hit = (logs["ts"] >= window[0]).to_numpy() & logs["path"].isin(["/api/cart", "/api/checkout"]).to_numpy()
    logs.loc[hit, ["status", "message"]] = [503, "redis error: Error 111 connecting to 127.0.0.1:6399. Connection refused."]
    ranked = A.hypotheses(window=window, logs=logs, events=clean.events)
    top = ranked.iloc[0]
    assert top["kind"] == "dependency" and top["ref"] == "redis" and "127.0.0.1:6399" in top["cause"]


def test_latency_incident_ties_the_deploy_to_the_slow_path_and_old_related_deploys_stay_low():
    clean = synthetic.noise(seed=10)
    logs = clean.logs.copy()
    start = logs["ts"].max() - pd.Timedelta(minutes=15)
    slow = (logs["ts"] >= start).to_numpy() & (logs["path"] == "/api/products").to_numpy()
    logs.loc[slow, "latency_ms"] = 900.0
    w = A.window(A.rates(logs), column="p95_ms")
    assert w.found and abs(w.start - start) <= pd.Timedelta(minutes=1)
    events = conform(pd.DataFrame([
        {"ts": start - pd.Timedelta(minutes=2), "kind": "deploy", "ref": "f00dfeed0001", "text": "deploy v1.9.0 (rank products by units sold)"},
        {"ts": start - pd.Timedelta(minutes=3), "kind": "deploy", "ref": "f00dfeed0002", "text": "deploy worker v2.1 (emails: retry bounces)"},
        {"ts": start - pd.Timedelta(hours=20), "kind": "deploy", "ref": "f00dfeed0003", "text": "deploy v1.7.2 (products: paginate)"},
    ]), "events")
    ranked = A.hypotheses(window=w, events=events, logs=logs).set_index("ref")
    assert ranked.index[0] == "f00dfeed0001" and "product" in ranked.loc["f00dfeed0001", "evidence"]
    assert ranked.loc["f00dfeed0002", "score"] < ranked.loc["f00dfeed0001", "score"] - 0.2
    assert ranked.loc["f00dfeed0003", "score"] < 0.2    # related, but 20 hours old


@pytest.mark.parametrize("message, ref, cause", [
    ('database error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  too many connections for role "shop"',
     "connections", "database connections exhausted"),
    ("checkout failed: [Errno 28] No space left on device: '/var/receipts/r-1.pdf'", "disk", "disk full"),
])
def test_errors_saying_a_resource_ran_out_are_saturation(message, ref, cause):
    clean, window = _clean_with_window(seed=13)
    logs = clean.logs.copy()
    hit = (logs["ts"] >= window[0]).to_numpy() & (logs["path"] == "/api/checkout").to_numpy()
    logs.loc[hit, ["status", "message"]] = [503, message]
    ranked = A.hypotheses(window=window, logs=logs, events=clean.events, connections={"used": 97, "max": 100})
    top = ranked.iloc[0]
    assert top["kind"] == "saturation" and top["ref"] == ref and top["cause"] == cause
    if ref == "connections":   # the metric and the messages agree: one hypothesis, both pieces of evidence
        assert (ranked["ref"] == "connections").sum() == 1 and "97 of 100" in top["evidence"] and "too many" in top["evidence"]


def test_a_metric_that_moved_at_the_start_is_a_correlated_hypothesis():
    clean, window = _clean_with_window(seed=14)
    t = window[0]
    idx = pd.date_range(t - pd.Timedelta(minutes=60), t + pd.Timedelta(minutes=14), freq="30s", tz="UTC")
    rng = np.random.default_rng(1)
    metrics = conform(pd.DataFrame({
        "ts": np.r_[idx, idx], "metric": ["gc_pause_ms"] * len(idx) + ["steady"] * len(idx),
        "value": np.r_[np.where(idx >= t + pd.Timedelta(seconds=30), 250.0, 20.0) + rng.normal(0, 2, len(idx)),
                       50 + rng.normal(0, 2, len(idx))],
    }), "metrics")
    ranked = A.hypotheses(window=window, logs=clean.logs, metrics=metrics)
    moved = ranked[ranked["kind"] == "correlated"]
    assert moved["ref"].tolist() == ["gc_pause_ms"] and "30 s after the start" in moved.iloc[0]["evidence"]


def test_events_with_missing_fields_are_read(demo):
    inc, w = demo
    sparse = conform(pd.DataFrame({"ts": [w.start - pd.Timedelta(minutes=3)], "kind": ["config"]}), "events")
    ranked = A.hypotheses(window=w, events=sparse, logs=inc.logs)
    assert ranked.iloc[0]["kind"] == "config" and ranked.iloc[0]["ref"] is None
    assert A.timeline(sparse, window=w)["kind"].tolist()[0] == "config"
