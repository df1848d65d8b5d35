"""Analysis on canonical frames: incident window, what changed, signatures, hypotheses, severity, timeline.

Every function takes canonical frames (``incident_kit.frames``) or Series and returns a frame,
a dataclass or a dict; none of them reads a source or writes a file.
"""

from . import evidence
import importlib
from types import ModuleType

from .correlate import correlate
from .diff import diff
from .hypotheses import hypotheses
from .impact import impact
from .rates import error_mask, rates
from .severity import Severity, load_policy, severity
from .signatures import mask, mine, signatures
from .top_errors import signature_counts, top_errors
from .timeline import timeline
from .window import IncidentWindow, window

__all__ = [
    "IncidentWindow",
    "Severity",
    "correlate",
    "diff",
    "evidence",
    "error_mask",
    "hypotheses",
    "impact",
    "load_policy",
    "mask",
    "mine",
    "rates",
    "severity",
    "signature_counts",
    "signatures",
    "timeline",
    "top_errors",
    "window",
]


def __getattr__(name: str) -> ModuleType:
    """Import other analysis modules on first use (``ik.analysis.synthetic``, ``ik.analysis.evidence``)."""
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
