"""Production is only read: mutation attempts through ik.db.query and the PostgreSQL session fail
and change nothing, even with superuser credentials on a real PostgreSQL cluster."""

from __future__ import annotations

import secrets
from pathlib import Path

import psycopg
import pytest

import incident_kit as ik
from incident_kit.errors import SourceError
from incident_kit.sources.db import ReadOnlySession

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def target(pg_cluster, tmp_path_factory):
    """A database with a table, a sequence, a view, a writing SQL function and a victim session."""
    db = f"ik_ro_{secrets.token_hex(3)}"
    pg_cluster.psql(f"CREATE DATABASE {db}")
    pg_cluster.psql(
        "CREATE TABLE ledger (id serial PRIMARY KEY, account text NOT NULL, amount numeric NOT NULL)",
        "INSERT INTO ledger (account, amount) SELECT 'acct-' || g, g * 10 FROM generate_series(1, 100) g",
        "CREATE FUNCTION wipe() RETURNS int LANGUAGE sql AS 'DELETE FROM ledger RETURNING 1'",
        "CREATE FUNCTION sneaky() RETURNS int LANGUAGE plpgsql AS $$ BEGIN UPDATE ledger SET amount = 0; RETURN 1; END $$",
        "CREATE PROCEDURE purge() LANGUAGE sql AS 'DELETE FROM ledger'",
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
        dbname=db,
    )
    url = pg_cluster.url(db)  # superuser: the library, not the role, must stop every write
    victim = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True,
                             application_name="victim")
    marker = tmp_path_factory.mktemp("ro") / "pwned"
    try:
        yield url, victim, marker, db
    finally:
        victim.close()
        pg_cluster.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def _state(url: str) -> tuple:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as c:
        return (
            c.execute("SELECT count(*), sum(amount) FROM ledger").fetchone(),
            c.execute("SELECT last_value, is_called FROM ledger_id_seq").fetchone(),
            c.execute("SELECT array_agg(relname ORDER BY relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace").fetchone(),
            c.execute("SELECT current_setting('default_transaction_read_only')").fetchone(),
        )


ATTEMPTS = [
    "UPDATE ledger SET amount = 0",
    "DELETE FROM ledger",
    "DROP TABLE ledger",
    "TRUNCATE ledger",
    "INSERT INTO ledger (account, amount) VALUES ('evil', 1)",
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'victim'",
    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'victim'",
    "WITH gone AS (DELETE FROM ledger RETURNING *) SELECT count(*) FROM gone",
    "WITH x AS (UPDATE ledger SET amount = 0 RETURNING 1) SELECT * FROM x",
    "SET TRANSACTION READ WRITE",
    "SET TRANSACTION READ WRITE; UPDATE ledger SET amount = 0",
    "COMMIT; DELETE FROM ledger",
    "SELECT 1; DELETE FROM ledger",
    "select 1 /* ; */ ; delete from ledger",
    "/* harmless */ DeLeTe FROM ledger",
    "SELECT wipe()",
    "SELECT sneaky()",
    "CALL purge()",
    "DO $$ BEGIN DELETE FROM ledger; END $$",
    "SELECT nextval('ledger_id_seq')",
    "SELECT setval('ledger_id_seq', 999)",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT * INTO stolen FROM ledger",
    "CREATE TABLE stolen AS SELECT * FROM ledger",
    "EXPLAIN ANALYZE DELETE FROM ledger",
    "SELECT * FROM ledger FOR UPDATE",
    "LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE",
    "VACUUM FULL ledger",
    "ALTER SYSTEM SET default_transaction_read_only = off",
    "SELECT pg_reload_conf()",
    "COPY ledger TO PROGRAM 'touch {marker}'",
    "COPY (SELECT 1) TO '{marker}'",
    "SELECT lo_import('/etc/hostname')",
    "PREPARE p AS DELETE FROM ledger",
    "GRANT ALL ON ledger TO PUBLIC",
]


@pytest.mark.parametrize("sql", ATTEMPTS)
def test_mutation_attempt_fails_and_changes_nothing(target, sql: str) -> None:
    url, victim, marker, _ = target
    before = _state(url)
    sql = sql.replace("{marker}", str(marker))
    with pytest.raises(SourceError):
        ik.db.query(url, sql)
    with pytest.raises(SourceError):
        with ReadOnlySession(url, source="postgres") as session:
            session.rows(sql)
    assert _state(url) == before
    assert victim.execute("SELECT 1").fetchone() == (1,)  # the victim session is alive
    assert not Path(marker).exists()


def test_bound_parameters_are_data_not_sql(target) -> None:
    url, _, _, _ = target
    before = _state(url)
    frame = ik.db.query(url, "SELECT count(*) AS n FROM ledger WHERE account = :a", a="x'; DROP TABLE ledger; --")
    assert int(frame["n"].iloc[0]) == 0
    assert _state(url) == before


def test_reads_still_work_with_limits(target) -> None:
    url, _, _, _ = target
    frame = ik.db.query(url, "SELECT * FROM ledger ORDER BY id", limit=10)
    assert len(frame) == 10 and frame.attrs["truncated"] is True
    with pytest.raises(SourceError, match="(?i)timeout|cancel"):
        ik.db.query(url, "SELECT pg_sleep(5)", timeout_s=1)


def test_postgres_helpers_take_no_sql_and_only_read(target) -> None:
    url, _, _, _ = target
    before = _state(url)
    for fn in (ik.postgres.activity, ik.postgres.connections, ik.postgres.locks, ik.postgres.sizes, ik.postgres.top_queries):
        frame = fn(url)
        assert frame is not None
    assert _state(url) == before
