"""The demo's past: two hours of access and application logs, a git repository and deploy events.

The story: ``shop-api`` served steady traffic (``shop.BASELINE_RPS``, ~0.4% errors); a commit
touching the checkout path was deployed ``deploy_ago`` before now as ``shop.BAD_VERSION``; a
few minutes later, as the rollout reached all instances, checkouts without a coupon began to fail
with ``shop.FAULT_MESSAGE``. Two harmless commits came before it.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import shop


@dataclass
class Story:
    """The known answers of the demo incident (what a correct investigation must find)."""

    now: datetime
    deploy_at: datetime
    errors_from: datetime
    bad_commit: str = ""


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _request(rng: random.Random, ts: datetime, failing: bool) -> dict[str, object]:
    method, path, median = shop.pick_endpoint(rng)
    latency = round(rng.lognormvariate(0, 0.45) * median, 2)
    status, level, message = 200, "info", f"{method} {path} 200"
    version = shop.BAD_VERSION if failing else shop.GOOD_VERSION
    if path == "/api/checkout" and failing and rng.random() < 0.9:
        status, level = 500, "error"
        if rng.random() < 0.12:
            latency = round(200 + rng.random() * 30, 2)
            message = shop.LOCK_MESSAGE.format(order=rng.randint(40000, 99999), product=rng.randint(1, shop.PRODUCTS))
        else:
            message = shop.FAULT_MESSAGE.format(order=rng.randint(40000, 99999))
    elif rng.random() < 0.004:
        status, level = rng.choice([(502, "error"), (504, "error")])
        message = rng.choice(shop.BASELINE_ERRORS).format(ms=rng.randint(3000, 9000))
    elif path.startswith("/api/products/") and rng.random() < 0.02:
        status, message = 404, f"{method} {path} 404"
    return {
        "timestamp": _iso(ts), "level": level, "service": shop.SERVICE, "method": method, "path": path,
        "status": status, "duration_ms": latency, "client": shop.client_ip(rng), "user_id": shop.user_id(rng),
        "request_id": uuid.UUID(int=rng.getrandbits(128)).hex[:16], "version": version, "message": message,
    }


def write_logs(logdir: Path, story: Story, hours: float = 2.0, seed: int = 7) -> int:
    """Write ``access.log`` and ``app.log`` covering ``hours`` before ``story.now``; returns the request count."""
    rng = random.Random(seed)
    logdir.mkdir(parents=True, exist_ok=True)
    ts = story.now - timedelta(hours=hours)
    n = 0
    with open(logdir / "access.log", "w", encoding="utf-8") as access, open(logdir / "app.log", "w", encoding="utf-8") as app:
        app.write(json.dumps({"timestamp": _iso(ts), "level": "info", "service": shop.SERVICE, "logger": "boot",
                              "message": f"shop-api {shop.GOOD_VERSION} started"}) + "\n")
        deployed = False
        while ts < story.now:
            ts += timedelta(seconds=rng.expovariate(shop.BASELINE_RPS))
            if not deployed and ts >= story.deploy_at:
                deployed = True
                app.write(json.dumps({"timestamp": _iso(story.deploy_at), "level": "info", "service": shop.SERVICE,
                                      "logger": "deploy", "message": f"deploy {shop.GOOD_VERSION} -> {shop.BAD_VERSION}"}) + "\n")
            record = _request(rng, ts, failing=ts >= story.errors_from)
            access.write(json.dumps(record, separators=(",", ":")) + "\n")
            if record["level"] == "error":
                app.write(json.dumps({"timestamp": record["timestamp"], "level": "error", "service": shop.SERVICE,
                                      "logger": "checkout" if "checkout" in str(record["path"]) else "http",
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


def write_repo(repo: Path, story: Story) -> list[dict[str, str]]:
    """Create the shop's git repository with three dated commits; returns deploy events (the last is the bad one)."""
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "Dana Developer")
    _git(repo, "config", "user.email", "dana@shop.example")
    commits = [
        (story.now - timedelta(hours=27), "search: paginate product listing", {"shop/products.py": "PAGE_SIZE = 20\n"}),
        (story.now - timedelta(hours=6), "deps: bump httpx to 0.27", {"requirements.txt": "httpx==0.27.0\npsycopg==3.2\n"}),
        (story.deploy_at - timedelta(minutes=4), shop.FAULT_COMMIT_SUBJECT,
         {"shop/checkout.py": "def apply_coupon(order, coupon):\n    return order.total * coupon.currency.rate\n"}),
    ]
    events = []
    for i, (when, subject, files) in enumerate(commits):
        for name, text in files.items():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", subject, when=when)
        sha = _git(repo, "rev-parse", "HEAD")
        version = shop.BAD_VERSION if i == len(commits) - 1 else f"v1.7.{i + 2}"
        deployed_at = story.deploy_at if i == len(commits) - 1 else when + timedelta(minutes=6)
        events.append({"ts": _iso(deployed_at), "kind": "deploy", "source": "ci",
                       "text": f"deploy {shop.SERVICE} {version} ({subject})", "ref": sha})
    story.bad_commit = events[-1]["ref"]
    return events


def write_history(workdir: Path, now: datetime | None = None, deploy_ago_min: float = 20.0,
                  errors_after_min: float = 3.0) -> Story:
    """Write logs, repository and ``deploys.jsonl`` under ``workdir``; returns the story's known answers."""
    now = now or datetime.now(timezone.utc)
    deploy_at = now - timedelta(minutes=deploy_ago_min)
    story = Story(now=now, deploy_at=deploy_at, errors_from=deploy_at + timedelta(minutes=errors_after_min))
    write_logs(workdir / "logs", story)
    events = write_repo(workdir / "repo", story)
    with open(workdir / "deploys.jsonl", "w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
    return story
