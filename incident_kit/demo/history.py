"""The demo's past: two hours of access and application logs, a git repository and deploy events.

The shared shape: ``shop-api`` served steady traffic (``shop.BASELINE_RPS``, ~0.4% errors); a
commit was deployed ``fault.deploy_ago_min`` before now as ``fault.version`` after two harmless
ones; from ``errors_from`` on, requests fail the way ``fault`` says (:mod:`.faults` holds one
variant per scenario). The default, :data:`faults.COUPON`, is the high_error_rate story: a commit
touching the checkout path is deployed as ``shop.BAD_VERSION``; a few minutes later checkouts
without a coupon fail with ``shop.FAULT_MESSAGE``. A variant may add config-change events and
extra files (a kernel log, an auth log, a worker log).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from . import shop
from .faults import COUPON, Fault


@dataclass
class Story:
    """The known answers of the demo incident (what a correct investigation must find).

    ``expected_cause_kind`` is the kind of the hypothesis that must rank first (deploy, config,
    dependency, saturation, lock_contention, ...); every word of ``expected_cause_text`` must
    appear in that hypothesis's ``cause``. ``facts`` holds what the stage made true on the live
    services (pids, depths, ports), for tests and notebooks to check against.
    """

    now: datetime
    deploy_at: datetime
    errors_from: datetime
    bad_commit: str = ""
    scenario: str = "high_error_rate"
    expected_cause_kind: str = "deploy"
    expected_cause_text: list[str] = field(default_factory=list)
    config_at: datetime | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def iso_ms(ts: datetime) -> str:
    """Return ``ts`` as ISO 8601 UTC with milliseconds and a trailing Z (the demo logs' stamps)."""
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _request(rng: random.Random, ts: datetime, failing: bool, fault: Fault, deployed: bool) -> dict[str, object]:
    method, path, median = shop.pick_endpoint(rng, fault.endpoints)
    latency = round(rng.lognormvariate(0, 0.45) * median, 2)
    status, level, message = 200, "info", f"{method} {path} 200"
    if fault.version_from_errors:
        version = fault.version if failing else shop.GOOD_VERSION
    else:
        version = fault.version if deployed else shop.GOOD_VERSION
    outcome = fault.fail(rng, method, path, latency) if failing else None
    if outcome is not None:
        status, message, latency = outcome
        level = "error" if status >= 500 else ("warning" if status >= 400 else "info")
        message = message or f"{method} {path} {status}"
    elif rng.random() < 0.004:
        status, level = rng.choice([(502, "error"), (504, "error")])
        message = rng.choice(shop.BASELINE_ERRORS).format(ms=rng.randint(3000, 9000))
    elif path.startswith("/api/products/") and rng.random() < 0.02:
        status, message = 404, f"{method} {path} 404"
    return {
        "timestamp": iso_ms(ts), "level": level, "service": shop.SERVICE, "method": method, "path": path,
        "status": status, "duration_ms": latency, "client": shop.client_ip(rng), "user_id": shop.user_id(rng),
        "request_id": uuid.UUID(int=rng.getrandbits(128)).hex[:16], "version": version, "message": message,
    }


def write_logs(logdir: Path, story: Story, hours: float = 2.0, seed: int = 7, fault: Fault = COUPON) -> int:
    """Write ``access.log`` and ``app.log`` covering ``hours`` before ``story.now`` the way ``fault``
    says; returns the request count."""
    rng = random.Random(seed)
    logdir.mkdir(parents=True, exist_ok=True)
    ts = story.now - timedelta(hours=hours)
    n = 0
    with open(logdir / "access.log", "w", encoding="utf-8") as access, open(logdir / "app.log", "w", encoding="utf-8") as app:
        deployed = story.deploy_at <= ts
        app.write(json.dumps({"timestamp": iso_ms(ts), "level": "info", "service": shop.SERVICE, "logger": "boot",
                              "message": f"shop-api {fault.version if deployed else shop.GOOD_VERSION} started"}) + "\n")
        configured = story.config_at is None or story.config_at <= ts
        while ts < story.now:
            ts += timedelta(seconds=rng.expovariate(shop.BASELINE_RPS))
            if not deployed and ts >= story.deploy_at:
                deployed = True
                app.write(json.dumps({"timestamp": iso_ms(story.deploy_at), "level": "info", "service": shop.SERVICE,
                                      "logger": "deploy", "message": f"deploy {shop.GOOD_VERSION} -> {fault.version}"}) + "\n")
            if not configured and story.config_at is not None and ts >= story.config_at:
                configured = True
                app.write(json.dumps({"timestamp": iso_ms(story.config_at), "level": "info", "service": shop.SERVICE,
                                      "logger": "config", "message": f"configuration reloaded: {fault.config_text}"}) + "\n")
            record = _request(rng, ts, ts >= story.errors_from, fault, deployed)
            access.write(json.dumps(record, separators=(",", ":")) + "\n")
            if record["level"] in ("error", "warning") and record["status"] != 404:
                app.write(json.dumps({"timestamp": record["timestamp"], "level": record["level"], "service": shop.SERVICE,
                                      "logger": fault.logger(str(record["path"]), str(record["message"])),
                                      "message": record["message"]}) + "\n")
            n += 1
    return n


def _git(repo: Path, *args: str, when: datetime | None = None) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent)}
    if when is not None:
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    r = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True)
    return r.stdout.strip()


