"""`incident-kit serve` API details on a real server: OpenAPI document, filters and one-line 4xx
errors, the per-run timeout (a run killed and marked timed_out), a failing notification webhook
that never fails the run, no token in the logs; and the refusals at start (no token beyond
loopback, unreachable Redis, bad routes file) as one-line errors with exit code 1."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from incident_kit.demo.pgcluster import free_port
from serve_support import PYTHON, Server, wait_for, write_notebook

TOKEN = "api-token-5f0c9d2e7a41"


@pytest.mark.slow
def test_api_timeout_and_failing_notification(tmp_path: Path) -> None:
    write_notebook(tmp_path / "notebooks", "sleepy")
    closed = free_port()
    server = Server(tmp_path, free_port(), args=["--workers", "1"], env={
        "INCIDENT_KIT_WEBHOOK_TOKEN": TOKEN, "INCIDENT_KIT_SERVE_RUN": "serve_fake:fake_run", "IK_FAKE_RUN_SLEEP": "30",
        "INCIDENT_KIT_RUN_TIMEOUT": "2", "INCIDENT_KIT_HEARTBEAT": "0.5",
        "INCIDENT_KIT_NOTIFY_URL": f"http://127.0.0.1:{closed}/hooks/{TOKEN}"})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        server.start()
        doc = httpx.get(f"{server.url}/openapi.json").json()
        assert doc["openapi"].startswith("3.") and {"/alerts/{kind}", "/healthz", "/runs", "/runs/{run_id}"} <= set(doc["paths"])
        assert doc["paths"]["/alerts/{kind}"]["post"]["responses"]["413"]
        assert set(doc["components"]["securitySchemes"]) == {"bearer", "hmac"}

        r = httpx.post(f"{server.url}/alerts/pagerduty", json={}, headers=auth)
        assert r.status_code == 404 and "unknown webhook kind" in r.json()["error"]
        assert httpx.get(f"{server.url}/alerts/generic").status_code == 405
        r = httpx.post(f"{server.url}/alerts/generic", json={"name": "X", "labels": {"scenario": "nope"}}, headers=auth)
        assert r.status_code == 422 and "unknown scenario 'nope'" in r.json()["error"]
        r = httpx.post(f"{server.url}/alerts/generic", headers=auth, content=b"[" * 200000 + b"]" * 200000)
        assert r.status_code == 400 and "nested too deeply" in r.json()["error"]
        r = httpx.post(f"{server.url}/alerts/generic", headers={**auth, "Authorization": "Basic abc"}, json={})
        assert r.status_code == 401 and "Bearer" in r.json()["error"]

        r = httpx.post(f"{server.url}/alerts/generic", json={"name": "Slow", "labels": {"scenario": "sleepy"}}, headers=auth)
        assert r.status_code == 202
        run_id = r.json()["alerts"][0]["run_id"]
        run = wait_for(lambda: (lambda x: x if x["state"] == "timed_out" else None)(
            httpx.get(f"{server.url}/runs/{run_id}").json()), 30, 0.3, "the run to time out")
        assert "timeout of 2 s" in run["error"]
        run = wait_for(lambda: (lambda x: x if x["notify_error"] else None)(
            httpx.get(f"{server.url}/runs/{run_id}").json()), 10, 0.3, "the notification attempt")
        assert run["state"] == "timed_out" and run["notify_error"] == "notification failed: ConnectError"
        assert TOKEN not in run["notify_error"]

        assert httpx.get(f"{server.url}/runs", params={"state": "bogus"}).status_code == 400
        assert httpx.get(f"{server.url}/runs", params={"limit": "x"}).status_code == 400
        assert [x["run_id"] for x in httpx.get(f"{server.url}/runs", params={"state": "timed_out"}).json()["runs"]] == [run_id]
        assert httpx.get(f"{server.url}/runs", params={"scenario": "other"}).json()["runs"] == []
        assert httpx.get(f"{server.url}/runs/20990101T000000Z-x-000000").status_code == 404
        assert httpx.get(f"{server.url}/reports/../server.log").status_code == 404
    finally:
        server.stop()
    assert TOKEN not in server.log.read_text()
    assert all(TOKEN not in p.read_text() for p in (tmp_path / "reports" / ".incident-kit" / "logs").iterdir())


def _serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([PYTHON, "-m", "incident_kit", "serve", *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={k: v for k, v in {**os.environ, **(env or {})}.items()
                                           if k != "INCIDENT_KIT_WEBHOOK_TOKEN" or env})


@pytest.mark.parametrize("args, needle", [
    (["--host", "0.0.0.0"], "refusing to listen on 0.0.0.0 without a webhook token"),
    (["--queue", "redis://127.0.0.1:{closed}/0"], "Redis not reachable"),
    (["-c", "missing-routes.yaml"], "routes file missing-routes.yaml: not found"),
    (["--queue", "amqp://x"], "expected 'local' or a redis:// URL"),
])
def test_serve_refuses_to_start_with_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    args = [a.replace("{closed}", str(free_port())) for a in args]
    r = _serve(tmp_path, "--port", str(free_port()), *args)
    assert r.returncode == 1, r.stderr
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
