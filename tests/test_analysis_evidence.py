"""Scenario evidence (analysis.evidence), the narrated answers built on it, and the ranking fixes the
staged incidents asked for: known inputs, known answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from incident_kit import narrate
from incident_kit.analysis import evidence, hypotheses
from incident_kit.frames import conform

T0 = pd.Timestamp("2026-11-22T12:00:00Z")


def _logs(rows: list[dict]) -> pd.DataFrame:
    return conform(pd.DataFrame(rows), "logs", source="test")


def _traffic(minutes: int = 60, start_fail: int = 40, fail=None, rps_min: int = 30, seed: int = 1) -> pd.DataFrame:
    """Requests every 2 s over ``minutes``; from minute ``start_fail`` ``fail(i, row)`` may change a row."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(minutes * rps_min):
        ts = T0 + pd.Timedelta(seconds=i * 60 / rps_min)
        path = ["/api/products", "/api/products/17", "/api/checkout", "/api/login"][i % 4]
        row = {"ts": ts, "level": "info", "service": "shop", "status": 200, "latency_ms": float(20 + rng.random() * 10),
               "method": "POST" if path in ("/api/checkout", "/api/login") else "GET", "path": path,
               "client": f"10.0.0.{i % 50}", "message": f"{path} 200"}
        if fail and ts >= T0 + pd.Timedelta(minutes=start_fail):
            fail(i, row)
        rows.append(row)
    return _logs(rows)


def test_slow_endpoints_names_the_endpoint_that_got_slow():
    def slow(i, row):
        if row["path"] == "/api/products":
            row["latency_ms"] = 900.0 + i % 50
    logs = _traffic(fail=slow)
    table = evidence.slow_endpoints(logs, (T0 + pd.Timedelta(minutes=40), None))
    assert table.iloc[0]["endpoint"] == "GET /api/products"
    assert table.iloc[0]["slower"] > 20
    assert "/api/products/{id}" in set(table["endpoint"]) or len(table) >= 1
    answer = narrate.slow_endpoints(table)
    assert answer.title.startswith("GET /api/products is the slowest") and "slower than before" in answer.title


