"""Secret references (``env:NAME``, ``file:/path``) and masking of credentials in URLs.

Parameter values that are secret references stay references in every notebook, parameter
file and report; they are resolved here, inside the kernel, at the moment a source uses them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .errors import ConfigError

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")


def is_reference(value: Any) -> bool:
    """Return True when ``value`` is an ``env:`` or ``file:`` secret reference."""
    return isinstance(value, str) and (value.startswith("env:") or value.startswith("file:"))


def resolve(value: Any, *, field: str = "value") -> Any:
    """Return ``value`` with a secret reference replaced by the secret; other values unchanged.

    ``env:NAME`` reads the environment variable NAME; ``file:/path`` reads the file (stripped).
    Raises :class:`ConfigError` naming ``field`` when the variable is unset or the file unreadable;
    the message never contains the secret.
    """
    if not is_reference(value):
        return value
    kind, _, ref = value.partition(":")
    if kind == "env":
        if ref not in os.environ:
            raise ConfigError(f"{field}: environment variable {ref} (from {value!r}) is not set")
        return os.environ[ref]
    try:
        return Path(ref).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{field}: cannot read secret file {ref}: {exc.strerror or exc}") from None


def mask_url(url: Any) -> str:
    """Return ``url`` as text with any password replaced by ``***`` (references shown as they are)."""
    if url is None:
        return ""
    text = str(url)
    if is_reference(text):
        return text
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


__all__ = ["is_reference", "resolve", "mask_url"]
