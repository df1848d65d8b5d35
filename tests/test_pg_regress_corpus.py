"""PostgreSQL's own regression SQL, sent statement by statement through ik.db.query, changes nothing.

A throwaway cluster is filled by running ../shared/data/pg_regress/sql through psql the way pg_regress
does (schedule order, its settings and environment; the files in pg_regress.SLOW left out). Then the
database is fingerprinted (catalogs, every table's rows, sequences, BRIN/GIN index pages, settings,
background processes, a marker session), every statement psql sent is sent again through
ik.db.query, one by one, and the fingerprint must be the same, the marker session alive.

Statements the guard refuses by their shape are refused before a connection is opened, so all of them
go through ik.db.query. Reads by shape need a connection each: those that name a volatile function, a
user-defined function or a user view (the ones that could do harm) are all sent; of the others a fixed
sample of IK_PG_REGRESS_SAMPLE (default 1000, "all" for every one) chosen by hash of the text. Of the
harmless reads among those sent (one statement PostgreSQL runs in a read-only transaction, naming no
function with a volatile overload), fewer than 1 % may be refused or fail in the client.
Set IK_PG_REGRESS_DIR to run another directory of regression files, IK_PG_REGRESS_ROLE=reader to send
the statements as a login role without superuser (with pg_read_all_data and pg_read_all_stats).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

import incident_kit as ik
from incident_kit import sqlguard
from incident_kit.demo.pgcluster import PostgresCluster
from incident_kit.errors import MutationRefused, SourceError, SourceTimeout

import pg_regress

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def filled(shared_dir: Path):
    """(cluster, statements psql sent, per-file seconds) of a cluster filled by the corpus."""
    corpus = Path(os.environ.get("IK_PG_REGRESS_DIR") or shared_dir / "data" / "pg_regress" / "sql")
    files = sorted(p for p in corpus.glob("*.sql") if p.stem not in pg_regress.SLOW)
    assert files, f"no regression files in {corpus}"
    cluster = PostgresCluster(max_connections=60, settings=pg_regress.SERVER_SETTINGS).start()
    try:
        times = pg_regress.fill(cluster, files)
        yield cluster, list(dict.fromkeys(pg_regress.logged_statements(cluster))), times
    finally:
        cluster.stop()


def _server_names(cluster) -> tuple[set[str], set[str], set[str]]:
    with psycopg.connect(host=str(cluster.dir), port=cluster.port, user="postgres", dbname="regression") as c:
        volatile = {r[0] for r in c.execute("SELECT DISTINCT proname FROM pg_proc WHERE provolatile = 'v'")}
        user = {r[0] for r in c.execute("SELECT DISTINCT proname FROM pg_proc WHERE oid >= 16384")}
        views = {r[0] for r in c.execute("SELECT relname FROM pg_class WHERE relkind = 'v' AND oid >= 16384")}
    return volatile, user, views


def _outcome(url: str, sql: str) -> str:
    try:
        ik.db.query(url, sql, timeout_s=TIMEOUT_S, limit=50)
        return "executed"
    except MutationRefused:
        return "refused"
    except SourceTimeout:
        return "server"
    except SourceError as exc:
        m = re.match(r"(\w+): ", exc.reason)
        cls = getattr(psycopg.errors, m.group(1), None) if m else None
        return "server" if cls is not None and getattr(cls, "sqlstate", None) else f"client {exc.reason[:80]}"


def _runs_read_only(conn: psycopg.Connection, sql: str) -> bool:
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(f"SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = {int(TIMEOUT_S * 1000)}")
            with conn.cursor() as cur:
                cur.execute(sql.encode())
        return True
    except psycopg.Error:
        return False


def test_regression_corpus_changes_nothing_and_reads_get_through(filled) -> None:
    cluster, statements, times = filled
    started = time.monotonic()
    base = dict(host=str(cluster.dir), port=cluster.port, user="postgres", autocommit=True)
    dbs = [r[0] for r in psycopg.connect(dbname="postgres", **base).execute(
        "SELECT datname FROM pg_database WHERE datallowconn")]
    for db in dbs:  # pageinspect reads BRIN/GIN pages for the fingerprint
        with psycopg.connect(dbname=db, **base) as c:
            c.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
    user = "postgres"
    if os.environ.get("IK_PG_REGRESS_ROLE") == "reader":
        user = "ik_corpus_reader"
        with psycopg.connect(dbname="postgres", **base) as c:
            c.execute(f"CREATE ROLE {user} LOGIN IN ROLE pg_read_all_data, pg_read_all_stats")
    url = f"postgresql+psycopg://{user}@/regression?host={cluster.dir}&port={cluster.port}"
    volatile, user_functions, user_views = _server_names(cluster)

    reads, risky = [], []
    for sql in statements:
        try:
            parsed = sqlguard.postgres.parse(sql)
        except MutationRefused:
            continue
        names = {n for _, n, _ in parsed.functions}
        (risky if names & (volatile | user_functions) or parsed.relations & user_views else reads).append(sql)
    sample = os.environ.get("IK_PG_REGRESS_SAMPLE", "1000")
    if sample != "all":
        reads = sorted(reads, key=lambda s: hashlib.md5(s.encode()).hexdigest())[: int(sample)]
    chosen = set(reads) | set(risky)
    to_send = [s for s in statements if s in chosen or not sqlguard.is_read_only(s, "postgres")]

    with psycopg.connect(dbname="regression", application_name="ik-marker", **base) as marker:
        phases = [time.monotonic()]
        before = pg_regress.fingerprint(cluster, marker.info.backend_pid)
        phases.append(time.monotonic())
        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = dict(zip(to_send, pool.map(lambda s: _outcome(url, s), to_send)))
        phases.append(time.monotonic())
        after = pg_regress.fingerprint(cluster, marker.info.backend_pid)
        phases.append(time.monotonic())
        assert marker.execute("SELECT 1").fetchone() == (1,)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))

    counts = Counter(o if not o.startswith("client") else "client" for o in outcomes.values())
    harmless, failed = 0, []
    with psycopg.connect(dbname="regression", **{**base, "user": user}) as conn:
        for sql in reads:
            parsed = sqlguard.postgres.parse(sql)
            if {n for _, n, _ in parsed.functions} & volatile or not _runs_read_only(conn, sql):
                continue
            harmless += 1
            if outcomes[sql] in ("refused",) or outcomes[sql].startswith("client"):
                failed.append((outcomes[sql], sql[:100]))
    skipped = {k: v for k, v in times.items() if isinstance(v, str)}
    print(f"\npg_regress corpus: {len(times)} files filled in {sum(v for v in times.values() if isinstance(v, float)):.0f} s "
          f"(left out: {', '.join(sorted(pg_regress.SLOW))}; stopped: {skipped or 'none'}); "
          f"{len(statements)} distinct statements, {len(to_send)} sent as {user} "
          f"({len(risky)} risky reads, {len(reads)} sampled reads); refused {counts['refused']}, "
          f"caught by the server {counts['server']}, failed in the client {counts['client']}, "
          f"executed {counts['executed']}; harmless reads {harmless}, refused or failed in the client "
          f"{len(failed)}; {time.monotonic() - started:.0f} s (fingerprint {phases[1] - phases[0]:.1f} s, "
          f"sending {phases[2] - phases[1]:.1f} s, {len(before)} fingerprint parts)")
    for why, sql in failed[:20]:
        print(f"  {why}: {sql}")
    assert not changed, f"state changed: {changed[:10]}"
    assert harmless > 100
    assert len(failed) < 0.01 * harmless, failed[:10]
