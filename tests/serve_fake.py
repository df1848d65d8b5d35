"""A fast run function with the signature of incident_kit.runner.run (stdlib only, so a run process
starts in a fraction of a second). Injected into `incident-kit serve` by the storm and restart tests
through INCIDENT_KIT_SERVE_RUN=serve_fake:fake_run; it writes a real summary.json and report.html."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any


def fake_run(scenario: str, parameters: dict[str, Any], *, alert: Any = None, out_dir: str = "reports",
             run_id: str | None = None, timeout: float | None = None) -> SimpleNamespace:
    """Sleep IK_FAKE_RUN_SLEEP seconds, write <out>/<run_id>/summary.json and report.html; returns a RunResult-like object."""
    time.sleep(float(os.environ.get("IK_FAKE_RUN_SLEEP", "0")))
    run_dir = Path(out_dir) / str(run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    summary = {"run_id": run_id, "scenario": scenario, "status": "ok", "headline": f"{scenario} looked at",
               "severity": "P3", "timeline": [], "alert": alert, "parameters": parameters, "pid": os.getpid()}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    (run_dir / "report.html").write_text("<html><body>fake report</body></html>")
    return SimpleNamespace(run_id=run_id, status="ok", dir=run_dir, summary=summary)
