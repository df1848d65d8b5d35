"""Helper processes of the stages: a real redis-server, small Python services, stopped by pid.

Every process is started on loopback and registered with ``env.on_stop`` so the environment
stops it (SIGTERM, then SIGKILL after a few seconds) whatever happens.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import RunError
from .pgcluster import free_port

if TYPE_CHECKING:
    from .stages.context import StageContext


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    """Stop ``proc`` by pid: SIGTERM, then SIGKILL after ``timeout_s``. Safe when already gone."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 15.0) -> None:
    """Wait until 127.0.0.1:``port`` accepts connections; raises RunError if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RunError(f"demo: {what} exited with code {proc.returncode} before listening on 127.0.0.1:{port}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RunError(f"demo: {what} did not listen on 127.0.0.1:{port} within {timeout_s:.0f}s")


def start(env: "StageContext", args: list[str], what: str, port: int | None = None,
          log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start ``args`` (stopped at env stop), wait for ``port`` when given; returns the process.
    Raises RunError when it cannot start or does not listen."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT if log else subprocess.DEVNULL)
    except OSError as exc:
        raise RunError(f"demo: cannot start {what}: {exc.strerror or exc}") from None
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    env.processes.append(proc)
    env.on_stop(lambda: stop_process(proc))
    if port is not None:
        wait_port(port, proc, what)
    return proc


def start_redis(env: "StageContext") -> tuple[subprocess.Popen[bytes], str]:
    """Start a real redis-server on a free loopback port (no persistence); returns (process, URL).
    Raises RunError when redis-server is missing or does not start."""
    port = free_port()
    data = env.workdir / "redis"
    data.mkdir(exist_ok=True)
    proc = start(env, ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                       "--dir", str(data), "--protected-mode", "no", "--logfile", str(data / "redis.log")],
                 "redis-server", port)
    return proc, f"redis://127.0.0.1:{port}/0"


def start_module(env: "StageContext", module: str, *args: str, what: str, port: int | None = None,
                 nice: int = 0) -> subprocess.Popen[bytes]:
    """Start ``python -m incident_kit.demo.<module> args`` (niced by ``nice``); returns the process."""
    cmd = [sys.executable, "-m", f"incident_kit.demo.{module}", *args]
    if nice:
        cmd = ["nice", "-n", str(nice), *cmd]
    return start(env, cmd, what, port, log=env.workdir / f"{module}.out")


__all__ = ["start", "start_module", "start_redis", "stop_process", "wait_port"]
