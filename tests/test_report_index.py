"""reports/index.html stays whole when runs finish at the same moment (the server's workers, parallel runs)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from incident_kit.report import write_index


def test_runs_finishing_together_each_rewrite_the_index(tmp_path: Path) -> None:
    for i in range(6):
        run = tmp_path / f"run-{i}"
        run.mkdir()
        (run / "summary.json").write_text(json.dumps({
            "run_id": f"run-{i}", "scenario": "triage", "status": "ok",
            "started_at": f"2026-12-03T10:0{i}:00Z", "headline": f"incident {i}",
        }))
    errors: list[BaseException] = []
    start = threading.Barrier(12)

    def rewrite() -> None:
        start.wait()
        try:
            for _ in range(20):
                write_index(tmp_path)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=rewrite) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    html = (tmp_path / "index.html").read_text()
    assert all(f"incident {i}" in html for i in range(6))
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["index.html"]
