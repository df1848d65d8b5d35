"""What every source shares: the ``@source`` decorator that maps backend errors to SourceError."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import pandas as pd

from ..errors import IncidentKitError, SourceError, SourceTimeout
from ..secrets import mask_url

F = TypeVar("F", bound=Callable[..., pd.DataFrame])


def _map_backend_error(name: str, target: Any, exc: BaseException) -> SourceError:
    """Return a one-line SourceError for a backend exception (httpx, SQLAlchemy, OS, ...)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    # SQLAlchemy wraps driver errors with a long "(Background on this error ...)" tail.
    text = text.split("(Background on this error")[0].strip()
    for marker in ("[SQL:", "\n"):
        text = text.split(marker)[0].strip()
    cls = SourceTimeout if "timeout" in type(exc).__name__.lower() or "timed out" in text.lower() else SourceError
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
            except IncidentKitError:
                raise
            except Exception as exc:  # noqa: BLE001 - every backend error is mapped here
                if isinstance(target_arg, int):
                    target = args[target_arg] if len(args) > target_arg else kwargs.get("url", "")
                else:
                    target = kwargs.get(target_arg, "")
                raise _map_backend_error(name, target, exc) from exc

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
