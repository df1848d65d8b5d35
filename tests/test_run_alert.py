"""`incident-kit run --alert`: a real captured Alertmanager payload sets parameters and the window."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from incident_kit.runner import run


@pytest.fixture()
def alert_scenario(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    nb = new_notebook(cells=[
        new_code_cell("start = None\nend = None\nservice = ''\noutput_dir = None", metadata={"tags": ["parameters"]}),
        new_code_cell("import incident_kit as ik\ninv = ik.Investigation('alerted', output_dir=output_dir, start=start, end=end)\n"
                      "inv.headline(f'service={service}')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(tmp_path / "notebooks" / "alerted.ipynb"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_alert_payload_sets_parameters_window_and_summary(alert_scenario, shared_dir):
    payload = shared_dir / "data" / "alertmanager" / "alertmanager_payload.json"
    raw = json.loads(payload.read_text())
    result = run("alerted", alert=payload, out_dir=alert_scenario / "reports")
    s = result.summary
    assert result.status == "ok", s.get("error")
    assert s["alert"]["labels"]["alertname"] == raw["alerts"][0]["labels"]["alertname"]
    assert s["headline"] == f"service={raw['alerts'][0]['labels']['service']}"   # label became a parameter
    assert s["window"]["start"] is not None and s["window"]["start"] < raw["alerts"][0]["startsAt"]


def test_explicit_parameters_win_over_the_alert(alert_scenario, shared_dir):
    payload = shared_dir / "data" / "alertmanager" / "alertmanager_payload.json"
    result = run("alerted", alert=payload, cli_pairs=[("service", "checkout")], out_dir=alert_scenario / "reports")
    assert result.summary["headline"] == "service=checkout"
