"""The one exception tree of incident-kit.

Every error a user can see derives from :class:`IncidentKitError` and renders as a
single line (``str(err)``) that names what failed, where, and what was expected.
Backend errors (httpx, SQLAlchemy, papermill, ...) are mapped onto this tree by the
sources, with the source, target and time window attached.
"""

from __future__ import annotations

from typing import Any


class IncidentKitError(Exception):
    """Base class: every incident-kit error is one line of text."""

    def __str__(self) -> str:
        return " ".join(str(self.args[0] if self.args else "").split())


class ConfigError(IncidentKitError):
    """A parameter, file or option has a value that cannot be used."""


class ParameterError(ConfigError):
    """A notebook parameter is unknown, missing or of the wrong form."""


class MissingDependency(IncidentKitError):
    """An optional backend is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{module} is not installed: pip install 'incident-kit[{extra}]'"
        )


class SourceError(IncidentKitError):
    """A source could not deliver its frame.

    Attributes ``source`` (kind, e.g. ``postgres``), ``target`` (masked URL, path or host),
    ``reason`` (one line) and ``window`` (``(start, end)`` or ``None``) say what failed.
    """

    def __init__(
        self,
        source: str,
        target: Any,
        reason: str,
        window: tuple[Any, Any] | None = None,
    ) -> None:
        self.source = source
        self.target = str(target) if target is not None else ""
        self.reason = " ".join(str(reason).split())
        self.window = window
        text = f"{source} {self.target}: {self.reason}" if self.target else f"{source}: {self.reason}"
        if window and any(w is not None for w in window):
            text += f" (window {window[0]} .. {window[1]})"
        super().__init__(text)


class SourceTimeout(SourceError):
    """A source did not answer within its timeout."""


class SourceSaturated(SourceError):
    """A source answered but refused the connection for lack of capacity ("too many connections"):
    it is up and at its connection limit, which is itself evidence of exhaustion."""


class SourceOffline(SourceError):
    """A source was not contacted: offline mode (``--offline``) refuses hosts beyond this machine."""


class MutationRefused(SourceError):
    """A statement or command that would change a system was refused before it was sent."""


class RunError(IncidentKitError):
    """A scenario run could not be started or did not complete."""


class ServeError(IncidentKitError):
    """The webhook server cannot start or cannot accept a request."""


__all__ = [
    "IncidentKitError",
    "ConfigError",
    "ParameterError",
    "MissingDependency",
    "SourceError",
    "SourceTimeout",
    "SourceSaturated",
    "SourceOffline",
    "MutationRefused",
    "RunError",
    "ServeError",
]
