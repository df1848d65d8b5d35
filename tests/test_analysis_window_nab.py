"""window() on real, labelled operations metrics: NAB's AWS CloudWatch and known-cause series.

The query design of ../shared/tools/nab_window.py (the on-call question asked once per labelled
anomaly, as many quiet spans of the same length that must report nothing) is run on the visible
NAB files with window()'s defaults, against the published detectors' results in the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
TOOL = SHARED / "tools" / "nab_window.py"
NAB = SHARED / "data" / "nab"


def test_window_defaults_match_the_best_published_nab_detector(tmp_path):
    out = tmp_path / "nab.json"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.run([sys.executable, str(TOOL), "--nab", str(NAB), "--cache", str(tmp_path / "cache"),
                          "--json", str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(out.read_text())
    results, best = figures["results"], figures["best_published"]
    kit = results["window()"]
    assert figures["queries"]["detection"] >= 40 and figures["queries"]["false_alarm"] >= 40
    assert kit == results["window(both)"]  # both directions are the default for metrics
    assert kit["f1"] >= results[best]["f1"], run.stdout
    assert kit["median_start_error_min"] <= 10, run.stdout
