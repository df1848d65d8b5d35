"""Severity policy (PRODUCT.md default from parameters/severity.yaml, overridable), impact and timeline."""

from __future__ import annotations

import pandas as pd
import pytest

import incident_kit.analysis as A
from incident_kit.analysis import synthetic
from incident_kit.errors import ConfigError
from incident_kit.frames import conform


@pytest.mark.parametrize("kwargs, level, words", [
    ({"error_rate": 0.6}, "P0", "60.0% of requests fail"),
    ({"db_reachable": False, "error_rate": 0.0}, "P0", "database is unreachable"),
    ({"error_rate": 0.24}, "P1", "24.0% of requests fail (P1 from 10%"),
    ({"auth_broken": True}, "P1", "authentication"),
    ({"connection_use": 0.97}, "P1", "connection pool is exhausted (97%"),
    ({"p95_ms": 900, "p95_threshold_ms": 500}, "P2", "900 ms is over its 500 ms"),
    ({"error_rate": 0.02}, "P2", "2.0% of requests fail"),
    ({"resource_use": {"disk": 93, "memory": 0.4}}, "P2", "93%"),
    ({"error_rate": 0.005, "p95_ms": 100, "p95_threshold_ms": 500}, "P3", "no rule of P0-P2 holds"),
    ({}, "P3", "no signal measured"),
])
def test_default_policy(kwargs, level, words):
    sev = A.severity(**kwargs)
    assert sev.level == level and words in sev.reason, sev
    assert str(sev).startswith(f"{level}: ")


def test_probes_failing_everywhere_is_p0_and_schemes_map_levels():
    t = pd.Timestamp("2026-03-02T12:00:00Z")
    probes = conform(pd.DataFrame({"ts": [t, t, t + pd.Timedelta(seconds=5), t + pd.Timedelta(seconds=5)],
                                   "target": ["a", "b", "a", "b"], "ok": [True, True, False, False]}), "probes")
    sev = A.severity(probes=probes)
    assert sev.level == "P0" and "every probed target" in sev.reason
    assert sev.as_scheme("SEV") == "SEV1" and sev.as_scheme("P1-P4") == "P1"
    assert A.severity(error_rate=0.2).schemes == {"SEV": "SEV2", "P1-P4": "P2"}
    with pytest.raises(ConfigError, match="scheme 'ITIL'"):
        sev.as_scheme("ITIL")


def test_policy_override_from_a_yaml_file_and_clear_errors(tmp_path, monkeypatch):
    strict = tmp_path / "parameters" / "severity.yaml"
    strict.parent.mkdir()
    strict.write_text("levels:\n  - level: P1\n    rules:\n      - when: error_rate >= 5%\n        says: 'strict: {error_rate:.0%}'\n"
                      "  - level: P3\n    rules: []\nschemes:\n  SEV: {P1: SEV2, P3: SEV4}\n")
    assert A.severity(error_rate=0.06, policy=strict).level == "P1"
    monkeypatch.chdir(tmp_path)  # ./parameters/severity.yaml is the team's own policy
    sev = A.severity(error_rate=0.06)
    assert sev.level == "P1" and sev.reason == "strict: 6%" and sev.as_scheme("SEV") == "SEV2"
    bad = tmp_path / "bad.yaml"
    bad.write_text("levels:\n  - level: P0\n    rules:\n      - when: errors are high\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: levels\[0\].rules\[0\]: 'when'"):
        A.severity(error_rate=0.1, policy=bad)
    bad.write_text("levels:\n  - level: P0\n    rules:\n      - when: cpu >= 3\n")
    with pytest.raises(ConfigError, match="unknown signal 'cpu'"):
        A.severity(policy=bad)
    with pytest.raises(ConfigError, match="error_rate=2"):
        A.severity(error_rate=2)


def test_shipped_policy_is_the_product_default():
    policy = A.load_policy()
    assert [lv["level"] for lv in policy["levels"]] == ["P0", "P1", "P2", "P3"]
    assert policy["schemes"]["SEV"]["P0"] == "SEV1" and policy["schemes"]["P1-P4"]["P3"] == "P4"


