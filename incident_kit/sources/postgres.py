"""PostgreSQL, read only: sessions, connections, locks, slow statements, sizes, cache, replication.

Every function takes a SQLAlchemy URL (``postgresql://...``; psycopg is the default driver) or an
``env:``/``file:`` reference to one, and runs only checked reads, each in a read-only transaction
with ``SET LOCAL statement_timeout`` (:class:`incident_kit.sources.db.ReadOnlySession`).
The connection of the source itself is never counted nor listed.
Statistics of other users' sessions need superuser or ``pg_read_all_stats``; without it the
server shows ``<insufficient privilege>`` in place of their queries.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from ..errors import ConfigError, SourceError
from ..frames import concat, conform
from ..timeutil import now
from ._base import human_bytes, source
from .db import DEFAULT_TIMEOUT_S, ReadOnlySession

_ACTIVITY_SQL = """
SELECT statement_timestamp() AS ts, a.pid, a.datname, a.usename, a.application_name,
       host(a.client_addr) AS client_addr, a.state, a.wait_event_type, a.wait_event,
       a.query_start, a.xact_start, a.state_change,
       GREATEST(0, EXTRACT(EPOCH FROM statement_timestamp() - CASE WHEN a.state = 'active' THEN a.query_start
                                                   ELSE a.state_change END))::float8 AS duration_s,
       pg_blocking_pids(a.pid) AS blocked_by, a.query, a.backend_type,
       GREATEST(0, EXTRACT(EPOCH FROM statement_timestamp() - a.xact_start))::float8 AS xact_age_s,
       a.backend_start, a.backend_xid::text AS backend_xid
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid() AND (:all_backends OR a.backend_type = 'client backend')
ORDER BY duration_s DESC NULLS LAST
"""

_WAITING_LOCKS_SQL = """
SELECT l.pid, l.locktype AS lock_type, l.mode AS lock_mode,
       CASE WHEN l.relation IS NOT NULL THEN l.relation::regclass::text END AS relation,
       l.transactionid::text AS transactionid
FROM pg_locks l
WHERE NOT l.granted AND l.pid <> pg_backend_pid()
"""

_GROUPS = ("state", "datname", "usename", "application_name", "client_addr", "wait_event_type")


def _session(url: str, timeout_s: float, limit: int = 10_000) -> ReadOnlySession:
    return ReadOnlySession(url, source="postgres", timeout_s=timeout_s, limit=limit)


def _activity(session: ReadOnlySession, all_backends: bool = False) -> pd.DataFrame:
    raw = session.frame(_ACTIVITY_SQL, {"all_backends": bool(all_backends)})
    if len(raw):
        raw["blocked_by"] = [list(v) if v is not None else [] for v in raw["blocked_by"]]
    frame = conform(raw, "db_activity", source=f"postgres:{session.target}",
                    truncated=raw.attrs.get("truncated", False))
    frame.attrs["note"] = ("queries of other users show '<insufficient privilege>' unless the role has "
                           "pg_read_all_stats") if (frame["query"] == "<insufficient privilege>").any() else ""
    return frame


@source("postgres", "db_activity")
def activity(url: str, *, all_backends: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S,
             limit: int = 10_000) -> pd.DataFrame:
    """Return the sessions of ``pg_stat_activity`` as a db activity frame (longest first).

    ``duration_s`` is the time in the current state (since ``query_start`` when active, since
    ``state_change`` otherwise); ``blocked_by`` lists the pids from ``pg_blocking_pids``.
    Extra columns: ``backend_type``, ``xact_age_s``, ``backend_start``, ``backend_xid``.
    Only client backends unless ``all_backends``. Raises :class:`SourceError`.
    """
    with _session(url, timeout_s, limit) as s:
        return _activity(s, all_backends)


@source("postgres", "metrics")
def connections(url: str, *, by: str = "state", timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Return connection use as a metrics frame.

    Rows: ``connections`` per value of ``by`` (a label column: state, datname, usename,
    application_name, client_addr or wait_event_type), ``connections_total``,
    ``max_connections``, ``superuser_reserved_connections`` and ``connections_use_ratio``
    (total / (max - reserved)). The same figures are in ``attrs``: ``total``,
    ``max_connections``, ``use_ratio``, ``by_group``. Raises :class:`SourceError`.
    """
    if by not in _GROUPS:
        raise ConfigError(f"postgres.connections: by={by!r}; expected one of {', '.join(_GROUPS)}")
    with _session(url, timeout_s) as s:
        groups = s.frame(
            f"SELECT COALESCE(a.{by}::text, 'unknown') AS grp, count(*) AS n FROM pg_stat_activity a "
            "WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() GROUP BY 1 ORDER BY 2 DESC"
        )
        settings = s.frame(
            "SELECT current_setting('max_connections')::int AS max_connections, "
            "current_setting('superuser_reserved_connections')::int AS reserved, statement_timestamp() AS ts"
        ).iloc[0]
    ts = settings["ts"]
    total = int(groups["n"].sum()) if len(groups) else 0
    usable = max(1, int(settings["max_connections"]) - int(settings["reserved"]))
    rows: list[dict[str, Any]] = [{"ts": ts, "metric": "connections", "value": float(n), by: g}
                                  for g, n in zip(groups.get("grp", []), groups.get("n", []))]
    rows += [
        {"ts": ts, "metric": "connections_total", "value": float(total)},
        {"ts": ts, "metric": "max_connections", "value": float(settings["max_connections"])},
        {"ts": ts, "metric": "superuser_reserved_connections", "value": float(settings["reserved"])},
        {"ts": ts, "metric": "connections_use_ratio", "value": total / usable},
    ]
    frame = pd.DataFrame(rows, columns=["ts", "metric", "value", by])
    frame = conform(frame, "metrics", source=f"postgres:{s.target}")
    frame.attrs.update({"total": total, "max_connections": int(settings["max_connections"]),
                        "reserved": int(settings["reserved"]), "use_ratio": total / usable,
                        "by_group": {str(g): int(n) for g, n in zip(groups.get("grp", []), groups.get("n", []))}})
    return frame


