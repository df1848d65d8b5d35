"""Storm: 1,000 webhook requests against a real `incident-kit serve` (uvicorn, local queue).

200 distinct alert groups (Alertmanager and generic forms), 450 repeats (some HMAC-signed), 100
resolved notices, 150 malformed bodies (bad JSON, bad schema, oversized, hostile scenario label)
and 100 bad credentials. Expected: exactly 200 runs, every accepted alert in the ledger, every
refused request answered with its reason and recorded, /healthz answered throughout with a median
under 100 ms (probed from a separate process; one sample under load proves nothing). Runs use the injected fast run function serve_fake:fake_run (200
papermill kernels would swamp the 2 shared cores); the real runner is exercised end to end in
test_serve_e2e.py.
"""

from __future__ import annotations

import http.client
import json
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from incident_kit.demo.pgcluster import free_port
from incident_kit.server.auth import sign
from serve_support import Server, wait_for, write_notebook

TOKEN = "storm-token-" + "x" * 20

PROBE = r"""
import http.client, json, sys, time, os
try:
    os.nice(-5)  # the probe measures the server, not its own wait for a CPU on a shared machine
except OSError:
    pass
port, stop = int(sys.argv[1]), sys.argv[2]
lat = []
while not os.path.exists(stop):
    t = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/healthz"); r = c.getresponse(); r.read(); c.close()
    lat.append((time.perf_counter() - t, r.status, time.time()))
    time.sleep(0.02)
print(json.dumps(lat))
"""


def _am(i: int, status: str = "firing") -> dict:
    alert = {"status": status, "labels": {"alertname": f"Storm{i}", "service": f"svc{i % 7}", "severity": "page"},
             "annotations": {"summary": f"storm alert {i}"}, "startsAt": "2026-11-22T14:00:00Z",
             "endsAt": "2026-11-22T14:20:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
             "fingerprint": f"{i:016x}"}
    return {"receiver": "ik", "status": status, "alerts": [alert], "groupLabels": {"alertname": f"Storm{i}"},
            "commonLabels": alert["labels"], "commonAnnotations": {}, "externalURL": "http://am", "version": "4",
            "groupKey": f'{{}}:{{alertname="Storm{i}"}}', "truncatedAlerts": 0}


def _generic(i: int, status: str = "firing") -> dict:
    return {"alerts": [{"name": f"StormG{i}", "status": status, "labels": {"service": "api"},
                        "group_key": f"generic-storm-{i}", "starts_at": "2026-11-22T14:00:00Z",
                        **({"ends_at": "2026-11-22T14:30:00Z"} if status == "resolved" else {})}]}


def _payload(i: int, status: str = "firing") -> tuple[str, dict]:
    return ("alertmanager", _am(i, status)) if i % 2 == 0 else ("generic", _generic(i, status))


def _requests() -> tuple[list[dict], list[dict]]:
    """Return (phase A, phase B) request specs: kind, body bytes, headers, expected status, reason part."""
    rnd = random.Random(7)
    bearer = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    def ok(i: int, status: str = "firing", hmac: bool = False) -> dict:
        kind, payload = _payload(i, status)
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "X-Incident-Kit-Signature": sign(TOKEN, body)} if hmac else bearer
        return {"cat": status if status == "resolved" else "alert", "kind": kind, "body": body, "headers": headers,
                "expect": 202, "reason": None, "group": i}

    firsts = [ok(i) for i in range(200)]
    repeats = [ok(rnd.randrange(200), hmac=(n % 4 == 0)) for n in range(450)]
    resolved = [ok(i, "resolved") for i in range(100)]
    bad: list[dict] = []
    for n in range(50):
        bad.append({"cat": "bad_json", "kind": "alertmanager", "body": b'{"alerts": [', "headers": bearer,
                    "expect": 400, "reason": "not JSON"})
    for n in range(50):
        bad.append({"cat": "bad_schema", "kind": "generic", "body": json.dumps({"alerts": []}).encode(),
                    "headers": bearer, "expect": 422, "reason": "non-empty list"})
    for n in range(25):
        bad.append({"cat": "too_big", "kind": "generic", "body": b'{"name": "' + b"x" * (1 << 20) + b'"}',
                    "headers": bearer, "expect": 413, "reason": "over the limit"})
    for n in range(25):
        body = json.dumps({"name": "Evil", "labels": {"scenario": "../../etc/passwd"}}).encode()
        bad.append({"cat": "hostile", "kind": "generic", "body": body, "headers": bearer, "expect": 422,
                    "reason": "not a scenario name"})
    good_body = json.dumps(_generic(1)).encode()
    for n in range(40):
        bad.append({"cat": "no_token", "kind": "generic", "body": good_body, "headers": {},
                    "expect": 401, "reason": "missing credentials"})
    for n in range(40):
        bad.append({"cat": "bad_token", "kind": "generic", "body": good_body,
                    "headers": {"Authorization": "Bearer not-the-token"}, "expect": 401, "reason": "not valid"})
    for n in range(20):
        bad.append({"cat": "bad_hmac", "kind": "generic", "body": good_body,
                    "headers": {"X-Incident-Kit-Signature": sign("wrong", good_body)}, "expect": 401,
                    "reason": "signature does not match"})
    phase_a = firsts + bad[:150]
    phase_b = repeats + resolved + bad[150:]
    rnd.shuffle(phase_a)
    rnd.shuffle(phase_b)
    return phase_a, phase_b