def test_impact_of_the_demo_incident():
    inc = synthetic.incident(seed=31)
    w = A.window(A.rates(inc.logs))
    alert = conform(pd.DataFrame([{"ts": w.start + pd.Timedelta(minutes=3), "kind": "alert", "text": "HighErrorRate"}]), "events")
    imp = A.impact(inc.logs, w.start, None, alerts=alert)
    assert 0.15 < imp["error_rate"] < 0.35 and imp["requests_failed"] > 500
    assert imp["users_affected"] > 100 and imp["clients_affected"] > 50
    assert imp["mttd_min"] == 3.0 and imp["ongoing"] and imp["time_to_recover_min"] is None
    assert imp["error_budget_minutes"] >= 15
    assert A.severity(error_rate=imp["error_rate"]).level == "P1"
    recovered = A.impact(inc.logs, w.start, w.start + pd.Timedelta(minutes=10))
    assert recovered["time_to_recover_min"] == 10.0 and not recovered["ongoing"]
    assert recovered["error_budget_minutes"] == 10.0
    no_users = A.impact(inc.logs.drop(columns=["user_id"]), w.start)
    assert no_users["users_affected"] is None
    with pytest.raises(ConfigError, match="start is required"):
        A.impact(inc.logs, None)


def test_timeline_merges_sources_dedups_and_keeps_postmortem_moments():
    inc = synthetic.incident(seed=41)
    w = A.window(A.rates(inc.logs))
    t = w.start
    probes = conform(pd.DataFrame({"ts": [t + pd.Timedelta(minutes=i) for i in range(4)], "target": "http://shop/health",
                                   "ok": [True, False, False, True], "error": [None, "HTTP 500", "HTTP 500", None]}), "probes")
    alert = {"ts": t + pd.Timedelta(minutes=2), "kind": "alert", "source": "alertmanager", "text": "HighErrorRate firing"}
    again = dict(alert, ts=t + pd.Timedelta(minutes=2, seconds=30))
    fix = {"ts": t + pd.Timedelta(minutes=12), "kind": "mitigation", "source": "notes", "text": "rolled back to v1.7.3"}
    tl = A.timeline(inc.events, inc.logs, probes, [alert, again], fix, window=w)
    assert list(tl.columns) == ["ts", "source", "kind", "text"]
    assert tl["ts"].is_monotonic_increasing
    kinds = tl["kind"].tolist()
    assert kinds.count("alert") == 1                       # the repeated alert is one moment
    assert kinds.count("deploy") == 1                      # harmless deploys hours before are left out
    assert {"deploy", "incident_start", "first_error", "probe_failed", "probe_recovered", "peak", "mitigation"} <= set(kinds)
    assert kinds.index("deploy") < kinds.index("incident_start") <= kinds.index("first_error")
    first_error = tl[tl["kind"] == "first_error"].iloc[0]
    assert "lock timeout" in first_error["text"] and first_error["ts"] >= w.start
    assert inc.culprit_ref[:10] in tl[tl["kind"] == "deploy"].iloc[0]["text"]
    with pytest.raises(ConfigError, match="needs 'ts'"):
        A.timeline({"kind": "note"})


def test_real_alertmanager_payload_in_timeline_and_mttd(shared_dir):
    import json

    payload = json.loads((shared_dir / "data" / "alertmanager" / "alertmanager_payload.json").read_text())
    fired = pd.Timestamp(payload["alerts"][0]["startsAt"])
    tl = A.timeline(payload, {"ts": fired - pd.Timedelta(minutes=4), "kind": "deploy", "text": "deploy v2"})
    assert tl["kind"].tolist() == ["deploy", "alert"]
    assert tl.iloc[1]["text"] == "AlwaysFiring fired: Synthetic always-firing alert" and tl.iloc[1]["ts"] == fired
    resolved = json.loads((shared_dir / "data" / "alertmanager" / "alertmanager_payload_resolved.json").read_text())
    assert A.timeline(resolved)["kind"].tolist() == ["alert", "alert_resolved"]
    logs = conform(pd.DataFrame({"ts": [fired - pd.Timedelta(minutes=6), fired], "status": [500, 500]}), "logs")
    assert A.impact(logs, fired - pd.Timedelta(minutes=6), alerts=payload)["mttd_min"] == 6.0


def test_timeline_keeps_only_the_commits_that_matter():
    t = pd.Timestamp("2026-03-02T12:00:00Z")
    commits = [{"ts": t - pd.Timedelta(minutes=50 - i), "kind": "commit", "text": f"commit {i}", "ref": f"{i:07d}abcdef"}
               for i in range(10)]
    deploy = {"ts": t - pd.Timedelta(minutes=5), "kind": "deploy", "text": "deploy v2", "ref": "0000007abcdef"}
    window = A.IncidentWindow(True, start=t, end=None, peak=t, peak_value=0.3, baseline=0.01, effect=0.2, metric="error_rate")
    with_deploy = A.timeline(conform(pd.DataFrame(commits + [deploy]), "events"), window=window)
    assert with_deploy[with_deploy["kind"] == "commit"]["text"].str[:8].tolist() == ["commit 7"]
    without = A.timeline(conform(pd.DataFrame(commits), "events"), window=window)
    assert without[without["kind"] == "commit"]["text"].str[:8].tolist() == ["commit 7", "commit 8", "commit 9"]
