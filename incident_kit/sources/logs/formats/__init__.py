"""Log formats: one module per family, each declaring :class:`~.registry.Format` objects in the registry.

Adding a format is one module (or one declaration in its family's module) registered with
:func:`~.registry.register`, plus its import below.
"""

from __future__ import annotations

from . import classic, containers, databases, desktop, generic, hpc, jvm, mobile, python, web, windows  # noqa: F401  (registration)
from .registry import ALIASES, REGISTRY, Format, get

__all__ = ["Format", "REGISTRY", "ALIASES", "get"]
