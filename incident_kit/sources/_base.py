"""What every source shares: the ``@source`` decorator that maps backend errors to SourceError."""

from __future__ import annotations

import functools
import re
from typing import Any, Callable, TypeVar

import pandas as pd

from ..errors import IncidentKitError, SourceError, SourceOffline, SourceSaturated, SourceTimeout
from ..offline import OfflineRefused
from ..secrets import mask_url

F = TypeVar("F", bound=Callable[..., pd.DataFrame])
# A server that refuses a connection for lack of capacity: PostgreSQL ("too many connections for role",
# "remaining connection slots are reserved", "sorry, too many clients already"), MySQL/MariaDB (1040 "Too
# many connections", "max_user_connections"), Redis ("max number of clients reached").
AT_CONNECTION_LIMIT = re.compile(r"(?i)too many (connections|clients)|remaining connection slots are reserved|"
                                 r"max_user_connections|max number of clients reached")


def error_class(text: str, timed_out: bool) -> type[SourceError]:
    """Return the SourceError class for a backend error's one-line ``text``: SourceSaturated for a server
    at its connection limit, SourceTimeout when ``timed_out``, else SourceError."""
    if AT_CONNECTION_LIMIT.search(text):
        return SourceSaturated
    return SourceTimeout if timed_out else SourceError


def _offline_cause(exc: BaseException | None) -> OfflineRefused | None:
    """Return the offline refusal behind ``exc`` (itself, or in its cause/context chain), if any."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, OfflineRefused):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _map_backend_error(name: str, target: Any, exc: BaseException) -> SourceError:
    """Return a one-line SourceError for a backend exception (httpx, SQLAlchemy, OS, ...)."""
    refused = _offline_cause(exc)
    if refused is not None:
        return SourceOffline(name, mask_url(target), str(refused))
    text = " ".join(str(exc).split()) or type(exc).__name__
    # SQLAlchemy wraps driver errors with a long "(Background on this error ...)" tail.
    text = text.split("(Background on this error")[0].strip()
    for marker in ("[SQL:", "\n"):
        text = text.split(marker)[0].strip()
    cls = error_class(text, "timeout" in type(exc).__name__.lower() or "timed out" in text.lower())
    return cls(name, mask_url(target), f"{type(exc).__name__}: {text}" if not isinstance(exc, OSError) else text)


def source(name: str, kind: str, target_arg: int | str = 0) -> Callable[[F], F]:
    """Decorate a source function: name it, record its frame ``kind``, map errors.

    Any exception that is not already an :class:`IncidentKitError` becomes a
    :class:`SourceError` naming ``name`` and the (masked) target, taken from the positional
    argument ``target_arg`` or the keyword of that name.
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> pd.DataFrame:
            try:
                return fn(*args, **kwargs)
            except SourceOffline:
                raise
            except IncidentKitError as exc:
                if _offline_cause(exc) is not None:  # a source that wrapped the refusal itself
                    raise _map_backend_error(name, _target(args, kwargs), exc) from exc
                raise
            except Exception as exc:  # noqa: BLE001 - every backend error is mapped here
                raise _map_backend_error(name, _target(args, kwargs), exc) from exc

        def _target(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if isinstance(target_arg, int):
                return args[target_arg] if len(args) > target_arg else kwargs.get("url", "")
            return kwargs.get(target_arg, "")

        wrapper.source_name = name  # type: ignore[attr-defined]
        wrapper.frame_kind = kind  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def human_bytes(n: Any) -> str:
    """Return a byte count as text (``"512 B"``, ``"3.2 MB"``); empty for a missing value."""
    if n is None or pd.isna(n):
        return ""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


__all__ = ["source", "human_bytes"]
