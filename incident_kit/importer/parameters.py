"""The parameters of an imported notebook: shared names, placeholders, secrets and URL origins.

Placeholders written in a runbook's commands become notebook parameters:

* ``$DATABASE_URL`` / ``${REDIS_URL}`` -> ``database_url = "env:DATABASE_URL"`` (a secret
  reference, never a value);
* ``[USER_ID]``, ``[your-org]``, ``<app-id>`` -> ``user_id = ""`` etc., to fill in (names that
  look secret, such as ``[TOKEN]``, default to an ``env:`` reference instead);
* the origin of each URL a health check calls -> ``app_url = "http://localhost:3001"``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..params import SHARED_PARAMETERS

ENV_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
BRACKET = re.compile(r"\[([A-Za-z][A-Za-z0-9_\- ]{0,40})\](?!\()")
ANGLE = re.compile(r"<([A-Za-z][A-Za-z0-9_\-]{0,40})>")
_SECRETISH = re.compile(r"(?i)token|secret|password|passwd|api[_-]?key|access[_-]?key|credential")

#: Defaults of the shared parameters every imported notebook declares (PRODUCT.md).
SHARED_DEFAULTS: dict[str, Any] = {
    "start": None,
    "end": None,
    "service": "",
    "logs": [],
    "log_format": "auto",
    "database_url": None,
    "prometheus_url": None,
    "redis_url": None,
    "probe_targets": [],
    "git_repo": ".",
    "deploy_events": None,
    "output_dir": None,
}
_SHARED_HELP: dict[str, str] = {
    "start": "window start (ISO 8601 or relative like -2h); None: from the data",
    "end": "window end; None: now",
    "logs": "log files, globs or URLs read where the runbook tails or greps logs",
    "output_dir": "set by the runner",
}


def identifier(text: str) -> str:
    """Return a Python identifier made from ``text`` (lower case, ``_`` for other characters)."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower() or "value"
    return f"p_{name}" if name[0].isdigit() else name


@dataclass
class Parameter:
    """One notebook parameter: its default value and a help comment."""

    name: str
    default: Any
    help: str = ""


class ParameterSet:
    """The parameters a notebook declares, built up while its commands are translated."""

    def __init__(self) -> None:
        self.params: dict[str, Parameter] = {
            name: Parameter(name, copy.deepcopy(SHARED_DEFAULTS.get(name)), _SHARED_HELP.get(name, "")) for name in SHARED_PARAMETERS
        }
        self._origins: dict[str, str] = {}
        self._hosts: dict[str, str] = {}

    def extra(self) -> list[Parameter]:
        """Return the parameters beyond the shared ones, in the order they were found."""
        return [p for name, p in self.params.items() if name not in SHARED_DEFAULTS]

    def contacted_hosts(self) -> list[tuple[str, str]]:
        """Return ``(host[:port], parameter)`` for every parameter whose default is a URL the notebook will contact."""
        found: list[tuple[str, str]] = []
        for name, param in self.params.items():
            values = param.default if isinstance(param.default, list) else [param.default]
            for value in values:
                if isinstance(value, str) and ("://" in value or name in self._hosts.values()):
                    host = urlsplit(value).netloc.rpartition("@")[2] if "://" in value else value
                    if host and (host, name) not in found:
                        found.append((host, name))
        return found

    def env(self, var: str) -> str:
        """Return the parameter name for environment variable ``var`` (an ``env:`` reference)."""
        name = identifier(var)
        param = self.params.get(name)
        if param is None:
            self.params[name] = Parameter(name, f"env:{var}", f"from ${var}")
        elif param.default in (None, "", []):
            param.default, param.help = f"env:{var}", f"from ${var}"
        return name

    def placeholder(self, token: str) -> str:
        """Return the parameter name for a placeholder such as ``[USER_ID]`` or ``<app-id>``."""
        inner = token.strip("[]<>")
        name = identifier(inner)
        if name not in self.params:
            default = f"env:{identifier(inner).upper()}" if _SECRETISH.search(inner) else ""
            self.params[name] = Parameter(name, default, f"fill in: {token} in the runbook")
        return name

    def origin(self, url: str) -> tuple[str, str]:
        """Return (parameter name, rest of the URL) for an absolute http(s) URL.

        The origin (scheme, host, port) becomes a parameter so a team can point the same
        checks at another environment: localhost origins are ``app_url``, others are named
        after their host (``https://api.mux.com`` -> ``mux_api_url``).
        """
        parts = urlsplit(url)
        rest = url[len(f"{parts.scheme}://{parts.netloc}"):]
        host = parts.netloc.rpartition("@")[2]  # user:password@ never becomes a parameter value
        origin = f"{parts.scheme}://{host}"
        if origin in self._origins:
            return self._origins[origin], rest
        host = (parts.hostname or "app").lower()
        if host in ("localhost", "127.0.0.1", "0.0.0.0", "::1"):
            base = "app"
        else:
            labels = [lb for lb in host.split(".") if lb not in ("www", "com", "org", "net", "io")]
            labels = labels[:-1] if len(labels) > 2 else labels
            base = "_".join(reversed(labels)) if labels and labels[0] == "api" else "_".join(labels)
        name = identifier(base) + "_url"
        n = 2
        while name in self.params:
            name = f"{identifier(base)}{n}_url"
            n += 1
        self.params[name] = Parameter(name, origin, "base URL of the health checks below")
        self._origins[origin] = name
        return name, rest

    def host(self, hostname: str) -> str:
        """Return the parameter holding ``hostname`` for DNS, TCP and TLS checks (``checkout.example.com`` ->
        ``checkout_example_host``), so a team can point those checks elsewhere too."""
        key = hostname.lower().rstrip(".")
        if key in self._hosts:
            return self._hosts[key]
        labels = [lb for lb in key.split(".") if lb not in ("www", "com", "org", "net", "io")] or ["target"]
        base = identifier("_".join(labels[:3]))
        name = f"{base}_host"
        n = 2
        while name in self.params:
            name, n = f"{base}{n}_host", n + 1
        self.params[name] = Parameter(name, hostname, "host the DNS/TCP/TLS checks below contact")
        self._hosts[key] = name
        return name

    def add_log_path(self, path: str) -> None:
        """Add a log file the runbook reads to the default of ``logs``."""
        paths = self.params["logs"].default
        if path not in paths:
            paths.append(path)

    def scan(self, text: str) -> list[str]:
        """Register every placeholder and environment variable in ``text``; returns their names."""
        names = [self.env(m.group(1)) for m in ENV_VAR.finditer(text) if m.group(1).isupper()]
        names += [self.placeholder(m.group(0)) for m in BRACKET.finditer(text) if _is_placeholder(m.group(1))]
        names += [self.placeholder(m.group(0)) for m in ANGLE.finditer(text)]
        return names


def _is_placeholder(inner: str) -> bool:
    """Return True for ``[USER_ID]``/``[your-org]`` style text, not ``[x]`` or ``[Slack #chan]``."""
    return len(inner) > 1 and " " not in inner.strip() and not re.fullmatch(r"[a-zA-Z]-[a-zA-Z]", inner)


__all__ = ["Parameter", "ParameterSet", "identifier", "SHARED_DEFAULTS", "ENV_VAR", "BRACKET", "ANGLE"]
