"""Configuration of ``incident-kit serve``: command-line options plus environment variables.

Environment (all optional): ``INCIDENT_KIT_WEBHOOK_TOKEN`` (bearer token and HMAC key),
``INCIDENT_KIT_WEBHOOK_AUTH`` (``any``|``bearer``|``hmac``), ``INCIDENT_KIT_NOTIFY_URL``
(Slack-compatible webhook, may be an ``env:``/``file:`` reference), ``INCIDENT_KIT_PUBLIC_URL``
(base of report links), ``INCIDENT_KIT_DEDUP_PERIOD`` (s, 3600), ``INCIDENT_KIT_RUN_TIMEOUT``
(s, 900), ``INCIDENT_KIT_CELL_TIMEOUT`` (s), ``INCIDENT_KIT_MAX_BODY`` (bytes, 1 MiB),
``INCIDENT_KIT_HEARTBEAT`` (s, 5), ``INCIDENT_KIT_SERVE_RUN`` (``module:function`` replacing
``incident_kit.runner:run``).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..alerts import Route, default_routes, load_routes
from ..errors import ConfigError, ServeError
from .executor import ExecSettings
from .ledger import default_url

DEFAULT_ROUTES = "parameters/routes.yaml"
AUTH_MODES = ("any", "bearer", "hmac")


@dataclass
class ServeConfig:
    """Everything the app needs; build it with :func:`from_args`."""

    host: str
    port: int
    out_dir: Path
    ledger_url: str
    queue: str
    workers: int
    routes: list[Route]
    token: str | None
    auth_mode: str = "any"
    dedup_period_s: float = 3600.0
    max_body: int = 1 << 20
    exec: ExecSettings = field(default_factory=lambda: ExecSettings("", ""))


def is_loopback(host: str) -> bool:
    """Return True for localhost and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def routes_file(option: str) -> Path | None:
    """Return the routes file to read for ``-c``: the given one, or for the default name, the first of
    ``./parameters/routes.yaml`` and the copy shipped with the package (None when there is none).

    Raises :class:`ConfigError` when a file given explicitly does not exist.
    """
    path = Path(option)
    if path.exists():
        return path
    if option != DEFAULT_ROUTES:
        raise ConfigError(f"routes file {path}: not found")
    package = Path(__file__).resolve().parents[1]
    for shipped in (package / "parameters" / "routes.yaml", package.parent / "parameters" / "routes.yaml"):
        if shipped.exists():
            return shipped
    return None


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r}: must be at least {minimum:g}")
    return value


def from_args(args: Any, env: Mapping[str, str] | None = None) -> ServeConfig:
    """Return the configuration for parsed ``serve`` arguments and the environment.

    Raises :class:`ServeError` when asked to listen beyond loopback without a token, and
    :class:`ConfigError` for unusable values (routes file, numbers, auth mode).
    """
    env = os.environ if env is None else env
    token = env.get("INCIDENT_KIT_WEBHOOK_TOKEN") or None
    if not is_loopback(args.host) and not token:
        raise ServeError(f"refusing to listen on {args.host} without a webhook token: "
                         "set INCIDENT_KIT_WEBHOOK_TOKEN (or listen on 127.0.0.1)")
    auth_mode = env.get("INCIDENT_KIT_WEBHOOK_AUTH", "any") or "any"
    if auth_mode not in AUTH_MODES:
        raise ConfigError(f"INCIDENT_KIT_WEBHOOK_AUTH={auth_mode!r}: expected one of {', '.join(AUTH_MODES)}")
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port {args.port}: expected 1..65535")
    if args.workers < 0:
        raise ConfigError(f"--workers {args.workers}: expected 0 or more")
    if args.queue == "local" and args.workers < 1:
        raise ConfigError("--workers 0 needs --queue redis://... (remote workers); the local queue needs at least 1")
    found = routes_file(args.routes)
    routes = load_routes(found) if found is not None else default_routes()
    out = Path(args.out).resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {args.out}: cannot create it ({exc.strerror})") from None
    ledger_url = args.ledger or default_url(out)
    public = env.get("INCIDENT_KIT_PUBLIC_URL") or f"http://{args.host}:{args.port}"
    cell_timeout = _number(env, "INCIDENT_KIT_CELL_TIMEOUT", 0.0) or None
    settings = ExecSettings(
        ledger_url=ledger_url, out_dir=str(out),
        run_timeout=_number(env, "INCIDENT_KIT_RUN_TIMEOUT", 900.0, minimum=1.0), cell_timeout=cell_timeout,
        heartbeat_s=_number(env, "INCIDENT_KIT_HEARTBEAT", 5.0, minimum=0.2),
        notify_url=env.get("INCIDENT_KIT_NOTIFY_URL") or None, public_url=public,
        run_func=env.get("INCIDENT_KIT_SERVE_RUN") or None, cwd=str(Path.cwd()),
    )
    return ServeConfig(
        host=args.host, port=args.port, out_dir=out, ledger_url=ledger_url, queue=args.queue, workers=args.workers,
        routes=routes, token=token, auth_mode=auth_mode,
        dedup_period_s=_number(env, "INCIDENT_KIT_DEDUP_PERIOD", 3600.0),
        max_body=int(_number(env, "INCIDENT_KIT_MAX_BODY", float(1 << 20), minimum=1024)), exec=settings,
    )


__all__ = ["ServeConfig", "from_args", "is_loopback", "DEFAULT_ROUTES"]
