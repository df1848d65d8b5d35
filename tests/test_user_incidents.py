"""Three incidents as users brought them (issue 13), rebuilt from their description, on a machine
where an earlier demo left its files, run with only the parameters each user had.

1. A bad deploy broke ``POST /api/orders`` for 41 minutes, 12 days ago: nginx combined access
   log, an application JSON log, the service's git repository, ``start``/``end`` around it and
   ``service: shop`` (a name the access log does not carry) -> P2, the culprit commit first.
2. A lock held by one session with four waiting, ``db_slow_queries_and_locks`` given only
   ``database_url`` (a real PostgreSQL) -> P1 lock contention naming the holder's pid.
3. A Java service five weeks ago (logback pattern log + nginx log + git), ``db_connection_exhaustion``
   without a database URL -> P1 naming the config commit and the pool error.

The files are generated here from the description (times, shares, formats), not copied from
anyone's incident; the three runs go side by side in a small pool.
"""

from __future__ import annotations

import json
import random
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from incident_kit.timeutil import iso, now

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

AGENTS = ['"Mozilla/5.0 (X11; Linux x86_64)"', '"okhttp/4.12.0"', '"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1)"']


def _nginx(path: Path, start: pd.Timestamp, end: pd.Timestamp, fail: Any, rng: random.Random,
           endpoints: list[tuple[str, str, float]]) -> None:
    """Write an nginx combined log with $request_time: ~2 requests/s over [start, end);
    ``fail(ts, method, path) -> status | None``."""
    lines, ts = [], start
    weights = [w for *_, w in endpoints]
    while ts < end:
        ts += pd.Timedelta(seconds=rng.expovariate(2.0))
        method, url, _ = rng.choices(endpoints, weights)[0]
        status = fail(ts, method, url) or (502 if rng.random() < 0.002 else 200)
        stamp = ts.strftime("%d/%b/%Y:%H:%M:%S +0000")
        took = rng.lognormvariate(-3.2, 0.4) if status < 500 else rng.uniform(0.01, 0.2)
        lines.append(f'10.1.{rng.randint(0, 3)}.{rng.randint(2, 250)} - - [{stamp}] "{method} {url} HTTP/1.1" {status} '
                     f'{rng.randint(200, 4000)} "-" {rng.choice(AGENTS)} {took:.3f}')
    path.write_text("\n".join(lines) + "\n")


def _git(repo: Path, commits: list[tuple[pd.Timestamp, str, dict[str, str]]]) -> dict[str, str]:
    """Create ``repo`` with dated commits; returns subject -> sha."""
    repo.mkdir(parents=True)
    base = {"HOME": str(repo.parent), "PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=base)
    shas = {}
    for when, subject, files in commits:
        for name, text in files.items():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
        env = {**base, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_NAME": "Sam Dev",
               "GIT_AUTHOR_EMAIL": "sam@shop.example", "GIT_COMMITTER_NAME": "Sam Dev", "GIT_COMMITTER_EMAIL": "sam@shop.example"}
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
        subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", subject], check=True, env=env)
        shas[subject] = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, env=env,
                                       capture_output=True, text=True).stdout.strip()
    return shas


ENDPOINTS = [("GET", "/api/products", 0.45), ("GET", "/api/products/17", 0.2), ("POST", "/api/cart", 0.12),
             ("POST", "/api/orders", 0.08), ("GET", "/api/orders/991", 0.1), ("GET", "/health", 0.05)]


def _bad_deploy_on_orders(d: Path) -> dict[str, Any]:
    """Situation 1: 12 days ago, POST /api/orders fails for 41 minutes after a commit."""
    rng = random.Random(13)
    t0 = now().floor("min") - pd.Timedelta(days=12, hours=3)
    t1 = t0 + pd.Timedelta(minutes=41)
    _nginx(d / "access.log", t0 - pd.Timedelta(hours=2), t1 + pd.Timedelta(minutes=40),
           lambda ts, m, u: (500 if rng.random() < 0.93 else None) if t0 <= ts < t1 and (m, u) == ("POST", "/api/orders") else None,
           rng, ENDPOINTS)
    app = []
    for k in range(0, 41 * 60, 25):
        ts = t0 + pd.Timedelta(seconds=k + rng.uniform(0, 20))
        app.append({"ts": iso(ts), "level": "error", "logger": "orders.create",
                    "msg": f"order creation failed: KeyError 'shipping_address' in create_order (cart {rng.randint(1000, 9999)})"})
    for k in range(0, 180 * 60, 300):
        app.append({"ts": iso(t0 - pd.Timedelta(hours=2) + pd.Timedelta(seconds=k)), "level": "info", "logger": "health",
                    "msg": "pool stats: 3 busy, 17 idle"})
    app.sort(key=lambda r: r["ts"])
    (d / "app.log").write_text("".join(json.dumps(r) + "\n" for r in app))
    culprit = "orders: require a shipping address when an order is created (#731)"
    shas = _git(d / "repo", [
        (t0 - pd.Timedelta(days=9), "search: paginate the product listing (#702)", {"shop/search.py": "PAGE = 20\n"}),
        (t0 - pd.Timedelta(days=1, hours=4), "deps: bump requests to 2.32 (#726)", {"requirements.txt": "requests==2.32\n"}),
        (t0 - pd.Timedelta(minutes=7), culprit, {"shop/orders/create.py": "REQUIRED = ['shipping_address']\n"}),
        (t1 - pd.Timedelta(minutes=2), "orders: default the shipping address to billing (#733)", {"shop/orders/create.py": "REQUIRED = []\n"}),
        (now() - pd.Timedelta(days=1), "cart: show totals with tax (#790)", {"shop/cart.py": "TAX = True\n"}),
    ])
    params = {"logs": [str(d / "access.log"), str(d / "app.log")], "git_repo": str(d / "repo"), "service": "shop",
              "start": iso(t0 - pd.Timedelta(hours=2)), "end": iso(t1 + pd.Timedelta(minutes=40))}
    return {"scenario": "high_error_rate", "params": params, "culprit": culprit, "sha": shas[culprit]}


