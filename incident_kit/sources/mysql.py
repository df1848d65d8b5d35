"""MySQL and MariaDB, read only: processlist as db activity, connections against max, InnoDB lock waits.

URLs are SQLAlchemy URLs (``mysql://``, ``mariadb://``, ``mysql+pymysql://``; PyMySQL is the
default driver) or ``env:``/``file:`` references. Every statement is checked by sqlguard and
runs on a session set to ``TRANSACTION READ ONLY`` with ``max_statement_time`` (MariaDB) or
``max_execution_time`` (MySQL). Lock waits come from ``information_schema.INNODB_LOCK_WAITS``
(MariaDB, MySQL 5.7) or ``performance_schema.data_lock_waits`` (MySQL 8). Seeing other users'
threads needs the PROCESS privilege.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import ConfigError, SourceError
from ..frames import conform
from ._base import source
from .db import DEFAULT_TIMEOUT_S, ReadOnlySession
from .postgres import blocking_chains

_PROCESSLIST = """
SELECT UTC_TIMESTAMP(6) AS ts, p.ID AS pid, p.DB AS datname, p.USER AS usename, p.HOST AS client_addr,
       p.COMMAND AS command, p.STATE AS thread_state, p.TIME AS time_s, p.INFO AS query
FROM information_schema.PROCESSLIST p
WHERE p.ID <> CONNECTION_ID()
"""

_TRX = """
SELECT t.trx_mysql_thread_id AS pid, t.trx_id, t.trx_state,
       TIMESTAMPDIFF(MICROSECOND, t.trx_started, NOW(6)) / 1000000 AS xact_age_s,
       TIMESTAMPDIFF(MICROSECOND, t.trx_wait_started, NOW(6)) / 1000000 AS lock_wait_s,
       t.trx_rows_locked AS rows_locked, t.trx_rows_modified AS rows_modified
