"""Read-only SQL on any SQLAlchemy URL: the session every database source uses, and ``query``.

Every statement is checked by :mod:`incident_kit.sqlguard` before it is sent (on PostgreSQL
against the connected server's catalog, :mod:`.pgcatalog`), then run in its own transaction that
is made read-only on the server (``SET TRANSACTION READ ONLY`` in a session whose
``default_transaction_read_only`` is on, on PostgreSQL; ``SET SESSION TRANSACTION READ ONLY``
on MySQL/MariaDB; ``mode=ro`` plus ``PRAGMA query_only`` on SQLite), with a statement timeout
and a row limit, and always rolled back. A statement without parameters reaches the server as
written (no bind processing of its text). Connections are not pooled: each session opens one
connection and closes it.
"""

from __future__ import annotations

import math
import re
import threading
import time
from decimal import Decimal
from typing import Any, Mapping

import pandas as pd

from .. import offline, sqlguard
from ..errors import ConfigError, IncidentKitError, SourceError, SourceOffline
from ..secrets import mask_url, resolve
from ._base import error_class, source
from .pgcatalog import PgCatalog

_ENGINES: dict[tuple[str, str], Any] = {}
_ENGINES_LOCK = threading.Lock()
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_LIMIT = 10_000
APPLICATION_NAME = "incident-kit"


def backend_of(url: str) -> str:
    """Return the SQLAlchemy backend name of ``url`` (``postgresql``, ``mysql``, ``sqlite``, ...)."""
    return str(url).split("://", 1)[0].split("+", 1)[0].lower()


def _scrub(text: str, url: str) -> str:
    """Return ``text`` on one line without the password of ``url``."""
    text = " ".join(str(text).split())
    m = re.match(r"[^:/]+://[^:/@]*:([^@/]+)@", url)
    if m and m.group(1):  # as a whole word only, so a short password does not eat other words
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(m.group(1))}(?![A-Za-z0-9])", "***", text)
    text = text.split("(Background on this error")[0].split("[SQL:")[0].strip()
    return mask_url(text)


def _with_driver(url: str) -> str:
    """Default drivers: psycopg (3) for PostgreSQL, PyMySQL for MySQL/MariaDB."""
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    if scheme in ("mysql", "mariadb"):
        return f"mysql+pymysql://{rest}"
    return url


def _sqlite_read_only(url: str) -> str:
    """Return a SQLite URL that opens the file read-only (``mode=ro``), keeping ``:memory:`` as is."""
    scheme, _, rest = url.partition("://")
    path = rest[1:] if rest.startswith("/") else rest
    if not path or path == ":memory:" or path.startswith("file:"):
        return url
    path, _, query = path.partition("?")
    extra = f"&{query}" if query else ""
    return f"{scheme}:///file:{path}?mode=ro&uri=true{extra}"


def _lenient_time_loaders(driver: Any) -> None:
    """Make a psycopg 3 connection return dates and times Python cannot hold (``infinity``, years
    beyond 9999 or BC) as the server's text instead of failing the whole read."""
    adapters = getattr(driver, "adapters", None)
    if adapters is None:
        return
    from psycopg import DataError
    from psycopg.types import datetime as dt

    for name in ("DateLoader", "TimestampLoader", "TimestamptzLoader", "IntervalLoader", "TimeLoader", "TimetzLoader"):
        base = getattr(dt, name, None)
        if base is None:
            continue

        def load(self: Any, data: Any, _base: Any = base) -> Any:
            try:
                return _base.load(self, data)
            except (DataError, ValueError, OverflowError):
                return bytes(data).decode("utf-8", "replace")

        pg_type = {"DateLoader": "date", "TimestampLoader": "timestamp", "TimestamptzLoader": "timestamptz",
                   "IntervalLoader": "interval", "TimeLoader": "time", "TimetzLoader": "timetz"}[name]
        adapters.register_loader(pg_type, type(f"Lenient{name}", (base,), {"load": load}))


