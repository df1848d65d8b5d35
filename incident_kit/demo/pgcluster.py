"""A throwaway PostgreSQL cluster on loopback, for the demo and the tests.

Uses Debian's server binaries (``/usr/lib/postgresql/<major>/bin``). PostgreSQL refuses to
run as root, so when we are root the cluster is created and run as the ``postgres`` user in
a temporary directory owned by it. ``pg_stat_statements`` is preloaded. initdb runs once per
machine (``--no-sync``, cached under ``TEMPLATE_ROOT``); each cluster copies that template and
sets its own superuser password.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from ..errors import RunError

#: Where the initdb'd template data directories are cached (see PostgresCluster._template).
TEMPLATE_ROOT = Path(tempfile.gettempdir()) / "incident-kit-pgtemplates"
_TEMPLATES: dict[str, Path] = {}


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bindir() -> Path:
    """Return the newest Debian PostgreSQL server bin directory; raises RunError if none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RunError("PostgreSQL server binaries not found under /usr/lib/postgresql: apt-get install postgresql")
    return Path(found[-1]).parent


class PostgresCluster:
    """A PostgreSQL cluster in a temp dir, listening on 127.0.0.1 only.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``password`` is the
    superuser's (``postgres``); :meth:`url` builds SQLAlchemy URLs.
    """

    def __init__(self, port: int | None = None, max_connections: int = 100, settings: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.max_connections = max_connections
        self.settings = settings or {}
        self.password = secrets.token_hex(12)
        self.dir: Path | None = None
        self.pid: int | None = None
        self._run_as: str | None = "postgres" if os.geteuid() == 0 else None

    # -- lifecycle -----------------------------------------------------------------------
    def _cmd(self, args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        if self._run_as:
            args = ["runuser", "-u", self._run_as, "--", *args]
        return subprocess.run(args, capture_output=True, text=True, **kw)  # type: ignore[call-overload]

    def start(self) -> "PostgresCluster":
        """Create and start the cluster; returns self. Raises RunError with initdb/pg_ctl's reason."""
        bindir = pg_bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="ik-pg-"))
        if self._run_as:
            pw = pwd.getpwnam(self._run_as)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        data = self.dir / "data"
        try:
            template = self._template(bindir)
        except RunError:
            self._cleanup()
            raise
        r = self._cmd(["cp", "-a", str(template), str(data)])
        if r.returncode != 0:
            self._cleanup()
            raise RunError(f"copying the initdb template failed: {r.stderr.strip() or r.returncode}")
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.dir}'",
            "shared_preload_libraries": "'pg_stat_statements'",
            "max_connections": str(self.max_connections),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "logging_collector": "off",
            "track_io_timing": "on",
            **self.settings,
        }
        with open(data / "postgresql.conf", "a") as f:
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")
        r = self._cmd([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "server.log"), "-w", "-t", "60", "start"])
        if r.returncode != 0:
            log = (self.dir / "server.log").read_text(errors="replace") if (self.dir / "server.log").exists() else ""
            self._cleanup()
            raise RunError(f"PostgreSQL did not start on 127.0.0.1:{self.port}: {(log or r.stderr).strip().splitlines()[-1:]}")
        self.pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        try:
            self.psql(f"ALTER ROLE postgres PASSWORD '{self.password}'")
        except RunError:
            self.stop()
            raise
        return self

    def _template(self, bindir: Path) -> Path:
        """Return the initdb'd data directory every cluster copies (initdb is the slow part of a start).

        It is made once per machine, PostgreSQL major and user, at ``TEMPLATE_ROOT/<major>-<user>``
        (initdb in a temp dir, then an atomic rename, so concurrent processes never see half of one)
        and kept as a cache (~40 MB). Raises RunError with initdb's reason.
        """
        key = f"{bindir}:{self._run_as}"
        cached = _TEMPLATES.get(key)
        if cached is not None and (cached / "PG_VERSION").exists():
            return cached
        final = TEMPLATE_ROOT / f"{bindir.parent.name}-{self._run_as or os.geteuid()}"
        if (final / "data" / "PG_VERSION").exists():
            _TEMPLATES[key] = final / "data"
            return final / "data"
        TEMPLATE_ROOT.mkdir(mode=0o755, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="new-", dir=TEMPLATE_ROOT))
        if self._run_as:
            pw = pwd.getpwnam(self._run_as)
            os.chown(root, pw.pw_uid, pw.pw_gid)
        r = self._cmd([str(bindir / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--no-sync",
                       "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"])
        if r.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            raise RunError(f"initdb failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
        try:
            os.rename(root, final)
        except OSError:  # another process made it first: use theirs
            shutil.rmtree(root, ignore_errors=True)
        _TEMPLATES[key] = final / "data"
        return final / "data"

    def stop(self) -> None:
        """Stop the server (fast shutdown, then SIGKILL by pid if needed) and remove its directory."""
        if self.dir is None:
            return
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGINT)  # fast shutdown
                for _ in range(100):
                    os.kill(self.pid, 0)
                    time.sleep(0.05)
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None
        self._cleanup()

    def _cleanup(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> "PostgresCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- use -------------------------------------------------------------------------------
    def url(self, dbname: str = "postgres", user: str = "postgres", password: str | None = None,
            driver: str = "postgresql+psycopg") -> str:
        """Return a SQLAlchemy URL for ``dbname`` as ``user`` (the superuser's password by default)."""
        pw = self.password if password is None else password
        return f"{driver}://{user}:{pw}@127.0.0.1:{self.port}/{dbname}"

    def psql(self, *statements: str, dbname: str = "postgres") -> str:
        """Run each statement (its own ``-c``, so its own transaction) with psql over the unix socket
        as superuser; returns stdout; raises RunError with psql's message."""
        commands = [arg for sql in statements for arg in ("-c", sql)]
        r = self._cmd([str(pg_bindir() / "psql"), "-h", str(self.dir), "-p", str(self.port), "-U", "postgres",
                       "-d", dbname, "-v", "ON_ERROR_STOP=1", "-qAt", *commands])
        if r.returncode != 0:
            raise RunError(f"psql failed: {r.stderr.strip()}")
        return r.stdout


__all__ = ["PostgresCluster", "free_port", "pg_bindir"]