def _send_all(port: int, specs: list[dict], concurrency: int = 8) -> list[tuple[dict, int, dict]]:
    """POST every spec from `concurrency` threads over keep-alive connections (stdlib http.client:
    the test's own client must not be the bottleneck on 2 shared cores); returns (spec, status, json)."""
    local = threading.local()

    def one(spec: dict) -> tuple[dict, int, dict]:
        for attempt in (1, 2):
            conn = getattr(local, "conn", None) or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            local.conn = conn
            try:
                conn.request("POST", f"/alerts/{spec['kind']}", body=spec["body"], headers=spec["headers"])
                r = conn.getresponse()
                data = r.read()
                if r.getheader("connection", "").lower() == "close":
                    conn.close()
                    local.conn = None
                return spec, r.status, json.loads(data)
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(one, specs))


@pytest.mark.slow
def test_storm_of_1000_requests(tmp_path: Path) -> None:
    write_notebook(tmp_path / "notebooks", "storm")
    (tmp_path / "routes.yaml").write_text("routes:\n  - match_re: {alertname: 'Storm.*'}\n    scenario: storm\n")
    port = free_port()
    server = Server(tmp_path, port, args=["-c", "routes.yaml", "--workers", "4"], env={
        "INCIDENT_KIT_WEBHOOK_TOKEN": TOKEN, "INCIDENT_KIT_SERVE_RUN": "serve_fake:fake_run",
        "INCIDENT_KIT_HEARTBEAT": "1"})
    stop_file = tmp_path / "probe.stop"
    probe = None
    try:
        server.start()
        probe = subprocess.Popen([sys.executable, "-c", PROBE, str(port), str(stop_file)], stdout=subprocess.PIPE)
        time.sleep(0.3)
        phase_a, phase_b = _requests()
        t0, storm_started = time.monotonic(), time.time()
        results = _send_all(port, phase_a)
        results += _send_all(port, phase_b)
        elapsed = time.monotonic() - t0
        stop_file.write_text("stop")
        latencies = json.loads(probe.communicate(timeout=30)[0])
        probe = None

        assert len(results) == 1000
        # Throughput depends on what else the 2 cores do; what the server guarantees is that the storm
        # completes (no request lost or stuck) and that /healthz stays answered and fast in the median.
        assert elapsed < 120, f"1,000 requests took {elapsed:.1f}s"
        print(f"\nstorm: 1000 requests in {elapsed:.2f}s; /healthz probes: {len(latencies)}, "
              f"max {max(l for l, _, _ in latencies) * 1000:.1f} ms")
        for spec, status, body in results:
            assert status == spec["expect"], (spec["cat"], status, body)
            if spec["reason"]:
                assert spec["reason"] in body["error"] and "\n" not in body["error"], (spec["cat"], body)
        assert len(latencies) > 50 and all(s == 200 for _, s, _ in latencies)
        during = sorted(l for l, _, at in latencies if at >= storm_started) or sorted(l for l, _, _ in latencies)
        median = during[len(during) // 2]
        assert median < 0.1, f"/healthz median {median * 1000:.0f} ms during the storm ({len(during)} probes)"

        # Exactly one run per group, each started by the group's first alert and joined by its repeats.
        started = {b["alerts"][0]["run_id"] for s, st, b in results if st == 202 and s["cat"] == "alert"}
        assert len(started) == 200
        per_group: dict[int, set[str]] = {}
        for spec, status, body in results:
            if status == 202:
                per_group.setdefault(spec["group"], set()).add(body["alerts"][0]["run_id"])
        assert len(per_group) == 200 and all(len(v) == 1 for v in per_group.values())

        def all_final() -> dict | None:
            data = httpx.get(f"{server.url}/runs", params={"limit": 1000}).json()
            return data if data["counts"].get("ok", 0) == 200 else None

        data = wait_for(all_final, 90, 0.5, "200 runs to finish")
        runs = data["runs"]
        assert len(runs) == 200 and {r["run_id"] for r in runs} == started
        assert data["counts"]["alerts"] == 200 + 450 + 100  # every accepted alert is in the ledger
        assert data["counts"]["refusals"] == 250
        from collections import Counter

        from incident_kit.server.ledger import Ledger, default_url

        ledger = Ledger(default_url(tmp_path / "reports"))
        refused = ledger.refusal_list()
        ledger.dispose()
        assert Counter(r["status_code"] for r in refused) == {400: 50, 401: 100, 413: 25, 422: 75}
        assert all(r["reason"] and "\n" not in r["reason"] and TOKEN not in r["reason"] for r in refused)
        assert sum(r["alerts_count"] for r in runs) == 750
        assert all(r["scenario"] == "storm" and r["attempts"] == 1 for r in runs)

        # The 100 resolved groups carry their end time, applied to their summary.json.
        resolved = wait_for(lambda: (lambda rs: rs if len(rs) == 100 else None)(
            [r for r in httpx.get(f"{server.url}/runs", params={"limit": 1000}).json()["runs"] if r["resolution_applied"]]),
            60, 0.5, "100 resolutions applied")
        for r in resolved[:10]:
            summary = json.loads((tmp_path / "reports" / r["run_id"] / "summary.json").read_text())
            assert summary["alert"]["status"] == "resolved" and summary["alert"]["ends_at"] == r["resolved_at"]
            assert summary["timeline"][-1]["kind"] == "recovery"
        one = httpx.get(f"{server.url}/runs/{runs[0]['run_id']}").json()
        assert one["alerts"] and all(a["run_id"] == one["run_id"] for a in one["alerts"])
    finally:
        stop_file.write_text("stop")
        if probe is not None:
            probe.kill()
            probe.wait()
        server.stop()