class ReadOnlySession:
    """One connection to a database on which only checked reads run, each in a read-only transaction.

    Use as a context manager. ``source`` names the source in errors, ``timeout_s`` bounds the
    connection and every statement, ``limit`` the rows fetched per statement.
    Raises :class:`SourceError` (masked target, one line) when the database cannot be reached.
    """

    def __init__(self, url: str, *, source: str = "db", timeout_s: float = DEFAULT_TIMEOUT_S,
                 limit: int = DEFAULT_LIMIT) -> None:
        if not url:
            raise ConfigError(f"{source}: no database URL given (expected a SQLAlchemy URL or env:/file: reference)")
        self.reference = str(url)
        self.url = _with_driver(str(resolve(url, field=f"{source} url")))
        self.target = mask_url(self.reference)
        self.source = source
        self.timeout_s = float(timeout_s)
        self.limit = int(limit)
        self.backend = backend_of(self.url)
        self.dialect = sqlguard.dialect_for(self.backend)
        self._engine: Any = None
        self._conn: Any = None
        self.catalog: PgCatalog | None = None

    # -- errors ---------------------------------------------------------------------------
    def error(self, exc: BaseException) -> SourceError:
        """Return ``exc`` as a one-line SourceError (SourceTimeout for timeouts, SourceSaturated for a
        server at its connection limit) with no secret in it."""
        text = _scrub(f"{type(exc).__name__}: {exc}", self.url)
        text = re.sub(r"^(\w+): \([\w.]+\) ", r"\1: ", text)  # SQLAlchemy's "(psycopg.X)" repeat
        low = text.lower()
        timed_out = any(k in low for k in ("timeout", "timed out", "max_statement_time", "max_execution_time",
                                          "interrupted"))
        return error_class(text, timed_out)(self.source, self.target, text)

    # -- lifecycle ------------------------------------------------------------------------
    def _connect_args(self) -> dict[str, Any]:
        t = max(1, math.ceil(self.timeout_s))
        if self.backend == "postgresql":  # every transaction of the session is read-only unless changed
            from sqlalchemy.engine import make_url

            given = make_url(self.url).query.get("options") or ""
            options = f"{given if isinstance(given, str) else ' '.join(given)} -c default_transaction_read_only=on"
            return {"connect_timeout": t, "application_name": APPLICATION_NAME, "options": options.strip()}
        if self.backend in ("mysql", "mariadb"):
            return {"connect_timeout": t, "read_timeout": t + 2, "write_timeout": t + 2,
                    "init_command": "SET SESSION TRANSACTION READ ONLY"}
        if self.backend == "sqlite":
            return {"timeout": self.timeout_s}
        return {}

    def __enter__(self) -> "ReadOnlySession":
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        url = _sqlite_read_only(self.url) if self.backend == "sqlite" else self.url
        if self.backend != "sqlite" and offline.enabled():  # C drivers connect below Python's sockets
            from sqlalchemy.engine import make_url

            refused = offline.refusal(make_url(url).host or "localhost", "database host")
            if refused:
                raise SourceOffline(self.source, self.target, refused)
        try:
            args = self._connect_args()
            key = (url, repr(sorted(args.items())))
            with _ENGINES_LOCK:  # one engine per URL: the dialect learns the server once; NullPool, no pooling
                self._engine = _ENGINES.pop(key, None) or create_engine(url, poolclass=NullPool, connect_args=args)
                _ENGINES[key] = self._engine
                while len(_ENGINES) > 32:
                    _ENGINES.pop(next(iter(_ENGINES))).dispose()
            self._conn = self._engine.connect()
            self._prepare_session()
        except IncidentKitError:
            self.close()
            raise
        except ImportError as exc:
            self.close()
            hint = {"postgresql": "use postgresql+psycopg:// (pip install 'incident-kit[postgres]')",
                    "mysql": "use mysql+pymysql:// (pip install 'incident-kit[mysql]')"}.get(self.backend, "install it")
            raise SourceError(self.source, self.target, f"database driver {exc.name or exc} is not installed: {hint}") from None
        except Exception as exc:  # noqa: BLE001 - every driver error becomes one line
            self.close()
            raise self.error(exc) from exc
        return self

    def _prepare_session(self) -> None:
        driver = self._conn.connection.driver_connection
        if self.backend == "postgresql":
            _lenient_time_loaders(driver)
            version = getattr(getattr(driver, "info", None), "server_version", None)
            self.catalog = PgCatalog(self._catalog_rows, self.target, version)
        elif self.backend == "sqlite":
            driver.execute("PRAGMA query_only = ON")
        elif self.backend in ("mysql", "mariadb"):
            cur = driver.cursor()
            try:  # MariaDB (seconds) first, then MySQL (milliseconds, SELECT only)
                cur.execute(f"SET SESSION max_statement_time = {self.timeout_s:.3f}")
            except Exception:  # noqa: BLE001
                cur.execute(f"SET SESSION max_execution_time = {int(self.timeout_s * 1000)}")
            finally:
                cur.close()
            self._conn.rollback()

    def close(self) -> None:
        """Close the connection and dispose of the engine (safe to call twice)."""
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
            self._conn = None
        self._engine = None  # kept in _ENGINES; with NullPool it holds no connection

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads ----------------------------------------------------------------------------
    def _begin(self) -> None:
        if self.backend == "postgresql":
            ms = int(self.timeout_s * 1000)
            cursor = self._conn.connection.driver_connection.cursor()
            try:  # one round trip, no parameters
                cursor.execute(f"SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = {ms}; "
                               f"SET LOCAL lock_timeout = {ms}; SET LOCAL idle_in_transaction_session_timeout = 0")
            finally:
                cursor.close()
        elif self.backend == "sqlite":
            deadline = time.monotonic() + self.timeout_s
            self._conn.connection.driver_connection.set_progress_handler(
                lambda: 1 if time.monotonic() > deadline else 0, 10_000)

    def _catalog_rows(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        from sqlalchemy import text

        return [tuple(r) for r in self._conn.execute(text(sql), dict(params)).fetchall()]

    def _stored_functions(self, names: list[str]) -> list[tuple[Any, ...]]:
        from sqlalchemy import bindparam, text

        sql = text("SELECT ROUTINE_SCHEMA, ROUTINE_NAME, SQL_DATA_ACCESS FROM information_schema.ROUTINES "
                   "WHERE ROUTINE_TYPE = 'FUNCTION' AND LOWER(ROUTINE_NAME) IN :names")
        return [tuple(r) for r in self._conn.execute(sql.bindparams(bindparam("names", expanding=True)),
                                                     {"names": names}).fetchall()]

    def rows(self, sql: str, params: Mapping[str, Any] | None = None, *,
             limit: int | None = None) -> tuple[list[str], list[tuple[Any, ...]], bool]:
        """Return ``(columns, rows, truncated)`` of one checked read (at most ``limit`` rows).

        ``params`` are bound as ``:name`` parameters; without them the statement is sent as
        written. Raises :class:`MutationRefused` before sending anything that is not a plain read,
        and :class:`SourceError`/:class:`SourceTimeout` when the database fails.
        """
        params = dict(params or {})
        sqlguard.precheck(sql, self.dialect, source=self.source, target=self.target, params=params)
        limit = self.limit if limit is None else int(limit)
        trans = self._conn.begin()
        try:
            self._begin()
            stored = self._stored_functions if self.backend in ("mysql", "mariadb") else None
            checked = sqlguard.check(sql, self.dialect, source=self.source, target=self.target,
                                     catalog=self.catalog, params=params, routines=stored)
            return self._execute(checked, params, limit)
        except IncidentKitError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self.error(exc) from exc
        finally:
            try:
                trans.rollback()
            except Exception:  # noqa: BLE001 - the connection may be gone already
                pass

    def _execute(self, checked: str, params: dict[str, Any], limit: int) -> tuple[list[str], list[tuple[Any, ...]], bool]:
        from sqlalchemy import text

        if params:
            result = self._conn.execute(text(checked), params)
            if not result.returns_rows:
                return [], [], False
            columns, fetched = list(result.keys()), result.fetchmany(limit + 1)
        else:  # the driver's own cursor, no parameters: nothing in the text is taken for a placeholder
            cursor = self._conn.connection.driver_connection.cursor()
            try:
                cursor.execute(checked)
                if cursor.description is None:
                    return [], [], False
                columns, fetched = [d[0] for d in cursor.description], cursor.fetchmany(limit + 1)
            finally:
                cursor.close()
        return columns, [tuple(r) for r in fetched[:limit]], len(fetched) > limit

    def frame(self, sql: str, params: Mapping[str, Any] | None = None, *, limit: int | None = None) -> pd.DataFrame:
        """Return one checked read as a DataFrame; ``attrs['truncated']`` says whether rows were cut."""
        columns, rows, truncated = self.rows(sql, params, limit=limit)
        out = pd.DataFrame.from_records(rows, columns=columns) if columns else pd.DataFrame()
        for col in out.columns[out.dtypes == object]:  # NUMERIC/DECIMAL -> float, so frames plot and compute
            values = out[col].dropna()
            if len(values) and all(isinstance(v, Decimal) for v in values):
                out[col] = out[col].astype(float)
        out.attrs.update({"source": f"{self.source}:{self.target}", "truncated": truncated, "rejected": 0})
        return out

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """Return the first column of the first row of one checked read (``None`` when no row)."""
        _, rows, _ = self.rows(sql, params, limit=1)
        return rows[0][0] if rows else None


@source("db", "table")
def query(url: str, sql: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, limit: int = DEFAULT_LIMIT,
          **params: Any) -> pd.DataFrame:
    """Run one read-only statement on any SQLAlchemy URL and return its rows as a DataFrame.

    ``url`` may be an ``env:``/``file:`` reference; ``params`` are bound as ``:name``
    parameters (without them the SQL reaches the server exactly as written). At most ``limit`` rows are returned (``attrs['truncated']`` tells).
    Raises :class:`MutationRefused` for anything but a single plain read (nothing is sent),
    :class:`SourceError` when the database fails or does not answer within ``timeout_s``.
    """
    dialect = sqlguard.dialect_for(backend_of(str(url))) if "://" in str(url) else None
    if dialect:  # a statement that is not a read by its shape is refused before connecting
        sqlguard.precheck(sql, dialect, source="db", target=mask_url(str(url)), params=params)
    with ReadOnlySession(url, source="db", timeout_s=timeout_s, limit=limit) as session:
        return session.frame(sql, params)


__all__ = ["ReadOnlySession", "query", "backend_of", "DEFAULT_TIMEOUT_S", "DEFAULT_LIMIT"]
