"""Export an executed notebook to the self-contained HTML postmortem (no code, no parameters)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import nbformat

from . import view

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: Cells with these tags never reach a report.
REMOVED_TAGS = frozenset({"parameters", "injected-parameters", "report-hide", "papermill-error-cell-tag"})

_EXPORTER: Any = None


def _exporter() -> Any:
    """Return the (cached) configured HTMLExporter: building one loads templates, so reuse it."""
    global _EXPORTER
    if _EXPORTER is None:
        from nbconvert import HTMLExporter
        from nbconvert.preprocessors import TagRemovePreprocessor

        exporter = HTMLExporter(
            template_name="postmortem",
            extra_template_basedirs=[str(TEMPLATES)],
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            anchor_link_text="",
        )
        exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags=set(REMOVED_TAGS), enabled=True), enabled=True)
        _EXPORTER = exporter
    return _EXPORTER


def export_html(notebook: nbformat.NotebookNode | str | Path, summary: dict[str, Any], dest: str | Path,
                drafts: dict[str, str] | None = None) -> Path:
    """Write the postmortem HTML of ``notebook`` (node or path) with ``summary`` to ``dest``.

    Returns ``dest``. The summary (summary.json content) drives the title block and the sections;
    the notebook's outputs form the evidence. Raises OSError if ``dest`` cannot be written.
    """
    nb = nbformat.read(str(notebook), as_version=4) if isinstance(notebook, str | Path) else copy.deepcopy(notebook)
    nb.metadata["incident_kit"] = {"summary": summary, "drafts": drafts or {},
                                   "view": view.build(summary, nb, REMOVED_TAGS)}
    resources = {"postmortem_css": (TEMPLATES / "postmortem" / "report.css").read_text(encoding="utf-8")}
    body, _ = _exporter().from_notebook_node(nb, resources=resources)
    dest = Path(dest)
    tmp = dest.with_suffix(".html.tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(dest)
    return dest
