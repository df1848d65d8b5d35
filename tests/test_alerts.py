"""Alert payload parsing, routing and parameters (incident_kit.alerts), on the real payloads of ../shared."""

from __future__ import annotations

import json

import pytest

from incident_kit import alerts
from incident_kit.alerts import PayloadError


def _load(shared_dir, name):
    return json.loads((shared_dir / "data" / "alertmanager" / name).read_text())


def test_alertmanager_firing_payload(shared_dir):
    payload = _load(shared_dir, "alertmanager_payload.json")
    assert alerts.detect(payload) == "alertmanager"
    [a] = alerts.parse(payload)
    assert a.firing and a.name == "AlwaysFiring"
    assert a.labels["service"] == "checkout-db"
    assert a.starts_at == "2026-11-22T14:31:44.550Z" and a.ends_at is None
    assert a.fingerprint == "e254786f70f1cb68"
    assert a.group_key == payload["groupKey"]
    d = a.to_dict()
    assert json.loads(json.dumps(d)) == d and "raw" not in d


def test_alertmanager_resolved_payload_sets_window(shared_dir):
    [a] = alerts.parse(_load(shared_dir, "alertmanager_payload_resolved.json"))
    assert a.status == "resolved" and a.ends_at == "2026-11-22T14:34:15.550Z"
    params = alerts.parameters_for(a, {"start": None, "end": None, "datname": None, "service": None}, margin="10m")
    assert params == {"datname": "postgres", "start": "2026-11-22T14:23:55.550Z", "end": "2026-11-22T14:34:15.550Z"}


def test_grafana_payload():
    payload = {
        "receiver": "r", "status": "firing", "orgId": 1, "groupKey": "{}/{}:{alertname=\"High memory usage\"}",
        "title": "[FIRING:1]", "state": "alerting", "version": "1",
        "alerts": [{"status": "firing", "labels": {"alertname": "High memory usage", "zone": "us-1"},
                    "annotations": {"summary": "s"}, "startsAt": "2021-10-12T09:51:03.157076+02:00",
                    "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "c6eadffa33fcdf37", "values": {"B": 44.2}}],
    }
    [a] = alerts.parse(payload)
    assert a.source == "grafana" and a.starts_at == "2021-10-12T07:51:03.157Z"
    assert a.group_key == payload["groupKey"]


def test_generic_forms():
    one = alerts.parse({"name": "DiskFull", "labels": {"service": "api"}, "starts_at": "2026-01-31T14:00:00Z"})
    assert one[0].labels == {"service": "api", "alertname": "DiskFull"} and one[0].source == "generic"
    many = alerts.parse({"alerts": [{"name": "A", "group_key": "g1"}, {"name": "B", "status": "resolved",
                                                                         "ends_at": "2026-01-31T15:00:00Z"}]})
    assert [a.group_key for a in many] == ["g1", f"fp:{many[1].fingerprint}"]
    assert many[1].status == "resolved" and many[1].ends_at == "2026-01-31T15:00:00Z"


@pytest.mark.parametrize("payload, needle", [
    ([1, 2], "expected a JSON object"),
    ({"alerts": []}, "non-empty list"),
    ({"alerts": ["x"]}, "alerts[0]: expected an object"),
    ({"labels": {"service": "x"}}, "needs a 'name'"),
    ({"name": "A", "status": "exploded"}, "neither 'firing' nor 'resolved'"),
    ({"name": "A", "starts_at": "yesterday-ish"}, "not an ISO 8601 time"),
    ({"name": "A", "labels": {"x": {"nested": 1}}}, "expected a string"),
    ({"version": "3", "groupKey": "g", "alerts": [{"labels": {"a": "b"}}]}, "version '3' is not supported"),
])
def test_malformed_payloads_one_line(payload, needle):
    with pytest.raises(PayloadError) as err:
        alerts.parse(payload)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_scenario_label_routes_and_default(tmp_path):
    routes_file = tmp_path / "routes.yaml"
    routes_file.write_text(
        "routes:\n"
        "  - match: {alertname: HighErrorRate}\n    scenario: high_error_rate\n"
        "  - match_re: {service: 'checkout-.*'}\n    match: {severity: page}\n    scenario: db_slow\n"
    )
    routes = alerts.load_routes(routes_file)
    mk = lambda **labels: alerts.parse({"name": labels.pop("name", "X"), "labels": labels})[0]  # noqa: E731
    assert alerts.scenario_for(mk(name="HighErrorRate"), routes) == "high_error_rate"
    assert alerts.scenario_for(mk(service="checkout-db", severity="page"), routes) == "db_slow"
    assert alerts.scenario_for(mk(service="checkout-db", severity="info"), routes) == "triage"
    assert alerts.scenario_for(mk(name="HighErrorRate", scenario="custom_one"), routes) == "custom_one"
    assert alerts.scenario_for(mk(), routes_file) == "triage"
    with pytest.raises(PayloadError, match="not a scenario name"):
        alerts.scenario_for(mk(scenario="../../etc/passwd"), routes)


def test_bad_routes_file(tmp_path):
    f = tmp_path / "routes.yaml"
    f.write_text("routes:\n  - match: {a: b}\n    scenario: 'x/y'\n")
    with pytest.raises(alerts.ConfigError, match="entry 1"):
        alerts.load_routes(f)


def test_parameters_never_take_secret_references_or_output_dir():
    [a] = alerts.parse({"name": "A", "labels": {"database_url": "file:/etc/shadow", "output_dir": "/tmp/x",
                                                "service": "api", "rounds": "3", "probe_targets": "http://a, http://b"}})
    params = alerts.parameters_for(a, {"database_url": None, "output_dir": None, "service": None,
                                       "rounds": 1, "probe_targets": []})
    assert params == {"service": "api", "rounds": 3, "probe_targets": ["http://a", "http://b"]}


HOSTILE = [
    '"; import os; os.system("touch /tmp/ik-pwned") #',
    "\\\"; __import__('os').system('id') #",
    "line1\nimport os\nos.system('id')",
    "'''\"\"\" {__import__('os')} \\x00 \\u2028 $(id) `id`",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_label_values_reach_the_notebook_as_data(tmp_path, value):
    """A hostile label value becomes a string parameter that papermill injects escaped: executing the
    injected cell gives back the exact value and runs nothing."""
    import nbformat
    from papermill.parameterize import parameterize_notebook

    [a] = alerts.parse({"name": "Evil", "labels": {"service": value}})
    params = alerts.parameters_for(a, ["service", "start", "end"])
    assert params == {"service": value}
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('service = "x"')
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.metadata["papermill"] = {}
    out = parameterize_notebook(nb, params)
    injected = next(c for c in out.cells if "injected-parameters" in c.metadata.get("tags", []))
    namespace: dict = {}
    exec(compile(injected.source, "<injected>", "exec"), {"__builtins__": {}}, namespace)  # no builtins: nothing can run
    assert namespace == {"service": value}
    assert not (tmp_path / "ik-pwned").exists()


def test_shipped_routes_point_at_shipped_scenarios():
    from pathlib import Path

    from incident_kit import catalog

    root = Path(__file__).resolve().parents[1]
    routes = alerts.load_routes(root / "parameters" / "routes.yaml")
    assert routes
    known = set(catalog.scenarios())
    assert {r.scenario for r in routes} <= known
    pick = lambda name: alerts.scenario_for(alerts.parse({"name": name})[0], routes)  # noqa: E731
    assert pick("HighErrorRate") == "high_error_rate" and pick("PostgresTooManyConnections") == "db_connection_exhaustion"
    assert pick("SomethingElse") == "triage" and "triage" in known
