"""Webhook authentication: ``Authorization: Bearer <token>`` or an HMAC-SHA256 signature of the body.

The signature header is ``X-Incident-Kit-Signature: sha256=<hex of HMAC-SHA256(token, raw body)>``.
Comparisons are constant-time. Reasons are one line and never contain the token.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Mapping

SIGNATURE_HEADER = "x-incident-kit-signature"


class Refused(Exception):
    """A request refused before intake: ``status`` (HTTP code) and a one-line ``reason``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sign(token: str, body: bytes) -> str:
    """Return the signature header value for ``body`` (``sha256=<hex>``)."""
    return "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def check_bearer(headers: Mapping[str, str], token: str | None, mode: str) -> bool:
    """Check the bearer token before the body is read.

    Returns True when the request is authenticated by it, False when the signature must decide
    (no bearer given, HMAC allowed). Raises :class:`Refused` (401) for a wrong token or a
    missing credential when only bearer is allowed.
    """
    if token is None:
        return True
    auth = headers.get("authorization")
    if auth is not None and mode in ("any", "bearer"):
        scheme, _, given = auth.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise Refused(401, "authorization header is not 'Bearer <token>'")
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise Refused(401, "bearer token is not valid")
        return True
    if mode == "bearer":
        raise Refused(401, "missing credentials: send Authorization: Bearer <token>")
    return False


def check_signature(headers: Mapping[str, str], body: bytes, token: str, mode: str) -> None:
    """Check the HMAC signature of ``body``; raises :class:`Refused` (401) when missing or wrong."""
    given = headers.get(SIGNATURE_HEADER)
    if given is None:
        hint = "Authorization: Bearer <token> or " if mode == "any" else ""
        raise Refused(401, f"missing credentials: send {hint}X-Incident-Kit-Signature: sha256=<hmac of body>")
    if not hmac.compare_digest(given.strip().encode(), sign(token, body).encode()):
        raise Refused(401, "signature does not match the body")


__all__ = ["Refused", "sign", "check_bearer", "check_signature", "SIGNATURE_HEADER"]