def _lock_with_four_waiting(d: Path, stack: list[Any]) -> dict[str, Any]:
    """Situation 2: one session holds a row lock (idle in transaction), four wait behind it."""
    import psycopg

    from incident_kit.demo.pgcluster import PostgresCluster

    cluster = PostgresCluster().start()
    stack.append(cluster.stop)
    cluster.psql("CREATE TABLE inventory (product_id int PRIMARY KEY, stock int)",
                 "INSERT INTO inventory SELECT g, 100 FROM generate_series(1, 50) g")
    dsn = cluster.url("postgres", "postgres", driver="postgresql")
    holder = psycopg.connect(dsn, application_name="stock-import")
    holder.execute("UPDATE inventory SET stock = stock - 1 WHERE product_id <= 10")
    holder_pid = holder.info.backend_pid
    stack.append(holder.close)
    waiters: list[threading.Thread] = []
    for i in range(4):
        def wait(product: int = i + 1) -> None:
            try:
                with psycopg.connect(dsn, application_name="checkout", autocommit=True) as conn:
                    conn.execute("SET lock_timeout = '120s'")
                    conn.execute("UPDATE inventory SET stock = stock - 1 WHERE product_id = %s", (product,))
            except psycopg.Error:
                pass
        t = threading.Thread(target=wait, daemon=True)
        t.start()
        waiters.append(t)
    (d / "database_url").write_text(cluster.url("postgres", "postgres") + "\n")
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").strip().endswith("4"):
            break
        time.sleep(0.2)
    return {"scenario": "db_slow_queries_and_locks", "params": {"database_url": f"file:{d / 'database_url'}"},
            "holder_pid": holder_pid}


def _java_pool_exhaustion(d: Path) -> dict[str, Any]:
    """Situation 3: five weeks ago a config commit shrank the Hikari pool; the Java service's requests
    wait for connections and fail."""
    rng = random.Random(31)
    t0 = now().floor("min") - pd.Timedelta(weeks=5, hours=5)
    t1 = t0 + pd.Timedelta(minutes=35)
    db_paths = {"/api/orders", "/api/orders/991", "/api/products/17", "/api/cart"}
    _nginx(d / "access.log", t0 - pd.Timedelta(hours=2), t1 + pd.Timedelta(minutes=30),
           lambda ts, m, u: (503 if rng.random() < 0.45 else None) if t0 <= ts < t1 and u in db_paths else None,
           rng, ENDPOINTS)
    lines = []
    ts = t0 - pd.Timedelta(hours=2)
    while ts < t1 + pd.Timedelta(minutes=30):
        ts += pd.Timedelta(seconds=rng.expovariate(0.5))
        stamp = ts.strftime("%Y-%m-%d %H:%M:%S.") + f"{ts.microsecond // 1000:03d}"
        thread = f"http-nio-8080-exec-{rng.randint(1, 40)}"
        if t0 <= ts < t1 and rng.random() < 0.6:
            lines.append(f"{stamp} [{thread}] ERROR o.h.engine.jdbc.spi.SqlExceptionHelper - HikariPool-1 - "
                         f"Connection is not available, request timed out after 30000ms.")
            lines.append("java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms.")
            lines.append("\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)")
        else:
            lines.append(f"{stamp} [{thread}] INFO  c.s.orders.OrderController - order {rng.randint(10000, 99999)} served")
    (d / "shop.log").write_text("\n".join(lines) + "\n")
    culprit = "config: lower spring.datasource.hikari.maximum-pool-size to 4 for the new replica (#412)"
    shas = _git(d / "repo", [
        (t0 - pd.Timedelta(days=6), "orders: page the order history (#398)", {"src/main/java/shop/Orders.java": "class Orders {}\n"}),
        (t0 - pd.Timedelta(hours=20), "build: gradle 8.10 (#405)", {"build.gradle": "// 8.10\n"}),
        (t0 - pd.Timedelta(minutes=12), culprit,
         {"src/main/resources/application.yml": "spring:\n  datasource:\n    hikari:\n      maximum-pool-size: 4\n"}),
        (t1 + pd.Timedelta(minutes=5), "config: restore maximum-pool-size 20 (#413)",
         {"src/main/resources/application.yml": "spring:\n  datasource:\n    hikari:\n      maximum-pool-size: 20\n"}),
    ])
    params = {"logs": [str(d / "access.log"), str(d / "shop.log")], "git_repo": str(d / "repo"),
              "start": iso(t0 - pd.Timedelta(hours=2)), "end": iso(t1 + pd.Timedelta(minutes=30))}
    return {"scenario": "db_connection_exhaustion", "params": params, "culprit": culprit, "sha": shas[culprit]}


