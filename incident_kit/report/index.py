"""``reports/index.html``: every run in a reports directory, newest first."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jinja2

if TYPE_CHECKING:
    from ..redact import Redactor

TEMPLATES = Path(__file__).resolve().parent / "templates"


def list_runs(out_dir: str | Path) -> list[dict[str, Any]]:
    """Return the summaries of the runs under ``out_dir`` (those with a readable summary.json), newest first."""
    runs = []
    for summary_path in Path(out_dir).glob("*/summary.json"):
        try:
            s = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        run_dir = summary_path.parent.name
        runs.append({
            "run_id": str(s.get("run_id") or run_dir), "scenario": str(s.get("scenario") or ""),
            "severity": s.get("severity"), "status": str(s.get("status") or "unknown"),
            "headline": s.get("headline"), "started_at": str(s.get("started_at") or ""),
            "href": f"{quote(run_dir)}/report.html",
        })
    return sorted(runs, key=lambda r: (r["started_at"], r["run_id"]), reverse=True)


def write_index(out_dir: str | Path, redactor: Redactor | None = None) -> Path:
    """Rewrite ``<out_dir>/index.html`` from the runs found there, redacted by ``redactor`` before it
    is written; returns its path.

    Runs finishing at the same moment (the server's workers, parallel CLI runs) each write a temporary
    file of their own and rename it over the index, so the last complete index wins and none fails.
    """
    out = Path(out_dir)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    html = env.get_template("index.html.j2").render(runs=list_runs(out))
    if redactor is not None:
        html, _ = redactor.text(html)
    dest = out / "index.html"
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".index.", suffix=".html.tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest
