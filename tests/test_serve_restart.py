"""Restart: kill `incident-kit serve` with runs queued and running, start it again, and find every
run completed or marked; an interrupted run is retried once, and marked `interrupted` if it is
interrupted again. Runs use the injected serve_fake:fake_run sleeping 3 s (a real papermill run
would make the timing depend on a loaded 2-core machine); the real runner is in test_serve_e2e.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from incident_kit.demo.pgcluster import free_port
from serve_support import Server, wait_for, write_notebook


def _runs(server: Server) -> list[dict]:
    return httpx.get(f"{server.url}/runs", params={"limit": 100}, timeout=10).json()["runs"]


def _children_in(cwd: Path) -> list[int]:
    """Return pids of run processes (incident_kit.server.child) whose working directory is cwd."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"incident_kit.server.child" in cmd and Path(os.readlink(f"/proc/{pid}/cwd")) == cwd:
                found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.mark.slow
def test_restart_recovers_queued_and_interrupted_runs(tmp_path: Path) -> None:
    write_notebook(tmp_path / "notebooks", "slow_one")
    port = free_port()
    env = {"INCIDENT_KIT_SERVE_RUN": "serve_fake:fake_run", "IK_FAKE_RUN_SLEEP": "3", "INCIDENT_KIT_HEARTBEAT": "0.5"}
    server = Server(tmp_path, port, args=["--workers", "2"], env=env)
    try:
        server.start()
        for i in range(5):
            r = httpx.post(f"{server.url}/alerts/generic", json={"name": f"Slow{i}", "labels": {"scenario": "slow_one"}})
            assert r.status_code == 202, r.text
        running = wait_for(lambda: [r for r in _runs(server) if r["state"] == "running"] if len(
            [r for r in _runs(server) if r["state"] == "running"]) == 2 else None, 30, 0.2, "two running runs")
        assert sum(r["state"] == "queued" for r in _runs(server)) == 3

        # 1. SIGKILL: the server dies at once; its run processes die with it (no orphans).
        server.kill_hard()
        wait_for(lambda: not _children_in(tmp_path), 10, 0.2, "run processes to die with the server")
        first = {r["run_id"] for r in running}

        server.start()
        retried = wait_for(lambda: (lambda rs: rs if len(rs) == 2 else None)(
            [r for r in _runs(server) if r["run_id"] in first and r["state"] == "running" and r["attempts"] == 2]),
            30, 0.2, "the two interrupted runs to be retried")
        assert all("interrupted on attempt 1" in (r["error"] or "") for r in retried)

        # 2. SIGTERM while a retried run is running: that run used its retry, so it is marked interrupted.
        second = {r["run_id"] for r in retried}
        server.stop()
        server.start()

        def settled() -> list[dict] | None:
            rows = _runs(server)
            return rows if all(r["state"] not in ("queued", "running") for r in rows) else None

        final = {r["run_id"]: r for r in wait_for(settled, 60, 0.3, "every run to end")}
        assert len(final) == 5
        for run_id, r in final.items():
            if run_id in second:
                assert r["state"] == "interrupted" and r["attempts"] == 2, r
                assert "not retried again" in r["error"]
            else:
                assert r["state"] == "ok", r
                assert (tmp_path / "reports" / run_id / "summary.json").exists()
                assert r["attempts"] == (2 if run_id in first else 1), r
    finally:
        server.stop()
