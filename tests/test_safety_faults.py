"""Failure isolation and limits, end to end: a real triage run with its sources broken in each way
(connection refused, timed out, wrong password, garbage answer) still yields a full report marked
"degraded" with each failed source's reason; a kernel killed mid-run, or hung past the cell
timeout, still yields a report marked "failed" with the reason."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest

from incident_kit import catalog
from incident_kit.demo.pgcluster import free_port
from incident_kit.runner import run

from safety_world import Recorder, World

pytestmark = pytest.mark.slow

REASONS = {
    "refused": r"(?i)refused|could not connect|connect call failed",
    "timeout": r"(?i)time(d)?[ -]?out",
    "password": r"(?i)password|auth",
    "garbage": r"(?i)invalid|protocol|unexpected|malformed|lost|closed|received|garbage|parse|decode|not a",
}


class Listener:
    """A loopback TCP server that either holds connections silently (``garbage=None``) or answers
    every connection with ``garbage`` bytes and closes it."""

    def __init__(self, garbage: bytes | None = None) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.garbage = garbage
        self.held: list[socket.socket] = []
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            if self.garbage is None:
                self.held.append(conn)
            else:
                try:
                    conn.sendall(self.garbage)
                    time.sleep(0.05)
                finally:
                    conn.close()

    def close(self) -> None:
        self._stop = True
        self.thread.join(timeout=5)
        for c in self.held:
            c.close()
        self.sock.close()


@pytest.fixture(scope="module")
def faults(pg_cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    world = World(pg_cluster, root / "world", "faults")
    world.write_logs(["upstream connect error or disconnect/reset before headers"])
    world.write_changes(["release 3.1"])
    garbage_file = root / "garbage.log"
    garbage_file.write_bytes(os.urandom(4096) + b"\n\x00\xff not a log line <script>\n" * 50)
    blackhole = Listener()
    garbage = Listener(b"\x00\xff\xfeHTTP/9.9 garbage <script>x</script>\r\n\r\n" + os.urandom(256))
    redis_pw = secrets.token_hex(8)
    redis_port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--requirepass", redis_pw], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    closed = free_port()
    unauthorized = Recorder(status=401, body=b"unauthorized")
    cases = {
        "refused": {
            "database_url": pg_cluster.url(world.db, world.role, world.password).replace(f":{pg_cluster.port}/", f":{closed}/"),
            "redis_url": f"redis://127.0.0.1:{closed}/0", "probe_targets": [f"http://127.0.0.1:{closed}/health"],
        },
        "timeout": {
            "database_url": pg_cluster.url(world.db, world.role, world.password).replace(f":{pg_cluster.port}/", f":{blackhole.port}/"),
            "redis_url": f"redis://127.0.0.1:{blackhole.port}/0", "probe_targets": [f"http://127.0.0.1:{blackhole.port}/health"],
        },
        "password": {
            "database_url": pg_cluster.url(world.db, world.role, "wrong-" + secrets.token_hex(6)),
            "redis_url": f"redis://:wrong{secrets.token_hex(4)}@127.0.0.1:{redis_port}/0",
            "probe_targets": [f"{unauthorized.base}/health"],
        },
        "garbage": {
            "database_url": pg_cluster.url(world.db, world.role, world.password).replace(f":{pg_cluster.port}/", f":{garbage.port}/"),
            "redis_url": f"redis://127.0.0.1:{garbage.port}/0", "probe_targets": [f"http://127.0.0.1:{garbage.port}/health"],
            "deploy_events": str(garbage_file),
        },
    }
    out = root / "reports"
    results: dict[str, Any] = {}
    try:
        # The four runs mostly wait on their sources' timeouts: run them side by side.
        with ThreadPoolExecutor(max_workers=len(cases)) as pool:
            futures = {
                mode: pool.submit(run, "triage", {"logs": [str(world.logs)], "git_repo": str(world.git_repo),
                                                  "deploy_events": str(world.deploy_events), **broken},
                                  out_dir=out, timeout=180)
                for mode, broken in cases.items()
            }
            results = {mode: future.result() for mode, future in futures.items()}
    finally:
        world.close()
        blackhole.close()
        garbage.close()
        unauthorized.close()
        redis.terminate()
        redis.wait(timeout=10)
    return results


@pytest.mark.parametrize("mode", list(REASONS))
def test_broken_sources_degrade_the_report_with_their_reason(faults, mode: str) -> None:
    result = faults[mode]
    s = json.loads((result.dir / "summary.json").read_text())
    assert s["status"] == "degraded", (s["status"], s.get("error"))
    failed = {src["name"]: src["error"] for src in s["sources"] if src["status"] == "failed"}
    db_failed = {k: v for k, v in failed.items() if k.startswith("database")}
    assert db_failed, failed
    for name, reason in db_failed.items():
        assert re.search(REASONS[mode], reason), (name, reason)
        assert "\n" not in reason and len(reason) < 600
    assert all(f"{k}: {v}" in s["degraded_reasons"] for k, v in failed.items())
    ok = {src["name"] for src in s["sources"] if src["status"] == "ok"}
    assert "access logs" in ok or any("log" in n for n in ok), s["sources"]  # the rest is intact
    assert s["impact"] and s["headline"] and s["timeline"]
    html = (result.dir / "report.html").read_text()
    assert "Degraded" in html
    for section in ("Summary", "Impact", "Timeline", "Evidence", "Data completeness"):
        assert f">{section}</h2>" in html
    first = next(iter(db_failed.values()))
    import html as _html

    assert _html.escape(first[:60], quote=False) in html or first[:40] in html


def test_probe_failures_are_recorded_with_their_reason(faults) -> None:
    for mode in ("refused", "timeout", "garbage"):
        nb = (faults[mode].dir / "notebook.ipynb").read_text()
        assert re.search(REASONS[mode], nb), mode


def _kernel_children() -> list[psutil.Process]:
    """Return the kernels this process started (the runner's are its direct children; the kernels of
    conftest's ``staging`` workers, grandchildren, belong to other tests and are left alone)."""
    return [p for p in psutil.Process().children(recursive=False) if "ipykernel" in " ".join(p.cmdline())]


def _hanging_scenario(tmp: Path) -> Path:
    """Return a copy of the triage notebook whose step after the probes never returns (a source that hangs)."""
    import nbformat

    nb = nbformat.read(str(catalog.find("triage")), as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "probe_all" in c.source) + 1
    nb.cells.insert(at, nbformat.v4.new_code_cell("import time\ntime.sleep(900)  # a source that never answers"))
    path = tmp / "triage_hang.ipynb"
    nbformat.write(nb, str(path))
    return path


def _run_hanging(pg_cluster, tmp: Path, *, kill: bool, timeout: float) -> Any:
    world = World(pg_cluster, tmp / "world", "hang")
    world.write_logs(["upstream connect error"])
    notebook = _hanging_scenario(tmp)
    out = tmp / "reports"
    box: dict[str, Any] = {}

    def go() -> None:
        box["result"] = run(str(notebook), {"logs": [str(world.logs)], "database_url": world.database_url,
                                            "probe_targets": [f"{world.http.base}/health"], "git_repo": None,
                                            "deploy_events": None}, out_dir=out, timeout=timeout)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    try:
        if kill:
            deadline = time.monotonic() + 180
            partial = None
            while time.monotonic() < deadline and t.is_alive():  # the probes are recorded: the kernel is mid-run
                found = list(out.glob("*/summary.partial.json"))
                if found and "HTTP probes" in found[0].read_text(errors="replace"):
                    partial = found[0]
                    break
                time.sleep(0.3)
            assert partial is not None, "the kernel never got past the probes"
            time.sleep(3)  # into the hanging cell
            kernels = _kernel_children()
            assert kernels, "no kernel process found"
            for k in kernels:
                k.kill()
        t.join(timeout=300)
        assert not t.is_alive(), "the run did not finish"
    finally:
        world.close()
    return box["result"]


def test_kernel_killed_mid_run_still_leaves_a_failed_report(pg_cluster, tmp_path: Path) -> None:
    result = _run_hanging(pg_cluster, tmp_path, kill=True, timeout=600)
    s = json.loads((result.dir / "summary.json").read_text())
    assert s["status"] == "failed"
    assert re.search(r"(?i)dead|died|kernel", s["error"]), s["error"]
    html = (result.dir / "report.html").read_text()
    assert "did not complete" in html and ">Summary</h2>" in html
    probes = next(src for src in s["sources"] if src["name"] == "HTTP probes")
    assert probes["status"] == "ok"  # what was found before the kill is kept
    assert not _kernel_children()


def test_hung_cell_hits_the_timeout_and_leaves_a_failed_report(pg_cluster, tmp_path: Path) -> None:
    started = time.monotonic()
    result = _run_hanging(pg_cluster, tmp_path, kill=False, timeout=15)
    assert time.monotonic() - started < 300
    s = json.loads((result.dir / "summary.json").read_text())
    assert s["status"] == "failed"
    assert re.search(r"(?i)time(d)?[ -]?out", s["error"]), s["error"]
    assert "did not complete" in (result.dir / "report.html").read_text()
    assert any(src["name"] == "HTTP probes" and src["status"] == "ok" for src in s["sources"])
    assert not _kernel_children()
