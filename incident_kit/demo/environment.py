"""The demo environment: a real incident on local services, started and always stopped.

:class:`DemoEnvironment` starts a throwaway PostgreSQL cluster with the shop schema, writes two
hours of log history with the scenario's change in a real git repository, starts the shop service
and sends it live traffic; the scenario's stage (:mod:`.stages`) makes its incident real on
those services (the default, high_error_rate, runs the faulty version v1.8.0). ``.parameters``
points a scenario at all of it; the database URL is passed as a ``file:`` secret reference, never
as a value. ``.story`` holds the known answers, including the expected top cause.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import httpx

from ..errors import RunError
from . import shop
from .faults import Fault
from .history import Story, write_history
from .pgcluster import PostgresCluster, free_port
from .traffic import Traffic

#: Where `incident-kit demo` puts its files, so notebook defaults can point at a running demo.
DEMO_HOME = Path(os.environ.get("INCIDENT_KIT_DEMO_HOME", "/tmp/incident-kit-demo"))
DEMO_PG_PORT = 54329
DEMO_HTTP_PORT = 8790


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class DemoEnvironment:
    """Start with :meth:`start` (or ``with``), read :attr:`parameters` and :attr:`story`, end with :meth:`stop`.

    ``scenario`` picks the staged incident (``stages.SCENARIOS``; raises ConfigError for another
    name). ``workdir=None`` uses a new temp dir (removed on stop); ``well_known=True`` uses
    ``DEMO_HOME`` and the fixed ports the notebooks' defaults point at, when they are free.
    ``version`` overrides the version the service runs.
    """

    def __init__(self, workdir: Path | None = None, *, scenario: str = "high_error_rate", well_known: bool = False,
                 warmup_s: float = 6.0, rps: float = 5.0, version: str | None = None) -> None:
        from .stages import get_stage

        self.scenario = scenario
        self.stage = get_stage(scenario)
        self.fault: Fault | None = None
        self._on_stop: list[Callable[[], None]] = []
        #: Helper processes the stage started (redis-server, provider, hogs), stopped by pid at stop.
        self.processes: list[subprocess.Popen[bytes]] = []
        self.well_known = well_known
        self._own_dir = workdir is None and not well_known
        self.workdir = Path(workdir) if workdir else (DEMO_HOME if well_known else Path(tempfile.mkdtemp(prefix="ik-demo-")))
        self.warmup_s = warmup_s
        self.rps = rps
        self.version = version
        self.cluster: PostgresCluster | None = None
        self.service: subprocess.Popen[bytes] | None = None
        self.traffic: Traffic | None = None
        self.story: Story | None = None
        self.http_port = 0
        self.parameters: dict[str, Any] = {}

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "DemoEnvironment":
        """Start everything; returns self. Raises RunError (after stopping what started) on failure."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if self.well_known and self.workdir.exists():
            from .stages_host import unmount_under

            unmount_under(self.workdir)  # a resource_pressure demo killed before its stop
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        pg_port = DEMO_PG_PORT if self.well_known and _port_free(DEMO_PG_PORT) else None
        self.cluster = PostgresCluster(port=pg_port, max_connections=self.stage.max_connections).start()
        reader_pw = os.urandom(9).hex()
        app_pw = os.urandom(9).hex()
        self.cluster.psql(
            f"CREATE ROLE shop LOGIN PASSWORD '{app_pw}'",
            f"CREATE ROLE incident_reader LOGIN PASSWORD '{reader_pw}' IN ROLE pg_monitor, pg_read_all_data",
            "ALTER ROLE shop SET idle_in_transaction_session_timeout = '30s'",
            "CREATE DATABASE shop OWNER shop",
        )
        self.cluster.psql("CREATE EXTENSION pg_stat_statements;", dbname="shop")
        self.cluster.psql(f"SET ROLE shop; {shop.SCHEMA_SQL}", dbname="shop")
        secrets_dir = self.workdir / "secrets"
        secrets_dir.mkdir(exist_ok=True)
        os.chmod(secrets_dir, 0o700)
        (secrets_dir / "database_url").write_text(self.cluster.url("shop", "incident_reader", reader_pw) + "\n")
        (secrets_dir / "app_dsn").write_text(f"host=127.0.0.1 port={self.cluster.port} dbname=shop user=shop password={app_pw}\n")

        self.http_port = DEMO_HTTP_PORT if self.well_known and _port_free(DEMO_HTTP_PORT) else free_port()
        self.stage.prepare(self)
        self.fault = self.stage.fault(self)
        self.story = write_history(self.workdir, fault=self.fault)
        self.story.scenario = self.scenario
        logs = self.workdir / "logs"
        service_env = dict(os.environ)
        for key, value in self.stage.service_env(self).items():
            if value:
                service_env[key] = value
            else:
                service_env.pop(key, None)
        with open(self.workdir / "service.stderr", "wb") as stderr:
            self.service = subprocess.Popen(
                [sys.executable, "-m", "incident_kit.demo.service", "--port", str(self.http_port),
                 "--dsn-file", str(secrets_dir / "app_dsn"), "--access-log", str(logs / self.stage.live_access_log),
                 "--app-log", str(logs / "app.log"), "--version", self.version or self.stage.version(self),
                 *self.stage.service_args(self)],
                stdout=subprocess.DEVNULL, stderr=stderr, env=service_env,
            )
        base = self.base_url
        self._wait_ready(base + "/health")
        self.traffic = Traffic(base, rps=self.rps, **self.stage.traffic(self)).start()
        self.parameters = {
            "service": shop.SERVICE,
            "logs": [str(logs / "access.log")],
            "database_url": f"file:{secrets_dir / 'database_url'}",
            "probe_targets": [f"{base}/health", f"{base}/api/products"],
            "git_repo": str(self.workdir / "repo"),
            "deploy_events": str(self.workdir / "deploys.jsonl"),
        }
        self.parameters.update(self.stage.parameters(self))
        self.stage.inject(self)
        kind, words = self.stage.expected(self)
        self.story.expected_cause_kind, self.story.expected_cause_text = kind, list(words)
        time.sleep(self.warmup_s)

    @property
    def base_url(self) -> str:
        """Return the shop service's base URL (``http://127.0.0.1:<port>``)."""
        return f"http://127.0.0.1:{self.http_port}"

    def on_stop(self, fn: Callable[[], None]) -> None:
        """Register ``fn`` to run at :meth:`stop` (after the service stops, before PostgreSQL; last registered first)."""
        self._on_stop.append(fn)

    def stop_service(self) -> None:
        """Stop the shop service by pid (SIGTERM, then SIGKILL after 5 s). Safe to call twice."""
        if self.service is not None:
            if self.service.poll() is None:
                self.service.send_signal(signal.SIGTERM)
                try:
                    self.service.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.service.kill()
                    self.service.wait()

    def _wait_ready(self, url: str, timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.service is not None and self.service.poll() is not None:
                err = (self.workdir / "service.stderr").read_text(errors="replace").strip().splitlines()
                raise RunError(f"demo service exited: {err[-1] if err else self.service.returncode}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RunError(f"demo service did not answer {url} within {timeout_s:.0f}s")

    def deploy(self, version: str) -> None:
        """Switch the running service to ``version`` (``shop.BAD_VERSION`` carries the fault)."""
        httpx.post(f"http://127.0.0.1:{self.http_port}/admin/deploy", json={"version": version}, timeout=5)

    def stop(self) -> None:
        """Stop traffic, the service (by pid), what the stage started and PostgreSQL; remove a temp
        workdir. Safe to call twice; a failing cleanup does not keep the others from running."""
        if self.traffic is not None:
            self.traffic.stop()
            self.traffic = None
        self.stop_service()
        self.service = None
        while self._on_stop:
            fn = self._on_stop.pop()
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                print(f"demo: cleanup failed: {exc}", file=sys.stderr)
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "DemoEnvironment":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def cli_demo(args: argparse.Namespace) -> int:
    """``incident-kit demo``: stage the incident, run the scenario, print the report path; returns the exit code."""
    from rich.console import Console

    from ..runner import run

    console = Console(stderr=True)
    previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    env = DemoEnvironment(scenario=args.scenario, well_known=True)
    try:
        with console.status(f"staging {args.scenario}: {env.stage.title}"):
            env.start()
        console.print(f"demo: shop-api on 127.0.0.1:{env.http_port}, PostgreSQL on 127.0.0.1:{env.cluster.port if env.cluster else '?'}")
        result = run(args.scenario, dict(env.parameters), out_dir=args.out, progress=True)
        if args.keep:
            console.print(f"demo services keep running (files in {env.workdir}); Ctrl-C to stop them")
            while True:
                time.sleep(3600)
    finally:
        env.stop()
        signal.signal(signal.SIGTERM, previous)
    print(result.report)
    return 0 if result.status != "failed" else 1
