"""Imported runbooks execute top to bottom under papermill against the live demo environment,
sources that are not configured say so, and each run exports its report."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from incident_kit.importer import import_runbook

AWKWARD = Path(__file__).parent / "data" / "runbooks" / "awkward.md"


def _declared(notebook: Path) -> set[str]:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    return {line.split(" = ")[0] for line in "".join(cell["source"]).splitlines() if " = " in line}


@pytest.mark.slow
def test_imported_runbooks_run_against_the_demo(demo_env, shared_dir: Path, tmp_path: Path) -> None:
    from incident_kit.runner import run

    target = urlsplit(demo_env.parameters["probe_targets"][0])
    runbooks = [*sorted((shared_dir / "runbooks").glob("*.md")), AWKWARD]
    for runbook in runbooks:
        notebook = tmp_path / f"imported_{runbook.stem}.ipynb"
        import_runbook(runbook, notebook)
        declared = _declared(notebook)
        params = {k: v for k, v in demo_env.parameters.items() if k in declared}
        if "app_url" in declared:  # point the runbook's localhost health checks at the demo service
            params["app_url"] = f"{target.scheme}://{target.netloc}"
        result = run(str(notebook), params, out_dir=tmp_path / "reports", timeout=120)
        assert result.status in ("ok", "degraded"), (runbook.name, result.summary.get("error"), result.dir)
        assert (result.dir / "report.html").is_file() and (result.dir / "notebook.ipynb").is_file()
        sources = {s["name"]: s for s in result.summary["sources"]}
        assert sources, runbook.name
        if runbook.name.startswith("001"):
            ok = {name for name, s in sources.items() if s["status"] in ("ok", "empty")}
            assert "query: Check active connections" in ok  # the demo's PostgreSQL, read-only
            assert "probe: http://localhost:3001/api/health" in sources  # probed at the demo's URL
            assert any(name.startswith("logs:") for name in ok)  # the demo's access log, grep-filtered
            redis = sources["redis: PING"]  # no Redis in the demo: says so, goes on
            assert redis["status"] in ("failed", "skipped") and "REDIS_URL" in (redis["error"] or ""), redis
        executed = json.loads((result.dir / "notebook.ipynb").read_text(encoding="utf-8"))
        errors = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, (runbook.name, errors[:1])
