"""Helpers for the `incident-kit serve` tests: a real server process, a fast injected run function,
trivial scenario notebooks. Every process started here is stopped by pid.

The storm and restart tests inject serve_fake.fake_run (INCIDENT_KIT_SERVE_RUN=serve_fake:fake_run)
because 200 papermill kernels would swamp the 2 shared cores; the end-to-end test uses the real runner.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat

from waiting import wait_http, wait_until

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
PYTHON = sys.executable


def write_notebook(directory: Path, name: str, code: str = "print('looked at', service)") -> Path:
    """Write a trivial scenario notebook (a parameters cell and one code cell) into directory/name.ipynb."""
    directory.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(
        'start = None\nend = None\nservice = "unknown"\noutput_dir = "."\nalertname = ""\nteam = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}\nA trivial scenario for tests."), params,
                nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = directory / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path


class Server:
    """`incident-kit serve` as a real process (own process group) in `cwd`; stop() kills it by pid."""

    def __init__(self, cwd: Path, port: int, *, env: dict[str, str] | None = None, args: list[str] = ()) -> None:
        self.cwd, self.port, self.args = cwd, port, list(args)
        self.env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                    **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = cwd / f"server-{port}.log"
        self.url = f"http://127.0.0.1:{port}"

    def start(self, timeout: float = 30) -> "Server":
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "incident_kit", "serve", "--port", str(self.port), *self.args],
            cwd=self.cwd, env=self.env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()
        try:
            wait_http(f"{self.url}/healthz", self.proc, "incident-kit serve", timeout_s=timeout, log=self.log)
        except BaseException:
            self.stop()
            raise
        return self

    def kill_hard(self) -> None:
        """SIGKILL the server's whole process group (the server and the runs it started)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL the process group if it does not exit within 10 s."""
        if not self.proc or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        except ProcessLookupError:
            pass


def wait_for(predicate: Any, timeout: float, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll predicate() until it returns a truthy value; returns it, or fails the test naming ``what``."""
    return wait_until(lambda: predicate() or None, timeout, what, interval_s=interval)
