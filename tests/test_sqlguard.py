"""sqlguard: only one plain read gets through; every kind of write is refused before it is sent."""

from __future__ import annotations

import pytest

from incident_kit import sqlguard
from incident_kit.errors import MutationRefused

READS = [
    "SELECT 1",
    "select 1;",
    "SELECT a->>'b', x::regclass, now() - interval '1 min' FROM t WHERE y = ANY(ARRAY[1, 2])",
    "WITH x AS (SELECT * FROM t) SELECT count(*) FROM x",
    "SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity",
    "TABLE t",
    "VALUES (1), (2)",
    "SHOW max_connections",
    "EXPLAIN SELECT * FROM t",
    "EXPLAIN (ANALYZE, BUFFERS) SELECT 1",
    "SELECT 1 -- ; DROP TABLE t",
    "SELECT ';DROP TABLE t' AS s",
    "SELECT 1 UNION ALL SELECT 2",
    "SELECT 1; -- trailing comment",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
    # PostgreSQL's own grammar: operators, typed literals, USING orderings, VALUES, XML/JSON functions
    "SELECT '0/16AE7F8' > pg_lsn '0/16AE7F7'",
    "SELECT * FROM inet_tbl WHERE i <<= '192.168.1.0/24'::cidr",
    "SELECT * FROM box_tbl b WHERE b.f1 <@ box '(0,0,3,3)'",
    "SELECT json_object('{}')",
    "SELECT xmlpi(name foo)",
    "SELECT * FROM person ORDER BY age USING >",
    "with cte(foo) as (values(42)) values((select foo from cte))",
    "SELECT '{\"abc\":1}'::json, f1[:1], ':null' FROM point_tbl",
    "SELECT random(), clock_timestamp(), pg_sleep(0)",
    "EXPLAIN (COSTS OFF) DELETE FROM t",
    "SELECT x FROM t WHERE a OPERATOR(pg_catalog.=) 1",
]

WRITES = {
    "INSERT INTO t VALUES (1)": "INSERT",
    "UPDATE t SET v = 1": "UPDATE",
    "DELETE FROM t": "DELETE",
    "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE": "MERGE",
    "CREATE TABLE x (a int)": "CREATE",
    "DROP TABLE t": "DROP",
    "ALTER TABLE t ADD COLUMN b int": "ALTER",
    "TRUNCATE t": "TRUNCATE",
    "GRANT SELECT ON t TO u": "GRANT",
    "REVOKE ALL ON t FROM u": "REVOKE",
    "COPY t TO '/tmp/x'": "COPY",
    "CALL p()": "CALL",
    "DO $$ BEGIN END $$": "DO",
    "VACUUM t": "VACUUM",
    "ANALYZE t": "ANALYZE",
    "LOCK TABLE t": "LOCK",
    "REFRESH MATERIALIZED VIEW v": "REFRESH",
    "SET TRANSACTION READ WRITE": "SET",
    "BEGIN": "BEGIN",
    "COMMIT": "COMMIT",
    "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d": "DELETE",
    "WITH u AS (UPDATE t SET v = 2 RETURNING *) SELECT * FROM u": "UPDATE",
    "SELECT * INTO x FROM t": "INTO",
    "SELECT * FROM t FOR UPDATE": "locking clause",
    "SELECT * FROM t FOR SHARE": "locking clause",
    "SELECT pg_terminate_backend(123)": "pg_terminate_backend",
    "SELECT pg_catalog.pg_cancel_backend(123)": "pg_cancel_backend",
    "SELECT pg_reload_conf()": "pg_reload_conf",
    "SELECT set_config('work_mem', '1GB', false)": "set_config",
    "SELECT lo_import('/etc/passwd')": "lo_import",
    "SELECT dblink_exec('host=x', 'DROP TABLE t')": "dblink_exec",
    "SELECT nextval('s')": "nextval",
    "SELECT pg_advisory_lock(1)": "pg_advisory_lock",
    "SELECT 1; DELETE FROM t": "2 statements",
    "SELECT 1; SELECT 2": "2 statements",
    "EXPLAIN ANALYZE DELETE FROM t": "DELETE",
    'SELECT "pg_terminate_backend"(1)': "pg_terminate_backend",
    "SELECT * FROM pg_catalog.pg_terminate_backend(1) AS x": "pg_terminate_backend",
    "SELECT * FROM t WHERE pg_cancel_backend(pid)": "pg_cancel_backend",
    "SELECT (SELECT pg_reload_conf())": "pg_reload_conf",
    "SELECT * FROM (VALUES (pg_terminate_backend(1))) v": "pg_terminate_backend",
    "SELECT * FROM lo_import('x')": "lo_import",
    "SELECT brin_summarize_new_values('brin_idx')": "VOLATILE",
    "SELECT gin_clean_pending_list('gin_idx')": "VOLATILE",
    "EXPLAIN (ANALYZE) UPDATE t SET v = 1": "EXPLAIN ANALYZE runs UPDATE",
    "SELECT table_to_xml('t', true, false, '')": "runs SQL",
    "SELECT * FROM t FOR KEY SHARE": "locking clause",
    "LISTEN x": "not a read",
    "SELECT txid_current()": "transaction id",
    "SET statement_timeout = 0": "SET",
    "": "empty",
    "SELEC 1 FROM": "",
}


