"""PostgreSQL's regression SQL as a corpus: fill a throwaway cluster the way pg_regress does, take the
statements psql sent from the server's CSV log, and fingerprint everything a statement could change.

Used by test_pg_regress_corpus.py. The files run in the order of PostgreSQL 15's parallel_schedule
(files it does not list go last, by name), one psql per file, as the superuser, with pg_regress's
environment; the regression data files (../data/*.data) and regress.so are not there, so what needs
them fails in psql and the script goes on, as pg_regress would.
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from incident_kit.demo.pgcluster import pg_bindir

#: PostgreSQL 15's src/test/regress/parallel_schedule: groups run in order, the files of a group side by side.
SCHEDULE: list[list[str]] = [
    ['test_setup'],
    ['boolean', 'char', 'name', 'varchar', 'text', 'int2', 'int4', 'int8', 'oid', 'float4', 'float8', 'bit', 'numeric', 'txid', 'uuid', 'enum', 'money', 'rangetypes', 'pg_lsn', 'regproc'],
    ['strings', 'md5', 'numerology', 'point', 'lseg', 'line', 'box', 'path', 'polygon', 'circle', 'date', 'time', 'timetz', 'timestamp', 'timestamptz', 'interval', 'inet', 'macaddr', 'macaddr8', 'multirangetypes'],
    ['geometry', 'horology', 'tstypes', 'regex', 'type_sanity', 'opr_sanity', 'misc_sanity', 'comments', 'expressions', 'unicode', 'xid', 'mvcc'],
    ['copy', 'copyselect', 'copydml', 'insert', 'insert_conflict'],
    ['create_function_c', 'create_misc', 'create_operator', 'create_procedure', 'create_table', 'create_type', 'create_schema'],
    ['create_index', 'create_index_spgist', 'create_view', 'index_including', 'index_including_gist'],
    ['create_aggregate', 'create_function_sql', 'create_cast', 'constraints', 'triggers', 'select', 'inherit', 'typed_table', 'vacuum', 'drop_if_exists', 'updatable_views', 'roleattributes', 'create_am', 'hash_func', 'errors', 'infinite_recurse'],
    ['sanity_check'],
    ['select_into', 'select_distinct', 'select_distinct_on', 'select_implicit', 'select_having', 'subselect', 'union', 'case', 'join', 'aggregates', 'transactions', 'random', 'portals', 'arrays', 'btree_index', 'hash_index', 'update', 'delete', 'namespace', 'prepared_xacts'],
    ['brin', 'gin', 'gist', 'spgist', 'privileges', 'init_privs', 'security_label', 'collate', 'matview', 'lock', 'replica_identity', 'rowsecurity', 'object_address', 'tablesample', 'groupingsets', 'drop_operator', 'password', 'identity', 'generated', 'join_hash'],
    ['brin_bloom', 'brin_multi'],
    ['create_table_like', 'alter_generic', 'alter_operator', 'misc', 'async', 'dbsize', 'merge', 'misc_functions', 'sysviews', 'tsrf', 'tid', 'tidscan', 'tidrangescan', 'collate.icu.utf8', 'incremental_sort', 'create_role'],
    ['rules', 'psql', 'psql_crosstab', 'amutils', 'stats_ext', 'collate.linux.utf8'],
    ['select_parallel'],
    ['write_parallel'],
    ['vacuum_parallel'],
    ['publication', 'subscription'],
    ['select_views', 'portals_p2', 'foreign_key', 'cluster', 'dependency', 'guc', 'bitmapops', 'combocid', 'tsearch', 'tsdicts', 'foreign_data', 'window', 'xmlmap', 'functional_deps', 'advisory_lock', 'indirect_toast', 'equivclass'],
    ['json', 'jsonb', 'json_encoding', 'jsonpath', 'jsonpath_encoding', 'jsonb_jsonpath'],
    ['plancache', 'limit', 'plpgsql', 'copy2', 'temp', 'domain', 'rangefuncs', 'prepare', 'conversion', 'truncate', 'alter_table', 'sequence', 'polymorphism', 'rowtypes', 'returning', 'largeobject', 'with', 'xml'],
    ['partition_join', 'partition_prune', 'reloptions', 'hash_part', 'indexing', 'partition_aggregate', 'partition_info', 'tuplesort', 'explain', 'compression', 'memoize', 'stats'],
    ['event_trigger'],
    ['oidjoins'],
    ['fast_default'],
]
#: Files pg_regress runs but this corpus test leaves out, and why.
SLOW = {"join_hash": "builds hash joins over large generated tables (about 30 s on 2 cores)",
        "tuplesort": "sorts large generated tables", "stats": "waits for the statistics collector in loops",
        "select_parallel": "parallel plans over large tables", "write_parallel": "parallel plans over large tables",
        "vacuum_parallel": "vacuums large generated tables"}


#: pg_regress's per-database settings (ALTER DATABASE ... SET) and client environment.
DB_SETTINGS = {"lc_messages": "C", "lc_monetary": "C", "lc_numeric": "C", "lc_time": "C",
               "bytea_output": "hex", "timezone_abbreviations": "Default"}
CLIENT_ENV = {"PGTZ": "PST8PDT", "PGDATESTYLE": "Postgres, MDY", "PGAPPNAME": "pg_regress"}
#: Server settings for the corpus cluster: every statement logged as CSV, nothing changing on its own.
SERVER_SETTINGS = {"logging_collector": "on", "log_destination": "'csvlog'", "log_statement": "'all'",
                   "log_directory": "'log'", "autovacuum": "off", "max_prepared_transactions": "10",
                   "shared_preload_libraries": "'pg_stat_statements'", "wal_level": "logical",
                   "max_wal_senders": "4", "max_replication_slots": "4"}


def groups(files: list[Path]) -> list[list[Path]]:
    """Return ``files`` in groups of the schedule, in order; files it does not list form a last group."""
    by_name = {p.stem: p for p in files}
    out = [[by_name.pop(n) for n in group if n in by_name] for group in SCHEDULE]
    return [g for g in out if g] + ([sorted(by_name.values())] if by_name else [])


def fill(cluster, files: list[Path], dbname: str = "regression", per_file_s: float = 60.0,
         parallel: int = 2) -> dict[str, float | str]:
    """Run each file through psql into ``dbname`` (created here), schedule group by group with up to
    ``parallel`` files at once; return file -> seconds, or why it was stopped (over ``per_file_s``)."""
    cluster.psql(f"CREATE DATABASE {dbname} TEMPLATE template0")
    cluster.psql(*[f"ALTER DATABASE {dbname} SET {k} TO '{v}'" for k, v in DB_SETTINGS.items()])
    empty = Path(tempfile.mkdtemp(prefix="ik-regress-"))
    os.chmod(empty, 0o755)
    env = {**os.environ, **CLIENT_ENV, "PG_ABS_SRCDIR": str(empty), "PG_ABS_BUILDDIR": str(empty),
           "PG_LIBDIR": str(empty), "PG_DLSUFFIX": ".so"}
    psql = str(pg_bindir() / "psql")
    def one(path: Path) -> tuple[str, float | str]:
        args = [psql, "-X", "-a", "-q", "-h", str(cluster.dir), "-p", str(cluster.port), "-U", "postgres",
                "-d", dbname, "-f", str(path)]
        started = time.monotonic()
        try:
            subprocess.run(args, env=env, cwd=empty, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=per_file_s)
            return path.stem, time.monotonic() - started
        except subprocess.TimeoutExpired:
            return path.stem, f"stopped after {per_file_s:.0f} s"

    out: dict[str, float | str] = {}
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for group in groups(files):
            out.update(pool.map(one, group))
            if any(isinstance(out[p.stem], str) for p in group):  # a stopped psql's statement may still run
                cluster.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             f"WHERE application_name = '{CLIENT_ENV['PGAPPNAME']}'")
    return out


def logged_statements(cluster) -> list[str]:
    """Return every statement the server logged (``log_statement = all``), in order."""
    out: list[str] = []
    csv.field_size_limit(1 << 30)
    for log in sorted((cluster.dir / "data" / "log").glob("*.csv")):
        with open(log, newline="", encoding="utf-8", errors="replace") as f:
            for row in csv.reader(f):
                if len(row) > 13 and row[13].startswith("statement: ") and row[22] == CLIENT_ENV["PGAPPNAME"]:
                    out.append(row[13][len("statement: "):])
    return out


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8", "replace")).hexdigest()


def _one(conn: psycopg.Connection, sql: str) -> str:
    try:
        with conn.transaction():
            row = conn.execute(sql).fetchone()
        return str(row[0]) if row else ""
    except psycopg.Error as exc:
        return f"error {type(exc).__name__}"


def _database(conn: psycopg.Connection, shared: bool) -> dict[str, str]:
    prints: dict[str, str] = {}
    catalogs = conn.execute("SELECT c.oid::regclass::text, c.relisshared FROM pg_class c WHERE c.relnamespace = "
                            "'pg_catalog'::regnamespace AND c.relkind = 'r' ORDER BY 1").fetchall()
    for name, is_shared in catalogs:
        if not is_shared or shared:
            prints[f"catalog {name}"] = _one(conn, f"SELECT md5(string_agg(t::text, E'\\n' ORDER BY t::text)) FROM {name} t")
    rels = conn.execute("SELECT c.oid::regclass::text, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = "
                        "c.relnamespace WHERE c.relkind IN ('r', 'm', 'S') AND n.nspname NOT IN ('pg_catalog', "
                        "'information_schema', 'pg_toast') AND c.relpersistence <> 't' ORDER BY 1").fetchall()
    for name, kind in rels:
        sql = (f"SELECT last_value::text || ' ' || is_called::text FROM {name}" if kind == "S" else
               f"SELECT count(*)::text || ' ' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') "
               f"FROM ONLY {name} t")
        prints[f"{'sequence' if kind == 'S' else 'rows'} {name}"] = _one(conn, sql)
    indexes = conn.execute("SELECT c.oid::regclass::text, pg_relation_size(c.oid) / 8192 FROM pg_class c JOIN pg_am a "
                           "ON a.oid = c.relam WHERE c.relkind = 'i' AND a.amname IN ('brin', 'gin') "
                           "AND c.relpersistence <> 't' ORDER BY 1").fetchall()
    for name, blocks in indexes:
        pages = [_one(conn, f"SELECT md5(get_raw_page('{name}', {b}))") for b in range(int(blocks))]
        prints[f"pages {name}"] = _md5("|".join(pages))
    return prints


def fingerprint(cluster, marker_pid: int) -> dict[str, str]:
    """Return name -> hash of everything a statement could change: catalogs (shared ones once), every
    table's rows, sequences, BRIN/GIN index pages of every database; settings, file settings, config
    load time, background processes, prepared transactions, replication slots, advisory locks, the
    marker session."""
    prints: dict[str, str] = {}
    base = dict(host=str(cluster.dir), port=cluster.port, user="postgres", autocommit=True,
                application_name="ik-fingerprint", options="-c lock_timeout=10000 -c statement_timeout=60000")
    with psycopg.connect(dbname="postgres", **base) as conn:
        dbs = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1")]
        prints["settings"] = _one(conn, "SELECT md5(string_agg(name || '=' || coalesce(setting, ''), ',' ORDER BY name)) "
                                        "FROM pg_settings WHERE name NOT IN ('application_name')")
        prints["file settings"] = _one(conn, "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM pg_file_settings t")
        prints["config loaded"] = _one(conn, "SELECT pg_conf_load_time()::text")
        prints["background"] = _one(conn, "SELECT string_agg(backend_type || ':' || pid, ',' ORDER BY pid) FROM "
                                          "pg_stat_activity WHERE backend_type NOT IN ('client backend', 'parallel worker')")
        prints["prepared xacts"] = _one(conn, "SELECT count(*) FROM pg_prepared_xacts")
        prints["replication slots"] = _one(conn, "SELECT string_agg(t::text, ',') FROM pg_replication_slots t")
        prints["advisory locks"] = _one(conn, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        prints["marker"] = _one(conn, f"SELECT state || ' ' || application_name FROM pg_stat_activity WHERE pid = {marker_pid}")
    for i, db in enumerate(dbs):
        with psycopg.connect(dbname=db, **base) as conn:
            prints.update({f"{db}: {k}": v for k, v in _database(conn, shared=(i == 0)).items()})
    return prints
