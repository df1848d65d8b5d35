"""Distributed mode: `incident-kit serve --queue redis://... --workers 0` enqueues on huey over a real
redis-server, and two separate worker processes (`python -m incident_kit.server.worker`) execute
the runs, sharing the SQLite ledger and the reports directory. One worker is killed in the middle
of a run: the server's sweeper finds the dead worker and the run is retried by the other one.
Runs use the injected serve_fake:fake_run (1.5 s each) to keep the 2 shared cores free.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from incident_kit.demo.pgcluster import free_port
from serve_support import PYTHON, Server, wait_for, write_notebook


def _redis(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    assert shutil.which("redis-server"), "redis-server is not installed (Debian package redis-server)"
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    import redis

    def up() -> bool:
        try:
            return bool(redis.Redis(port=port).ping())
        except redis.RedisError:
            return False

    wait_for(up, 15, 0.1, "redis-server")
    return proc, port


@pytest.mark.slow
def test_two_huey_workers_on_real_redis(tmp_path: Path) -> None:
    write_notebook(tmp_path / "notebooks", "dist")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent), "INCIDENT_KIT_SERVE_RUN": "serve_fake:fake_run",
           "IK_FAKE_RUN_SLEEP": "1.5", "INCIDENT_KIT_HEARTBEAT": "0.5"}
    redis_proc, redis_port = _redis(tmp_path)
    queue = f"redis://127.0.0.1:{redis_port}/0"
    server = Server(tmp_path, free_port(), args=["--queue", queue, "--workers", "0"], env=env)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        server.start()
        for i in range(2):
            with open(tmp_path / f"worker{i}.log", "wb") as log:
                workers.append(subprocess.Popen(
                    [PYTHON, "-m", "incident_kit.server.worker", "--queue", queue, "--out", "reports", "--workers", "1"],
                    cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        assert httpx.get(f"{server.url}/healthz").json()["queue"] == "huey"
        for i in range(8):
            r = httpx.post(f"{server.url}/alerts/generic", json={"name": f"Dist{i}", "labels": {"scenario": "dist"}})
            assert r.status_code == 202, r.text

        # Once both workers have finished runs, kill worker 0 in the middle of its next one:
        # that run is recovered and retried by worker 1.
        def running_on_worker0() -> list[dict]:
            runs = httpx.get(f"{server.url}/runs").json()["runs"]
            done_by = {r["worker"].split(":")[1] for r in runs if r["state"] == "ok"}
            if done_by != {str(w.pid) for w in workers}:
                return []
            return [r for r in runs if r["state"] == "running" and r["worker"].split(":")[1] == str(workers[0].pid)]

        victim = wait_for(running_on_worker0, 30, 0.1, "a run on worker 0")[0]
        os.killpg(workers[0].pid, signal.SIGKILL)
        workers[0].wait(10)

        def all_done() -> list[dict] | None:
            runs = httpx.get(f"{server.url}/runs").json()["runs"]
            return runs if len(runs) == 8 and all(r["state"] == "ok" for r in runs) else None

        runs = wait_for(all_done, 90, 0.3, "8 runs to finish on the workers")
        pids = {r["worker"].split(":")[1] for r in runs}
        assert pids == {str(w.pid) for w in workers}
        by_worker0 = [r for r in runs if r["worker"].split(":")[1] == str(workers[0].pid)]
        retried = next(r for r in runs if r["run_id"] == victim["run_id"])
        assert retried["attempts"] == 2 and retried["worker"].split(":")[1] == str(workers[1].pid), retried
        assert "interrupted on attempt 1" in retried["error"]
        print(f"\nhuey: 8 runs, {len(by_worker0)} finished by worker 0 before it was killed, "
              f"{len(runs) - len(by_worker0)} by worker 1; victim retried: {retried['run_id']}")
        for r in runs:
            assert (tmp_path / "reports" / r["run_id"] / "summary.json").exists()
    finally:
        server.stop()
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGTERM)
                try:
                    w.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(w.pid, signal.SIGKILL)
                    w.wait(10)
        redis_proc.terminate()
        redis_proc.wait(10)
