"""MySQL/MariaDB sources against a real MariaDB (Debian's mariadbd) started here in a temp datadir.

Load: a blocking InnoDB row lock, a session idle in transaction, connections; mutations tried
through the sources change nothing.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import ExitStack, closing
from pathlib import Path

import pymysql
import pytest
from waiting import stop_process, wait_until

import incident_kit as ik
from incident_kit import frames
from incident_kit.demo.pgcluster import free_port
from incident_kit.errors import MutationRefused, SourceError, SourceTimeout

pytestmark = pytest.mark.slow  # real services on loopback

PASSWORD = "ik-maria-pw"


@pytest.fixture(scope="module")
def mariadb():
    """A MariaDB server on 127.0.0.1 in a temp datadir; stopped by its pid."""
    base = Path(tempfile.mkdtemp(prefix="ik-maria-"))
    user = "mysql" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:
        info = pwd.getpwnam(user)
        os.chown(base, info.pw_uid, info.pw_gid)
    data, sock, port = base / "data", base / "sock", free_port()
    r = subprocess.run(["mariadb-install-db", f"--user={user}", f"--datadir={data}", "--skip-test-db",
                        "--auth-root-authentication-method=socket"], capture_output=True, text=True)
    if r.returncode:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"mariadb-install-db failed: {r.stderr.strip()[-300:]}")
    proc = subprocess.Popen(["mariadbd", "--no-defaults", f"--user={user}", f"--datadir={data}",
                             "--bind-address=127.0.0.1", f"--port={port}", f"--socket={sock}",
                             f"--pid-file={base / 'pid'}", f"--log-error={base / 'err.log'}",
                             "--innodb-buffer-pool-size=32M", "--skip-log-bin", "--max-connections=30",
                             "--innodb-lock-wait-timeout=30"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with closing(pymysql.connect(unix_socket=str(sock), user="root")) as root:
                    break
            except pymysql.err.OperationalError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (base / "err.log").read_text(errors="replace")[-400:] if (base / "err.log").exists() else ""
                    pytest.fail(f"mariadbd did not start: {log}")
                time.sleep(0.1)
        with closing(pymysql.connect(unix_socket=str(sock), user="root", autocommit=True)) as root:
            cur = root.cursor()
            cur.execute(f"CREATE USER ik@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'")
            cur.execute("GRANT ALL ON *.* TO ik@'127.0.0.1'")
            cur.execute("CREATE DATABASE shop")
            cur.execute("CREATE TABLE shop.orders (id int PRIMARY KEY, total int) ENGINE=InnoDB")
            cur.execute("INSERT INTO shop.orders SELECT seq, seq * 10 FROM shop.seq_1_to_40")
        yield {"url": f"mysql://ik:{PASSWORD}@127.0.0.1:{port}/shop", "port": port, "socket": str(sock)}
    finally:
        stop_process(proc, 30)
        shutil.rmtree(base, ignore_errors=True)


def _connect(db: dict) -> pymysql.Connection:
    return pymysql.connect(host="127.0.0.1", port=db["port"], user="ik", password=PASSWORD, database="shop")



def test_processlist_lock_waits_and_chains(mariadb) -> None:
    url = mariadb["url"]
    with closing(_connect(mariadb)) as holder, closing(_connect(mariadb)) as waiter:
        holder.cursor().execute("BEGIN")
        holder.cursor().execute("UPDATE orders SET total = total + 1 WHERE id = 7")
        thread = threading.Thread(target=lambda: _swallow(lambda: waiter.cursor().execute(
            "UPDATE orders SET total = total + 2 WHERE id = 7")))
        thread.start()
        try:
            act = wait_until(lambda: (lambda a: a if (a[a.pid == waiter.thread_id()].blocked_by.map(len) > 0).any()
                                       else None)(ik.mysql.activity(url)), what="the InnoDB lock wait")
            assert frames.check(act, "db_activity") == []
            w = act[act.pid == waiter.thread_id()].iloc[0]
            h = act[act.pid == holder.thread_id()].iloc[0]
            assert w.blocked_by == [holder.thread_id()] and w.state == "active" and w.wait_event_type == "Lock"
            assert "total + 2" in w.query
            assert h.state == "idle in transaction" and h.rows_modified == 1 and h.xact_age_s >= 0
            assert h.xact_start.tzinfo is not None

            chains = ik.mysql.locks(url)
            cw = chains[chains.pid == waiter.thread_id()].iloc[0]
            ch = chains[chains.pid == holder.thread_id()].iloc[0]
            assert (ch.role, ch.blocks) == ("blocker", [waiter.thread_id()])
            assert (cw.role, cw.root_blockers, cw.lock_mode) == ("waiting", [holder.thread_id()], "X")
            assert "orders" in cw.relation and cw.lock_wait_s >= 0
        finally:
            holder.rollback()
            thread.join(35)


def _swallow(fn) -> None:
    try:
        fn()
    except pymysql.err.MySQLError:
        pass


def test_connections_against_max(mariadb) -> None:
    with ExitStack() as stack:
        extra = [stack.enter_context(closing(_connect(mariadb))) for _ in range(20)]
        conns = ik.mysql.connections(mariadb["url"], by="usename")
        assert frames.check(conns, "metrics") == []
        assert conns.attrs["max_connections"] == 30
        assert conns.attrs["by_group"]["ik"] >= len(extra)
        assert conns.attrs["total"] >= len(extra) + 1 and conns.attrs["use_ratio"] >= 21 / 30
        assert conns[conns.metric == "max_used_connections"].value.iloc[0] >= 21


def test_mutations_through_the_mysql_sources_change_nothing(mariadb) -> None:
    url = mariadb["url"]
    with closing(pymysql.connect(unix_socket=mariadb["socket"], user="root")) as root:
        def checksum() -> tuple:
            cur = root.cursor()
            cur.execute("CHECKSUM TABLE shop.orders")
            value = cur.fetchone()
            root.commit()
            return value
        before = checksum()
        for sql in ["UPDATE orders SET total = 0", "DELETE FROM orders", "INSERT INTO orders VALUES (999, 1)",
                    "REPLACE INTO orders VALUES (1, 0)", "DROP TABLE orders", "SELECT * FROM orders FOR UPDATE",
                    "SELECT 1 INTO @x", "SET GLOBAL max_connections = 1", "SELECT 1; DELETE FROM orders",
                    "SELECT get_lock('ik', 1)"]:
            with pytest.raises(MutationRefused):
                ik.db.query(url, sql)
        assert checksum() == before
        assert ik.db.query(url, "SELECT count(*) AS n FROM orders").n.iloc[0] == 40
        cur = root.cursor()
        cur.execute("SELECT @@GLOBAL.max_connections")
        assert cur.fetchone()[0] == 30


def test_stored_functions_only_when_declared_reading(mariadb) -> None:
    with closing(pymysql.connect(unix_socket=mariadb["socket"], user="root", database="shop")) as root:
        cur = root.cursor()
        cur.execute("CREATE FUNCTION IF NOT EXISTS zero_totals() RETURNS INT MODIFIES SQL DATA "
                    "BEGIN UPDATE orders SET total = 0; RETURN 1; END")
        cur.execute("CREATE FUNCTION IF NOT EXISTS plain_fn() RETURNS INT RETURN 1")  # CONTAINS SQL by default
        cur.execute("CREATE FUNCTION IF NOT EXISTS order_count() RETURNS INT READS SQL DATA "
                    "RETURN (SELECT count(*) FROM orders)")
        root.commit()
    for sql in ["SELECT zero_totals()", "SELECT plain_fn() AS x"]:
        with pytest.raises(MutationRefused, match="stored function shop"):
            ik.db.query(mariadb["url"], sql)
    assert ik.db.query(mariadb["url"], "SELECT order_count() AS n").n.iloc[0] == 40


def test_the_session_itself_is_read_only(mariadb) -> None:
    import sqlalchemy.exc

    from incident_kit.sources.db import ReadOnlySession

    with ReadOnlySession(mariadb["url"], source="mysql") as s:  # under sqlguard: the server refuses too
        with pytest.raises(sqlalchemy.exc.OperationalError, match="READ ONLY transaction"):
            s._conn.exec_driver_sql("UPDATE orders SET total = 0")


def test_statement_timeout_and_unreachable(mariadb) -> None:
    with pytest.raises(SourceTimeout, match="max_statement_time"):
        ik.db.query(mariadb["url"], "SELECT sleep(5)", timeout_s=0.5)
    dead = f"mysql://ik:{PASSWORD}@127.0.0.1:{free_port()}/shop"
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        ik.mysql.activity(dead, timeout_s=2)
    assert time.monotonic() - started < 4
    text = str(info.value)
    assert text.startswith("mysql mysql://ik:***@127.0.0.1:") and PASSWORD not in text and "\n" not in text