@pytest.fixture(scope="module")
def user_runs(tmp_path_factory) -> dict[str, Any]:
    """Build the three situations beside a leftover demo, run each with only its user's parameters."""
    from incident_kit.demo.environment import demo_home
    from incident_kit.runner import run

    base = tmp_path_factory.mktemp("user-incidents")
    leftover = Path(tempfile.mkdtemp(prefix="ik-demo-leftover-", dir=demo_home()))
    (leftover / "deploys.jsonl").write_text(json.dumps({"ts": iso(now()), "text": "deploy shop-api v9.9.9-leftover"}) + "\n")
    stack: list[Any] = []
    built = {}
    try:
        for name, build in (("orders", _bad_deploy_on_orders), ("java", _java_pool_exhaustion)):
            (base / name).mkdir()
            built[name] = build(base / name)
        (base / "lock").mkdir()
        built["lock"] = _lock_with_four_waiting(base / "lock", stack)

        def go(name: str) -> tuple[str, dict[str, Any]]:
            b = built[name]
            return name, run(b["scenario"], b["params"], out_dir=str(base / "reports")).summary

        with ThreadPoolExecutor(max_workers=3) as pool:
            results = dict(pool.map(go, built))
    finally:
        for fn in reversed(stack):
            fn()
        import shutil

        shutil.rmtree(leftover, ignore_errors=True)
    return {name: {**built[name], "summary": results[name]} for name in built}


def test_a_twelve_day_old_bad_deploy_is_p2_and_names_the_culprit_commit(user_runs):
    r = user_runs["orders"]
    s = r["summary"]
    assert s["status"] == "ok", (s.get("error"), [src for src in s["sources"] if src["status"] == "failed"])
    assert s["severity"] == "P2", s["severity_reason"]
    top = s["hypotheses"][0]
    assert r["sha"][:10] in top["cause"] or r["culprit"] in top["cause"], top
    assert s["impact"]["requests_total"] > 1000 and "leftover" not in json.dumps(s)
    live = {src["name"]: src for src in s["sources"]}
    assert live["access logs"]["status"] == "ok" and live["access logs"]["rows"] > 1000
    assert all(src["status"] in ("ok", "empty", "skipped") for src in s["sources"]), s["sources"]


def test_a_lock_held_with_four_waiting_is_p1_naming_the_holder(user_runs):
    r = user_runs["lock"]
    s = r["summary"]
    # This database has no pg_stat_statements: that one source fails, with its reason, and nothing else.
    failed = [src for src in s["sources"] if src["status"] == "failed"]
    assert s["status"] == "degraded" and [f["name"] for f in failed] == ["slow statements"], failed
    assert "pg_stat_statements" in failed[0]["error"], failed
    assert s["severity"] == "P1", s["severity_reason"]
    top = s["hypotheses"][0]
    assert top["kind"] == "lock_contention", top
    assert str(r["holder_pid"]) in top["cause"] + top["evidence"], top
    assert "leftover" not in json.dumps(s)


def test_a_five_week_old_java_pool_exhaustion_is_p1_naming_the_config_commit_and_the_pool_error(user_runs):
    r = user_runs["java"]
    s = r["summary"]
    assert s["status"] == "ok", (s.get("error"), [src for src in s["sources"] if src["status"] == "failed"])
    assert s["severity"] == "P1", s["severity_reason"]
    top = s["hypotheses"][0]
    assert r["sha"][:10] in top["cause"] or "maximum-pool-size" in top["cause"], top
    assert "Connection is not available" in json.dumps(s["hypotheses"][:2] + s["findings"]), s["findings"]
    logs = {src["name"]: src for src in s["sources"]}["access logs"]
    assert logs["status"] == "ok" and logs["rejected"] == 0, logs
    # The service's own logback log is read whole: each pool error carries its stack trace.
    from incident_kit.sources import logs as log_source

    app = log_source.read(r["params"]["logs"][1])
    errors = app[app["level"] == "error"]
    assert len(errors) > 50 and app.attrs["rejected"] == 0
    assert errors["exception"].astype(str).str.contains("HikariPool.createTimeoutException").all()
    assert app.attrs["continuations"] == 2 * len(errors)
