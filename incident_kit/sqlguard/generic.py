"""MySQL, SQLite and other dialects: sqlglot parses the statement in the target's dialect.

Refused unless it is one ``SELECT``/``WITH``/``VALUES``/``TABLE``/``SHOW``/``DESCRIBE``/``EXPLAIN``
(without ``ANALYZE`` of a write) with no data-changing node anywhere in the tree (writable CTEs,
``SELECT ... INTO``, locking clauses) and no call of a function that changes the server
(:data:`REFUSED_FUNCTIONS`: ``GET_LOCK``, ``load_extension``, ...). A statement sqlglot cannot
parse is refused. MySQL and SQLite declare no volatility PostgreSQL-style, so this is a deny list;
their second line (read-only transaction/connection) is what the sources add.
"""

from __future__ import annotations

import functools
import logging
import re

from ..errors import MutationRefused

def short(sql: str, n: int = 60) -> str:
    """Return ``sql`` on one line, cut to ``n`` characters."""
    text = " ".join(str(sql).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def refusal(sql: str, why: str, target: str = "") -> MutationRefused:
    """Return the one-line MutationRefused naming the statement and why it is not a plain read."""
    return MutationRefused("sqlguard", target, f"refused {short(sql)!r}: {why}; only a single plain read is allowed")


#: Functions that change the server, a session or files even inside a read-only transaction.
REFUSED_FUNCTIONS: frozenset[str] = frozenset({
    # PostgreSQL
    "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "set_config", "pg_rotate_logfile",
    "pg_switch_wal", "pg_switch_xlog", "pg_create_restore_point", "pg_promote", "pg_wal_replay_pause",
    "pg_wal_replay_resume", "pg_start_backup", "pg_stop_backup", "pg_backup_start", "pg_backup_stop",
    "pg_create_physical_replication_slot", "pg_create_logical_replication_slot", "pg_drop_replication_slot",
    "pg_replication_slot_advance", "pg_copy_physical_replication_slot", "pg_copy_logical_replication_slot",
    "pg_logical_emit_message", "pg_logical_slot_get_changes", "pg_logical_slot_get_binary_changes",
    "pg_replication_origin_create", "pg_replication_origin_drop", "pg_file_write", "pg_file_rename",
    "pg_file_unlink", "pg_file_sync", "pg_stat_reset", "pg_stat_reset_shared", "pg_stat_reset_single_table_counters",
    "pg_stat_reset_single_function_counters", "pg_stat_reset_slru", "pg_stat_reset_replication_slot",
    "pg_stat_reset_subscription_stats", "pg_stat_statements_reset", "pg_import_system_collations",
    "pg_log_backend_memory_contexts", "pg_notify", "nextval", "setval", "txid_current", "pg_current_xact_id",
    "pg_advisory_lock", "pg_advisory_lock_shared", "pg_advisory_xact_lock", "pg_advisory_xact_lock_shared",
    "pg_try_advisory_lock", "pg_try_advisory_lock_shared", "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared", "pg_advisory_unlock", "pg_advisory_unlock_shared", "pg_advisory_unlock_all",
    "pg_prewarm", "pg_sequence_last_value_reset", "query_to_xml", "query_to_xml_and_xmlschema",
    "table_to_xml", "cursor_to_xml",
    # MySQL / MariaDB
    "get_lock", "release_lock", "release_all_locks", "sys_exec", "sys_eval", "load_file", "master_pos_wait",
    "source_pos_wait", "setval", "lastval",
    # SQLite (extensions, the fileio extension)
    "load_extension", "writefile", "edit",
})
#: Function name prefixes refused as a family (large objects, dblink, foreign servers).
REFUSED_PREFIXES: tuple[str, ...] = ("lo_", "dblink", "pg_catalog.lo_", "pg_catalog.pg_terminate",
                                     "pg_catalog.pg_cancel", "pg_catalog.set_config")

_EXPLAIN_OPTIONS = re.compile(
    r"^\s*explain\s+(?:\((?P<opts>[^)]*)\)\s*|(?:(?:analyze|analyse|verbose|costs|buffers|format\s+\w+|extended|partitions)\s+)*)",
    re.IGNORECASE,
)


def _function_name(node: object) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return ""


def _check_tree(tree: object, sql: str, target: str) -> None:
    from sqlglot import exp

    writes = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Copy,
              exp.Grant, exp.TruncateTable, exp.Set, exp.Command, exp.Transaction, exp.Commit, exp.Rollback)
    revoke = getattr(exp, "Revoke", None)
    for node in tree.walk():  # type: ignore[attr-defined]
        if isinstance(node, writes) or (revoke is not None and isinstance(node, revoke)):
            raise refusal(sql, f"it contains {type(node).__name__.upper()}", target)
        if isinstance(node, exp.Into):
            raise refusal(sql, "SELECT ... INTO writes a table or variable", target)
        if isinstance(node, exp.Lock):
            raise refusal(sql, "a locking clause (FOR UPDATE/FOR SHARE) takes row locks", target)
        name = _function_name(node)
        if name and (name in REFUSED_FUNCTIONS or name.startswith(REFUSED_PREFIXES)):
            raise refusal(sql, f"function {name}() changes the server", target)


