"""Redis, read only: INFO as metrics, clients, slowlog, queue depths and oldest jobs of named keys.

Only read commands are sent (INFO, CLIENT LIST, SLOWLOG GET, TYPE, LLEN, XLEN, ZCARD, SCARD,
HLEN, XINFO GROUPS, SCAN, LRANGE, ZRANGE, XRANGE, HGETALL). URLs are ``redis://[:password@]host:port/db`` (``rediss://`` for
TLS) or ``env:``/``file:`` references to one.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable

import pandas as pd

from .._optional import require
from ..errors import ConfigError
from ..frames import conform
from ..secrets import mask_url, resolve
from ..timeutil import now
from ._base import source

DEFAULT_SECTIONS = ("server", "clients", "memory", "persistence", "stats", "replication", "cpu", "keyspace")
_DEPTH = {"list": "llen", "stream": "xlen", "zset": "zcard", "set": "scard", "hash": "hlen"}


def _client(url: str, timeout_s: float) -> Any:
    redis_lib = require("redis", "redis")
    if not url:
        raise ConfigError("redis: no URL given (expected redis://host:port/db or an env:/file: reference)")
    return redis_lib.Redis.from_url(str(resolve(url, field="redis url")), socket_timeout=timeout_s,
                                    socket_connect_timeout=timeout_s, decode_responses=True)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).rstrip("%"))
    except ValueError:
        return None


@source("redis", "metrics")
def info(url: str, sections: Iterable[str] | str | None = None, *, timeout_s: float = 5.0) -> pd.DataFrame:
    """Return ``INFO`` as a metrics frame: ``redis_<field>`` with label ``section``.

    Nested fields (keyspace ``db0``, ``cmdstat_*``, ``errorstat_*``) give ``redis_<subfield>``
    with the label ``key`` (e.g. ``redis_keys{key=db0}``). Text fields (version, role, ...) are
    in ``attrs['text']``. Raises :class:`SourceError` when Redis cannot be reached.
    """
    wanted = [sections] if isinstance(sections, str) else list(sections or DEFAULT_SECTIONS)
    client = _client(url, timeout_s)
    rows: list[dict[str, Any]] = []
    text: dict[str, str] = {}
    try:
        for section in wanted:
            ts = now()
            for key, value in client.info(section).items():
                if isinstance(value, dict):
                    for sub, v in value.items():
                        n = _number(v)
                        if n is not None:
                            rows.append({"ts": ts, "metric": f"redis_{sub}", "value": n, "section": section, "key": key})
                    continue
                n = _number(value)
                if n is None:
                    text[key] = str(value)
                else:
                    rows.append({"ts": ts, "metric": f"redis_{key}", "value": n, "section": section, "key": None})
    finally:
        client.close()
    frame = conform(pd.DataFrame(rows, columns=["ts", "metric", "value", "section", "key"]), "metrics",
                    source=f"redis:{mask_url(url)}")
    frame.attrs["text"] = text
    return frame


@source("redis", "metrics")
def memory(url: str, *, timeout_s: float = 5.0) -> pd.DataFrame:
    """Return ``INFO memory`` as metrics (used_memory, maxmemory, fragmentation ratio, ...)."""
    return info(url, "memory", timeout_s=timeout_s)


@source("redis", "table")
def clients(url: str, *, timeout_s: float = 5.0) -> pd.DataFrame:
    """Return ``CLIENT LIST`` as a table (id, addr, name, age, idle, db, cmd, flags, ...)."""
    client = _client(url, timeout_s)
    try:
        listed = client.client_list()
    finally:
        client.close()
    frame = pd.DataFrame(listed)
    for col in ("id", "age", "idle", "db", "qbuf", "omem", "tot-mem"):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    frame.attrs.update({"source": f"redis:{mask_url(url)}", "truncated": False, "rejected": 0})
    return frame


@source("redis", "events")
def slowlog(url: str, n: int = 128, *, timeout_s: float = 5.0) -> pd.DataFrame:
    """Return ``SLOWLOG GET n`` as an events frame (``kind`` slowlog, ``text`` the command, ``ref`` its id).

    Extra columns: ``duration_ms``, ``client_addr``, ``client_name``.
    """
    client = _client(url, timeout_s)
    try:
        entries = client.slowlog_get(int(n))
    finally:
        client.close()
    rows = []
    for e in entries:
        command = e.get("command")
        command = command.decode(errors="replace") if isinstance(command, bytes) else str(command)
        rows.append({"ts": pd.Timestamp(int(e["start_time"]), unit="s", tz="UTC"), "kind": "slowlog",
                     "source": "redis", "text": command, "ref": str(e["id"]),
                     "duration_ms": int(e["duration"]) / 1000,
                     "client_addr": e.get("client_address"), "client_name": e.get("client_name")})
    return conform(pd.DataFrame(rows), "events", source=f"redis:{mask_url(url)}")


@source("redis", "metrics")
def queues(url: str, keys: Iterable[str] | str, *, timeout_s: float = 5.0, max_matches: int = 1000) -> pd.DataFrame:
    """Return the depth of each key as a metrics frame (``queue_depth``, labels ``key`` and ``type``).

    A list gives LLEN, a stream XLEN, a sorted set ZCARD, a set SCARD, a hash HLEN; a key that
    does not exist gives depth 0 with type ``none``. A key with ``*``, ``?`` or ``[`` is a pattern
    matched with SCAN (at most ``max_matches`` keys and ``timeout_s`` of scanning; ``attrs['truncated']``
    tells). Streams add
    ``stream_group_pending`` and ``stream_group_lag`` per consumer group (label ``group``).
    """
    names = [keys] if isinstance(keys, str) else list(keys or [])
    if not names:
        raise ConfigError("redis.queues: no keys given (expected names like bull:emails:waiting)")
    client = _client(url, timeout_s)
    rows: list[dict[str, Any]] = []
    truncated = False
    try:
        expanded: list[str] = []
        for name in names:
            if any(ch in name for ch in "*?["):
                found = []
                deadline = time.monotonic() + timeout_s  # SCAN walks the whole keyspace: bound it
                for k in client.scan_iter(match=name, count=1000):
                    if len(found) >= max_matches or time.monotonic() > deadline:
                        truncated = True
                        break
                    found.append(k)
                expanded += sorted(found)
            else:
                expanded.append(name)
        for key in expanded:
            ts = now()
            kind = client.type(key)
            depth = float(getattr(client, _DEPTH[kind])(key)) if kind in _DEPTH else 0.0
            if kind not in _DEPTH and kind != "none":
                depth = float("nan")
            rows.append({"ts": ts, "metric": "queue_depth", "value": depth, "key": key, "type": kind, "group": None})
            if kind == "stream":
                for g in client.xinfo_groups(key):
                    for field, metric in (("pending", "stream_group_pending"), ("lag", "stream_group_lag")):
                        value = g.get(field)
                        rows.append({"ts": ts, "metric": metric, "value": _number(value) if value is not None
                                     else float("nan"), "key": key, "type": kind, "group": g.get("name")})
    finally:
        client.close()
    frame = pd.DataFrame(rows, columns=["ts", "metric", "value", "key", "type", "group"])
    return conform(frame, "metrics", source=f"redis:{mask_url(url)}", truncated=truncated, sort=False)


_TIME_FIELDS = ("enqueued_at", "enqueuedAt", "created_at", "createdAt", "timestamp", "ts", "queued_at", "time",
                "processedOn", "started_at")


def _job_time(raw: Any) -> pd.Timestamp | None:
    """Return the time a job was queued from its JSON (a time field) or a BullMQ hash (``timestamp`` ms)."""
    data = raw
    if isinstance(raw, str):
        try:
            data = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(data, dict):
        return None
    for name in _TIME_FIELDS:
        value = data.get(name)
        if value in (None, ""):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            try:
                return pd.Timestamp(value).tz_localize("UTC") if pd.Timestamp(value).tzinfo is None else pd.Timestamp(value).tz_convert("UTC")
            except (ValueError, TypeError):
                continue
        unit = "ms" if number > 1e11 else "s"
        return pd.Timestamp(number, unit=unit, tz="UTC")
    return None


@source("redis", "table")
def oldest(url: str, keys: Iterable[str] | str, *, timeout_s: float = 5.0, sample: int = 50) -> pd.DataFrame:
    """Return the oldest job of each queue key and how long it has waited.

    A list is read from both ends (``LRANGE``, ``sample`` items each): an item is a JSON job with a
    time field (``enqueued_at``, ``timestamp`` in s or ms, ...) or a job id whose BullMQ hash
    ``<prefix>:<id>`` (prefix: the key without its last part) has ``timestamp``; a sorted set's
    scores are taken as times (delayed jobs); a stream's first entry id gives its time. Columns: ``key``, ``depth``, ``oldest_ts``, ``age_s``, ``dated``
    (items whose time could be read). Nothing is popped or changed.
    """
    names = [keys] if isinstance(keys, str) else list(keys or [])
    if not names:
        raise ConfigError("redis.oldest: no keys given (expected names like bull:emails:waiting)")
    client = _client(url, timeout_s)
    rows = []
    ts_now = now()
    try:
        for key in names:
            kind = client.type(key)
            times: list[pd.Timestamp] = []
            depth = 0
            if kind == "list":
                depth = int(client.llen(key))
                items = (client.lrange(key, 0, -1) if depth <= 2 * sample  # short: each item once
                         else client.lrange(key, 0, sample - 1) + client.lrange(key, -sample, -1))
                prefix = key.rsplit(":", 1)[0]
                for item in items:
                    t = _job_time(item)
                    if t is None and isinstance(item, str) and len(item) < 100 and ":" not in item:
                        t = _job_time(client.hgetall(f"{prefix}:{item}"))
                    if t is not None:
                        times.append(t)
            elif kind == "zset":
                depth = int(client.zcard(key))
                for _, score in client.zrange(key, 0, sample - 1, withscores=True):
                    unit = "ms" if score > 1e11 else "s"
                    times.append(pd.Timestamp(float(score), unit=unit, tz="UTC"))
            elif kind == "stream":  # an entry id starts with its time in ms
                depth = int(client.xlen(key))
                for entry_id, _ in client.xrange(key, count=1):
                    times.append(pd.Timestamp(int(str(entry_id).split("-")[0]), unit="ms", tz="UTC"))
            first = min(times) if times else None
            rows.append({"key": key, "type": kind, "depth": depth, "oldest_ts": first,
                         "age_s": (ts_now - first).total_seconds() if first is not None else float("nan"),
                         "dated": len(times)})
    finally:
        client.close()
    frame = pd.DataFrame(rows, columns=["key", "type", "depth", "oldest_ts", "age_s", "dated"])
    frame.attrs.update({"source": f"redis:{mask_url(url)}", "truncated": False, "rejected": 0})
    return frame


__all__ = ["info", "memory", "clients", "slowlog", "queues", "oldest"]
