"""The one place SQL is checked before it is sent: only a single plain read gets through.

PostgreSQL statements are read by PostgreSQL's own parser (pglast) and judged by what the server
declares about the functions, operators, views and casts they use (:mod:`.postgres`: volatile
means refused unless reviewed in :mod:`.pgpolicy`); give ``catalog`` (the connected server's, see
``sources.pgcatalog``) for that judgement, without it the built-in list of PostgreSQL 15 is used.
Other dialects are parsed by sqlglot against a deny list (:mod:`.generic`). A statement that
cannot be parsed is refused: it cannot be proven to be a read.

The sources also run every statement in a read-only transaction of a read-only session, with
timeouts, always rolled back: the server is the second line of defence.
"""

from __future__ import annotations

from typing import Any, Iterable

from ..errors import MutationRefused
from . import generic
from .generic import REFUSED_FUNCTIONS
from .postgres import Catalog, Routine, UserObjects

#: SQLAlchemy backend name -> sqlglot dialect ("postgres" is read by pglast when it is installed).
DIALECTS: dict[str, str] = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
    "mssql": "tsql",
    "oracle": "oracle",
    "duckdb": "duckdb",
    "clickhouse": "clickhouse",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "redshift": "redshift",
    "trino": "trino",
}


def dialect_for(url_or_backend: str | None) -> str | None:
    """Return the sqlglot dialect for a SQLAlchemy URL or backend name (``None`` for generic SQL)."""
    if not url_or_backend:
        return None
    backend = str(url_or_backend).split("://", 1)[0].split("+", 1)[0].lower()
    return DIALECTS.get(backend)


def _has_pglast() -> bool:
    try:
        import pglast  # noqa: F401
    except ImportError:
        return False
    return True


def check(sql: str, dialect: str | None = None, *, source: str = "sql", target: str = "",
          catalog: Catalog | None = None, params: Iterable[str] = (), routines: Any = None) -> str:
    """Return ``sql`` (stripped of a trailing ``;``) when it is a single plain read.

    ``dialect`` is a sqlglot dialect (see :func:`dialect_for`); ``source`` and ``target`` (a
    masked URL) name the database in the error; ``catalog`` answers PostgreSQL catalog questions
    for the connected server. ``params`` names the ``:name`` bind parameters given: for PostgreSQL
    the text returned is then for SQLAlchemy ``text()`` (every other colon escaped), otherwise it
    is the statement as written, to be sent without bind processing. ``routines(names)`` (MySQL)
    returns ``(schema, name, SQL_DATA_ACCESS)`` of stored functions: only those declared ``NO SQL``
    or ``READS SQL DATA`` may be called. Raises :class:`MutationRefused` (one line, naming what was found)
    otherwise, and SourceError when the catalog cannot be read.
    """
    if not isinstance(sql, str):
        raise MutationRefused(source, target, f"refused {sql!r}: a statement is text; only a single plain read is allowed")
    try:
        if dialect == "postgres" and _PGLAST:
            from . import postgres

            parsed = postgres.parse(sql, tuple(sorted(set(params))))
            postgres.verify(parsed, catalog, sql)
            return parsed.text
        text = generic.check(sql, dialect, target)
        if routines is not None:
            generic.verify_stored(sql, dialect, routines, target)
        return text
    except MutationRefused as exc:
        raise MutationRefused(source, target, exc.reason) from None


def precheck(sql: str, dialect: str | None = None, *, source: str = "sql", target: str = "",
             params: Iterable[str] = ()) -> None:
    """Refuse (MutationRefused) what is not a read by its shape alone, before any server is asked.

    For PostgreSQL only the statement itself is judged (the functions it calls need the server's
    catalog, :func:`check`); other dialects get their whole check.
    """
    if dialect == "postgres" and _PGLAST and isinstance(sql, str):
        from . import postgres

        try:
            postgres.parse(sql, tuple(sorted(set(params))))
        except MutationRefused as exc:
            raise MutationRefused(source, target, exc.reason) from None
    else:
        check(sql, dialect, source=source, target=target, params=params)


def is_read_only(sql: str, dialect: str | None = None, params: Iterable[str] = ()) -> bool:
    """Return True when :func:`check` (without a server) accepts ``sql`` (``params``: bind names)."""
    try:
        check(sql, dialect, params=params)
    except MutationRefused:
        return False
    return True


_PGLAST = _has_pglast()

__all__ = ["DIALECTS", "REFUSED_FUNCTIONS", "Catalog", "Routine", "UserObjects", "check", "dialect_for", "is_read_only", "precheck"]
