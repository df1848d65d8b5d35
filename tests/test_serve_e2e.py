"""End to end: real Prometheus and Alertmanager (Debian binaries) pointed at a real `incident-kit serve`.

A tiny exporter the test controls serves `ik_e2e_fault`; a Prometheus rule fires while it is 1.
Alertmanager delivers the webhook (bearer token) to the server, which routes it through
routes.yaml to a scenario notebook the test writes into ./notebooks and runs it with the real
runner (papermill + nbconvert). Within 60 s a report exists whose summary.json carries the alert;
a Slack-compatible receiver gets the notification. When the exporter says 0 the rule stops
firing, Alertmanager sends the resolved notice, and the run records the resolution in its
summary.json and re-rendered report.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from serve_support import Server, wait_for, write_notebook
from waiting import stop_process, wait_http

from incident_kit.demo.pgcluster import free_port

TOKEN = "e2e-token-0123456789abcdef"


class _State:
    fault = 1
    notifications: list[dict] = []


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # the exporter
        body = f"# TYPE ik_e2e_fault gauge\nik_e2e_fault{{service=\"checkout\"}} {_State.fault}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # the Slack-compatible notification receiver
        data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _State.notifications.append(json.loads(data))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def _start(cmd: list[str], log: Path, ready_url: str, timeout: float = 30) -> subprocess.Popen[bytes]:
    with open(log, "wb") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(ready_url, proc, cmd[0], timeout_s=timeout, log=log)
    except BaseException:
        stop_process(proc)
        raise
    return proc




@pytest.mark.slow
def test_prometheus_alertmanager_to_report_and_resolution(tmp_path: Path) -> None:
    for binary in ("prometheus", "prometheus-alertmanager"):
        assert shutil.which(binary), f"{binary} is not installed (Debian packages prometheus, prometheus-alertmanager)"
    write_notebook(tmp_path / "notebooks", "checkout_fault",
                   code="import incident_kit as ik\nprint('investigating', service, 'from', start)")
    (tmp_path / "e2e.yaml").write_text("start: -6h\nservice: from-the-file\nalertname: from-the-file\nteam: from-the-file\n")
    (tmp_path / "routes.yaml").write_text(
        "routes:\n  - match: {alertname: IkE2EFault}\n    match_re: {severity: 'page|critical'}\n"
        "    scenario: checkout_fault\n    parameter_files: [e2e.yaml]\n    parameters: {team: from-the-route}\n")
    ik_port, exp_port, prom_port, am_port = free_port(), free_port(), free_port(), free_port()

    exporter = ThreadingHTTPServer(("127.0.0.1", exp_port), _Handler)
    threading.Thread(target=exporter.serve_forever, daemon=True).start()
    (tmp_path / "rules.yml").write_text(
        "groups:\n- name: ik\n  interval: 1s\n  rules:\n  - alert: IkE2EFault\n    expr: ik_e2e_fault > 0\n"
        "    labels: {severity: page}\n    annotations: {summary: 'checkout fault injected by the test'}\n")
    (tmp_path / "prometheus.yml").write_text(
        f"global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [{tmp_path / 'rules.yml'}]\n"
        f"alerting:\n  alertmanagers:\n  - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\n"
        f"scrape_configs:\n- job_name: exporter\n  static_configs: [{{targets: ['127.0.0.1:{exp_port}']}}]\n")
    (tmp_path / "alertmanager.yml").write_text(
        "route: {receiver: ik, group_by: [alertname], group_wait: 1s, group_interval: 2s, repeat_interval: 1h}\n"
        "receivers:\n- name: ik\n  webhook_configs:\n"
        f"  - url: http://127.0.0.1:{ik_port}/alerts/alertmanager\n    send_resolved: true\n"
        f"    http_config: {{authorization: {{type: Bearer, credentials: {TOKEN}}}}}\n")

    server = Server(tmp_path, ik_port, args=["-c", "routes.yaml", "--workers", "1"], env={
        "INCIDENT_KIT_WEBHOOK_TOKEN": TOKEN, "INCIDENT_KIT_NOTIFY_URL": f"http://127.0.0.1:{exp_port}/notify",
        "INCIDENT_KIT_HEARTBEAT": "1"})
    am = prom = None
    try:
        server.start()
        am = _start(["prometheus-alertmanager", f"--config.file={tmp_path / 'alertmanager.yml'}",
                     f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
                     "--cluster.listen-address="], tmp_path / "am.log", f"http://127.0.0.1:{am_port}/-/ready")
        prom = _start(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                       f"--storage.tsdb.path={tmp_path / 'prom-data'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
                      tmp_path / "prom.log", f"http://127.0.0.1:{prom_port}/-/ready")

        # Firing -> a run -> within 60 s a report whose summary.json carries the alert.
        def firing_in_prometheus() -> bool:
            alerts = httpx.get(f"http://127.0.0.1:{prom_port}/api/v1/alerts").json()["data"]["alerts"]
            return any(a["labels"]["alertname"] == "IkE2EFault" and a["state"] == "firing" for a in alerts)

        wait_for(firing_in_prometheus, 30, 0.5, "Prometheus to fire IkE2EFault")
        fired_at = time.monotonic()

        def finished_run() -> dict | None:
            runs = httpx.get(f"{server.url}/runs").json()["runs"]
            done = [r for r in runs if r["state"] in ("ok", "degraded", "failed")]
            return done[0] if done else None

        run = wait_for(finished_run, 60, 0.5, "the report of the alert's run")
        took = time.monotonic() - fired_at
        print(f"\ne2e: report {took:.1f}s after Prometheus fired; run {run['run_id']} state {run['state']}")
        assert took < 60
        assert run["state"] == "ok", run
        assert run["scenario"] == "checkout_fault"
        run_dir = tmp_path / "reports" / run["run_id"]
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["alert"]["labels"]["alertname"] == "IkE2EFault"
        assert summary["alert"]["labels"]["service"] == "checkout"
        assert summary["alert"]["status"] == "firing"
        assert (run_dir / "report.html").exists() and (run_dir / "notebook.ipynb").exists()
        nb = json.loads((run_dir / "notebook.ipynb").read_text())
        injected = "".join("".join(c["source"]) for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
        values: dict = {}
        exec(injected, {}, values)
        # The route's file < the route's parameters < the alert (its label and its start time).
        assert values["service"] == "checkout" and values["alertname"] == "IkE2EFault"
        assert values["team"] == "from-the-route"
        assert values["start"] != "-6h" and values["start"] < summary["alert"]["starts_at"]
        assert httpx.get(f"{server.url}/reports/{run['run_id']}/report.html").status_code == 200
        assert httpx.get(f"{server.url}/reports/.incident-kit/ledger.sqlite").status_code == 404
        note = wait_for(lambda: _State.notifications[:1], 10, 0.2, "the notification")[0]
        assert note["run_id"] == run["run_id"] and note["report_url"].endswith(f"/reports/{run['run_id']}/report.html")
        assert "IkE2EFault" in note["text"]
        html_before = (run_dir / "report.html").stat().st_mtime
        assert 'id="communication"' in (run_dir / "report.html").read_text() and (run_dir / "report.md").exists()

        # The rule stops firing -> Alertmanager's resolved notice -> the run records the resolution.
        _State.fault = 0

        def resolved() -> dict | None:
            r = httpx.get(f"{server.url}/runs/{run['run_id']}").json()
            return r if r["resolved_at"] and r["resolution_applied"] else None

        after = wait_for(resolved, 60, 0.5, "the resolution to be recorded")
        assert [a["action"] for a in after["alerts"]][-1] == "resolved"
        assert after["state"] == "ok" and len(httpx.get(f"{server.url}/runs").json()["runs"]) == 1
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["alert"]["status"] == "resolved" and summary["alert"]["ends_at"] == after["resolved_at"]
        assert any(e["kind"] == "recovery" for e in summary["timeline"])
        assert (run_dir / "report.html").stat().st_mtime > html_before
        html = (run_dir / "report.html").read_text()
        assert "resolved (recovery)" in html
        # The re-render keeps what the first render had: the communication drafts, and report.md too.
        assert 'id="communication"' in html and "INCIDENT RESOLVED" in html
        md = (run_dir / "report.md").read_text()
        assert "## Communication drafts" in md and "resolved (recovery)" in md
        assert TOKEN not in html and TOKEN not in md
    finally:
        stop_process(prom)
        stop_process(am)
        server.stop()
        exporter.shutdown()
        exporter.server_close()
