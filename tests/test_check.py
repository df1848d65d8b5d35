"""`incident-kit check`: one line per configured source, ok with latency or the one-line reason."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from incident_kit import cli
from incident_kit.demo.pgcluster import free_port

pytestmark = pytest.mark.slow  # real services on loopback

ROOT = Path(__file__).resolve().parents[1]


class _Health(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        code = {"/health": 200, "/missing": 404, "/ready": 200}.get(self.path, 503)
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@pytest.fixture(scope="module")
def web():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def env_file(tmp_path: Path, pg_cluster, web: str, monkeypatch) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    subprocess.run(["git", "-C", str(tmp_path / "repo"), "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q",
                    "--allow-empty", "-m", "first"], check=True)
    (tmp_path / "deploys.jsonl").write_text(json.dumps({"ts": "2026-01-31T14:00:00Z", "text": "deploy"}) + "\n")
    (tmp_path / "app.log").write_text("x\n")
    monkeypatch.setenv("IK_CHECK_DB", pg_cluster.url())
    params = {
        "database_url": "env:IK_CHECK_DB",
        "prometheus_url": f"http://127.0.0.1:{free_port()}",
        "redis_url": f"redis://:topsecret@127.0.0.1:{free_port()}/0",
        "probe_targets": [f"{web}/health", f"{web}/down"],
        "git_repo": str(tmp_path / "repo"),
        "deploy_events": str(tmp_path / "deploys.jsonl"),
        "logs": [str(tmp_path / "*.log"), str(tmp_path / "nothing-*.gz"),
                 f"loki+{web}/?query=" + '{app="shop"}'],  # a log store: its health endpoint is asked
        "service": "shop",
        "loki_url": f"{web}/missing",  # a service base URL: any answer but 5xx/401/403 means reachable
    }
    path = tmp_path / "staging.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_check_prints_one_line_per_source(env_file: Path, web: str, capsys) -> None:
    started = time.monotonic()
    code = cli.main(["check", "-f", str(env_file), "--timeout", "3"])
    assert time.monotonic() - started < 8
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert len(out) == 12 and out[-1] == "7 of 11 sources ok"
    by_param = {}
    for line in out[:-1]:
        by_param.setdefault(line.split()[2], []).append(line)
    db = by_param["database_url"][0]
    assert db.startswith("ok") and "env:IK_CHECK_DB" in db and " ms " in db and "PostgreSQL" in db
    assert by_param["prometheus_url"][0].startswith("FAIL") and "refused" in by_param["prometheus_url"][0].lower()
    redis_line = by_param["redis_url"][0]
    assert redis_line.startswith("FAIL") and "topsecret" not in redis_line and ":***@" in redis_line
    health, down = by_param["probe_targets"]
    assert health.startswith("ok") and "HTTP 200" in health
    assert down.startswith("FAIL") and "503" in down
    assert by_param["git_repo"][0].startswith("ok") and "last commit" in by_param["git_repo"][0]
    assert by_param["deploy_events"][0].startswith("ok") and "1 events" in by_param["deploy_events"][0]
    assert by_param["loki_url"][0].startswith("ok") and "HTTP 404" in by_param["loki_url"][0]
    logs_ok, logs_missing, loki = by_param["logs"]
    assert logs_ok.startswith("ok") and "1 file(s)" in logs_ok
    assert logs_missing.startswith("FAIL") and "no file matches" in logs_missing
    assert loki.startswith("ok") and "HTTP 200" in loki and "loki+http://" in loki


def test_check_parameter_overrides_and_errors(env_file: Path, capsys) -> None:
    assert cli.main(["check", "-f", str(env_file), "-p", "prometheus_url", "", "-p", "redis_url", "", "-p", "loki_url", "",
                     "-p", "probe_targets", "[]", "-p", "logs", "[]"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "3 of 3 sources ok"
    empty = env_file.with_name("empty.yaml")
    empty.write_text("service: shop\n")
    assert cli.main(["check", "-f", str(empty)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("incident-kit: error: no source is configured in") and err.count("\n") == 1


def test_check_as_a_command_has_no_traceback(tmp_path: Path) -> None:
    params = tmp_path / "prod.yaml"
    params.write_text(f"database_url: postgresql://u:pw@127.0.0.1:{free_port()}/x\n")
    r = subprocess.run([sys.executable, "-m", "incident_kit", "check", "-f", str(params), "--timeout", "2"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stderr + r.stdout
    assert r.stdout.startswith("FAIL  postgresql database_url") and "u:***@" in r.stdout


def test_check_missing_parameter_file(tmp_path: Path, capsys) -> None:
    assert cli.main(["check", "-f", str(tmp_path / "nope.yaml")]) == 1
    assert "nope.yaml: not found" in capsys.readouterr().err
