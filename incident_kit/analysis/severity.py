"""Severity by policy: the default of PRODUCT.md, read from ``parameters/severity.yaml``.

A policy is a list of levels, most severe first, each with rules ``SIGNAL OP VALUE``; the first
rule that holds sets the level, and its ``says`` sentence (filled with the measured values)
becomes the reason. ``schemes`` map the levels onto other names (SEV1-4, P1-P4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import ConfigError

POLICY_FILE = "severity.yaml"
SIGNALS = (
    "error_rate", "probes_failing", "db_reachable", "auth_broken", "connection_use",
    "p95_ms", "p95_threshold_ms", "resource_use", "blocked_sessions",
)
_RULE = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$")
_OPS = {
    ">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


@dataclass
class Severity:
    """A severity level with the one-sentence reason naming the rule and the number."""

    level: str
    reason: str
    rule: str | None = None
    name: str = ""
    signals: dict[str, Any] = field(default_factory=dict)
    schemes: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.level}: {self.reason}"

    def as_scheme(self, scheme: str) -> str:
        """Return the level in another scheme of the policy (e.g. "SEV" -> "SEV2"); ConfigError if unknown."""
        if scheme not in self.schemes:
            raise ConfigError(f"severity scheme {scheme!r} is not in the policy; known: {', '.join(self.schemes) or 'none'}")
        return self.schemes[scheme]

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"level": self.level, "reason": self.reason, "rule": self.rule, "name": self.name,
                "signals": dict(self.signals), "schemes": dict(self.schemes)}


def _candidates() -> list[Path]:
    here = Path(__file__).resolve()
    return [
        Path.cwd() / "parameters" / POLICY_FILE,
        here.parents[1] / "parameters" / POLICY_FILE,  # installed wheel: incident_kit/parameters
        here.parents[2] / "parameters" / POLICY_FILE,  # source checkout / editable install
    ]


def _parse_value(text: str, where: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in SIGNALS:
        return ("signal", low)
    try:
        return float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise ConfigError(f"{where}: value {text!r} is not a number, true/false or a signal ({', '.join(SIGNALS)})") from None


def load_policy(policy: Any = None) -> dict[str, Any]:
    """Return a validated policy from a dict, a YAML path, or (None) the first severity.yaml found.

    Raises ConfigError naming the file and field when the policy cannot be used.
    """
    origin = "severity policy"
    if policy is None:
        for path in _candidates():
            if path.is_file():
                policy = path
                break
        else:
            raise ConfigError(f"severity policy: {POLICY_FILE} not found in {', '.join(map(str, _candidates()))}")
    if isinstance(policy, str | Path):
        from ..params import load_file

        origin = str(policy)
        data = load_file(policy)
    elif isinstance(policy, Mapping):
        data = dict(policy)
    else:
        raise ConfigError(f"severity policy: expected a mapping or a YAML path, got {type(policy).__name__}")
    levels = data.get("levels")
    if not isinstance(levels, list) or not levels:
        raise ConfigError(f"{origin}: 'levels' must be a non-empty list of {{level, name, rules}}")
    parsed = []
    for i, entry in enumerate(levels):
        where = f"{origin}: levels[{i}]"
        if not isinstance(entry, Mapping) or not entry.get("level"):
            raise ConfigError(f"{where}: expected a mapping with 'level' (e.g. P1), got {entry!r}")
        rules = []
        for j, rule in enumerate(entry.get("rules") or []):
            rwhere = f"{where}.rules[{j}]"
            when = rule.get("when") if isinstance(rule, Mapping) else None
            m = _RULE.match(str(when or ""))
            if not m:
                raise ConfigError(f"{rwhere}: 'when' {when!r} is not 'SIGNAL OP VALUE' (e.g. error_rate >= 0.1)")
            signal, op, value = m.groups()
            if signal not in SIGNALS:
                raise ConfigError(f"{rwhere}: unknown signal {signal!r}; expected one of {', '.join(SIGNALS)}")
            rules.append({"when": str(when).strip(), "signal": signal, "op": op,
                          "value": _parse_value(value, rwhere), "says": str(rule.get("says") or when)})
        parsed.append({"level": str(entry["level"]), "name": str(entry.get("name", "")), "rules": rules})
    names = [p["level"] for p in parsed]
    default = str(data.get("default", names[-1]))
    if default not in names:
        raise ConfigError(f"{origin}: default {default!r} is not one of the levels {', '.join(names)}")
    schemes = data.get("schemes") or {}
    if not isinstance(schemes, Mapping) or not all(isinstance(v, Mapping) for v in schemes.values()):
        raise ConfigError(f"{origin}: 'schemes' must map a scheme name to {{level: name}}")
    return {"levels": parsed, "default": default, "default_says": str(data.get("default_says", "no rule holds")),
            "schemes": {str(k): {str(a): str(b) for a, b in v.items()} for k, v in schemes.items()}, "origin": origin}


def probes_failing_share(probes: Any) -> float | None:
    """Return the share of probed targets whose latest probe failed (None without probes)."""
    if probes is None:
        return None
    if isinstance(probes, int | float | np.floating):
        return float(probes)
    if not isinstance(probes, pd.DataFrame) or not {"target", "ok"} <= set(probes.columns):
        raise ConfigError("severity: probes must be a probes frame (target, ok) or a share 0..1")
    if not len(probes):
        return None
    latest = probes.sort_values("ts", kind="stable").groupby("target").tail(1) if "ts" in probes.columns else probes
    return float((~latest["ok"].astype(bool)).mean())


def _ratio(value: Any, what: str) -> float | None:
    """Read a ratio given as 0..1, as a percentage (> 1), or as a mapping name -> ratio (the worst)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        values = [_ratio(v, what) for v in value.values()]
        values = [v for v in values if v is not None]
        return max(values) if values else None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"severity: {what}={value!r} is not a number (a ratio 0..1 or a percentage)") from None
    if np.isnan(v):
        return None
    return v / 100.0 if v > 1.0 else v


