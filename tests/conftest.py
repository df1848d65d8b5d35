"""Shared fixtures: real services on loopback, started once per session and stopped by pid."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def network_interfaces() -> list[str]:
    """Return the names of this process's network interfaces (its namespace's, from /proc/self/net/dev)."""
    lines = Path("/proc/self/net/dev").read_text().splitlines()[2:]
    return [line.split(":", 1)[0].strip() for line in lines if ":" in line]


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to start outside a loopback-only network namespace: no test may reach beyond this machine."""
    others = [name for name in network_interfaces() if name != "lo"]
    if others:
        pytest.exit(f"tests must run where only loopback exists, but this network namespace has {', '.join(others)}: "
                    "run `make test`, or scripts/loopback-only.sh python -m pytest ...", returncode=3)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared folder beside the project (real data no one here wrote)."""
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: tests need ../shared beside the project")
    return SHARED


@pytest.fixture(scope="session")
def pg_cluster():
    """A real throwaway PostgreSQL cluster (pg_stat_statements loaded) for the whole session."""
    from incident_kit.demo.pgcluster import PostgresCluster

    cluster = PostgresCluster(max_connections=40).start()
    try:
        cluster.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def demo_env():
    """The real demo environment (PostgreSQL, faulty shop service, log history, live traffic) for the session.

    ``demo_env.parameters`` points a scenario at it; ``demo_env.story`` holds the known answers.
    """
    from incident_kit.demo.environment import DemoEnvironment

    env = DemoEnvironment(warmup_s=4.0).start()
    try:
        yield env
    finally:
        env.stop()


@pytest.fixture(scope="session", autouse=True)
def staging(request, tmp_path_factory):
    """The staged incidents of tests/test_scenarios.py (tests/staging.py), started when the session
    starts if a selected test needs them (``staged_runs``), so they are staged in worker processes
    while the other modules run; None otherwise. Waits for its workers at the end of the session."""
    users = [item for item in request.session.items if "staged_runs" in getattr(item, "fixturenames", ())]
    if not users:
        yield None
        return
    from staging import Staging

    sweeping = any(item.originalname == "test_every_scenario_on_every_incident" for item in users)
    started = Staging(users[0].module.GROUPS, tmp_path_factory.mktemp("scenario-reports"),
                      tmp_path_factory.mktemp("sweep") if sweeping else None)
    try:
        yield started
    finally:
        started.close()
