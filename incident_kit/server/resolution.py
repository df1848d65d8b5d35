"""A resolved alert on a finished run: record the recovery in summary.json and re-render the report.

The re-render goes through the runner's own :func:`incident_kit.runner.write_reports` with the
runner's redactor for the run's parameters (read from the executed notebook), so it keeps
everything the first render had (communication drafts, report.md) and the same redaction.
Idempotent: applying the same resolution twice leaves one recovery event in the timeline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def resolve_summary(summary: dict[str, Any], resolved_at: str) -> dict[str, Any]:
    """Return ``summary`` with the alert marked resolved at ``resolved_at`` and a recovery event in its timeline."""
    out = dict(summary)
    alert = dict(out.get("alert") or {})
    alert["status"] = "resolved"
    alert["ends_at"] = resolved_at
    out["alert"] = alert
    name = alert.get("name") or "alert"
    event = {"ts": resolved_at, "source": "alert", "kind": "recovery", "text": f"alert {name} resolved (recovery)"}
    timeline = [e for e in out.get("timeline") or [] if not (e.get("kind") == "recovery" and e.get("source") == "alert")]
    timeline.append(event)
    out["timeline"] = sorted(timeline, key=lambda e: str(e.get("ts") or ""))
    out["resolved_at"] = resolved_at
    return out


def run_parameters(notebook: Path) -> dict[str, Any]:
    """Return the parameters a run was executed with (papermill records them in the notebook's metadata)."""
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata") or {}
    except (OSError, ValueError):
        return {}
    params = (meta.get("papermill") or {}).get("parameters") or {}
    return dict(params) if isinstance(params, dict) else {}


def apply(run_dir: Path, resolved_at: str, *, render: bool = True) -> bool:
    """Rewrite ``run_dir/summary.json`` with the resolution and (``render``) re-render the reports the run has.

    Returns True when there is a notebook to render the reports from (rendered when ``render``).
    Raises OSError/ValueError when summary.json cannot be read or written.
    """
    summary_path = run_dir / "summary.json"
    notebook = run_dir / "notebook.ipynb"
    summary = resolve_summary(json.loads(summary_path.read_text(encoding="utf-8")), resolved_at)
    scrub = None
    if render and notebook.exists():  # the runner (pandas, nbconvert) is loaded in the re-render's process only
        from ..runner import redactor_for

        params = run_parameters(notebook)
        scrub = redactor_for(params)
        summary, _ = scrub.obj(summary)
    tmp = summary_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    tmp.replace(summary_path)
    if not notebook.exists():
        return False
    if scrub is None:
        return True
    import nbformat

    from ..report import write_index
    from ..runner import write_reports

    has_html, has_md = (run_dir / "report.html").exists(), (run_dir / "report.md").exists()
    formats = "both" if has_html == has_md else ("html" if has_html else "md")
    nb = nbformat.read(str(notebook), as_version=4)
    write_reports(run_dir, nb, summary, params, formats=formats, scrub=scrub)
    write_index(run_dir.parent, scrub)
    return True


__all__ = ["resolve_summary", "apply", "run_parameters"]
