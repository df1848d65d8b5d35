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

#: Name of the parameters file the demo writes into its work directory (``-f`` for runs and notebooks).
PARAMETERS_FILE = "parameters.yaml"


def demo_home() -> Path | None:
    """Return the directory demo work directories are created in: ``INCIDENT_KIT_DEMO_HOME`` when
    set (created if needed), else None (the system's temp directory)."""
    home = os.environ.get("INCIDENT_KIT_DEMO_HOME")
    if not home:
        return None
    path = Path(home).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


class DemoEnvironment:
    """Start with :meth:`start` (or ``with``), read :attr:`parameters` and :attr:`story`, end with :meth:`stop`.

    ``scenario`` picks the staged incident (``stages.SCENARIOS``; raises ConfigError for another
    name). ``workdir=None`` uses a fresh temp dir (under ``INCIDENT_KIT_DEMO_HOME`` when set),
    removed on stop, so nothing is left for a later run to pick up. ``version`` overrides the
    version the service runs. The demo's parameters are :attr:`parameters`, also written to
    ``<workdir>/parameters.yaml`` (:attr:`parameters_file`) for ``incident-kit run -f``.
    """

    def __init__(self, workdir: Path | None = None, *, scenario: str = "high_error_rate",
                 warmup_s: float = 6.0, rps: float = 5.0, version: str | None = None) -> None:
        from .stages import get_stage

        self.scenario = scenario
        self.stage = get_stage(scenario)
        self.fault: Fault | None = None
        self._on_stop: list[Callable[[], None]] = []
        #: Helper processes the stage started (redis-server, provider, hogs), stopped by pid at stop.
        self.processes: list[subprocess.Popen[bytes]] = []
        self._own_dir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="ik-demo-", dir=demo_home()))
        self.warmup_s = warmup_s
        self.rps = rps
        self.version = version
        self.cluster: PostgresCluster | None = None
        self.service: subprocess.Popen[bytes] | None = None
        self.traffic: Traffic | None = None
        self.story: Story | None = None
        self.http_port = 0
        self.parameters: dict[str, Any] = {}
        #: The parameters the stage adds (a scenario's own, or overrides of the shared ones).
        self.stage_parameters: dict[str, Any] = {}

    @property
    def parameters_file(self) -> Path:
        """Return the path of the parameters file the demo writes (``<workdir>/parameters.yaml``)."""
        return self.workdir / PARAMETERS_FILE

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
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cluster = PostgresCluster(max_connections=self.stage.max_connections).start()
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

        self.http_port = free_port()
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
        self.stage_parameters = self.stage.parameters(self)
        self.parameters.update(self.stage_parameters)
        self.write_parameters()
        self.stage.inject(self)
        kind, words = self.stage.expected(self)
        self.story.expected_cause_kind, self.story.expected_cause_text = kind, list(words)
        time.sleep(self.warmup_s)

    def write_parameters(self) -> Path:
        """Write :attr:`parameters` to :attr:`parameters_file` (YAML, papermill's ``-f`` format); returns its path."""
        import yaml

        header = (f"# Parameters of the running incident-kit demo ({self.scenario}); removed when the demo stops.\n"
                  f"# incident-kit run {self.scenario} -f {self.parameters_file}\n")
        self.parameters_file.write_text(header + yaml.safe_dump(self.parameters, sort_keys=False), encoding="utf-8")
        return self.parameters_file

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

    def _wait_ready(self, url: str, timeout_s: float = 60.0) -> None:
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


def _assignments(parameters: dict[str, Any]) -> str:
    """Return ``parameters`` as Python assignments, to paste into a notebook's parameters cell."""
    return "\n".join(f"{name} = {value!r}" for name, value in parameters.items())


def cli_demo(args: argparse.Namespace) -> int:
    """``incident-kit demo``: stage the incident, run the scenario with the demo's own parameters
    file, print the report path; returns the exit code. The work directory is removed at the end
    (with ``--keep``: after Ctrl-C)."""
    from rich.console import Console

    from ..runner import run

    console = Console(stderr=True)
    previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    env = DemoEnvironment(scenario=args.scenario)
    try:
        with console.status(f"staging {args.scenario}: {env.stage.title}"):
            env.start()
        console.print(f"demo: shop-api on 127.0.0.1:{env.http_port}, PostgreSQL on 127.0.0.1:{env.cluster.port if env.cluster else '?'}")
        result = run(args.scenario, {}, parameter_files=[str(env.parameters_file)], out_dir=args.out, progress=True)
        if args.keep:
            print(result.report, flush=True)
            console.print(f"demo services keep running; point a run at them with:\n"
                          f"  incident-kit run SCENARIO -f {env.parameters_file}\n"
                          f"or paste into a notebook's parameters cell:\n{_assignments(env.parameters)}\n"
                          "Ctrl-C stops them and removes their files.", highlight=False, markup=False, soft_wrap=True)
            while True:
                time.sleep(3600)
    finally:
        env.stop()
        signal.signal(signal.SIGTERM, previous)
    print(result.report)
    return 0 if result.status != "failed" else 1
