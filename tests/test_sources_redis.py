"""Redis sources and the Redis probe against a real redis-server on loopback with queued keys."""

from __future__ import annotations

import subprocess
import time

import pytest
from waiting import stop_process

import incident_kit as ik
from incident_kit import frames
from incident_kit.demo.pgcluster import free_port

pytestmark = pytest.mark.slow  # real services on loopback


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    import redis

    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir), "--slowlog-log-slower-than", "0",
                             "--protected-mode", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis.from_url(url, socket_timeout=0.5).ping():
                    break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on port {port}")
                time.sleep(0.05)
        yield url
    finally:
        stop_process(proc, 10)


@pytest.fixture(scope="module")
def queued(redis_url):
    import redis

    r = redis.Redis.from_url(redis_url, decode_responses=True)
    r.rpush("bull:emails:waiting", *[f"job-{i}" for i in range(37)])
    r.rpush("bull:emails:failed", "a", "b")
    r.zadd("bull:emails:delayed", {f"d{i}": i for i in range(5)})
    for i in range(12):
        r.xadd("events", {"n": i})
    r.xgroup_create("events", "workers", id="0")
    r.xreadgroup("workers", "w1", {"events": ">"}, count=4)  # 4 delivered, pending
    r.set("plain", "x")
    return {"bull:emails:waiting": 37, "bull:emails:failed": 2, "bull:emails:delayed": 5, "events": 12}


def test_queue_depths_equal_what_was_pushed(redis_url, queued) -> None:
    q = ik.redis.queues(redis_url, ["bull:emails:waiting", "bull:emails:delayed", "events", "bull:nothing:waiting"])
    assert frames.check(q, "metrics") == []
    depth = q[q.metric == "queue_depth"].set_index("key")
    assert depth.loc["bull:emails:waiting", "value"] == 37 and depth.loc["bull:emails:waiting", "type"] == "list"
    assert depth.loc["bull:emails:delayed", "value"] == 5 and depth.loc["bull:emails:delayed", "type"] == "zset"
    assert depth.loc["events", "value"] == 12 and depth.loc["events", "type"] == "stream"
    assert depth.loc["bull:nothing:waiting", "value"] == 0 and depth.loc["bull:nothing:waiting", "type"] == "none"
    pending = q[(q.metric == "stream_group_pending") & (q.group == "workers")].value.iloc[0]
    lag = q[(q.metric == "stream_group_lag") & (q.group == "workers")].value.iloc[0]
    assert pending == 4 and lag == 8


def test_queue_patterns_use_scan(redis_url, queued) -> None:
    q = ik.redis.queues(redis_url, "bull:emails:*")
    got = dict(zip(q.key, q.value))
    assert got == {k: v for k, v in queued.items() if k.startswith("bull:emails:")}
    cut = ik.redis.queues(redis_url, "bull:emails:*", max_matches=1)
    assert len(cut) == 1 and cut.attrs["truncated"]


def test_info_memory_clients_slowlog(redis_url, queued) -> None:
    info = ik.redis.info(redis_url)
    assert frames.check(info, "metrics") == []
    values = {(m, k): v for m, k, v in zip(info.metric, info.key, info.value)}
    assert values[("redis_keys", "db0")] >= 5
    assert info.attrs["text"]["redis_mode"] == "standalone"
    assert (info[info.metric == "redis_connected_clients"].value >= 1).all()
    mem = ik.redis.memory(redis_url)
    assert mem[mem.metric == "redis_used_memory"].value.iloc[0] > 0
    clients = ik.redis.clients(redis_url)
    assert "addr" in clients.columns and len(clients) >= 1
    slow = ik.redis.slowlog(redis_url, 500)
    assert frames.check(slow, "events") == []
    assert slow.text.str.contains("RPUSH bull:emails:waiting", case=False).any()
    assert (slow.duration_ms >= 0).all()


def test_redis_probe_and_unreachable(redis_url) -> None:
    ok = ik.probes.redis([redis_url], rounds=2, interval_s=0.1)
    assert ok.ok.all() and list(ok.status) == ["PONG", "PONG"] and (ok.latency_ms > 0).all()
    dead = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    bad = ik.probes.redis(dead, timeout_s=1)
    assert not bad.ok.iloc[0] and "s3cret" not in bad.error.iloc[0] + bad.target.iloc[0]
    started = time.monotonic()
    with pytest.raises(ik.SourceError) as info:
        ik.redis.queues(dead, ["q"], timeout_s=1)
    assert time.monotonic() - started < 3
    text = str(info.value)
    assert text.startswith("redis redis://:***@127.0.0.1:") and "s3cret" not in text and "\n" not in text


def test_oldest_job_of_each_queue(redis_url) -> None:
    import json

    import redis

    r = redis.Redis.from_url(redis_url, decode_responses=True)
    now_s = time.time()
    r.rpush("jobs:mail", *[json.dumps({"id": i, "enqueued_at": now_s - 600 + i}) for i in range(5)])
    r.xadd("jobs:stream", {"n": 1}, id=f"{int((now_s - 120) * 1000)}-0")
    r.rpush("jobs:opaque", "a", "b")
    found = ik.redis.oldest(redis_url, ["jobs:mail", "jobs:stream", "jobs:opaque"]).set_index("key")
    assert found.loc["jobs:mail", "depth"] == 5 and found.loc["jobs:mail", "dated"] == 5
    assert 590 <= found.loc["jobs:mail", "age_s"] <= 660
    assert 110 <= found.loc["jobs:stream", "age_s"] <= 180 and found.loc["jobs:stream", "depth"] == 1
    assert found.loc["jobs:opaque", "dated"] == 0 and found.loc["jobs:opaque", "depth"] == 2
    assert r.llen("jobs:mail") == 5  # nothing popped