@functools.lru_cache(maxsize=512)  # the sources send the same catalog queries again and again
def check(sql: str, dialect: str | None, target: str) -> str:
    """Return ``sql`` stripped when it is a single plain read in ``dialect``; raises MutationRefused."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    if not isinstance(sql, str) or not sql.strip():
        raise refusal(str(sql), "the statement is empty", target)
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    text = sql.strip().rstrip(";").strip()
    try:
        semicolon = getattr(exp, "Semicolon", ())
        statements = [s for s in sqlglot.parse(text, read=dialect)
                      if s is not None and not (semicolon and isinstance(s, semicolon))]
    except SqlglotError as exc:
        reason = " ".join(str(exc).split())[:120]
        raise refusal(sql, f"it cannot be parsed as {dialect or 'SQL'} ({reason})", target) from None
    if len(statements) != 1:
        raise refusal(sql, f"it holds {len(statements)} statements", target)
    tree = statements[0]
    if isinstance(tree, exp.Command):
        verb = str(tree.this).upper()
        if verb == "SHOW":
            return text
        if verb == "EXPLAIN":
            m = _EXPLAIN_OPTIONS.match(text)
            inner = text[m.end():] if m else ""
            check(inner, dialect, target)
            return text
        raise refusal(sql, f"{verb} is not a read", target)
    reads = (exp.Query, exp.Values, exp.Show, exp.Describe)
    if isinstance(tree, exp.Pragma):
        if "=" in text or "(" in text and not re.match(
            r"(?i)^pragma\s+(table_x?info|index_x?info|index_list|foreign_key_list|integrity_check|quick_check)\b", text
        ):
            raise refusal(sql, "a PRAGMA with a value can change the database", target)
        return text
    if not isinstance(tree, reads):
        raise refusal(sql, f"{text.split()[0].upper()} is not a read", target)
    _check_tree(tree, sql, target)
    return text


#: MySQL's declared SQL data access of a stored function that lets it be called by a read.
READING_ACCESS = frozenset({"NO SQL", "READS SQL DATA"})


@functools.lru_cache(maxsize=2048)
def called_functions(sql: str, dialect: str | None) -> frozenset[str]:
    """Return the names of the non-built-in functions ``sql`` calls (lower case; empty if unparsable)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        trees = [t for t in sqlglot.parse(sql.strip().rstrip(";"), read=dialect) if t is not None]
    except SqlglotError:
        return frozenset()
    return frozenset(str(n.name).lower() for t in trees for n in t.find_all(exp.Anonymous))


def verify_stored(sql: str, dialect: str | None, routines: object, target: str = "") -> None:
    """Refuse (MutationRefused) a call of a MySQL stored function not declared ``NO SQL`` or
    ``READS SQL DATA``; ``routines(names)`` returns ``(schema, name, sql_data_access)`` rows."""
    names = called_functions(sql, dialect)
    for schema, name, access in routines(sorted(names)) if names else []:  # type: ignore[operator]
        if str(access).upper() not in READING_ACCESS:
            raise refusal(sql, f"stored function {schema}.{name}() is declared {access}, not READS SQL DATA or NO SQL",
                          target)


__all__ = ["READING_ACCESS", "REFUSED_FUNCTIONS", "REFUSED_PREFIXES", "called_functions", "check", "refusal", "short", "verify_stored"]