def write_repo(repo: Path, story: Story, fault: Fault = COUPON) -> list[dict[str, str]]:
    """Create the shop's git repository with three dated commits (the last is ``fault``'s change,
    deployed at ``story.deploy_at``); returns the deploy events."""
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "Dana Developer")
    _git(repo, "config", "user.email", "dana@shop.example")
    commits = [
        (story.now - timedelta(hours=27), "search: paginate product listing", {"shop/products.py": "PAGE_SIZE = 20\n"}),
        (story.now - timedelta(hours=6), "deps: bump httpx to 0.27", {"requirements.txt": "httpx==0.27.0\npsycopg==3.2\n"}),
        (story.deploy_at - timedelta(minutes=4), fault.commit_subject, fault.commit_files),
    ]
    events = []
    for i, (when, subject, files) in enumerate(commits):
        for name, text in files.items():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", subject, when=when)
        sha = _git(repo, "rev-parse", "HEAD")
        version = fault.version if i == len(commits) - 1 else f"v1.7.{i + 2}"
        deployed_at = story.deploy_at if i == len(commits) - 1 else when + timedelta(minutes=6)
        events.append({"ts": iso_ms(deployed_at), "kind": "deploy", "source": "ci",
                       "text": f"deploy {shop.SERVICE} {version} ({subject})", "ref": sha})
    story.bad_commit = events[-1]["ref"]
    return events


def write_history(workdir: Path, now: datetime | None = None, deploy_ago_min: float | None = None,
                  errors_after_min: float | None = None, fault: Fault = COUPON) -> Story:
    """Write logs, repository and ``deploys.jsonl`` (deploys, then ``fault``'s config changes) under
    ``workdir``, plus ``fault``'s extra files; returns the story's known answers (times and bad commit;
    the stage fills in the expected cause)."""
    now = now or datetime.now(timezone.utc)
    deploy_at = now - timedelta(minutes=fault.deploy_ago_min if deploy_ago_min is None else deploy_ago_min)
    errors_from = now - timedelta(minutes=fault.errors_ago_min) if fault.errors_ago_min is not None else \
        deploy_at + timedelta(minutes=fault.errors_after_min if errors_after_min is None else errors_after_min)
    story = Story(now=now, deploy_at=deploy_at, errors_from=errors_from)
    if fault.config_text:
        story.config_at = errors_from - timedelta(minutes=fault.config_before_errors_min)
    write_logs(workdir / "logs", story, fault=fault)
    events = write_repo(workdir / "repo", story, fault)
    if story.config_at is not None:
        events.append({"ts": iso_ms(story.config_at), "kind": "config", "source": fault.config_source,
                       "text": f"config {shop.SERVICE}: {fault.config_text}", "ref": fault.config_ref})
    with open(workdir / "deploys.jsonl", "w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
    if fault.extra is not None:
        fault.extra(workdir / "logs", story, random.Random(29))
    return story