@pytest.mark.parametrize("sql", READS)
def test_plain_reads_pass(sql: str) -> None:
    assert sqlguard.check(sql, "postgres") == sql.strip().rstrip(";").strip()


def test_bind_parameters_only_where_given() -> None:
    text = sqlguard.check("SELECT ':1', f[:1], x::int FROM t WHERE id = :id", "postgres", params=["id"])
    assert text == "SELECT '\\:1', f[\\:1], x\\:\\:int FROM t WHERE id = :id"
    assert not sqlguard.is_read_only("SELECT * FROM t WHERE id = :id", "postgres")  # not PostgreSQL without params


@pytest.mark.parametrize("sql,named", list(WRITES.items()))
def test_writes_are_refused_with_one_line_reason(sql: str, named: str) -> None:
    with pytest.raises(MutationRefused) as info:
        sqlguard.check(sql, "postgres", source="postgres", target="postgresql://u:***@db/x")
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("postgres postgresql://u:***@db/x: refused")
    assert named.lower() in text.lower()


@pytest.mark.parametrize("sql", [
    "SHOW FULL PROCESSLIST",
    "SELECT * FROM information_schema.innodb_lock_waits",
    "SELECT sleep(0.1)",
])
def test_mysql_reads_pass(sql: str) -> None:
    assert sqlguard.is_read_only(sql, "mysql")


@pytest.mark.parametrize("sql", [
    "SELECT 1 INTO @x",
    "SELECT * FROM t INTO OUTFILE '/tmp/x'",
    "SELECT * FROM t LOCK IN SHARE MODE",
    "SELECT get_lock('a', 1)",
    "HANDLER t OPEN",
    "REPLACE INTO t VALUES (1)",
    "SET GLOBAL max_connections = 1",
])
def test_mysql_writes_refused(sql: str) -> None:
    assert not sqlguard.is_read_only(sql, "mysql")


def test_sqlite_refusals() -> None:
    for sql in ["ATTACH DATABASE '/tmp/x.db' AS x", "SELECT load_extension('evil')", "SELECT writefile('/tmp/x', 'y')"]:
        assert not sqlguard.is_read_only(sql, "sqlite"), sql


def test_sqlite_pragmas() -> None:
    assert sqlguard.is_read_only("PRAGMA page_count", "sqlite")
    assert sqlguard.is_read_only("PRAGMA table_info(t)", "sqlite")
    assert not sqlguard.is_read_only("PRAGMA journal_mode = WAL", "sqlite")
    assert not sqlguard.is_read_only("PRAGMA query_only(0)", "sqlite")


def test_dialect_for_urls() -> None:
    assert sqlguard.dialect_for("postgresql+psycopg://u@h/db") == "postgres"
    assert sqlguard.dialect_for("mysql+pymysql://u@h/db") == "mysql"
    assert sqlguard.dialect_for("mariadb://u@h/db") == "mysql"
    assert sqlguard.dialect_for("sqlite:///x.db") == "sqlite"
    assert sqlguard.dialect_for("unknownthing://x") is None