@source("postgres", "metrics")
def connection_trend(url: str, samples: int = 3, interval_s: float = 2.0, *, by: str = "state",
                     timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Return ``samples`` :func:`connections` snapshots ``interval_s`` apart, as one metrics frame.

    Each snapshot keeps its own ``ts``, so counts per ``by`` can be followed over time (e.g. idle
    in transaction rising). ``attrs`` are those of the last snapshot plus ``samples``.
    Raises :class:`SourceError`.
    """
    if int(samples) < 1:
        raise ConfigError(f"postgres.connection_trend: samples={samples!r}; expected 1 or more")
    snapshots = []
    for i in range(int(samples)):
        if i:
            time.sleep(max(0.0, float(interval_s)))
        snapshots.append(connections(url, by=by, timeout_s=timeout_s))
    frame = concat(snapshots, "metrics", source=snapshots[-1].attrs.get("source", ""))
    last = snapshots[-1].attrs
    frame.attrs.update({k: last[k] for k in ("total", "max_connections", "reserved", "use_ratio", "by_group")})
    frame.attrs["samples"] = len(snapshots)
    return frame


def blocking_chains(activity_frame: pd.DataFrame) -> pd.DataFrame:
    """Return the sessions of an activity frame that wait on a lock or block one, roots first.

    Extra columns: ``role`` (``blocker`` for a root that waits on no one, ``waiting``
    otherwise), ``blocks`` (pids it blocks directly), ``blocked_total`` (pids it blocks
    directly or through others), ``root_blockers`` (the roots at the top of its chains) and
    ``depth`` (0 for a root). A cycle (deadlock in progress) gives ``role`` ``deadlock``.
    """
    blocked_by = {int(p): [int(b) for b in (bb or [])] for p, bb in zip(activity_frame["pid"], activity_frame["blocked_by"])}
    involved = {p for p, bb in blocked_by.items() if bb} | {b for bb in blocked_by.values() for b in bb}
    blocks: dict[int, list[int]] = {p: [] for p in involved}
    for p, bb in blocked_by.items():
        for b in bb:
            blocks.setdefault(b, []).append(p)

    def roots(pid: int, seen: frozenset[int] = frozenset()) -> tuple[set[int], int, bool]:
        parents = blocked_by.get(pid, [])
        if not parents:
            return {pid}, 0, False
        found: set[int] = set()
        depth, cycle = 0, False
        for b in parents:
            if b in seen or b == pid:
                cycle = True
                continue
            r, d, c = roots(b, seen | {pid})
            found |= r
            depth, cycle = max(depth, d + 1), cycle or c
        return found, depth, cycle

    def downstream(pid: int) -> set[int]:
        out: set[int] = set()
        stack = list(blocks.get(pid, []))
        while stack:
            p = stack.pop()
            if p not in out and p != pid:
                out.add(p)
                stack.extend(blocks.get(p, []))
        return out

    info = {}
    for p in involved:
        r, d, c = roots(p)
        role = "deadlock" if c else ("blocker" if d == 0 else "waiting")
        info[p] = {"role": role, "blocks": sorted(blocks.get(p, [])), "blocked_total": len(downstream(p)),
                   "root_blockers": sorted(r), "depth": d}
    chosen = activity_frame[activity_frame["pid"].isin(list(involved))].copy()
    for col in ("role", "blocks", "blocked_total", "root_blockers", "depth"):
        chosen[col] = [info[int(p)][col] for p in chosen["pid"]]
    chosen = chosen.sort_values(["depth", "blocked_total"], ascending=[True, False], kind="stable")
    return conform(chosen, "db_activity", source=activity_frame.attrs.get("source", ""), sort=False)


@source("postgres", "db_activity")
def locks(url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Return lock waits and their blocking chains as a db activity frame (root blockers first).

    Columns of :func:`blocking_chains`, plus ``lock_type``, ``lock_mode`` and ``relation`` of the
    lock a session waits for (empty for roots). Empty frame when no one waits.
    Raises :class:`SourceError`.
    """
    with _session(url, timeout_s) as s:
        act = _activity(s, all_backends=True)
        waiting = s.frame(_WAITING_LOCKS_SQL)
    chains = blocking_chains(act)
    if len(waiting):
        waiting = waiting.drop_duplicates("pid").set_index("pid")
        for col in ("lock_type", "lock_mode", "relation"):
            chains[col] = [waiting[col].get(int(p)) if int(p) in waiting.index else None for p in chains["pid"]]
    else:
        for col in ("lock_type", "lock_mode", "relation"):
            chains[col] = pd.Series([None] * len(chains), dtype=object)
    return chains


def _older_than(url: str, timeout_s: float, keep: Any, oldest_first_by: str = "duration_s") -> pd.DataFrame:
    with _session(url, timeout_s) as s:
        act = _activity(s)
    out = act[keep(act)].sort_values(oldest_first_by, ascending=False, kind="stable").reset_index(drop=True)
    out.attrs.update(act.attrs)
    return out


@source("postgres", "db_activity")
def long_queries(url: str, min_s: float = 60.0, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Return active statements running for at least ``min_s`` seconds (longest first)."""
    return _older_than(url, timeout_s, lambda a: (a["state"] == "active") & (a["duration_s"] >= min_s))


@source("postgres", "db_activity")
def long_transactions(url: str, min_s: float = 300.0, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Return sessions whose transaction is open for at least ``min_s`` seconds, oldest first (``xact_age_s``)."""
    return _older_than(url, timeout_s, lambda a: a["xact_age_s"].fillna(-1) >= min_s, "xact_age_s")


@source("postgres", "db_activity")
def idle_in_transaction(url: str, min_s: float = 0.0, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Return sessions idle in transaction (or aborted) for at least ``min_s`` seconds."""
    return _older_than(url, timeout_s, lambda a: a["state"].fillna("").str.startswith("idle in transaction")
                       & (a["duration_s"] >= min_s))


_ORDER = {"total": "total_ms", "mean": "mean_ms", "calls": "calls", "rows": "rows", "io": "shared_blks_read"}


@source("postgres", "table")
def top_queries(url: str, by: str = "total", n: int = 20, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Return the top ``n`` statements of ``pg_stat_statements`` by ``by`` (total, mean, calls, rows, io).

    Columns: ``queryid``, ``datname``, ``usename``, ``calls``, ``total_ms``, ``mean_ms``,
    ``max_ms``, ``rows``, ``shared_blks_hit``, ``shared_blks_read``, ``share_of_total`` and ``query``.
    Raises :class:`SourceError` saying how to enable the extension when it is missing.
    """
    if by not in _ORDER:
        raise ConfigError(f"postgres.top_queries: by={by!r}; expected one of {', '.join(_ORDER)}")
    with _session(url, timeout_s) as s:
        installed = s.scalar("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
        if not installed:
            raise SourceError("postgres", s.target, "pg_stat_statements is not installed in this database: add it to "
                              "shared_preload_libraries and run CREATE EXTENSION pg_stat_statements")
        new = int(s.scalar("SELECT current_setting('server_version_num')::int")) >= 130000
        t = "exec_time" if new else "time"
        try:
            frame = s.frame(
                f"SELECT s.queryid, d.datname, r.rolname AS usename, s.calls, s.total_{t} AS total_ms, "
                f"s.mean_{t} AS mean_ms, s.max_{t} AS max_ms, s.rows, s.shared_blks_hit, s.shared_blks_read, "
                f"s.total_{t} / NULLIF(sum(s.total_{t}) OVER (), 0) AS share_of_total, s.query "
                "FROM pg_stat_statements s LEFT JOIN pg_database d ON d.oid = s.dbid "
                f"LEFT JOIN pg_roles r ON r.oid = s.userid ORDER BY {_ORDER[by]} DESC NULLS LAST LIMIT :n",
                {"n": int(n)},
            )
        except SourceError as exc:
            if "shared_preload_libraries" in exc.reason:
                raise SourceError("postgres", s.target, "pg_stat_statements is created but not loaded: add it to "
                                  "shared_preload_libraries and restart the server") from None
            raise
    frame.attrs["source"] = f"postgres:{s.target}"
    return frame


@source("postgres", "table")
def sizes(url: str, tables: int = 20, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Return database sizes and the ``tables`` largest tables of the connected database.

    Columns: ``kind`` (database|table), ``name``, ``bytes`` (total, indexes and TOAST
    included), ``table_bytes``, ``index_bytes``, ``rows_estimate``, ``dead_rows``,
    ``last_autovacuum``, ``size`` (human readable). Largest first within each kind.
    """
    with _session(url, timeout_s) as s:
        dbs = s.frame(
            "SELECT 'database' AS kind, d.datname AS name, pg_database_size(d.oid) AS bytes "
            "FROM pg_database d WHERE d.datallowconn AND has_database_privilege(d.oid, 'CONNECT') "
            "ORDER BY bytes DESC"
        )
        tabs = s.frame(
            "SELECT 'table' AS kind, n.nspname || '.' || c.relname AS name, pg_total_relation_size(c.oid) AS bytes, "
            "pg_relation_size(c.oid) AS table_bytes, pg_indexes_size(c.oid) AS index_bytes, "
            "c.reltuples::bigint AS rows_estimate, st.n_dead_tup AS dead_rows, st.last_autovacuum "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid "
            "WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_toast%' ORDER BY bytes DESC LIMIT :n",
            {"n": int(tables)},
        )
    frame = pd.concat([f for f in (dbs, tabs) if len(f)], ignore_index=True) if len(dbs) or len(tabs) else dbs
    if len(frame):
        frame["size"] = [human_bytes(b) for b in frame["bytes"]]
    frame.attrs.update({"source": f"postgres:{s.target}", "truncated": len(tabs) >= int(tables), "rejected": 0})
    return frame


_DB_COUNTERS = ("xact_commit", "xact_rollback", "blks_read", "blks_hit", "tup_returned", "tup_fetched",
                "tup_inserted", "tup_updated", "tup_deleted", "conflicts", "temp_files", "temp_bytes", "deadlocks")


@source("postgres", "metrics")
def stats(url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Return the counters of ``pg_stat_database`` as a metrics frame (``pg_<counter>``, label ``datname``)."""
    cols = ", ".join(f"d.{c}" for c in _DB_COUNTERS)
    with _session(url, timeout_s) as s:
        raw = s.frame(f"SELECT statement_timestamp() AS ts, d.datname, {cols} FROM pg_stat_database d "
                      "WHERE d.datname IS NOT NULL")
    long = raw.melt(id_vars=["ts", "datname"], value_vars=list(_DB_COUNTERS), var_name="metric", value_name="value")
    long["metric"] = "pg_" + long["metric"]
    return conform(long[["ts", "metric", "value", "datname"]], "metrics", source=f"postgres:{s.target}")


@source("postgres", "metrics")
def cache_hit_ratio(url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Return ``pg_cache_hit_ratio`` per database (blks_hit / (blks_hit + blks_read), NaN when unread)."""
    with _session(url, timeout_s) as s:
        raw = s.frame("SELECT statement_timestamp() AS ts, 'pg_cache_hit_ratio' AS metric, "
                      "d.blks_hit::float8 / NULLIF(d.blks_hit + d.blks_read, 0) AS value, d.datname "
                      "FROM pg_stat_database d WHERE d.datname IS NOT NULL ORDER BY d.datname")
    return conform(raw, "metrics", source=f"postgres:{s.target}")


def rates(url: str, interval_s: float = 5.0, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Take two :func:`stats` snapshots ``interval_s`` apart; return per-second rates (``<metric>_per_s``).

    ``ts`` is the second snapshot's time. Raises :class:`SourceError`.
    """
    first = stats(url, timeout_s=timeout_s)
    time.sleep(max(0.0, float(interval_s)))
    second = stats(url, timeout_s=timeout_s)
    return snapshot_rates(first, second)


def snapshot_rates(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """Return per-second rates between two metrics snapshots of counters (same metric and labels)."""
    labels = [c for c in second.columns if c not in ("ts", "metric", "value")]
    keys = ["metric", *labels]
    merged = second.merge(first, on=keys, suffixes=("", "_first"))
    seconds = (merged["ts"] - merged["ts_first"]).dt.total_seconds()
    merged["value"] = (merged["value"] - merged["value_first"]) / seconds.where(seconds > 0)
    merged["metric"] = merged["metric"] + "_per_s"
    out = merged[["ts", "metric", "value", *labels]]
    return conform(out, "metrics", source=second.attrs.get("source", ""))


@source("postgres", "table")
def replication(url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Return replication lag: one row per replica on a primary, one row for itself on a standby.

    Columns: ``role`` (primary|standby), ``application_name``, ``client_addr``, ``state``,
    ``sync_state``, ``lag_bytes``, ``write_lag_s``, ``flush_lag_s``, ``replay_lag_s``.
    An empty frame with ``attrs['note']`` when a primary has no replica.
    """
    with _session(url, timeout_s) as s:
        standby = bool(s.scalar("SELECT pg_is_in_recovery()"))
        if standby:
            frame = s.frame(
                "SELECT statement_timestamp() AS ts, 'standby' AS role, NULL::text AS application_name, "
                "NULL::text AS client_addr, r.status AS state, NULL::text AS sync_state, "
                "pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8 AS lag_bytes, "
                "NULL::float8 AS write_lag_s, NULL::float8 AS flush_lag_s, "
                "EXTRACT(EPOCH FROM statement_timestamp() - pg_last_xact_replay_timestamp())::float8 AS replay_lag_s "
                "FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver r ON true"
            )
        else:
            frame = s.frame(
                "SELECT statement_timestamp() AS ts, 'primary' AS role, r.application_name, host(r.client_addr) AS client_addr, "
                "r.state, r.sync_state, pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::float8 AS lag_bytes, "
                "EXTRACT(EPOCH FROM r.write_lag)::float8 AS write_lag_s, "
                "EXTRACT(EPOCH FROM r.flush_lag)::float8 AS flush_lag_s, "
                "EXTRACT(EPOCH FROM r.replay_lag)::float8 AS replay_lag_s FROM pg_stat_replication r"
            )
    frame.attrs["source"] = f"postgres:{s.target}"
    frame.attrs["note"] = "" if len(frame) else "no replica is connected to this primary"
    return frame


@source("postgres", "table")
def ping(url: str, *, timeout_s: float = 5.0) -> pd.DataFrame:
    """Return one row (``ts``, ``latency_ms``, ``server_version``) after a ``SELECT version()``."""
    started = time.perf_counter()
    with _session(url, timeout_s) as s:
        version = s.scalar("SELECT version()")
    return pd.DataFrame([{"ts": now(), "latency_ms": (time.perf_counter() - started) * 1000,
                          "server_version": version}])


__all__ = ["activity", "connections", "connection_trend", "locks", "blocking_chains", "long_queries", "long_transactions",
           "idle_in_transaction", "top_queries", "sizes", "stats", "cache_hit_ratio", "rates",
           "snapshot_rates", "replication", "ping"]
