"""PostgreSQL sources against a real cluster under real load (tests/conftest.py `pg_cluster`).

Load made here: a blocking row lock, sessions idle in transaction, a slow query, connections
near max_connections. Each frame is checked against what the test did.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import ExitStack, closing

import psycopg
import pytest

import incident_kit as ik
from incident_kit.sources.db import ReadOnlySession
from incident_kit import frames
from incident_kit.errors import MutationRefused, SourceError, SourceTimeout
from waiting import wait_until

pytestmark = pytest.mark.slow  # real services on loopback


def _dsn(cluster, app: str) -> str:
    return (f"host=127.0.0.1 port={cluster.port} user=postgres password={cluster.password} "
            f"dbname=postgres application_name={app}")



@pytest.fixture(scope="module")
def pg(pg_cluster):
    pg_cluster.psql("DROP TABLE IF EXISTS ik_accounts; CREATE TABLE ik_accounts (id int PRIMARY KEY, balance int); "
                    "INSERT INTO ik_accounts SELECT g, 100 FROM generate_series(1, 50) g")
    return pg_cluster


def test_activity_finds_the_blocked_pid_blocked_by_the_right_pid(pg) -> None:
    url = pg.url()
    with closing(psycopg.connect(_dsn(pg, "ik-holder"))) as holder, \
            closing(psycopg.connect(_dsn(pg, "ik-waiter"))) as waiter:
        holder.execute("UPDATE ik_accounts SET balance = balance - 1 WHERE id = 1")  # opens a transaction
        errors: list[BaseException] = []

        def wait_for_lock() -> None:
            try:
                waiter.execute("UPDATE ik_accounts SET balance = balance + 1 WHERE id = 1")
                waiter.rollback()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        thread = threading.Thread(target=wait_for_lock)
        thread.start()
        try:
            act = wait_until(lambda: (lambda a: a if len(a[(a.pid == waiter.info.backend_pid)
                                                              & (a.blocked_by.map(len) > 0)]) else None)(ik.postgres.activity(url)),
                              what="the waiter to be blocked")
            assert frames.check(act, "db_activity") == []
            row = act[act.pid == waiter.info.backend_pid].iloc[0]
            assert row.blocked_by == [holder.info.backend_pid]
            assert row.state == "active" and row.wait_event_type == "Lock"
            assert row.application_name == "ik-waiter"
            held = act[act.pid == holder.info.backend_pid].iloc[0]
            assert held.state == "idle in transaction" and held.blocked_by == []
            assert held.xact_start.tzinfo is not None and held.duration_s >= 0
            assert act.duration_s.dropna().is_monotonic_decreasing and act.ts.nunique() == 1

            chains = ik.postgres.locks(url)
            assert frames.check(chains, "db_activity") == []
            w = chains[chains.pid == waiter.info.backend_pid].iloc[0]
            h = chains[chains.pid == holder.info.backend_pid].iloc[0]
            assert (h.role, h.depth, h.blocks) == ("blocker", 0, [waiter.info.backend_pid])
            assert (w.role, w.depth, w.root_blockers) == ("waiting", 1, [holder.info.backend_pid])
            assert w.lock_mode == "ShareLock" and w.lock_type == "transactionid"
            assert chains.iloc[0].role == "blocker"  # roots first
        finally:
            holder.rollback()
            thread.join(10)
        assert not errors


def test_activity_excludes_its_own_connection(pg) -> None:
    act = ik.postgres.activity(pg.url(), all_backends=True)
    own = (act["application_name"] == "incident-kit") & act["query"].fillna("").str.contains("pg_blocking_pids")
    assert not own.any()


def test_idle_in_transaction_and_long_transactions(pg) -> None:
    with ExitStack() as stack:
        idle = [stack.enter_context(closing(psycopg.connect(_dsn(pg, f"ik-idle-{i}")))) for i in range(3)]
        for c in idle:
            c.execute("SELECT count(*) FROM ik_accounts")  # leaves the transaction open, idle
        pids = {c.info.backend_pid for c in idle}
        time.sleep(0.3)
        found = ik.postgres.idle_in_transaction(pg.url(), min_s=0.2)
        assert pids <= set(found.pid.astype(int))
        assert (found[found.pid.isin(pids)].duration_s >= 0.2).all()
        long_tx = ik.postgres.long_transactions(pg.url(), min_s=0.2)
        assert set(long_tx.pid.astype(int)) >= pids and long_tx.xact_age_s.is_monotonic_decreasing
        assert not pids & set(ik.postgres.idle_in_transaction(pg.url(), min_s=3600).pid.astype(int))


def test_long_queries_finds_the_slow_query(pg) -> None:
    with closing(psycopg.connect(_dsn(pg, "ik-slow"))) as slow:
        pid = slow.info.backend_pid
        thread = threading.Thread(target=lambda: _swallow(lambda: slow.execute("SELECT pg_sleep(30)")))
        thread.start()
        try:
            found = wait_until(lambda: (lambda f: f if pid in set(f.pid.astype(int)) else None)(
                ik.postgres.long_queries(pg.url(), min_s=0.3)), what="the slow query")
            row = found[found.pid == pid].iloc[0]
            assert "pg_sleep(30)" in row.query and row.duration_s >= 0.3 and row.state == "active"
        finally:
            slow.cancel_safe()
            thread.join(10)


def _swallow(fn) -> None:
    try:
        fn()
    except psycopg.Error:
        pass


def test_connections_near_max_connections(pg) -> None:
    url = pg.url()
    before = ik.postgres.connections(url)
    usable = before.attrs["max_connections"] - before.attrs["reserved"]
    room = usable - before.attrs["total"] - 2
    assert room > 5
    with ExitStack() as stack:
        for _ in range(room):
            stack.enter_context(closing(psycopg.connect(_dsn(pg, "ik-pool"))))
        conns = ik.postgres.connections(url, by="application_name")
        assert frames.check(conns, "metrics") == []
        assert conns.attrs["by_group"]["ik-pool"] == room
        ratio = conns[conns.metric == "connections_use_ratio"].value.iloc[0]
        assert ratio >= (room / usable) and ratio > 0.8
        assert conns[conns.metric == "max_connections"].value.iloc[0] == pg.max_connections
        per_state = ik.postgres.connections(url)
        assert per_state.attrs["by_group"].get("idle", 0) >= room
        trend = ik.postgres.connection_trend(url, samples=2, interval_s=0.2, by="application_name")
        pool = trend[(trend.metric == "connections") & (trend.application_name == "ik-pool")]
        assert list(pool.value) == [room, room] and pool.ts.nunique() == 2
        assert trend.attrs["samples"] == 2 and trend.attrs["max_connections"] == pg.max_connections


def test_top_queries_sizes_cache_rates(pg) -> None:
    url = pg.url()
    pg.psql("SELECT sum(balance) FROM ik_accounts")
    top = ik.postgres.top_queries(url, by="mean", n=50)
    assert {"queryid", "calls", "total_ms", "mean_ms", "query"} <= set(top.columns)
    assert top.mean_ms.is_monotonic_decreasing
    assert top["query"].str.contains("ik_accounts").any()

    sizes = ik.postgres.sizes(url)
    table = sizes[(sizes.kind == "table") & (sizes.name == "public.ik_accounts")].iloc[0]
    assert table.bytes >= table.table_bytes > 0
    assert "postgres" in set(sizes[sizes.kind == "database"].name)

    hit = ik.postgres.cache_hit_ratio(url)
    assert frames.check(hit, "metrics") == []
    assert 0 < hit[hit.datname == "postgres"].value.iloc[0] <= 1

    rates = ik.postgres.rates(url, interval_s=0.5)
    commits = rates[(rates.metric == "pg_xact_commit_per_s") & (rates.datname == "postgres")].value.iloc[0]
    assert commits > 0  # the second snapshot's own read transaction at least


def test_top_queries_says_when_pg_stat_statements_is_missing(pg) -> None:
    pg.psql("DROP DATABASE IF EXISTS ik_nostat")
    pg.psql("CREATE DATABASE ik_nostat")
    with pytest.raises(SourceError, match="pg_stat_statements is not installed.*CREATE EXTENSION"):
        ik.postgres.top_queries(pg.url("ik_nostat"))


def test_replication_on_a_primary_without_replicas(pg) -> None:
    rep = ik.postgres.replication(pg.url())
    assert rep.empty and "no replica" in rep.attrs["note"]


def test_mutations_through_the_sources_change_nothing(pg) -> None:
    url = pg.url()
    pg.psql("CREATE OR REPLACE FUNCTION ik_sneaky() RETURNS int LANGUAGE sql VOLATILE AS "
            "$$ UPDATE ik_accounts SET balance = 0; SELECT 1 $$")
    before = pg.psql("SELECT md5(string_agg(id || ':' || balance, ',' ORDER BY id)) FROM ik_accounts")
    with closing(psycopg.connect(_dsn(pg, "ik-victim"))) as victim:
        attempts = [
            "UPDATE ik_accounts SET balance = 0",
            "DELETE FROM ik_accounts",
            "INSERT INTO ik_accounts VALUES (999, 1)",
            "WITH d AS (DELETE FROM ik_accounts RETURNING *) SELECT count(*) FROM d",
            "SELECT * INTO ik_copy FROM ik_accounts",
            "DROP TABLE ik_accounts",
            "SELECT 1; UPDATE ik_accounts SET balance = 0",
            f"SELECT pg_terminate_backend({victim.info.backend_pid})",
            "SELECT set_config('default_transaction_read_only', 'off', false)",
            "SET TRANSACTION READ WRITE",
            "SELECT * FROM ik_accounts FOR UPDATE",
        ]
        for sql in attempts:
            with pytest.raises(MutationRefused):
                ik.db.query(url, sql)
        # sqlguard reads pg_proc: a user-defined function is VOLATILE unless declared otherwise.
        with pytest.raises(MutationRefused, match="VOLATILE"):
            ik.db.query(url, "SELECT ik_sneaky()")
        # the second line: whatever gets through runs read-only, in a read-only session.
        with ReadOnlySession(url) as session:
            assert session.scalar("SHOW transaction_read_only") == "on"
            assert session.scalar("SHOW default_transaction_read_only") == "on"
        assert victim.execute("SELECT 1").fetchone() == (1,)
    assert pg.psql("SELECT md5(string_agg(id || ':' || balance, ',' ORDER BY id)) FROM ik_accounts") == before
    assert pg.psql("SELECT to_regclass('ik_copy') IS NULL") .strip() == "t"


def test_db_query_reads_with_parameters_and_limit(pg) -> None:
    frame = ik.db.query(pg.url(), "SELECT id, balance FROM ik_accounts WHERE id <= :n ORDER BY id", n=5)
    assert list(frame.id) == [1, 2, 3, 4, 5]
    total = ik.db.query(pg.url(), "SELECT avg(balance) AS total, 1.5::numeric AS ratio FROM ik_accounts")
    assert total.total.dtype == float and total.ratio.iloc[0] == 1.5  # NUMERIC arrives as float, not Decimal
    cut = ik.db.query(pg.url(), "SELECT id FROM ik_accounts", limit=10)
    assert len(cut) == 10 and cut.attrs["truncated"] is True


def test_secret_references_and_masking(pg, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("IK_TEST_DB", pg.url())
    assert len(ik.postgres.activity("env:IK_TEST_DB")) >= 0
    secret = tmp_path / "db"
    secret.write_text(pg.url() + "\n")
    assert ik.db.query(f"file:{secret}", "SELECT 1 AS one").one.iloc[0] == 1
    bad = pg.url(password="not-the-password-xyz")
    with pytest.raises(SourceError) as info:
        ik.postgres.connections(bad, timeout_s=3)
    text = str(info.value)
    assert "not-the-password-xyz" not in text and "***" in text and "\n" not in text
    with pytest.raises(ik.ConfigError, match="IK_UNSET_VAR"):
        ik.postgres.activity("env:IK_UNSET_VAR")


def test_statement_timeout_is_a_one_line_timeout(pg) -> None:
    started = time.monotonic()
    with pytest.raises(SourceTimeout, match="statement timeout"):
        ik.db.query(pg.url(), "SELECT pg_sleep(5)", timeout_s=0.5)
    assert time.monotonic() - started < 3


def test_unreachable_and_silent_servers_fail_within_their_timeout() -> None:
    from incident_kit.demo.pgcluster import free_port

    refused = f"postgresql://u:pw@127.0.0.1:{free_port()}/x"
    with pytest.raises(SourceError) as info:
        ik.postgres.activity(refused, timeout_s=2)
    assert str(info.value).startswith("postgres postgresql://u:***@127.0.0.1:") and "refused" in str(info.value)

    with socket.socket() as silent:  # accepts TCP connections, never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"postgresql://u:pw@127.0.0.1:{silent.getsockname()[1]}/x"
        started = time.monotonic()
        with pytest.raises(SourceError) as info:
            ik.postgres.connections(url, timeout_s=1)
        assert time.monotonic() - started < 5
        assert "127.0.0.1" in str(info.value) and "\n" not in str(info.value)


def test_replication_lag_with_a_real_standby(pg) -> None:
    """A streaming standby made with pg_basebackup from the session cluster: both sides report it."""
    import os
    import pwd
    import shutil
    import signal
    import subprocess
    import tempfile
    from pathlib import Path

    from incident_kit.demo.pgcluster import free_port, pg_bindir

    base = Path(tempfile.mkdtemp(prefix="ik-standby-"))  # outside pytest's root-only tmp: postgres runs it
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if run_as:
        info = pwd.getpwnam("postgres")
        os.chown(base, info.pw_uid, info.pw_gid)
    data, port = base / "data", free_port()
    env = {**os.environ, "PGPASSWORD": pg.password}
    r = subprocess.run([*run_as, str(pg_bindir() / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(pg.port),
                        "-U", "postgres", "-D", str(data), "-R", "-X", "stream", "-c", "fast"], capture_output=True, text=True, env=env, timeout=120)
    if r.returncode:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"pg_basebackup failed: {r.stderr.strip()}")
    with open(data / "postgresql.auto.conf", "a") as f:
        f.write(f"port = {port}\nunix_socket_directories = '{base}'\n"
                f"primary_conninfo = 'host=127.0.0.1 port={pg.port} user=postgres password={pg.password} "
                "application_name=ik-standby'\n")
    r = subprocess.run([*run_as, str(pg_bindir() / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w",
                        "-t", "60", "start"], capture_output=True, text=True, timeout=90)
    if r.returncode:
        log = (base / "log").read_text() if (base / "log").exists() else r.stderr
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"standby did not start: {log.strip()[-300:]}")
    pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    try:
        # Streaming starts before the standby's first feedback: lag is unknown (NULL) until then.
        primary = wait_until(lambda: (lambda f: f if len(f) and ((f.state == "streaming") & f.lag_bytes.notna()).any()
                                      else None)(ik.postgres.replication(pg.url())),
                             timeout_s=30, what="the standby to stream and report its position")
        row = primary[primary.application_name == "ik-standby"].iloc[0]
        assert row.role == "primary" and row.client_addr == "127.0.0.1" and row.lag_bytes >= 0
        standby_url = f"postgresql+psycopg://postgres:{pg.password}@127.0.0.1:{port}/postgres"
        standby = ik.postgres.replication(standby_url)
        assert standby.role.iloc[0] == "standby" and standby.state.iloc[0] == "streaming"
        assert standby.lag_bytes.iloc[0] >= 0
    finally:
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)


def test_a_role_at_its_connection_limit_is_up_and_exhausted_not_unreachable(pg, tmp_path) -> None:
    """PostgreSQL refusing the read ("too many connections for role") is an answer: the source fails
    as SourceSaturated, the investigation counts the database as reachable (no P0 "unreachable"), and
    the narrative says the connections are exhausted."""
    from incident_kit.errors import SourceSaturated
    from incident_kit.investigation import Investigation
    from incident_kit.narrate import database as narrate_db

    pg.psql("DROP ROLE IF EXISTS ik_capped", "CREATE ROLE ik_capped LOGIN PASSWORD 'pw-91x7q' CONNECTION LIMIT 2")
    url = pg.url(user="ik_capped", password="pw-91x7q")
    dsn = f"host=127.0.0.1 port={pg.port} user=ik_capped password=pw-91x7q dbname=postgres"
    with ExitStack() as stack:
        for _ in range(2):
            stack.enter_context(closing(psycopg.connect(dsn)))
        with pytest.raises(SourceSaturated, match="too many connections for role"):
            ik.postgres.connections(url)
        inv = Investigation("db_connection_exhaustion", output_dir=tmp_path)
        frame = inv.collect("database connections", ik.postgres.connections, url)
    record = next(s for s in inv.sources if s["name"] == "database connections")
    assert record["status"] == "failed" and record["saturated"] and "pw-91x7q" not in record["error"]
    assert inv.reachable("database connections") is True and inv.degraded
    assert "connections are exhausted" in narrate_db.pool(frame).title
    rated = ik.analysis.severity(error_rate=0.29, db_reachable=inv.reachable("database connections"))
    assert rated.level == "P1", rated
    assert ik.analysis.severity(db_reachable=False).level == "P0"  # a database that does not answer
