"""A person in JupyterLab: open a scenario notebook, set its parameters, Run All, see the answer.

Starts a real `jupyter lab` on loopback and drives it with Debian's headless Chromium.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from browser import chromium
from waiting import stop_process, wait_http

from incident_kit.demo.pgcluster import free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[1]


def with_parameters(source: Path, dest: Path, params: dict) -> None:
    """Copy the notebook, replacing its parameters cell as a person editing it would."""
    nb = nbformat.read(str(source), as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    nbformat.write(nb, str(dest))


@pytest.fixture()
def lab(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", "--ServerApp.open_browser=False",
         "--LabApp.news_url=", "--allow-root", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "lab.log", "wb"), cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/api/status?token={token}", proc, "jupyter lab", timeout_s=60, log=tmp_path / "lab.log")
        yield base, token, tmp_path
    finally:
        stop_process(proc)


def test_run_all_in_jupyterlab_shows_the_answer(lab, demo_env):
    base, token, workdir = lab
    params = {**demo_env.parameters, "start": None, "end": None, "log_format": "auto", "bucket": "1min", "output_dir": None}
    with_parameters(ROOT / "notebooks" / "high_error_rate.ipynb", workdir / "high_error_rate.ipynb", params)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/lab/tree/high_error_rate.ipynb?token={token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-mod-idle, #jp-main-statusbar",
                               timeout=60_000)
        try:
            dialog = page.locator(".jp-Dialog button:has-text('Select')")
            try:
                dialog.click(timeout=15_000)                   # Lab asks which kernel: keep Python 3
            except Exception:
                pass                                           # no dialog this time
            page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=60_000)
            page.click("text=Run", timeout=20_000)              # the menu bar's Run menu
            page.click("text=Run All Cells", timeout=20_000)
            page.wait_for_selector("text=Most likely cause:", timeout=120_000)
        except Exception:
            page.screenshot(path=str(workdir / "lab-fail.png"))
            raise
        answer = page.inner_text("text=Most likely cause:")
        page.screenshot(path=str(workdir / "lab.png"))
        page.close()
    assert "deploy" in answer and "v1.8.0" in answer, answer
    saved = json.loads((workdir / "high_error_rate.ipynb").read_text())
    assert saved["cells"], "the notebook is still there"
