"""What to redact: ``parameters/redaction.yaml`` and the exact secret values of a run.

A run's secrets are the values of its ``env:``/``file:`` parameter references, of secret-named
environment variables and the passwords inside URLs; :func:`secret_values` gathers them in the
forms they may take in an output (raw, URL-, JSON- and HTML-escaped). See :mod:`incident_kit.redact`.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import quote, quote_plus, urlsplit

import yaml

from .errors import ConfigError
from .redact_rules import Rule, secret_name, secret_value
from .secrets import is_reference, resolve

DEFAULT_MIN_VALUE_LENGTH = 6


@dataclass
class RedactionConfig:
    """Extra rules, disabled built-ins, secret environment variables and the exact-value minimum."""

    rules: list[Rule] = field(default_factory=list)
    disable: set[str] = field(default_factory=set)
    env: list[str] = field(default_factory=list)
    min_value_length: int = DEFAULT_MIN_VALUE_LENGTH

def load_config(path: str | Path | None) -> RedactionConfig:
    """Return the configuration in ``path`` (a ``redaction.yaml``); an empty one for ``None``.

    Raises :class:`ConfigError` naming the file and the rule when the file is not a mapping,
    a rule lacks ``pattern``, or a pattern does not compile.
    """
    if path is None:
        return RedactionConfig()
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"redaction file {p}: cannot read it ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"redaction file {p}: expected a mapping with rules/disable/env")
    cfg = RedactionConfig(
        disable={str(x) for x in data.get("disable") or []},
        env=[str(x) for x in data.get("env") or []],
        min_value_length=int(data.get("min_value_length", DEFAULT_MIN_VALUE_LENGTH)),
    )
    for i, item in enumerate(data.get("rules") or []):
        if not isinstance(item, dict) or not item.get("pattern"):
            raise ConfigError(f"redaction file {p}: rule {i + 1} needs a 'pattern'")
        kind = str(item.get("kind") or item.get("name") or f"custom_{i + 1}")
        pattern = str(item["pattern"])
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"redaction file {p}: rule {kind!r}: bad pattern ({exc})") from None
        repl = item.get("replacement")
        cfg.rules.append(Rule(kind, pattern, None if repl is None else str(repl), description=str(item.get("description", ""))))
    return cfg

def find_config(cwd: str | Path | None = None) -> Path | None:
    """Return ``<cwd>/parameters/redaction.yaml`` if it exists, else the packaged one, else None."""
    local = Path(cwd or os.getcwd()) / "parameters" / "redaction.yaml"
    if local.is_file():
        return local
    packaged = Path(__file__).resolve().parent / "parameters" / "redaction.yaml"
    return packaged if packaged.is_file() else None

def value_variants(value: str) -> set[str]:
    """Return the forms a secret takes once written into URLs, JSON, Python reprs and HTML."""
    forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1],
             repr(value)[1:-1], html.escape(value), html.escape(value, quote=False)}
    forms |= {html.escape(f) for f in list(forms)}
    return {f for f in forms if f}

def secret_values(
    parameters: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    env_names: Iterable[str] = (),
) -> list[str]:
    """Return the exact secret values a run may expose, for :class:`Redactor` ``values``.

    They are: what every ``env:``/``file:`` reference in ``parameters`` resolves to (``env:`` against
    ``environ``, default ``os.environ``) (unresolvable
    ones are skipped, never raised), plain values of parameters named like secrets, values of
    environment variables named like secrets or listed in ``env_names``, and the password part
    of every such value that is a URL.
    """
    found: list[str] = []

    def add(value: Any, *, named_secret: bool) -> None:
        if isinstance(value, (list, tuple)):
            for v in value:
                add(v, named_secret=named_secret)
            return
        if isinstance(value, Mapping):
            for k, v in value.items():
                add(v, named_secret=named_secret or (isinstance(k, str) and secret_name(k)))
            return
        if not isinstance(value, str):
            return
        if is_reference(value):
            if value.startswith("env:"):
                if value[4:] not in env:
                    return
                value = env[value[4:]]
            else:
                try:
                    value = resolve(value)
                except Exception:  # noqa: BLE001 - an unresolvable reference exposes nothing
                    return
            named_secret = True
        password = _url_password(value)
        if password:
            found.append(password)
        elif named_secret and secret_value(value):
            found.append(value)

    env = os.environ if environ is None else environ
    for name, value in (parameters or {}).items():
        add(value, named_secret=secret_name(str(name)))
    extra = set(env_names)
    for name, value in env.items():
        if (secret_name(name) or name in extra) and not _existing_path(value):
            add(value, named_secret=True)
    return sorted(set(found))

def _existing_path(value: str) -> bool:
    """True for an absolute path that exists (GOOGLE_APPLICATION_CREDENTIALS=/etc/key.json names a
    secret, it is not one)."""
    return value.startswith("/") and "\n" not in value and len(value) < 4096 and os.path.exists(value)

def _url_password(value: str) -> str | None:
    if "://" not in value or "@" not in value:
        return None
    try:
        return urlsplit(value.strip()).password or None
    except ValueError:
        return None


__all__ = ["RedactionConfig", "load_config", "find_config", "secret_values", "value_variants"]
