"""The run ledger: every alert received, every run and its state, every refused request.

SQLAlchemy Core on any database URL (SQLite by default, in WAL mode so the server and its
worker processes can share one file). The ledger is the source of truth of ``serve``: the
queue carries only run ids, a worker *claims* a queued run with one conditional UPDATE (so a
run enqueued twice still runs once), and runs left ``running`` by a dead worker are found by
their stale heartbeat and retried once.

Run states: ``queued``, ``running``, ``ok``, ``degraded``, ``failed``, ``timed_out``,
``interrupted`` (the last five are final).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import sqlalchemy as sa

from ..errors import ConfigError
from ..redact import redact_obj
from ..redact_io import clip

FINAL_STATES = ("ok", "degraded", "failed", "timed_out", "interrupted")
STATES = ("queued", "running", *FINAL_STATES)
MAX_ATTEMPTS = 2  # an interrupted run is retried once

metadata = sa.MetaData()

runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", sa.String(120), primary_key=True),
    sa.Column("scenario", sa.String(100), nullable=False),
    sa.Column("group_key", sa.String(1000), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
    sa.Column("last_alert_at", sa.DateTime(timezone=True)),
    sa.Column("resolved_at", sa.String(40)),  # ISO 8601 from the alert's endsAt
    sa.Column("resolution_applied", sa.Boolean, nullable=False, default=False),
    sa.Column("alerts_count", sa.Integer, nullable=False, default=0),
    sa.Column("worker", sa.String(200)),
    sa.Column("report_path", sa.String(1000)),
    sa.Column("status", sa.String(16)),  # the runner's status (ok/degraded/failed)
    sa.Column("headline", sa.Text),
    sa.Column("severity", sa.String(16)),
    sa.Column("error", sa.Text),
    sa.Column("notify_error", sa.Text),
    sa.Column("alert", sa.Text),  # JSON: the alert that started the run
    sa.Column("route", sa.Text),  # JSON: {"parameters", "parameter_files"} of the matching route
)

alerts = sa.Table(
    "alerts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("alertname", sa.String(200)),
    sa.Column("fingerprint", sa.String(64)),
    sa.Column("group_key", sa.String(1000), index=True),
    sa.Column("starts_at", sa.String(40)),
    sa.Column("ends_at", sa.String(40)),
    sa.Column("labels", sa.Text),
    sa.Column("annotations", sa.Text),
    sa.Column("run_id", sa.String(120), index=True),
    sa.Column("action", sa.String(16), nullable=False),  # started, attached, resolved, unmatched
)

groups = sa.Table(
    "alert_groups", metadata,
    sa.Column("group_key", sa.String(1000), primary_key=True),
    sa.Column("run_id", sa.String(120), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
)

refusals = sa.Table(
    "refusals", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("endpoint", sa.String(100)),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("client", sa.String(100)),
)

# Statements of the intake path, built once (bound parameters, no per-call construction).
_SEL_GROUP = sa.select(groups.c.run_id, groups.c.last_seen).where(groups.c.group_key == sa.bindparam("b_gk"))
_TAKE_GROUP = groups.update().where(groups.c.group_key == sa.bindparam("b_gk"),
                                    groups.c.run_id == sa.bindparam("b_old")).values(
    run_id=sa.bindparam("b_rid"), last_seen=sa.bindparam("b_ts"))
_TOUCH_GROUP = groups.update().where(groups.c.group_key == sa.bindparam("b_gk")).values(last_seen=sa.bindparam("b_ts"))
_BUMP_RUN = runs.update().where(runs.c.run_id == sa.bindparam("b_rid")).values(
    alerts_count=runs.c.alerts_count + 1, last_alert_at=sa.bindparam("b_ts"))
_RESOLVE_RUN = runs.update().where(runs.c.run_id == sa.bindparam("b_rid")).values(
    resolved_at=sa.bindparam("b_at"), resolution_applied=False)


class GroupTaken(Exception):
    """Another delivery started a run for this alert group first (retry the delivery)."""


def utcnow() -> datetime:
    """Return the current time, tz-aware UTC."""
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite hands back naive datetimes
        return value.replace(tzinfo=timezone.utc)
    return value


def worker_name() -> str:
    """Return ``host:pid`` of this process (what the ledger records as a run's worker)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Ledger:
    """The run ledger on one SQLAlchemy URL; thread-safe; tables created on first use."""

    def __init__(self, url: str) -> None:
        from ..secrets import mask_url, resolve

        url = str(resolve(url, field="ledger URL"))  # env:/file: references allowed
        self.url = url
        self.sqlite = url.startswith("sqlite")
        try:
            if url.startswith("sqlite"):
                self.engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
                # SQLAlchemy's recipe for pysqlite: let SQLAlchemy, not the driver, begin transactions,
                # so a SELECT is inside its transaction and SAVEPOINTs nest instead of committing.
                sa.event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql(
                    "BEGIN IMMEDIATE" if conn.get_execution_options().get("ik_immediate") else "BEGIN"))
            else:
                self.engine = sa.create_engine(url, pool_pre_ping=True)
            metadata.create_all(self.engine)
        except (sa.exc.ArgumentError, ValueError):
            raise ConfigError(f"ledger URL {mask_url(url)!r} is not a SQLAlchemy URL") from None
        except ImportError as exc:
            raise ConfigError(f"ledger {mask_url(url)}: database driver missing ({exc.name})") from None
        except sa.exc.SQLAlchemyError as exc:
            reason = clip(mask_url(str(getattr(exc, "orig", None) or exc).splitlines()[0]), 160)
            raise ConfigError(f"ledger {mask_url(url)}: cannot open it ({reason})") from None
        # Serializes this process's writes: threads hand the database over at once instead of
        # sleeping in SQLite's busy handler (other processes still meet busy_timeout).
        self.lock = threading.RLock()

    @contextlib.contextmanager
    def write_transaction(self) -> Iterator[sa.Connection]:
        """Yield a connection in a transaction that reads then writes (SQLite: BEGIN IMMEDIATE, so it
        waits for the write lock up front instead of failing on a stale snapshot)."""
        with self.lock, self.engine.connect().execution_options(ik_immediate=True) as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # -- intake ---------------------------------------------------------------------------
    def record_refusal(self, endpoint: str, status_code: int, reason: str, client: str | None) -> None:
        """Record one refused request (reason is one line)."""
        with self.lock, self.engine.begin() as c:
            c.execute(refusals.insert(), {"received_at": utcnow(), "endpoint": endpoint[:100], "status_code": status_code,
                                          "reason": clip(reason, 500), "client": (client or "")[:100]})

    def group_run(self, conn: sa.Connection, group_key: str, period_s: float) -> tuple[str | None, str | None]:
        """Return ``(run to attach to, current run of the group)`` for a firing group.

        The first is the group's run when it was seen within ``period_s`` (else None); the
        second is whatever run the group points at (None for a new group), for :meth:`take_group`.
        """
        row = conn.execute(_SEL_GROUP, {"b_gk": group_key}).first()
        if row is None:
            return None, None
        if utcnow() - _aware(row.last_seen) > timedelta(seconds=period_s):
            return None, str(row.run_id)
        return str(row.run_id), str(row.run_id)

    def last_run_of_group(self, conn: sa.Connection, group_key: str) -> str | None:
        """Return the latest run of a group whatever its age (for resolved notices), or None."""
        row = conn.execute(_SEL_GROUP, {"b_gk": group_key}).first()
        return None if row is None else str(row.run_id)

    def take_group(self, conn: sa.Connection, group_key: str, run_id: str, previous: str | None) -> None:
        """Point ``group_key`` at a new run, if it still points at ``previous`` (None: no row yet).

        Raises :class:`GroupTaken` when another delivery (another thread or server) got there
        first; the caller's transaction must then be rolled back and the delivery recorded again.
        """
        if previous is None:
            row = {"group_key": group_key, "run_id": run_id, "last_seen": utcnow()}
            try:
                if self.sqlite:  # BEGIN IMMEDIATE: nobody else can have inserted it since our read
                    conn.execute(groups.insert(), row)
                else:
                    with conn.begin_nested():
                        conn.execute(groups.insert(), row)
            except sa.exc.IntegrityError:
                raise GroupTaken(group_key) from None
            return
        done = conn.execute(_TAKE_GROUP, {"b_gk": group_key, "b_rid": run_id, "b_old": previous, "b_ts": utcnow()})
        if done.rowcount != 1:
            raise GroupTaken(group_key)

    def touch_group(self, conn: sa.Connection, group_key: str) -> None:
        """Mark ``group_key`` seen now."""
        conn.execute(_TOUCH_GROUP, {"b_gk": group_key, "b_ts": utcnow()})

    def insert_alert(self, conn: sa.Connection, alert: Any, run_id: str | None, action: str) -> None:
        """Record one received alert (an :class:`incident_kit.alerts.Alert`)."""
        conn.execute(alerts.insert(), {
            "received_at": utcnow(), "source": alert.source, "status": alert.status, "alertname": alert.name[:200],
            "fingerprint": alert.fingerprint, "group_key": alert.group_key, "starts_at": alert.starts_at,
            "ends_at": alert.ends_at, "labels": json.dumps(redact_obj(alert.labels)[0]),
            "annotations": json.dumps(redact_obj(alert.annotations)[0]),
            "run_id": run_id, "action": action,
        })
        if run_id is not None:
            conn.execute(_BUMP_RUN, {"b_rid": run_id, "b_ts": utcnow()})

    def insert_run(self, conn: sa.Connection, run_id: str, scenario: str, group_key: str,
                   alert: dict[str, Any], route: dict[str, Any]) -> None:
        """Create a queued run."""
        conn.execute(runs.insert(), {
            "run_id": run_id, "scenario": scenario, "group_key": group_key, "state": "queued", "attempts": 0,
            "created_at": utcnow(), "alert": json.dumps(redact_obj(alert)[0]), "route": json.dumps(route),
            "alerts_count": 0, "resolution_applied": False,
        })

    def set_resolved(self, conn: sa.Connection, run_id: str, resolved_at: str) -> None:
        """Record the end time of the alert group on its run (the resolution is applied later)."""
        conn.execute(_RESOLVE_RUN, {"b_rid": run_id, "b_at": resolved_at})

    # -- execution ------------------------------------------------------------------------
    def claim(self, run_id: str, worker: str) -> dict[str, Any] | None:
        """Move a queued run to ``running`` for ``worker``; returns the run, or None if not queued."""
        now = utcnow()
        with self.lock, self.engine.begin() as c:
            done = c.execute(runs.update().where(runs.c.run_id == run_id, runs.c.state == "queued").values(
                state="running", started_at=now, heartbeat_at=now, worker=worker[:200], attempts=runs.c.attempts + 1))
            if done.rowcount != 1:
                return None
        return self.get(run_id)

    def heartbeat(self, run_id: str, worker: str) -> None:
        """Say the run is still being executed by ``worker``."""
        with self.lock, self.engine.begin() as c:
            c.execute(runs.update().where(runs.c.run_id == run_id, runs.c.state == "running",
                                          runs.c.worker == worker).values(heartbeat_at=utcnow()))

    def finish(self, run_id: str, worker: str, state: str, **fields: Any) -> bool:
        """Record the end of a run executed by ``worker``; returns False if it was no longer its run."""
        assert state in FINAL_STATES
        with self.lock, self.engine.begin() as c:
            done = c.execute(runs.update().where(runs.c.run_id == run_id, runs.c.state == "running",
                                                 runs.c.worker == worker).values(
                state=state, finished_at=utcnow(), **fields))
            return done.rowcount == 1

    def update(self, run_id: str, **fields: Any) -> None:
        """Set fields of a run."""
        with self.lock, self.engine.begin() as c:
            c.execute(runs.update().where(runs.c.run_id == run_id).values(**fields))

    def recover(self, stale_after_s: float, is_dead: Any = None) -> list[str]:
        """Handle runs whose worker stopped; returns the run ids to enqueue again.

        A ``running`` run is stale when its heartbeat is older than ``stale_after_s`` or when
        ``is_dead(worker)`` says its worker process is gone. A stale run with attempts left goes
        back to ``queued`` (retried once); one that already used its retry is marked ``interrupted``.
        """
        limit = utcnow() - timedelta(seconds=stale_after_s)
        again: list[str] = []
        try:
            return self._recover(limit, is_dead)
        except sa.exc.OperationalError:  # SQLite busy: the next sweep does it
            return again

    def _recover(self, limit: datetime, is_dead: Any) -> list[str]:
        again: list[str] = []
        with self.write_transaction() as c:
            rows = c.execute(sa.select(runs.c.run_id, runs.c.attempts, runs.c.worker, runs.c.heartbeat_at).where(
                runs.c.state == "running")).all()
            stale = [r for r in rows if _aware(r.heartbeat_at) < limit or (is_dead is not None and is_dead(r.worker or ""))]
            for r in stale:
                if r.attempts < MAX_ATTEMPTS:
                    done = c.execute(runs.update().where(runs.c.run_id == r.run_id, runs.c.state == "running").values(
                        state="queued", error=f"interrupted on attempt {r.attempts} (worker {r.worker} stopped); retried"))
                    if done.rowcount:
                        again.append(r.run_id)
                else:
                    c.execute(runs.update().where(runs.c.run_id == r.run_id, runs.c.state == "running").values(
                        state="interrupted", finished_at=utcnow(),
                        error=f"interrupted on attempt {r.attempts} (worker {r.worker} stopped); not retried again"))
        return again

    def pending_resolutions(self) -> list[str]:
        """Return finished runs whose alert resolved but whose report does not show it yet."""
        with self.engine.connect() as c:
            q = sa.select(runs.c.run_id).where(
                runs.c.state.in_(("ok", "degraded", "failed", "timed_out")), runs.c.resolved_at.is_not(None),
                runs.c.resolution_applied.is_(False),
                sa.or_(runs.c.error.is_(None), sa.not_(runs.c.error.startswith("resolution not applied"))))
            return [r[0] for r in c.execute(q)]

    def queued(self) -> list[str]:
        """Return the ids of queued runs, oldest first."""
        with self.engine.connect() as c:
            return [r[0] for r in c.execute(sa.select(runs.c.run_id).where(runs.c.state == "queued")
                                            .order_by(runs.c.created_at))]

    # -- reading --------------------------------------------------------------------------
    def get(self, run_id: str) -> dict[str, Any] | None:
        """Return one run as a JSON-ready dict, or None."""
        with self.engine.connect() as c:
            row = c.execute(sa.select(runs).where(runs.c.run_id == run_id)).first()
        return None if row is None else _run_dict(row)

    def list_runs(self, *, state: str | None = None, scenario: str | None = None, group_key: str | None = None,
                  since: datetime | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Return runs, newest first, filtered by state, scenario, group and creation time."""
        q = sa.select(runs).order_by(runs.c.created_at.desc(), runs.c.run_id.desc()).limit(limit).offset(offset)
        if state:
            q = q.where(runs.c.state.in_(state.split(",")))
        if scenario:
            q = q.where(runs.c.scenario == scenario)
        if group_key:
            q = q.where(runs.c.group_key == group_key)
        if since is not None:
            q = q.where(runs.c.created_at >= since)
        with self.engine.connect() as c:
            return [_run_dict(r) for r in c.execute(q)]

    def alerts_of(self, run_id: str) -> list[dict[str, Any]]:
        """Return the alerts recorded on a run, in arrival order."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(alerts).where(alerts.c.run_id == run_id).order_by(alerts.c.id)).all()
        return [{**{k: v for k, v in r._mapping.items() if k not in ("labels", "annotations")},
                 "received_at": _iso(r.received_at), "labels": json.loads(r.labels or "{}"),
                 "annotations": json.loads(r.annotations or "{}")} for r in rows]

    def counts(self) -> dict[str, int]:
        """Return the number of runs per state, alerts and refusals."""
        with self.engine.connect() as c:
            out = {s: int(n) for s, n in c.execute(sa.select(runs.c.state, sa.func.count()).group_by(runs.c.state))}
            out["alerts"] = int(c.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one())
            out["refusals"] = int(c.execute(sa.select(sa.func.count()).select_from(refusals)).scalar_one())
        return out

    def refusal_list(self) -> list[dict[str, Any]]:
        """Return every refused request (oldest first)."""
        with self.engine.connect() as c:
            return [{**r._mapping, "received_at": _iso(r.received_at)}
                    for r in c.execute(sa.select(refusals).order_by(refusals.c.id))]


def _iso(value: datetime | None) -> str | None:
    value = _aware(value)
    return None if value is None else value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _run_dict(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    for k in ("created_at", "started_at", "finished_at", "heartbeat_at", "last_alert_at"):
        d[k] = _iso(d[k])
    d["alert"] = json.loads(d["alert"]) if d["alert"] else None
    d["route"] = json.loads(d["route"]) if d["route"] else {}
    d["resolution_applied"] = bool(d["resolution_applied"])
    return d


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
    dbapi_conn.isolation_level = None  # transactions are begun by the "begin" listener


def default_url(out_dir: str | os.PathLike[str]) -> str:
    """Return the default ledger URL: SQLite ``<out>/.incident-kit/ledger.sqlite`` (directory created)."""
    from pathlib import Path

    d = Path(out_dir).resolve() / ".incident-kit"
    d.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{d / 'ledger.sqlite'}"


def local_worker_dead(worker: str) -> bool:
    """Return True when ``worker`` (``host:pid:thread``) is a process of this host that no longer exists."""
    host, _, rest = worker.partition(":")
    pid = rest.split(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
