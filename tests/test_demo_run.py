"""The whole path, end to end: the real demo environment investigated by the real notebook.

Runs papermill and nbconvert for real and reads the resulting summary.json and report.html.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from incident_kit.demo import shop
from incident_kit.runner import run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(demo_env, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    return run("high_error_rate", dict(demo_env.parameters), out_dir=out)


def test_demo_run_writes_the_three_files_and_the_index(demo_run):
    assert demo_run.dir.name == demo_run.run_id
    assert re.match(r"^\d{8}T\d{6}Z-high_error_rate-[0-9a-f]{6}$", demo_run.run_id)
    for name in ("notebook.ipynb", "summary.json", "report.html"):
        assert (demo_run.dir / name).stat().st_size > 0, name
    index = (demo_run.dir.parent / "index.html").read_text()
    assert demo_run.run_id in index
    assert not (demo_run.dir / "summary.partial.json").exists()


def test_summary_has_the_contract_fields(demo_run):
    s = json.loads((demo_run.dir / "summary.json").read_text())
    for key in ("run_id", "scenario", "status", "window", "severity", "severity_reason", "headline", "impact",
                "findings", "hypotheses", "timeline", "sources", "alert", "started_at", "finished_at",
                "incident_kit_version"):
        assert key in s, key
    assert s["status"] == "ok", s.get("degraded_reasons") or s.get("error")
    assert [t["ts"] for t in s["timeline"]] == sorted(t["ts"] for t in s["timeline"])
    assert {src["name"] for src in s["sources"]} >= {"access logs", "git history", "database connections"}
    assert all(src["status"] in ("ok", "empty", "failed", "skipped") for src in s["sources"])


def test_demo_incident_is_found_and_explained(demo_run, demo_env):
    s = demo_run.summary
    story = demo_env.story
    assert s["severity"] == "P1", s["severity_reason"]
    start = s["window"]["start"]
    assert start is not None
    # The window starts after the deploy, within minutes of the first errors.
    from incident_kit.timeutil import parse_time

    t0 = parse_time(start)
    assert parse_time(story.deploy_at) < t0 <= parse_time(story.errors_from) + __import__("pandas").Timedelta(minutes=3)
    top = s["hypotheses"][0]
    assert story.bad_commit[:7] in json.dumps(top) or shop.FAULT_COMMIT_SUBJECT in json.dumps(top), top
    error = next(f for f in s["findings"] if f["kind"] == "error")
    assert "apply_coupon" in error["title"] and "NoneType" in error["title"], error
    db = next(f for f in s["findings"] if f["kind"] == "database")
    assert "idle in transaction" in db["title"], db
    assert 0.10 <= s["impact"]["error_rate"] < 0.5


def test_report_is_a_postmortem_without_code_or_secrets(demo_run, demo_env):
    html = (demo_run.dir / "report.html").read_text()
    for section in ("Summary", "Impact", "Timeline", "Root-cause hypotheses", "Evidence", "Resolution",
                    "Action items", "Lessons learned", "Data completeness"):
        assert f">{section}</h2>" in html, section
    assert "<script" not in html.lower()
    assert "ik.logs.read" not in html and "import incident_kit" not in html   # no input cells
    assert "output_dir" not in html and "injected" not in html.lower()       # no parameters cell
    assert "data:image/png;base64," in html                                    # figures inline
    secret_url = Path(demo_env.parameters["database_url"].removeprefix("file:")).read_text().strip()
    password = secret_url.split(":")[2].split("@")[0]
    for name in ("report.html", "summary.json", "notebook.ipynb"):
        assert password not in (demo_run.dir / name).read_text(), name


def test_failed_cell_still_yields_a_failed_report(tmp_path, monkeypatch):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    (tmp_path / "notebooks").mkdir()
    nb = new_notebook(cells=[
        new_code_cell("output_dir = None", metadata={"tags": ["parameters"]}),
        new_code_cell("import incident_kit as ik\ninv = ik.Investigation('broken', output_dir=output_dir)\n"
                      "inv.headline('half way')"),
        new_code_cell("raise RuntimeError('the kernel hit a wall')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(tmp_path / "notebooks" / "broken.ipynb"))
    monkeypatch.chdir(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "incident_kit", "run", "broken", "--quiet", "--out", "out"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "RuntimeError: the kernel hit a wall" in proc.stderr
    report = Path(proc.stdout.strip())
    s = json.loads((report.parent / "summary.json").read_text())
    assert s["status"] == "failed" and "the kernel hit a wall" in s["error"]
    assert s["headline"] == "half way"
    html = report.read_text()
    assert "did not complete" in html and "raise RuntimeError" not in html


def test_demo_command_runs_the_whole_path_and_stops_everything(tmp_path):
    env = {**os.environ, "INCIDENT_KIT_DEMO_HOME": str(tmp_path / "demo")}
    proc = subprocess.run([sys.executable, "-m", "incident_kit", "demo", "--out", str(tmp_path / "reports")],
                          capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = Path(proc.stdout.strip().splitlines()[-1])
    assert report.name == "report.html" and report.exists()
    assert json.loads((report.parent / "summary.json").read_text())["severity"] == "P1"
    # Nothing it started is left: no shop service, no postmaster from its data dir.
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "incident_kit.demo.service" not in ps or str(tmp_path) not in ps
    assert str(tmp_path / "demo") not in ps
