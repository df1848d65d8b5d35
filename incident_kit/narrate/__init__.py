"""Answers in words: one sentence per question, generated from analysis results.

Each function takes an analysis result (a frame, an IncidentWindow, a dict) and returns an
:class:`Answer`; a notebook shows it and records it with ``inv.conclude(kind, answer)``.
"""

from .answer import Answer, clean, escape
from .database import *  # noqa: F401,F403
from .database import __all__ as _database
from .incident import *  # noqa: F401,F403
from .incident import __all__ as _incident
from .infra import *  # noqa: F401,F403
from .infra import __all__ as _infra

__all__ = ["Answer", "clean", "escape", *_incident, *_database, *_infra]
