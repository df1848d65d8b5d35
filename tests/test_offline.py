"""`incident-kit run --offline` / INCIDENT_KIT_OFFLINE=1: nothing beyond this machine is contacted.

The suite runs in a loopback-only namespace anyway; these tests tell the two apart: an offline
refusal is raised before any packet (its message says "offline:"), where the namespace alone
would give "network is unreachable".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from incident_kit.importer import import_runbook
from incident_kit.offline import ENV, host_of, is_loopback, refusal

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "incident_kit"]


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def do_HEAD(self) -> None:  # noqa: N802
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def local_http():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("host, local", [
    ("127.0.0.1", True), ("127.3.4.5", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("api.localhost", True), ("0.0.0.0", True), ("::ffff:127.0.0.1", True), (None, True),
    ("192.0.2.1", False), ("10.0.0.1", False), ("api.mux.com", False), ("localhost.example.com", False),
])
def test_what_counts_as_this_machine(host: str | None, local: bool) -> None:
    assert is_loopback(host) is local


def test_refusal_names_the_host_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert refusal("https://api.mux.com/health") is None  # off: nothing refused
    monkeypatch.setenv(ENV, "1")
    assert host_of("https://user:pw@api.mux.com:8443/x") == "api.mux.com"
    assert refusal("http://127.0.0.1:8080/x") is None
    reason = refusal("https://api.mux.com/health")
    assert reason.startswith("offline: target api.mux.com ") and "\n" not in reason


def test_every_socket_use_beyond_loopback_is_refused_in_an_offline_process(local_http: str) -> None:
    code = f"""
import socket, httpx, incident_kit
out = {{}}
for what, call in [("connect", lambda: socket.create_connection(("192.0.2.1", 80), timeout=2)),
                   ("dns", lambda: socket.getaddrinfo("example.com", 443)),
                   ("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.1", 53))),
                   ("httpx", lambda: httpx.get("https://192.0.2.1/", timeout=2))]:
    try:
        call()
        out[what] = "sent"
    except Exception as exc:
        out[what] = str(exc)
out["local"] = httpx.get({local_http!r}, timeout=5).status_code
print(out)
"""
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, ENV: "1"}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = eval(done.stdout.strip().splitlines()[-1])  # noqa: S307 - our own dict literal
    assert out["local"] == 200
    for what in ("connect", "dns", "udp", "httpx"):
        assert out[what].startswith("offline:"), (what, out[what])


def test_run_offline_dry_runs_an_imported_runbook(shared_dir: Path, tmp_path: Path) -> None:
    runbook = next(p for p in sorted((shared_dir / "runbooks").glob("*.md")) if "ainative" in p.read_text())
    notebook = tmp_path / "imported.ipynb"
    import_runbook(runbook, notebook)
    assert "`www.ainative.studio`" in "".join(json.loads(notebook.read_text())["cells"][0]["source"])  # the intro says so
    env = {k: v for k, v in os.environ.items() if k != ENV}
    done = subprocess.run([*CLI, "run", "--offline", "--quiet", str(notebook), "--out", str(tmp_path / "reports")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = Path(done.stdout.strip().splitlines()[-1])
    summary = json.loads((report.parent / "summary.json").read_text())
    probes = [s for s in summary["sources"] if s["name"].startswith("probe:")]
    assert probes and all(s["status"] == "skipped" for s in probes), probes
    assert all("offline: target www.ainative.studio " in s["error"] for s in probes), probes
    assert summary["status"] != "failed"
