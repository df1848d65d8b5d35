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
        "CREATE EXTENSION IF NOT EXISTS pageinspect",
        # wrappers that look harmless: the guard must read what they are, not what they are called
        "CREATE FUNCTION stop_it(p int) RETURNS bool LANGUAGE sql AS 'SELECT pg_terminate_backend(p)'",
        "CREATE FUNCTION calm_stop(p int) RETURNS bool STABLE LANGUAGE sql AS 'SELECT pg_terminate_backend(p)'",
        "CREATE FUNCTION quiet_stop(p int) RETURNS bool IMMUTABLE LANGUAGE plpgsql AS "
        "$$ BEGIN RETURN pg_terminate_backend(p); END $$",
        "CREATE FUNCTION doubled(p int) RETURNS int IMMUTABLE LANGUAGE sql RETURN p * 2",
        "CREATE VIEW stoppers AS SELECT pid, pg_terminate_backend(pid) AS gone FROM pg_stat_activity",
        "CREATE VIEW doubled_ids AS SELECT doubled(id) AS d FROM ledger",
        "CREATE FUNCTION kill_op(int, int) RETURNS bool LANGUAGE sql AS 'SELECT pg_terminate_backend($2)'",
        "CREATE OPERATOR ==> (LEFTARG = int, RIGHTARG = int, FUNCTION = kill_op)",
        "CREATE DOMAIN victim_pid AS int CHECK (calm_stop(VALUE))",
        # autovacuum off: its own vacuum/analyze summarizes BRIN ranges and flushes the GIN pending
        # list, so the pages' fingerprint would change under a slow run with no statement to blame
        "CREATE TABLE pages (id int, tags int[]) WITH (autovacuum_enabled = off)",
        "INSERT INTO pages SELECT g, ARRAY[g % 7] FROM generate_series(1, 2000) g",
        "CREATE INDEX pages_brin ON pages USING brin (id) WITH (pages_per_range = 1)",
        "CREATE INDEX pages_gin ON pages USING gin (tags) WITH (fastupdate = on)",
        "INSERT INTO pages SELECT g, ARRAY[g % 5] FROM generate_series(2001, 2100) g",
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
            c.execute("SELECT md5(string_agg(md5(get_raw_page(r, b)), ',' ORDER BY r, b)) FROM "
                      "(VALUES ('pages_brin'), ('pages_gin')) i(r), "
                      "generate_series(0, pg_relation_size(r::regclass) / 8192 - 1) b").fetchone(),
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
    "SELECT stop_it(pid) FROM pg_stat_activity WHERE application_name = 'victim'",
    "SELECT calm_stop(pid) FROM pg_stat_activity WHERE application_name = 'victim'",
    "SELECT quiet_stop(pid) FROM pg_stat_activity WHERE application_name = 'victim'",
    "SELECT * FROM stoppers",
    "SELECT 1 ==> pid FROM pg_stat_activity WHERE application_name = 'victim'",
    "SELECT pid::victim_pid FROM pg_stat_activity WHERE application_name = 'victim'",
    "SELECT brin_summarize_new_values('pages_brin')",
    "SELECT brin_summarize_range('pages_brin', 0)",
    "SELECT brin_desummarize_range('pages_brin', 0)",
    "SELECT gin_clean_pending_list('pages_gin')",
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


@pytest.mark.parametrize("sql", [
    "SELECT doubled(id) FROM ledger ORDER BY id LIMIT 1",
    "SELECT * FROM doubled_ids LIMIT 1",
    "SELECT '{\"abc\":1}'::json ->> 'abc' AS v",
    "SELECT (ARRAY[1, 2, 3])[:2] AS a, ':null' AS b",
    "SELECT '0/16AE7F8' > pg_lsn '0/16AE7F7' AS gt",
    "SELECT id FROM ledger ORDER BY id USING > LIMIT 1",
    "SELECT count(*) FROM pg_stat_statements",
    "SELECT random() < 2 AS r, clock_timestamp() IS NOT NULL AS c",
])
def test_harmless_reads_get_through(target, sql: str) -> None:
    url, _, _, _ = target
    before = _state(url)
    assert len(ik.db.query(url, sql)) >= 1
    assert _state(url) == before


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
