"""The run ledger and intake on SQLite and on a real PostgreSQL cluster: concurrent deliveries of one
group from two "servers" (two Ledger objects, threads) start exactly one run; a queued run is claimed
once; a run whose worker stopped is retried once, then marked interrupted; the de-dup period."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from incident_kit.alerts import parse
from incident_kit.server import ledger as L
from incident_kit.server.intake import ingest


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    cluster = request.getfixturevalue("pg_cluster")
    db = f"ik_ledger_{int(time.time() * 1000) % 10**9}"
    cluster.psql(f"CREATE DATABASE {db}")
    return cluster.url(db)


def _alert(name: str, group: str, status: str = "firing"):
    return parse({"name": name, "group_key": group, "status": status, "starts_at": "2026-11-22T10:00:00Z",
                  **({"ends_at": "2026-11-22T10:30:00Z"} if status == "resolved" else {})})


def test_concurrent_deliveries_start_one_run(ledger_url):
    servers = [L.Ledger(ledger_url), L.Ledger(ledger_url)]
    errors: list[BaseException] = []

    def deliver(ledger):
        try:
            for _ in range(10):
                ingest(ledger, _alert("Dup", "g-race"), [], period_s=3600)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(servers[i % 2],)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors, errors
    runs = servers[0].list_runs()
    assert len(runs) == 1 and runs[0]["alerts_count"] == 80
    assert servers[0].counts()["alerts"] == 80
    assert [a["action"] for a in servers[0].alerts_of(runs[0]["run_id"])].count("started") == 1
    for s in servers:
        s.dispose()


def test_claim_once_retry_once_then_interrupted(ledger_url):
    ledger = L.Ledger(ledger_url)
    result = ingest(ledger, _alert("Claim", "g-claim"), [], period_s=3600)
    [run_id] = result.new_runs
    claims: list[object] = []
    threads = [threading.Thread(target=lambda i=i: claims.append(ledger.claim(run_id, f"host:{i}:1"))) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    winners = [c for c in claims if c is not None]
    assert len(winners) == 1 and winners[0]["attempts"] == 1 and winners[0]["state"] == "running"
    worker = winners[0]["worker"]

    assert ledger.recover(60) == []  # fresh heartbeat: nothing to do
    old = L.utcnow() - timedelta(seconds=120)
    with ledger.engine.begin() as c:
        c.execute(L.runs.update().where(L.runs.c.run_id == run_id).values(heartbeat_at=old))
    assert ledger.recover(60) == [run_id]
    assert ledger.get(run_id)["state"] == "queued"
    assert ledger.finish(run_id, worker, "ok") is False  # the old worker lost the run
    again = ledger.claim(run_id, "host:99:1")
    assert again["attempts"] == 2
    assert ledger.recover(60, is_dead=lambda w: w == "host:99:1") == []
    final = ledger.get(run_id)
    assert final["state"] == "interrupted" and "not retried again" in final["error"]
    ledger.dispose()


def test_dedup_period_and_resolution(ledger_url):
    ledger = L.Ledger(ledger_url)
    first = ingest(ledger, _alert("Per", "g-period"), [], period_s=3600).new_runs
    assert ingest(ledger, _alert("Per", "g-period"), [], period_s=3600).new_runs == []
    resolved = ingest(ledger, _alert("Per", "g-period", "resolved"), [], period_s=3600)
    assert resolved.resolved_runs == first and ledger.get(first[0])["resolved_at"] == "2026-11-22T10:30:00Z"
    with ledger.engine.begin() as c:
        c.execute(L.groups.update().values(last_seen=L.utcnow() - timedelta(hours=2)))
    later = ingest(ledger, _alert("Per", "g-period"), [], period_s=3600).new_runs
    assert len(later) == 1 and later != first
    unmatched = ingest(ledger, _alert("Never", "g-none", "resolved"), [], period_s=3600)
    assert unmatched.actions[0]["action"] == "unmatched" and unmatched.resolved_runs == []
    with ledger.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(L.runs)).scalar_one() == 2
    ledger.dispose()
