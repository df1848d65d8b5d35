"""A resolved alert on a finished run: record the recovery in summary.json and re-render the report.

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


def apply(run_dir: Path, resolved_at: str, *, render: bool = True) -> bool:
    """Rewrite ``run_dir/summary.json`` with the resolution and (``render``) re-export ``report.html``.

    Returns True when there is a notebook to render the report from (rendered when ``render``).
    Raises OSError/ValueError when summary.json cannot be read or written.
    """
    summary_path = run_dir / "summary.json"
    summary = resolve_summary(json.loads(summary_path.read_text(encoding="utf-8")), resolved_at)
    tmp = summary_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    tmp.replace(summary_path)
    notebook = run_dir / "notebook.ipynb"
    if not notebook.exists():
        return False
    if not render:
        return True
    from ..report import export_html, write_index

    export_html(notebook, summary, run_dir / "report.html")
    write_index(run_dir.parent)
    return True


__all__ = ["resolve_summary", "apply"]