def _fill(text: str, signals: Mapping[str, Any]) -> str:
    try:
        return text.format(**{k: v for k, v in signals.items() if v is not None})
    except (KeyError, ValueError, TypeError, IndexError):
        return text


def severity(
    *,
    error_rate: float | None = None,
    probes: Any = None,
    db_reachable: bool | None = None,
    connection_use: float | None = None,
    p95_ms: float | None = None,
    p95_threshold_ms: float | None = None,
    auth_broken: bool | None = None,
    resource_use: Any = None,
    blocked_sessions: int | None = None,
    policy: Any = None,
) -> Severity:
    """Return the :class:`Severity` of an incident under ``policy`` (default: parameters/severity.yaml).

    Signals left ``None`` are unknown and make no rule hold. ``probes`` is a probes frame (the
    share of targets whose latest probe failed is used) or that share; ``connection_use`` and
    ``resource_use`` are ratios (percentages above 1 are divided by 100; a mapping of resources
    uses the worst); ``blocked_sessions`` counts sessions waiting on a lock another session holds.
    Raises ConfigError for an unusable policy or value.
    """
    pol = load_policy(policy)
    rate = None
    if error_rate is not None:
        try:
            rate = float(error_rate)
        except (TypeError, ValueError):
            raise ConfigError(f"severity: error_rate={error_rate!r} is not a number; expected a ratio 0..1") from None
        if np.isnan(rate):
            rate = None
        elif not 0.0 <= rate <= 1.0:
            raise ConfigError(f"severity: error_rate={error_rate!r}; expected a ratio between 0 and 1")
    signals: dict[str, Any] = {
        "error_rate": rate,
        "probes_failing": probes_failing_share(probes),
        "db_reachable": None if db_reachable is None else bool(db_reachable),
        "auth_broken": None if auth_broken is None else bool(auth_broken),
        "connection_use": _ratio(connection_use, "connection_use"),
        "p95_ms": None if p95_ms is None or pd.isna(p95_ms) else float(p95_ms),
        "p95_threshold_ms": None if p95_threshold_ms is None else float(p95_threshold_ms),
        "resource_use": _ratio(resource_use, "resource_use"),
        "blocked_sessions": None if blocked_sessions is None or pd.isna(blocked_sessions) else int(blocked_sessions),
    }
    for entry in pol["levels"]:
        for rule in entry["rules"]:
            left = signals.get(rule["signal"])
            right = rule["value"]
            if isinstance(right, tuple):
                right = signals.get(right[1])
            if left is None or right is None:
                continue
            if _OPS[rule["op"]](left, right):
                level = entry["level"]
                return Severity(level, _fill(rule["says"], signals), rule["when"], entry["name"], signals,
                                {k: v.get(level, level) for k, v in pol["schemes"].items()})
    level = pol["default"]
    name = next((e["name"] for e in pol["levels"] if e["level"] == level), "")
    known = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in signals.items() if v is not None)
    reason = pol["default_says"] + (f" ({known})" if known else " (no signal measured)")
    return Severity(level, reason, None, name, signals, {k: v.get(level, level) for k, v in pol["schemes"].items()})


__all__ = ["SIGNALS", "Severity", "load_policy", "probes_failing_share", "severity"]
