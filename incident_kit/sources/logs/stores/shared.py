"""What the remote log stores (Loki, Elasticsearch/OpenSearch, ClickHouse) share.

An HTTP client with credentials taken out of the URL (so they never reach a message), error
bodies turned into one-line :class:`SourceError`s, and records -> canonical logs frame through
the same alias table as log files.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import pyarrow as pa

from .... import frames, secrets
from ....errors import SourceError
from .. import fields as logfields
from ..formats import jsonlines
from ..tables import to_frame

DEFAULT_TIMEOUT = 30.0
MAX_ROWS = 100_000


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """Return ``url`` without ``user:password@`` and the credentials (or None)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)), (
        parts.username, parts.password or "")


def client(url: Any, *, timeout: float, headers: Mapping[str, str] | None = None, token: Any = None,
           field: str = "url") -> tuple[Any, str]:
    """Return ``(httpx.Client, base_url)`` for ``url`` (secret references resolved, credentials as auth)."""
    import httpx

    resolved = str(secrets.resolve(url, field=field)).rstrip("/")
    base, creds = split_credentials(resolved)
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {secrets.resolve(token, field='token')}"
    http = httpx.Client(base_url=base, timeout=timeout, headers=all_headers, auth=creds, follow_redirects=True)
    return http, base


def error_text(response: Any) -> str:
    """Return the one-line reason a store gave in an error response (JSON error bodies understood)."""
    body = response.text.strip()
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):  # Elasticsearch/OpenSearch
            cause = (err.get("root_cause") or [{}])[0] if isinstance(err.get("root_cause"), list) else {}
            kind = cause.get("type") or err.get("type") or "error"
            reason = cause.get("reason") or err.get("reason") or json.dumps(err)[:300]
            return f"{kind}: {reason}"
        if isinstance(err, str):  # Loki / Prometheus-style {"status":"error","error":...}
            return f"{data.get('errorType', 'error')}: {err}"
        if "message" in data:
            return str(data["message"])
    return " ".join(body.split())[:500] or response.reason_phrase


def check(response: Any, source: str, target: str, window: tuple[Any, Any] | None = None) -> None:
    """Raise a one-line SourceError unless ``response`` is a 2xx."""
    if response.status_code >= 400:
        raise SourceError(source, secrets.mask_url(target), f"HTTP {response.status_code}: {error_text(response)}",
                          window)


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return nested dicts as dotted keys (``{"http": {"status": 500}}`` -> ``{"http.status": 500}``)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def records_frame(records: Iterable[Mapping[str, Any]], *, source: str, truncated: bool,
                  aliases: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Return the canonical logs frame of ``records`` (field names mapped by the alias table).

    Records without a readable timestamp are counted as rejected, as for files.
    """
    rows = [flatten(r) for r in records]
    if not rows:
        frame = frames.conform(pd.DataFrame(), "logs", source=source, truncated=truncated)
        frame.attrs.update({"rejected_sample": [], "format": source.split(" ")[0], "notes": [], **(extra or {})})
        return frame
    table = jsonlines.records_to_table(rows)
    table = logfields.canonicalize(table, logfields.alias_table(aliases))
    rejected = 0
    if "ts" not in table.column_names:
        raise SourceError(source.split(" ")[0], source, f"no timestamp field among {', '.join(rows[0])[:300]}")
    valid = table.column("ts").is_valid()
    if not valid.to_numpy(zero_copy_only=False).all():
        rejected = int(len(valid) - valid.sum().as_py())
        table = table.filter(valid)
    table = table.append_column("source", pa.array([source] * table.num_rows, pa.string()))
    frame = frames.conform(to_frame([table]), "logs", source=source, truncated=truncated, rejected=rejected,
                           sort=False)
    frame.attrs.update({"rejected_sample": [], "format": source.split(" ")[0], "notes": [], **(extra or {})})
    return frame


def metrics_frame(rows: list[dict[str, Any]], *, source: str, truncated: bool = False) -> pd.DataFrame:
    """Return the canonical metrics frame (ts, metric, value, one column per label) of ``rows``."""
    frame = pd.DataFrame(rows) if rows else pd.DataFrame()
    return frames.conform(frame, "metrics", source=source, truncated=truncated)


def iso_ns(ts: pd.Timestamp) -> str:
    """Return ``ts`` as an RFC 3339 string with nanoseconds (what the stores accept)."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.value % 1_000_000_000:09d}Z"


__all__ = ["DEFAULT_TIMEOUT", "MAX_ROWS", "split_credentials", "client", "error_text", "check", "flatten",
           "records_frame", "metrics_frame", "iso_ns"]
