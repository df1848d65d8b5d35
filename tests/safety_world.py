"""A small real world for the end-to-end safety tests: planted data on real services.

:class:`World` owns, on the session's PostgreSQL cluster, its own database and a password-protected
read-only role; a JSON access log; a git repository and a deploy-events file; a loopback HTTP
server that answers probes and counts every request; and PostgreSQL sessions that keep chosen
query texts visible in ``pg_stat_activity`` (long statements, an idle transaction holding a lock
and a statement blocked behind it). Everything it starts is stopped by :meth:`close`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable

import psycopg


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Recorder(ThreadingHTTPServer):
    """A loopback HTTP server that answers 200 (or ``status``) and records every request path."""

    daemon_threads = True

    def __init__(self, status: int = 200, body: bytes = b"ok") -> None:
        self.requests: list[str] = []
        self.status = status
        self.body = body
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                outer.requests.append(f"{self.command} {self.path}")
                self.send_response(outer.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(outer.body)

            do_GET = do_HEAD = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class World:
    """Planted data for one scenario run; see the module docstring. Use :meth:`close` to end it."""

    def __init__(self, pg_cluster: Any, root: Path, name: str) -> None:
        self.cluster = pg_cluster
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.db = f"ik_{name}_{secrets.token_hex(3)}"
        self.role = f"reader_{secrets.token_hex(3)}"
        self.password = "Rd-" + secrets.token_urlsafe(15)
        self.cluster.psql(
            f"CREATE ROLE {self.role} LOGIN PASSWORD '{self.password}' IN ROLE pg_monitor, pg_read_all_data",
            f"CREATE DATABASE {self.db}",
        )
        self.cluster.psql(
            "CREATE TABLE ledger (id serial PRIMARY KEY, account text NOT NULL, amount numeric NOT NULL)",
            "INSERT INTO ledger (account, amount) SELECT 'acct-' || g, g * 10 FROM generate_series(1, 50) g",
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
            dbname=self.db,
        )
        self.database_url = self.cluster.url(self.db, self.role, self.password)
        self.superuser_url = self.cluster.url(self.db).replace("postgresql+psycopg://", "postgresql://")
        self.http = Recorder()
        self._sessions: list[psycopg.Connection] = []
        self._threads: list[threading.Thread] = []
        self.logs = root / "access.log"
        self.git_repo = root / "repo"
        self.deploy_events = root / "deploys.jsonl"
        self.now = datetime.now(timezone.utc)

    # -- files ------------------------------------------------------------------------------------
    def write_logs(self, messages: Iterable[str], *, minutes: int = 40, extra: dict[str, Any] | None = None) -> None:
        """Write a JSON access log of ``minutes`` ending now: steady 200s, then errors whose
        messages (and some paths and user agents) are ``messages``, in turn."""
        msgs = list(messages)
        start = self.now - timedelta(minutes=minutes)
        with open(self.logs, "w", encoding="utf-8", errors="surrogateescape") as f:
            for i in range(minutes * 12):
                ts = start + timedelta(seconds=5 * i)
                failing = i > minutes * 8 and msgs
                msg = msgs[i % len(msgs)] if failing else "GET /api/products 200"
                rec = {
                    "timestamp": _iso(ts), "level": "error" if failing else "info", "service": "shop-api",
                    "method": "GET", "path": "/api/checkout" if failing else "/api/products",
                    "status": 502 if failing else 200, "duration_ms": 40.0 + (i % 7), "client": f"10.0.0.{i % 9}",
                    "user_id": f"u{i % 13}", "message": msg,
                }
                if failing and i % 3 == 0:
                    rec["path"] = "/api/export?" + msg[:200]
                    rec["user_agent"] = msg
                rec.update(extra or {})
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")

    def write_changes(self, subjects: Iterable[str]) -> None:
        """Create the git repository (one commit per subject, the last minutes ago) and a deploy-events file."""
        subjects = list(subjects)
        self.git_repo.mkdir(exist_ok=True)
        env = dict(os.environ, GIT_AUTHOR_NAME="CI", GIT_AUTHOR_EMAIL="ci@example.com",
                   GIT_COMMITTER_NAME="CI", GIT_COMMITTER_EMAIL="ci@example.com")
        subprocess.run(["git", "init", "-q", str(self.git_repo)], check=True, env=env)
        for i, subject in enumerate(subjects):
            when = _iso(self.now - timedelta(minutes=15 + len(subjects) - i))
            (self.git_repo / "app.txt").write_text(f"version {i}\n")
            subprocess.run(["git", "-C", str(self.git_repo), "add", "app.txt"], check=True, env=env)
            subprocess.run(["git", "-C", str(self.git_repo), "commit", "-q", "-m", subject], check=True,
                           env=dict(env, GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when))
        with open(self.deploy_events, "w", encoding="utf-8") as f:
            for i, subject in enumerate(subjects):
                f.write(json.dumps({"ts": _iso(self.now - timedelta(minutes=14 + len(subjects) - i)), "kind": "deploy",
                                    "source": "ci", "text": f"deploy v1.{i}: {subject}", "ref": f"v1.{i}"}) + "\n")

    def alert(self, labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
        """Return an Alertmanager payload (firing since 12 minutes ago) with these labels and annotations."""
        starts = _iso(self.now - timedelta(minutes=12))
        one = {"status": "firing", "labels": {"alertname": "HighErrorRate", "service": "shop-api", **labels},
               "annotations": annotations, "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z",
               "generatorURL": "http://prometheus.internal/graph", "fingerprint": secrets.token_hex(8)}
        return {"receiver": "incident-kit", "status": "firing", "alerts": [one], "groupLabels": {},
                "commonLabels": one["labels"], "commonAnnotations": annotations, "externalURL": "http://am",
                "version": "4", "groupKey": "{}", "truncatedAlerts": 0}

    # -- live database sessions -------------------------------------------------------------------
    def _connect(self, app: str) -> psycopg.Connection:
        conn = psycopg.connect(self.superuser_url, autocommit=True, application_name=app)
        self._sessions.append(conn)
        return conn

    def long_statement(self, text: str, app: str = "worker") -> None:
        """Start a statement that runs for minutes and whose text includes ``text`` (as a comment and a literal)."""
        conn = self._connect(app)
        literal = text.replace("'", "''")
        comment = text.replace("*/", "* /")
        sql = f"/* {comment} */ SELECT pg_sleep(600), '{literal}' AS note"
        self._run_in_thread(conn, sql)

    def lock_chain(self, holder_text: str, waiter_text: str) -> None:
        """An idle transaction that last ran ``holder_text`` and holds a lock on ledger; a statement
        containing ``waiter_text`` waits for it."""
        holder = self._connect("migration")
        holder.autocommit = False
        holder.execute("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")
        holder.execute(f"SELECT '{holder_text.replace(chr(39), chr(39) * 2)}' AS note")
        waiter = self._connect("checkout")
        self._run_in_thread(waiter, f"SELECT count(*) FROM ledger WHERE account <> '{waiter_text.replace(chr(39), chr(39) * 2)}'")

    def _run_in_thread(self, conn: psycopg.Connection, sql: str) -> None:
        def go() -> None:
            try:
                conn.execute(sql)
            except Exception:  # noqa: BLE001 - cancelled on close
                pass

        t = threading.Thread(target=go, daemon=True)
        t.start()
        self._threads.append(t)

    def wait_visible(self, count: int, min_age_s: float = 0.0, timeout_s: float = 30.0) -> None:
        """Wait until ``count`` sessions of this world's database are active/idle in transaction for ``min_age_s``."""
        deadline = time.monotonic() + timeout_s
        with psycopg.connect(self.superuser_url, autocommit=True) as c:
            while time.monotonic() < deadline:
                n = c.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND state IN ('active', 'idle in transaction') AND now() - query_start >= make_interval(secs => %s)",
                    (min_age_s,),
                ).fetchone()[0]
                if n >= count:
                    return
                time.sleep(0.2)
        raise AssertionError(f"only {n} of {count} planted sessions became visible")

    def close(self) -> None:
        """Cancel and close every session, stop the HTTP server, drop the database and role."""
        for conn in self._sessions:
            try:
                conn.cancel()
            except Exception:  # noqa: BLE001
                pass
        for t in self._threads:
            t.join(timeout=10)
        for conn in self._sessions:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass
        self.http.close()
        try:
            self.cluster.psql(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)", f"DROP ROLE IF EXISTS {self.role}")
        except Exception:  # noqa: BLE001 - the cluster may already be gone at session end
            pass


def files_under(path: Path) -> list[Path]:
    """Return every regular file under ``path`` (recursively)."""
    return [p for p in sorted(path.rglob("*")) if p.is_file()]


__all__ = ["Recorder", "World", "files_under"]