FROM information_schema.INNODB_TRX t
"""

_WAITS_IS = """
SELECT r.trx_mysql_thread_id AS pid, b.trx_mysql_thread_id AS blocker
FROM information_schema.INNODB_LOCK_WAITS w
JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id
JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id
"""

_WAITS_PS = """
SELECT r.trx_mysql_thread_id AS pid, b.trx_mysql_thread_id AS blocker
FROM performance_schema.data_lock_waits w
JOIN information_schema.INNODB_TRX r ON r.trx_id = w.REQUESTING_ENGINE_TRANSACTION_ID
JOIN information_schema.INNODB_TRX b ON b.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID
"""

_LOCKS_IS = """
SELECT t.trx_mysql_thread_id AS pid, l.lock_type, l.lock_mode, l.lock_table AS relation, l.lock_index
FROM information_schema.INNODB_LOCKS l
JOIN information_schema.INNODB_TRX t ON t.trx_id = l.lock_trx_id
WHERE t.trx_state = 'LOCK WAIT' AND l.lock_id = t.trx_requested_lock_id
"""

_GROUPS = ("state", "usename", "datname", "client_addr", "command")


def _session(url: str, timeout_s: float, limit: int = 10_000) -> ReadOnlySession:
    return ReadOnlySession(url, source="mysql", timeout_s=timeout_s, limit=limit)


def _lock_waits(s: ReadOnlySession) -> pd.DataFrame:
    try:
        return s.frame(_WAITS_IS)
    except SourceError as first:
        try:
            return s.frame(_WAITS_PS)
        except SourceError:
            raise first from None


def _activity(s: ReadOnlySession) -> pd.DataFrame:
    procs = s.frame(_PROCESSLIST)
    trx = s.frame(_TRX)
    waits = _lock_waits(s)
    trx_by_pid = {int(r.pid): r for r in trx.itertuples()} if len(trx) else {}
    blockers: dict[int, list[int]] = {}
    for r in waits.itertuples():
        blockers.setdefault(int(r.pid), [])
        if int(r.blocker) not in blockers[int(r.pid)]:
            blockers[int(r.pid)].append(int(r.blocker))
    rows = []
    for p in procs.itertuples():
        pid = int(p.pid)
        t = trx_by_pid.get(pid)
        ts = pd.Timestamp(p.ts, tz="UTC")
        command = str(p.command or "")
        if command == "Sleep":
            state = "idle in transaction" if t is not None else "idle"
        elif command in ("Query", "Execute"):
            state = "active"
        else:
            state = command.lower()
        waiting = t is not None and t.trx_state == "LOCK WAIT"
        xact_age = float(t.xact_age_s) if t is not None and t.xact_age_s is not None else None
        rows.append({
            "ts": ts, "pid": pid, "datname": p.datname, "usename": p.usename,
            "application_name": None, "client_addr": p.client_addr, "state": state,
            "wait_event_type": "Lock" if waiting else None, "wait_event": p.thread_state or None,
            "query_start": ts - pd.Timedelta(seconds=float(p.time_s or 0)) if state == "active" else None,
            "xact_start": ts - pd.Timedelta(seconds=xact_age) if xact_age is not None else None,
            "state_change": ts - pd.Timedelta(seconds=float(p.time_s or 0)),
            "duration_s": float(p.time_s or 0), "blocked_by": blockers.get(pid, []), "query": p.query,
            "command": command, "xact_age_s": xact_age,
            "trx_id": None if t is None else str(t.trx_id),
            "rows_locked": None if t is None else t.rows_locked,
            "rows_modified": None if t is None else t.rows_modified,
        })
    frame = pd.DataFrame(rows)
    frame = frame.sort_values("duration_s", ascending=False, kind="stable") if len(frame) else frame
    return conform(frame, "db_activity", source=f"mysql:{s.target}", truncated=procs.attrs.get("truncated", False))


@source("mysql", "db_activity")
def activity(url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, limit: int = 10_000) -> pd.DataFrame:
    """Return the processlist as a db activity frame (longest first), the source's own thread excluded.

    ``state`` is ``active`` (Query/Execute), ``idle``, ``idle in transaction`` (Sleep with an
    open InnoDB transaction) or the command in lower case; ``duration_s`` is the processlist
    TIME; ``blocked_by`` lists the thread ids holding the InnoDB locks it waits for; the thread
    state (e.g. ``Updating``) is in ``wait_event``. Extra columns: ``command``, ``xact_age_s``,
    ``trx_id``, ``rows_locked``, ``rows_modified``. Raises :class:`SourceError`.
    """
    with _session(url, timeout_s, limit) as s:
        return _activity(s)


@source("mysql", "metrics")
def connections(url: str, *, by: str = "state", timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Return connection use as a metrics frame, as :func:`incident_kit.sources.postgres.connections` does.

    Rows: ``connections`` per ``by`` (state, usename, datname, client_addr, command),
    ``connections_total`` (Threads_connected), ``max_connections``, ``max_used_connections``,
    ``aborted_connects`` and ``connections_use_ratio``; ``attrs`` has ``total``,
    ``max_connections``, ``use_ratio`` and ``by_group``.
    """
    if by not in _GROUPS:
        raise ConfigError(f"mysql.connections: by={by!r}; expected one of {', '.join(_GROUPS)}")
    with _session(url, timeout_s) as s:
        act = _activity(s)
        status = s.frame("SHOW GLOBAL STATUS WHERE Variable_name IN "
                         "('Threads_connected', 'Max_used_connections', 'Aborted_connects')")
        max_conn = int(s.scalar("SELECT @@GLOBAL.max_connections"))
    values = {str(k).lower(): float(v) for k, v in zip(status.iloc[:, 0], status.iloc[:, 1])}
    total = int(values.get("threads_connected", len(act) + 1))
    ts = act["ts"].iloc[0] if len(act) else pd.Timestamp.now(tz="UTC")
    counts = act[by].fillna("unknown").astype(str).value_counts() if len(act) else pd.Series(dtype=int)
    rows: list[dict[str, Any]] = [{"ts": ts, "metric": "connections", "value": float(n), by: g}
                                  for g, n in counts.items()]
    rows += [{"ts": ts, "metric": "connections_total", "value": float(total)},
             {"ts": ts, "metric": "max_connections", "value": float(max_conn)},
             {"ts": ts, "metric": "max_used_connections", "value": values.get("max_used_connections")},
             {"ts": ts, "metric": "aborted_connects", "value": values.get("aborted_connects")},
             {"ts": ts, "metric": "connections_use_ratio", "value": total / max(1, max_conn)}]
    frame = conform(pd.DataFrame(rows, columns=["ts", "metric", "value", by]), "metrics", source=f"mysql:{s.target}")
    frame.attrs.update({"total": total, "max_connections": max_conn, "use_ratio": total / max(1, max_conn),
                        "by_group": {str(g): int(n) for g, n in counts.items()}})
    return frame


@source("mysql", "db_activity")
def locks(url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Return InnoDB lock waits and their blocking chains as a db activity frame (root blockers first).

    Columns of :func:`incident_kit.sources.postgres.blocking_chains` plus ``lock_type``,
    ``lock_mode``, ``relation`` (the table) and ``lock_wait_s``. Empty when no one waits.
    """
    with _session(url, timeout_s) as s:
        act = _activity(s)
        trx = s.frame(_TRX)
        try:
            detail = s.frame(_LOCKS_IS)
        except SourceError:  # MySQL 8 has no INNODB_LOCKS; the chain is still known
            detail = pd.DataFrame(columns=["pid", "lock_type", "lock_mode", "relation"])
    chains = blocking_chains(act)
    detail = detail.drop_duplicates("pid").set_index("pid") if len(detail) else None
    waits = {int(r.pid): r.lock_wait_s for r in trx.itertuples()} if len(trx) else {}
    for col in ("lock_type", "lock_mode", "relation"):
        chains[col] = [detail[col].get(int(p)) if detail is not None and int(p) in detail.index else None
                       for p in chains["pid"]]
    chains["lock_wait_s"] = [None if waits.get(int(p)) is None else float(waits[int(p)]) for p in chains["pid"]]
    return chains


__all__ = ["activity", "connections", "locks"]
