"""The report: HTML postmortem export (nbconvert), report.md, the runs index, tables for people, static plots.

``export_html`` and ``write_index`` are imported on first use: the kernel imports only
``report.tables``/``report.plots`` and should not pay for nbconvert.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"export_html": ".export", "REMOVED_TAGS": ".export", "write_index": ".index", "write_markdown": ".markdown"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'incident_kit.report' has no attribute {name!r}")


__all__ = ["export_html", "write_index", "write_markdown", "REMOVED_TAGS"]
