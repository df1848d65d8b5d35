"""No test reaches beyond this machine: the suite runs in a network namespace with only loopback.

The guard is shown, not assumed: from the test process and from a notebook kernel started by
papermill, a connection to a non-loopback address (TEST-NET-1, reserved for documentation) and a
DNS look-up fail at once, while loopback works. ``conftest.pytest_configure`` refuses to start the
suite anywhere else, so these requests can never leave the machine.
"""

from __future__ import annotations

import errno
import json
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import network_interfaces

OUTSIDE = ("192.0.2.1", 80)  # TEST-NET-1 (RFC 5737): never a real host

PROBE_CODE = f"""
import errno, json, socket
result = {{}}
try:
    socket.create_connection({OUTSIDE!r}, timeout=3).close()
    result["connect"] = "connected"
except OSError as exc:
    result["connect"] = exc.errno
try:
    socket.getaddrinfo("example.com", 443)
    result["dns"] = "resolved"
except OSError as exc:
    result["dns"] = "failed"
print(json.dumps(result))
"""


def test_the_suite_runs_with_only_loopback() -> None:
    assert network_interfaces() == ["lo"]
    assert Path("/proc/self/net/route").read_text().strip().count("\n") == 0  # header only: no route anywhere


def test_an_outside_request_fails_from_the_test_process() -> None:
    with pytest.raises(OSError) as caught:
        socket.create_connection(OUTSIDE, timeout=3).close()
    assert caught.value.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH)
    with pytest.raises(OSError):
        socket.getaddrinfo("example.com", 443)
    with socket.socket() as server:  # loopback still works
        server.bind(("127.0.0.1", 0))
        server.listen()
        socket.create_connection(server.getsockname(), timeout=3).close()


def test_an_outside_request_fails_from_a_notebook_kernel(tmp_path: Path) -> None:
    import papermill

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(PROBE_CODE))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source, out = tmp_path / "probe.ipynb", tmp_path / "probed.ipynb"
    nbformat.write(nb, str(source))
    papermill.execute_notebook(str(source), str(out), kernel_name="python3", progress_bar=False)
    text = "".join(o.get("text", "") for o in nbformat.read(str(out), as_version=4).cells[0].outputs)
    result = json.loads(text.strip().splitlines()[-1])
    assert result["connect"] in (errno.ENETUNREACH, errno.EHOSTUNREACH), result
    assert result["dns"] == "failed", result


def test_loopback_only_script_refuses_without_root(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "scripts" / "loopback-only.sh"
    done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(script), "true"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and "refusing to run the tests unguarded" in done.stderr


def test_pytest_refuses_to_start_outside_a_loopback_only_namespace(tmp_path: Path) -> None:
    """Seen from a namespace with a second interface pair (veth, linked to nothing outside)."""
    conftest_dir = Path(__file__).resolve().parent
    script = (f"ip link add probe0 type veth peer name probe1 && ip link set lo up && cd {conftest_dir.parent} && "
              f"{sys.executable} -m pytest -q -p no:cacheprovider {conftest_dir / 'test_loopback_only.py'}"
              "::test_the_suite_runs_with_only_loopback")
    done = subprocess.run(["unshare", "--net", "bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "tests must run where only loopback exists" in done.stdout + done.stderr
    assert "probe0" in done.stdout + done.stderr
