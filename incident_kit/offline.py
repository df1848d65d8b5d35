"""Offline mode: nothing but this machine is reached.

With ``INCIDENT_KIT_OFFLINE=1`` (``incident-kit run --offline`` sets it for the run and its
kernel) every connection, datagram and name look-up of the process is checked by a Python audit
hook (:pep:`578`): loopback addresses (``127.0.0.0/8``, ``::1``), ``localhost`` names and local
sockets pass; anything else raises :class:`OfflineRefused` before a packet is sent, whichever
library asked. Sources turn that into a one-line ``offline: ...`` status, so a team can dry-run
an imported runbook without touching production.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from typing import Any
from urllib.parse import urlsplit

from .errors import IncidentKitError

ENV = "INCIDENT_KIT_OFFLINE"
PREFIX = "offline:"
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_EVENTS = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
           "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"}
_installed = False


class OfflineRefused(IncidentKitError, ConnectionRefusedError):
    """A connection or look-up of a host that is not this machine, refused in offline mode.

    A :class:`ConnectionRefusedError` too, so network libraries report it as a failed
    connection (httpx: ``ConnectError``) with this one line as the reason.
    """


def enabled() -> bool:
    """Return True when offline mode is on (``INCIDENT_KIT_OFFLINE`` is 1/true/yes/on)."""
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


def is_loopback(host: Any) -> bool:
    """Return True when ``host`` (a name, an IP text, bytes or None) names this machine only."""
    if host is None or host == "":
        return True  # a passive or unspecified local address
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    name = str(host).strip().strip("[]").rstrip(".").lower()
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or address.is_unspecified or (mapped is not None and mapped.is_loopback))


def host_of(target: str) -> str:
    """Return the host a probe or source target names: a URL's host, ``host:port``'s host, or a bare name."""
    text = str(target).strip()
    parts = urlsplit(text if "://" in text else f"//{text}")
    try:
        return parts.hostname or ""
    except ValueError:
        return text


def refusal(target: str, what: str = "target") -> str | None:
    """Return the one-line ``offline: ...`` reason when offline mode refuses ``target``, else None."""
    if not enabled():
        return None
    host = host_of(target)
    if is_loopback(host):
        return None
    return f"{PREFIX} {what} {host or target} is not on this machine; not contacted ({ENV}=1)"


def _address_host(address: Any) -> Any:
    if isinstance(address, tuple) and address and isinstance(address[0], str | bytes):
        return address[0]
    return None  # a Unix, netlink or other local socket address


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event not in _EVENTS:
        return
    if event in ("socket.connect", "socket.sendto"):
        host = _address_host(args[1])
    elif event == "socket.sendmsg":
        host = _address_host(args[1]) if len(args) > 1 else None
    else:
        host = args[0]
    if host is not None and not is_loopback(host):
        shown = host.decode("ascii", "replace") if isinstance(host, bytes) else host
        raise OfflineRefused(f"{PREFIX} {shown} is not on this machine; not contacted ({ENV}=1)")


def install() -> None:
    """Refuse, from now on and for the whole process, every network use beyond loopback.

    Audit hooks cannot be removed: call it only in a process that must stay offline (a run, its
    kernel, a test session). Idempotent.
    """
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True


def install_from_env() -> bool:
    """Install the guard when offline mode is on; return whether it is installed."""
    if enabled():
        install()
    return _installed


__all__ = ["ENV", "OfflineRefused", "enabled", "host_of", "install", "install_from_env", "is_loopback", "refusal"]
