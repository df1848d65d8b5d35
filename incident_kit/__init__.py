"""incident-kit: executable incident runbooks.

``import incident_kit as ik`` gives the notebook API of PRODUCT.md: ``ik.logs``, ``ik.db``,
``ik.postgres``, ``ik.mysql``, ``ik.prometheus``, ``ik.probes``, ``ik.redis``, ``ik.host``,
``ik.deploys``, ``ik.analysis`` (modules, imported on first use), plus the recorder
:class:`Investigation` and the exception tree.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    ConfigError,
    IncidentKitError,
    MissingDependency,
    MutationRefused,
    ParameterError,
    RunError,
    SourceError,
    SourceSaturated,
    SourceTimeout,
)
from .offline import OfflineRefused, install_from_env

# A run started with --offline (INCIDENT_KIT_OFFLINE=1) reaches nothing beyond this machine.
install_from_env()

__version__ = "0.1.0"

_LAZY_MODULES = {
    "logs": "incident_kit.sources.logs",
    "db": "incident_kit.sources.db",
    "postgres": "incident_kit.sources.postgres",
    "mysql": "incident_kit.sources.mysql",
    "sqlite": "incident_kit.sources.sqlite",
    "prometheus": "incident_kit.sources.prometheus",
    "probes": "incident_kit.sources.probes",
    "redis": "incident_kit.sources.redis",
    "host": "incident_kit.sources.host",
    "deploys": "incident_kit.sources.deploys",
    "loki": "incident_kit.sources.logs.stores.loki",
    "elasticsearch": "incident_kit.sources.logs.stores.elasticsearch",
    "clickhouse": "incident_kit.sources.logs.stores.clickhouse",
    "analysis": "incident_kit.analysis",
    "frames": "incident_kit.frames",
    "secrets": "incident_kit.secrets",
    "report": "incident_kit.report",
    "plots": "incident_kit.report.plots",
    "narrate": "incident_kit.narrate",
    "steps": "incident_kit.steps",
    "scenarios": "incident_kit.scenarios",
    "config": "incident_kit.sources.config",
}
_LAZY_ATTRS = {
    "Investigation": ("incident_kit.investigation", "Investigation"),
    "parse_time": ("incident_kit.timeutil", "parse_time"),
}

__all__ = [
    *_LAZY_MODULES,
    *_LAZY_ATTRS,
    "ConfigError",
    "IncidentKitError",
    "MissingDependency",
    "MutationRefused",
    "OfflineRefused",
    "ParameterError",
    "RunError",
    "SourceError",
    "SourceSaturated",
    "SourceTimeout",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        module = importlib.import_module(_LAZY_MODULES[name])
        globals()[name] = module
        return module
    if name in _LAZY_ATTRS:
        mod, attr = _LAZY_ATTRS[name]
        value = getattr(importlib.import_module(mod), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'incident_kit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
