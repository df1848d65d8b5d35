"""Scenario parameters: papermill-compatible YAML files, ``-p NAME VALUE`` pairs, shared names.

Secret references (``env:``/``file:``) are kept as they are: they are resolved inside the
kernel by the sources (:mod:`incident_kit.secrets`), never here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from .errors import ConfigError, ParameterError

#: Parameter names every scenario understands (PRODUCT.md).
SHARED_PARAMETERS: tuple[str, ...] = (
    "start", "end", "service", "logs", "log_format", "database_url", "prometheus_url",
    "redis_url", "probe_targets", "git_repo", "deploy_events", "output_dir",
)


def load_file(path: str | Path) -> dict[str, Any]:
    """Return the parameters of one YAML file (a mapping of names to values).

    Raises :class:`ConfigError` naming the file (and line) when it is missing, is not YAML,
    or is not a mapping with string keys.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"parameter file {p}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"parameter file {p}: cannot read it ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"parameter file {p}{where}: {problem}; expected a YAML mapping of NAME: VALUE") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"parameter file {p}: top level is a {type(data).__name__}; expected a mapping of NAME: VALUE")
    for key in data:
        if not isinstance(key, str) or not key.isidentifier():
            raise ConfigError(f"parameter file {p}: key {key!r} is not a valid parameter name")
    return data


def parse_value(text: str) -> Any:
    """Return a ``-p`` value typed as YAML would type it (``3`` -> 3, ``[a, b]`` -> list, else str)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if value is None and text.strip() not in ("null", "~", "") else value


def merge(
    files: Iterable[str | Path] = (),
    pairs: Iterable[tuple[str, str]] = (),
    *,
    base: Mapping[str, Any] | None = None,
    known: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Return ``base`` updated by each file in order, then by ``-p`` pairs (later wins).

    With ``known`` (a scenario's parameter names), an unknown name raises
    :class:`ParameterError` listing the known ones.
    """
    out: dict[str, Any] = dict(base or {})
    for f in files:
        out.update(load_file(f))
    for name, value in pairs:
        if not name.isidentifier():
            raise ParameterError(f"parameter name {name!r} is not a valid identifier")
        out[name] = parse_value(value)
    if known is not None:
        names = set(known)
        unknown = sorted(k for k in out if k not in names)
        if unknown:
            raise ParameterError(
                f"unknown parameter {unknown[0]!r}; this scenario takes: {', '.join(sorted(names))}"
            )
    return out


__all__ = ["SHARED_PARAMETERS", "load_file", "parse_value", "merge"]
