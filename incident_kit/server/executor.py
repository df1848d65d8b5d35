"""Supervision of one run: claim it in the ledger, execute it in a child process, record the end.

Used the same way by the local queue (a thread per concurrent run) and by huey workers (the
task body). The child (``python -m incident_kit.server.child``) runs in its own process group;
the supervisor heartbeats the run in the ledger while it waits, kills the group when the run
timeout expires (state ``timed_out``), then applies a pending resolution and sends the
notification. A notification failure is recorded on the run, never fails it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .ledger import Ledger, worker_name

log = logging.getLogger("incident_kit.serve")

_STATES = {"ok": "ok", "degraded": "degraded", "failed": "failed"}


#: Runs start at a lower priority from their first instruction (interpreter start-up included),
#: so a burst of runs never takes the CPU from the webhook server; no preexec_fn, so vfork stays usable.
_NICE: list[str] = ["nice", "-n", "10"] if shutil.which("nice") else []


@dataclass
class ExecSettings:
    """What a supervisor needs: where the ledger and reports are, limits, hooks."""

    ledger_url: str
    out_dir: str
    run_timeout: float = 900.0
    cell_timeout: float | None = None
    heartbeat_s: float = 5.0
    notify_url: str | None = None
    public_url: str | None = None
    run_func: str | None = None
    cwd: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def stale_after_s(self) -> float:
        """Return how long without a heartbeat before a running run counts as interrupted."""
        return max(self.heartbeat_s * 4, 2.0)


class Supervisor:
    """Executes queued runs of one ledger; ``stop()`` kills the children it started."""

    def __init__(self, settings: ExecSettings, ledger: Ledger | None = None) -> None:
        self.settings = settings
        self.ledger = ledger or Ledger(settings.ledger_url)
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    # -- child processes ------------------------------------------------------------------
    def _spawn(self, spec: dict[str, Any], log_path: Path) -> subprocess.Popen[bytes]:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.settings.extra_env, "PYTHONUNBUFFERED": "1"}
        with open(log_path, "ab") as logf:
            proc = subprocess.Popen(
                [*_NICE, sys.executable, "-m", "incident_kit.server.child"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=logf, cwd=self.settings.cwd, env=env, start_new_session=True,
            )
        with self._lock:
            self._children[proc.pid] = proc
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(spec).encode())
            proc.stdin.close()
        except BrokenPipeError:  # the child died at once: _wait reports it as a failed run
            pass
        return proc

    def _kill(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()

    def _wait(self, proc: subprocess.Popen[bytes], run_id: str | None, worker: str,
              deadline: float | None) -> tuple[dict[str, Any] | None, str | None]:
        """Wait for the child, heartbeating; returns (result, None) or (None, 'timed_out'|'stopped')."""
        try:
            while True:
                try:
                    proc.wait(timeout=self.settings.heartbeat_s)
                    break
                except subprocess.TimeoutExpired:
                    if self.stopping.is_set():
                        self._kill(proc)
                        return None, "stopped"
                    if deadline is not None and time.monotonic() > deadline:
                        self._kill(proc)
                        return None, "timed_out"
                    if run_id is not None:
                        self.ledger.heartbeat(run_id, worker)
            if self.stopping.is_set() and proc.returncode != 0:
                return None, "stopped"  # killed by stop(): not a result
            assert proc.stdout is not None
            out = proc.stdout.read().decode("utf-8", "replace").strip()
            try:
                return json.loads(out.splitlines()[-1]) if out else None, None
            except json.JSONDecodeError:
                return None, None
        finally:
            with self._lock:
                self._children.pop(proc.pid, None)

    def stop(self) -> None:
        """Kill every child still running (their runs are recovered on the next start)."""
        self.stopping.set()
        with self._lock:
            procs = list(self._children.values())
        for p in procs:
            self._kill(p)

    # -- one run --------------------------------------------------------------------------
    def execute(self, run_id: str) -> str | None:
        """Claim and execute one queued run; returns its final state (None if not claimed)."""
        if self.stopping.is_set():
            return None
        worker = f"{worker_name()}:{threading.get_native_id()}"
        run = self.ledger.claim(run_id, worker)
        if run is None:
            return None
        s = self.settings
        spec = {"mode": "run", "parent_pid": os.getpid(), "run_id": run_id, "scenario": run["scenario"], "alert": run["alert"],
                "route": run["route"], "out_dir": str(Path(s.out_dir).resolve()),
                "cell_timeout": s.cell_timeout, "run_func": s.run_func}
        log_path = Path(s.out_dir) / ".incident-kit" / "logs" / f"{run_id}.log"
        proc = self._spawn(spec, log_path)
        result, why = self._wait(proc, run_id, worker, time.monotonic() + s.run_timeout)
        if why == "stopped":
            return None  # left running with a stale heartbeat: recovered (retried once) on restart
        report_dir = Path(s.out_dir) / run_id
        fields: dict[str, Any] = {}
        if (report_dir / "report.html").exists():
            fields["report_path"] = str(report_dir / "report.html")
        if why == "timed_out":
            state = "timed_out"
            fields["error"] = f"run exceeded its timeout of {s.run_timeout:g} s and was stopped"
        elif result is None:
            state = "failed"
            fields["error"] = f"run process exited with code {proc.returncode} (see {log_path.name})"
        else:
            state = _STATES.get(str(result.get("status")), "failed")
            fields.update(status=result.get("status"), headline=result.get("headline"), severity=result.get("severity"))
            if result.get("error"):  # else keep a note such as "interrupted on attempt 1 ...; retried"
                fields["error"] = result["error"]
        if not self.ledger.finish(run_id, worker, state, **fields):
            log.warning("run %s: finished after it was taken over; result not recorded", run_id)
            return None
        self.resolve(run_id)
        self._notify(run_id)
        return state

    def resolve(self, run_id: str) -> bool:
        """Apply a recorded resolution to a finished run's report; returns True when applied."""
        run = self.ledger.get(run_id)
        if not run or not run["resolved_at"] or run["resolution_applied"] or run["state"] not in ("ok", "degraded", "failed", "timed_out"):
            return False
        run_dir = Path(self.settings.out_dir).resolve() / run_id
        if not (run_dir / "summary.json").exists():  # no report to re-render: the ledger has the end time
            self.ledger.update(run_id, resolution_applied=True)
            return False
        from .resolution import apply

        try:
            needs_render = apply(run_dir, run["resolved_at"], render=False)
        except (OSError, ValueError) as exc:
            self.ledger.update(run_id, error=f"resolution not applied: {exc}")
            return False
        if needs_render:  # nbconvert is heavy: re-render in a child process
            spec = {"mode": "resolve", "parent_pid": os.getpid(), "dir": str(run_dir), "resolved_at": run["resolved_at"]}
            proc = self._spawn(spec, Path(self.settings.out_dir) / ".incident-kit" / "logs" / f"{run_id}.log")
            result, _ = self._wait(proc, None, "", time.monotonic() + 120)
            if not result or result.get("status") != "ok":
                self.ledger.update(run_id, error=f"resolution not applied: {(result or {}).get('error', 'child failed')}")
                return False
        self.ledger.update(run_id, resolution_applied=True)
        return True

    def _notify(self, run_id: str) -> None:
        s = self.settings
        if not s.notify_url:
            return
        from .notify import send

        run = self.ledger.get(run_id) or {}
        url = f"{s.public_url.rstrip('/')}/reports/{run_id}/report.html" if s.public_url and run.get("report_path") else None
        err = send(s.notify_url, run, url)
        if err:
            log.warning("run %s: %s", run_id, err)
            self.ledger.update(run_id, notify_error=err)


__all__ = ["ExecSettings", "Supervisor"]
