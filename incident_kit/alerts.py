"""Alert payloads -> alerts, a scenario and its parameters.

Three payload forms are read: Prometheus Alertmanager webhooks (version 4), Grafana alerting
webhooks (the same shape with ``orgId``/``title``/``state``), and the generic JSON form of the
README (``{"alerts": [{"name", "status", "labels", "annotations", "starts_at", "ends_at"}]}`` or one
such alert object). Used by ``incident-kit serve`` and ``incident-kit run --alert``.

Label and annotation values are data, never code: a scenario name taken from an alert must be a
plain identifier, parameters taken from an alert are plain strings (never ``env:``/``file:``
secret references) of bounded length, and nothing here builds a path, a command or code.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import ConfigError

#: A scenario name from an alert must look like this (no path separators, no dots first).
SCENARIO_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
#: Most alerts one payload may carry, and the longest label/annotation value kept.
MAX_ALERTS = 1000
MAX_VALUE = 4096
#: Default margin before ``startsAt`` for the investigation window.
DEFAULT_MARGIN = "30m"
_ZERO_TIME = ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z", "")
KINDS = ("auto", "alertmanager", "grafana", "generic")


class PayloadError(ConfigError):
    """An alert payload is not of a form incident-kit reads (one line: what and where)."""


@dataclass
class Alert:
    """One alert. ``starts_at``/``ends_at`` are ISO 8601 UTC strings (``None`` when unknown / not ended)."""

    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str | None
    ends_at: str | None
    fingerprint: str
    group_key: str
    source: str = "generic"
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """Return the alert's name (label ``alertname``, else ``"alert"``)."""
        return self.labels.get("alertname") or "alert"

    @property
    def firing(self) -> bool:
        """Return True when the alert is firing (not resolved)."""
        return self.status == "firing"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (what summary.json's ``alert`` carries; without ``raw``)."""
        return {
            "name": self.name, "status": self.status, "labels": dict(self.labels),
            "annotations": dict(self.annotations), "starts_at": self.starts_at, "ends_at": self.ends_at,
            "fingerprint": self.fingerprint, "group_key": self.group_key, "source": self.source,
        }


@dataclass
class Route:
    """One entry of ``routes.yaml``: equality and regex matchers, a scenario, fixed parameters."""

    scenario: str
    match: dict[str, str] = field(default_factory=dict)
    match_re: dict[str, re.Pattern[str]] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    parameter_files: list[str] = field(default_factory=list)

    def matches(self, alert: Alert) -> bool:
        """Return True when every matcher holds on the alert's labels (then annotations)."""
        values = {**alert.annotations, **alert.labels}
        if any(values.get(k) != v for k, v in self.match.items()):
            return False
        return all(p.fullmatch(values.get(k, "")) is not None for k, p in self.match_re.items())


# -- payload parsing ----------------------------------------------------------------------------
def _time(value: Any, where: str) -> str | None:
    from .timeutil import iso, parse_time

    if value is None or (isinstance(value, str) and value.strip() in _ZERO_TIME):
        return None
    if isinstance(value, str) and value.startswith("0001-01-01"):
        return None
    try:
        return iso(parse_time(value, field=where))
    except (ConfigError, ValueError, OverflowError):
        raise PayloadError(f"{where}: {str(value)[:60]!r} is not an ISO 8601 time") from None


def _strmap(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{where}: expected an object of name: value, got {type(value).__name__}")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k or len(k) > 200:
            raise PayloadError(f"{where}: invalid name {str(k)[:40]!r}")
        if isinstance(v, (dict, list)):
            raise PayloadError(f"{where}.{k}: expected a string, got {type(v).__name__}")
        text = "" if v is None else str(v)
        if len(text) > MAX_VALUE:
            raise PayloadError(f"{where}.{k}: value longer than {MAX_VALUE} characters")
        out[k] = text
    return out


def fingerprint_of(labels: Mapping[str, str]) -> str:
    """Return a stable 16-hex fingerprint of a label set (sorted name=value pairs)."""
    text = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def detect(payload: Mapping[str, Any]) -> str:
    """Return ``"alertmanager"``, ``"grafana"`` or ``"generic"`` for a payload."""
    if "orgId" in payload or "state" in payload and "alerts" in payload and "title" in payload:
        return "grafana"
    if "groupKey" in payload and isinstance(payload.get("alerts"), list) and "version" in payload:
        return "alertmanager"
    return "generic"


def _parse_status(value: Any, where: str) -> str:
    status = str(value or "firing").lower()
    if status not in ("firing", "resolved"):
        raise PayloadError(f"{where}: status {str(value)[:30]!r} is neither 'firing' nor 'resolved'")
    return status


def _parse_am(payload: Mapping[str, Any], source: str) -> list[Alert]:
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError(f"{source} payload: 'alerts' must be a non-empty list")
    if len(alerts) > MAX_ALERTS:
        raise PayloadError(f"{source} payload: {len(alerts)} alerts, at most {MAX_ALERTS}")
    group_key = payload.get("groupKey")
    if group_key is not None and not isinstance(group_key, str):
        raise PayloadError(f"{source} payload: groupKey must be a string")
    out = []
    for i, a in enumerate(alerts):
        where = f"alerts[{i}]"
        if not isinstance(a, dict):
            raise PayloadError(f"{where}: expected an object")
        labels = _strmap(a.get("labels"), f"{where}.labels")
        if not labels:
            raise PayloadError(f"{where}.labels: an alert needs at least one label")
        fp = a.get("fingerprint") or fingerprint_of(labels)
        out.append(Alert(
            status=_parse_status(a.get("status") or payload.get("status"), f"{where}.status"),
            labels=labels, annotations=_strmap(a.get("annotations"), f"{where}.annotations"),
            starts_at=_time(a.get("startsAt"), f"{where}.startsAt"), ends_at=_time(a.get("endsAt"), f"{where}.endsAt"),
            fingerprint=str(fp)[:64], group_key=(group_key or f"fp:{fp}")[:1000], source=source, raw=dict(a),
        ))
    return out


def _parse_generic(payload: Mapping[str, Any]) -> list[Alert]:
    items = payload.get("alerts") if "alerts" in payload else [payload]
    if not isinstance(items, list) or not items:
        raise PayloadError("generic payload: 'alerts' must be a non-empty list (or send one alert object)")
    if len(items) > MAX_ALERTS:
        raise PayloadError(f"generic payload: {len(items)} alerts, at most {MAX_ALERTS}")
    out = []
    for i, a in enumerate(items):
        where = f"alerts[{i}]"
        if not isinstance(a, dict):
            raise PayloadError(f"{where}: expected an object")
        labels = _strmap(a.get("labels"), f"{where}.labels")
        name = a.get("name", a.get("alertname"))
        if name is not None:
            if not isinstance(name, str) or not name or len(name) > 200:
                raise PayloadError(f"{where}.name: expected a non-empty string")
            labels.setdefault("alertname", name)
        if "alertname" not in labels:
            raise PayloadError(f"{where}: an alert needs a 'name' (or labels.alertname)")
        annotations = _strmap(a.get("annotations"), f"{where}.annotations")
        for key in ("summary", "description", "scenario"):
            if isinstance(a.get(key), str):
                annotations.setdefault(key, _strmap({key: a[key]}, where)[key])
        fp = a.get("fingerprint") or fingerprint_of(labels)
        group = a.get("group_key", a.get("group", payload.get("group_key")))
        if group is not None and not isinstance(group, str):
            raise PayloadError(f"{where}.group_key: expected a string")
        out.append(Alert(
            status=_parse_status(a.get("status"), f"{where}.status"), labels=labels, annotations=annotations,
            starts_at=_time(a.get("starts_at", a.get("startsAt")), f"{where}.starts_at"),
            ends_at=_time(a.get("ends_at", a.get("endsAt")), f"{where}.ends_at"),
            fingerprint=str(fp)[:64], group_key=(group or f"fp:{fp}")[:1000], source="generic", raw=dict(a),
        ))
    return out


def parse(payload: Any, kind: str = "auto") -> list[Alert]:
    """Return the alerts of a webhook payload (a decoded JSON object).

    ``kind`` is ``auto`` (detected), ``alertmanager``, ``grafana`` or ``generic``.
    Raises :class:`PayloadError` (one line, naming the field) when the payload is not readable.
    """
    if kind not in KINDS:
        raise PayloadError(f"unknown payload kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not isinstance(payload, dict):
        raise PayloadError(f"payload: expected a JSON object, got {type(payload).__name__}")
    if kind == "auto":
        kind = detect(payload)
    if kind == "alertmanager":
        version = str(payload.get("version", "4"))
        if version != "4":
            raise PayloadError(f"alertmanager payload: version {version[:10]!r} is not supported (expected 4)")
        return _parse_am(payload, "alertmanager")
    if kind == "grafana":
        return _parse_am(payload, "grafana")
    return _parse_generic(payload)


def load_payload(path: str | Path) -> list[Alert]:
    """Return the alerts of a JSON payload file; raises :class:`PayloadError` naming the file."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PayloadError(f"alert payload {p}: not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"alert payload {p}: not JSON ({exc})") from None
    try:
        return parse(data)
    except PayloadError as exc:
        raise PayloadError(f"alert payload {p}: {exc}") from None


# -- routes, scenario and parameters -----------------------------------------------------------
def load_routes(path: str | Path | None) -> list[Route]:
    """Return the routes of a ``routes.yaml`` (missing file or ``None`` -> no routes).

    Form: ``routes: [{match: {label: value}, match_re: {label: regex}, scenario: NAME,
    parameters: {...}, parameter_files: [FILE.yaml, ...]}]`` (files relative to the working
    directory, as with ``run -f``). Raises :class:`ConfigError` naming the file and entry when
    malformed or when a parameter file does not exist.
    """
    import yaml

    if path is None or not Path(path).exists():
        return []
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"routes file {p}: cannot read it ({' '.join(str(exc).split())[:120]})") from None
    entries = data.get("routes", []) if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ConfigError(f"routes file {p}: 'routes' must be a list")
    routes = []
    for i, e in enumerate(entries):
        where = f"routes file {p} entry {i + 1}"
        if not isinstance(e, dict) or not isinstance(e.get("scenario"), str):
            raise ConfigError(f"{where}: expected a mapping with a 'scenario'")
        if not SCENARIO_NAME.match(e["scenario"]):
            raise ConfigError(f"{where}: {e['scenario']!r} is not a scenario name")
        unknown = set(e) - {"match", "match_re", "scenario", "parameters", "parameter_files", "name"}
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} "
                              "(match, match_re, scenario, parameters, parameter_files)")
        try:
            match = {str(k): str(v) for k, v in (e.get("match") or {}).items()}
            match_re = {str(k): re.compile(str(v)) for k, v in (e.get("match_re") or {}).items()}
        except (AttributeError, re.error) as exc:
            raise ConfigError(f"{where}: bad matcher ({exc})") from None
        params = e.get("parameters") or {}
        if not isinstance(params, dict):
            raise ConfigError(f"{where}: 'parameters' must be a mapping")
        files = e.get("parameter_files") or []
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise ConfigError(f"{where}: 'parameter_files' must be a list of paths")
        for f in files:
            if not Path(f).is_file():
                raise ConfigError(f"{where}: parameter file {f}: not found")
        routes.append(Route(e["scenario"], match, match_re, params, files))
    return routes


def default_routes() -> list[Route]:
    """Return the routes of the scenario registry (:func:`incident_kit.scenarios.routes`), used
    when there is no routes file; the shipped ``parameters/routes.yaml`` holds the same."""
    from .scenarios import routes

    return [Route(scenario=str(r["scenario"]), match_re={k: re.compile(v) for k, v in r["match_re"].items()})  # type: ignore[union-attr]
            for r in routes()]


def route_for(alert: Alert, routes: Iterable[Route]) -> Route | None:
    """Return the first route matching the alert, or ``None``."""
    return next((r for r in routes if r.matches(alert)), None)


def scenario_for(alert: Alert, routes: Iterable[Route] | str | Path | None = None) -> str:
    """Return the scenario to run for an alert.

    A ``scenario`` label (then annotation) wins, else the first matching route, else ``"triage"``.
    ``routes`` is a list of :class:`Route` or a routes file path. Raises :class:`PayloadError`
    when the alert's ``scenario`` value is not a plain scenario name.
    """
    named = alert.labels.get("scenario") or alert.annotations.get("scenario")
    if named:
        if not SCENARIO_NAME.match(named):
            raise PayloadError(f"alert {alert.name[:60]!r}: scenario {named[:60]!r} is not a scenario name")
        return named
    if routes is None or isinstance(routes, (str, Path)):
        routes = load_routes(routes)
    route = route_for(alert, routes)
    return route.scenario if route else "triage"


def _coerce(value: str, default: Any) -> Any:
    """Return a label value typed like the parameter's default (``None`` when it cannot be)."""
    if isinstance(default, bool):
        low = value.strip().lower()
        return True if low in ("true", "yes", "1") else False if low in ("false", "no", "0") else None
    if isinstance(default, int):
        try:
            return int(value)
        except ValueError:
            return None
    if isinstance(default, float):
        try:
            return float(value)
        except ValueError:
            return None
    if isinstance(default, list):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def parameters_for(alert: Alert, names: Iterable[str] | Mapping[str, Any], *, margin: str = DEFAULT_MARGIN) -> dict[str, Any]:
    """Return the parameters an alert sets for a scenario whose parameters are ``names``.

    Labels, then annotations (annotations win), whose names are parameters become parameters
    (typed like the default when ``names`` maps names to defaults); ``start`` is the alert's
    ``startsAt`` minus ``margin`` and ``end`` its ``endsAt`` when resolved. Values that are
    secret references (``env:``/``file:``) are dropped: an alert never chooses a secret.
    Returns only names the scenario takes (``output_dir`` is never set here).
    """
    from .timeutil import iso, parse_time

    defaults: Mapping[str, Any] = names if isinstance(names, Mapping) else {n: None for n in names}
    out: dict[str, Any] = {}
    for key, value in {**alert.labels, **alert.annotations}.items():
        if key not in defaults or key in ("output_dir", "start", "end", "scenario"):
            continue
        if value.startswith(("env:", "file:")):
            continue
        typed = _coerce(value, defaults[key])
        if typed is not None:
            out[key] = typed
    if alert.starts_at and "start" in defaults:
        start = parse_time(alert.starts_at)
        out["start"] = iso(parse_time(f"-{margin.lstrip('-')}", reference=start))
    if alert.ends_at and not alert.firing and "end" in defaults:
        out["end"] = alert.ends_at
    return out


__all__ = [
    "Alert", "Route", "PayloadError", "parse", "detect", "load_payload", "load_routes",
    "route_for", "scenario_for", "parameters_for", "fingerprint_of", "default_routes",
]