def test_auth_failures_counts_refused_logins_and_their_message():
    def refuse(i, row):
        if row["path"] == "/api/login" and (i // 4) % 10:
            row.update(status=401, level="warning", message="login failed: invalid token signature")
    logs = _traffic(fail=refuse)
    found = evidence.auth_failures(logs, (T0 + pd.Timedelta(minutes=40), None), login_paths=["/api/login"])
    assert 0.85 <= found["login_failure_rate"] <= 0.95
    assert found["login_failure_rate_before"] == 0.0
    assert found["by_endpoint"].iloc[0]["endpoint"] == "POST /api/login"
    assert "invalid token signature" in found["messages"].iloc[0]["message"]
    assert "invalid token signature" in narrate.auth(found).detail


def test_providers_finds_the_host_the_errors_name_and_not_the_old_noise():
    def provider(i, row):
        if row["path"] == "/api/checkout":
            row.update(status=502, level="error", message=f"payment provider api.payments.example timed out after 2000 ms (order {i})")
    logs = _traffic(fail=provider)
    table = evidence.providers(logs, (T0 + pd.Timedelta(minutes=40), None), names=["stripe"])
    assert table.iloc[0]["provider"] == "api.payments.example" and table.iloc[0]["share"] == 1.0
    assert table.iloc[0]["share_before"] == 0.0
    # The ranking names the same host (a reserved .example name counts as a host, as in docs and demos).
    ranked = hypotheses(window=(T0 + pd.Timedelta(minutes=40), None), logs=logs)
    assert ranked.iloc[0]["kind"] == "dependency" and "api.payments.example" in ranked.iloc[0]["cause"]


def test_first_failing_layer_is_the_first_in_request_order():
    layered = conform(pd.DataFrame([
        {"ts": T0, "target": "shop.example", "kind": "dns", "ok": True, "error": "", "layer": "dns"},
        {"ts": T0, "target": "shop.example:443", "kind": "tcp", "ok": False, "error": "connection refused", "layer": "tcp"},
        {"ts": T0, "target": "https://shop.example/health", "kind": "http", "ok": False, "error": "ConnectError", "layer": "http"},
    ]), "probes")
    table = evidence.first_failing_layer(layered)
    assert table.iloc[0]["first_failure"] == "tcp" and bool(table.iloc[0]["dns"]) is True
    assert narrate.layers(table).title.startswith("Requests to shop.example stop at TCP")


def test_config_changes_flags_a_required_setting_that_is_unset_without_showing_values(tmp_path):
    from incident_kit.sources import config

    before, after = tmp_path / "before.env", tmp_path / "after.env"
    before.write_text("DATABASE_URL=postgres://x\nPAYMENT_API_KEY=sk_live_123\nLOG_LEVEL=info\n")
    after.write_text("DATABASE_URL=postgres://x\nLOG_LEVEL=debug\n# comment\nexport NEW_FLAG='on'\n")
    a, b = config.read(after), config.read(before)
    assert "sk_live_123" not in a.to_string() + b.to_string() and "postgres://x" not in b.to_string()
    table = evidence.config_changes(b, a, ["DATABASE_URL", "PAYMENT_API_KEY", "JWT_SECRET"])
    status = dict(zip(table["name"], table["status"]))
    assert status == {"PAYMENT_API_KEY": "removed", "JWT_SECRET": "unset", "LOG_LEVEL": "changed",
                      "NEW_FLAG": "added", "DATABASE_URL": "ok"}
    assert list(table["name"][:2]) == ["JWT_SECRET", "PAYMENT_API_KEY"]  # missing first
    answer = narrate.config(table)
    assert answer.title.startswith("Missing configuration:") and "PAYMENT_API_KEY (removed, required)" in answer.title


def test_build_failures_puts_the_missing_module_first():
    log = "step 1\nwarning: deprecated\nsrc/a.ts(3,1): error TS2307: x\nError: Cannot find module 'lib/utils/format'\nexit code 1\n"
    table = evidence.build_failures(log)
    assert "Cannot find module" in table.iloc[0]["line"]
    assert narrate.build(table).title.startswith("The build failed: Error: Cannot find module")


def test_queue_history_and_trend_from_worker_statistics():
    rows = [{"ts": T0 + pd.Timedelta(minutes=m), "level": "info", "service": "video-worker", "message": "stats",
             "queue": "video-processing", "waiting": 2 if m < 30 else 2 + (m - 30) * 15, "active": 4} for m in range(60)]
    logs = _logs(rows)
    history = evidence.queue_history(logs, "video-processing")
    assert set(history["key"]) == {"video-processing:waiting", "video-processing:active"}
    trend = evidence.queue_trend(history)
    assert trend.iloc[0]["key"] == "video-processing:waiting" and trend.iloc[0]["depth"] == 2 + 29 * 15
    from incident_kit.steps import metrics_series

    ranked = hypotheses(window=(T0 + pd.Timedelta(minutes=30), None), metrics=metrics_series(history))
    assert ranked.iloc[0]["kind"] == "saturation"
    assert "queue" in ranked.iloc[0]["cause"] and "video-processing" in ranked.iloc[0]["cause"]


def test_a_full_disk_the_errors_name_outranks_a_busy_cpu():
    """resource_pressure: disk and CPU both at 100%; the errors say "No space left on device"."""
    def enospc(i, row):
        if row["path"] == "/api/checkout":
            row.update(status=500, level="error", message=f"checkout failed: [Errno 28] No space left on device: '/data/r-{i}.json'")
    logs = _traffic(fail=enospc)
    now = T0 + pd.Timedelta(minutes=59)
    metrics = {"cpu_used_ratio": pd.Series([1.0], index=[now]),
               'disk_used_ratio{mountpoint="/data"}': pd.Series([1.0], index=[now]),
               "memory_used_ratio": pd.Series([0.95], index=[now])}
    ranked = hypotheses(window=(T0 + pd.Timedelta(minutes=40), None), logs=logs, metrics=metrics)
    top = ranked.iloc[0]
    assert top["kind"] == "saturation" and "disk" in top["cause"], ranked[["cause", "score"]]
    assert "No space left" in top["evidence"]
    cpu = ranked[ranked["cause"].str.contains("cpu")].iloc[0]
    assert cpu["score"] < top["score"]


def test_resource_use_and_metrics_from_host_frames():
    disks = conform(pd.DataFrame([
        {"ts": T0, "metric": "disk_used_percent", "value": 99.0, "path": "/data", "mountpoint": "/data"},
        {"ts": T0, "metric": "disk_used_percent", "value": 40.0, "path": "/", "mountpoint": "/"}]), "metrics")
    host = conform(pd.DataFrame([{"ts": T0, "metric": "cpu_percent", "value": 35.0, "host": "h"},
                                 {"ts": T0, "metric": "memory_used_percent", "value": 50.0, "host": "h"}]), "metrics")
    use = evidence.resource_use(disks, host)
    assert use.iloc[0]["resource"] == "disk /data"
    assert evidence.fullest_path(disks) == "/data"
    series = evidence.resource_metrics(disks, host)
    assert series['disk_used_ratio{mountpoint="/data"}'].iloc[0] == pytest.approx(0.99)
    assert narrate.resources(use, 90).title.startswith("disk /data is at 99%")


def test_next_scenarios_routes_each_kind_of_cause():
    ranked = pd.DataFrame([
        {"cause": "dependency redis://127.0.0.1:6390 failing", "kind": "dependency", "ref": "redis://127.0.0.1:6390", "score": 0.9},
        {"cause": "database connections exhausted", "kind": "saturation", "ref": "connections", "score": 0.8},
        {"cause": "lock contention in the database", "kind": "lock_contention", "ref": None, "score": 0.5},
    ])
    table = evidence.next_scenarios(ranked)
    assert list(table["scenario"]) == ["redis_failure", "db_connection_exhaustion", "db_slow_queries_and_locks"]
    assert narrate.next_scenario(table).title.startswith("Open redis_failure next")


def test_compose_merges_runs_for_a_postmortem(tmp_path):
    from incident_kit.steps import load_runs

    def summary(run_id, scenario, sev, score, start):
        return {"run_id": run_id, "scenario": scenario, "status": "ok", "severity": sev, "severity_reason": f"{sev} because",
                "headline": f"{scenario} headline", "started_at": start, "window": {"start": start, "end": None},
                "impact": {"requests_total": 100 if scenario == "triage" else 500, "requests_failed": 50},
                "hypotheses": [{"cause": "deploy abc: v1.8.0", "score": score, "kind": "deploy", "evidence": "e"}],
                "findings": [{"kind": "error", "title": f"{scenario} error", "score": 0.5}],
                "timeline": [{"ts": start, "source": "analysis", "kind": "incident_start", "text": "x"}]}
    for run_id, scen, sev, score, start in (("r1", "triage", "P2", 0.7, "2026-11-22T12:00:00Z"),
                                            ("r2", "high_error_rate", "P1", 0.9, "2026-11-22T12:05:00Z")):
        (tmp_path / run_id).mkdir()
        (tmp_path / run_id / "summary.json").write_text(json.dumps(summary(run_id, scen, sev, score, start)))
    loaded = load_runs(["r2", str(tmp_path / "r1"), "nope"], tmp_path)
    assert [s["run_id"] for s in loaded.summaries] == ["r1", "r2"] and loaded.missing[0].startswith("nope")
    composed = evidence.compose(loaded.summaries)
    assert composed["severity"] == "P1" and composed["impact"]["requests_total"] == 500
    assert len(composed["hypotheses"]) == 1 and composed["hypotheses"].iloc[0]["score"] == 0.9
    assert composed["window"]["start"] == "2026-11-22T12:00:00Z"
    assert "r1" in narrate.runs(composed, loaded.missing).title
    assert load_runs([], tmp_path).summaries[0]["run_id"] == "r2"  # default: the newest run
    notes = evidence.people_timeline(["2026-11-22T12:30Z rolled back to v1.7.3", "not a time"])
    assert notes == [{"ts": "2026-11-22T12:30:00Z", "source": "responders", "kind": "note", "text": "rolled back to v1.7.3"}]
