"""Configuration as deployed: settings from .env, JSON or YAML files, read without exposing values.

A setting's value may be a secret, so it never leaves this module: each setting becomes its
name, whether it is set, and a short fingerprint (the first 8 hex digits of its SHA-256) that
tells two versions apart without telling what they are.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import SourceError
from ._base import source

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s*(.*?)\s*$")
COLUMNS = ["name", "set", "fingerprint"]


def fingerprint(value: Any) -> str:
    """Return the first 8 hex digits of the SHA-256 of ``value`` ("" for an empty value)."""
    text = "" if value is None else str(value)
    return hashlib.sha256(text.encode()).hexdigest()[:8] if text else ""


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value.split(" #", 1)[0].strip()


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}{k}." if isinstance(v, dict) else f"{prefix}{k}"))
        return out
    return {prefix.rstrip("."): data}


@source("config", "table")
def read(path: str | Path) -> pd.DataFrame:
    """Return the settings of a ``.env`` (``NAME=value``), JSON or YAML file: ``name``, ``set``
    (non-empty), ``fingerprint``. Values are not returned. Raises SourceError when unreadable."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError("config", p, exc.strerror or str(exc)) from None
    values: dict[str, Any]
    stripped = text.lstrip()
    if p.suffix.lower() == ".json" or stripped.startswith("{"):
        values = _flatten(json.loads(text))
    elif p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        values = _flatten(yaml.safe_load(text) or {})
    else:
        values = {}
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = _LINE.match(line)
            if m:
                values[m.group(1)] = _unquote(m.group(2))
    rows = [{"name": k, "set": v not in (None, ""), "fingerprint": fingerprint(v)} for k, v in sorted(values.items())]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame.attrs.update({"source": f"config:{p}", "truncated": False, "rejected": 0})
    return frame


__all__ = ["COLUMNS", "fingerprint", "read"]
