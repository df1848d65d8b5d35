"""Analysis on canonical frames: incident window, what changed, signatures, hypotheses, severity, timeline.

Every function takes canonical frames (``incident_kit.frames``) or Series and returns a frame,
a dataclass or a dict; none of them reads a source or writes a file.
"""

from . import evidence
from .correlate import correlate
from .diff import diff
from .hypotheses import hypotheses
from .impact import impact
from .rates import error_mask, rates
from .severity import Severity, load_policy, severity
from .signatures import mask, mine, signatures, top_errors
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
    "signatures",
    "timeline",
    "top_errors",
    "window",
]
