"""Incidents as a user has them: files on disk (nginx access log, application JSON log, git history).

:func:`provider_slowdown` writes the class of incident issue 20 describes: an upstream provider
slows one endpoint for a while, days ago; the application logs warnings/errors naming the
provider; the git history has decoys (a deploy after the start that touches the slow endpoint,
an unrelated commit shortly before it, an old change to the provider's client). Every figure
varies with the seed (hosts, endpoint, wording, level, field or URL, timings), so a test built on
it checks the class, not one file. Nothing here imports incident_kit: the files are what a user
would hand to it.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HOSTS = ["api.paygate.io", "payments.acmepay.com", "api.checkoutly.net", "charge.stripe-like.dev", "pay.example.org",
         "gw.payflux.co"]
ENDPOINTS = [("POST", "/api/checkout"), ("POST", "/api/orders"), ("POST", "/api/payments"), ("PUT", "/api/cart/pay")]
OTHERS = [("GET", "/api/products", 0.40, 35.0), ("GET", "/api/products/{id}", 0.25, 22.0), ("GET", "/api/cart", 0.12, 18.0),
          ("GET", "/health", 0.05, 2.0)]
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


@dataclass
class Written:
    """What :func:`provider_slowdown` wrote and the answers a correct investigation gives."""

    root: Path
    access_log: Path
    app_log: Path
    repo: Path
    start: datetime
    end: datetime
    service: str
    host: str
    method: str
    path: str
    base_ms: float
    slow_ms: float
    decoy_after: str = ""          # sha of the deploy made after the start
    decoy_before: str = ""         # sha of the unrelated commit shortly before the start
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"

    def parameters(self, pad_min: float = 90.0, service: bool = False) -> dict[str, Any]:
        """The parameters a user of this incident gives: logs, repository, window (padded) and, with
        ``service``, the service name (which the access log does not carry). The pad is the user's
        look-back: window() judges a change against at least an hour of history before it."""
        out = {"logs": [str(self.access_log), str(self.app_log)], "git_repo": str(self.repo),
               "start": _iso(self.start - timedelta(minutes=pad_min)), "end": _iso(self.end + timedelta(minutes=pad_min))}
        return {**out, "service": self.service} if service else out


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clf(t: datetime) -> str:
    return f"{t.day:02d}/{MONTHS[t.month - 1]}/{t.year}:{t:%H:%M:%S} +0000"


#: The default "now" of the generated incidents (a fixed instant, so tests see the same data each run).
REFERENCE_NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def provider_slowdown(root: Path, *, seed: int = 1, days_ago: float = 9.0, duration_min: float = 38.0,
                      base_ms: float = 120.0, slow_ms: float = 6000.0, rps: float = 1.2, before_h: float = 3.0,
                      after_min: float = 45.0, decoy_after_min: float | None = None,
                      decoy_before_min: float | None = None, now: datetime | None = None) -> Written:
    """Write a provider slowdown incident under ``root`` and return where and what it is
    (``duration_min=0``: the same service and history without an incident, a quiet baseline).

    ``seed`` picks the provider host, the slow endpoint, how the application names the provider
    (a URL in the message, a ``provider``/``upstream`` field, or ``host:port``), the level of its
    lines and the decoys' timings unless given.
    """
    rng = random.Random(seed)
    if (root / "repo").exists():
        raise FileExistsError(f"{root / 'repo'} exists: provider_slowdown writes into a new directory")
    root.mkdir(parents=True, exist_ok=True)
    # A fixed clock by default: the same data on every run and every day (``days_ago`` counts back from
    # it, so the incident is always in the past); pass ``now`` to place it elsewhere.
    now = now or REFERENCE_NOW
    start = (now - timedelta(days=days_ago)).replace(microsecond=0) + timedelta(seconds=rng.randint(0, 59))
    end = start + timedelta(minutes=duration_min)
    host = rng.choice(HOSTS)
    method, path = rng.choice(ENDPOINTS)
    style = rng.choice(["url", "field", "hostport"])
    level = rng.choice(["warning", "warn", "error"])
    service = rng.choice(["shop", "storefront", "checkout-svc"])
    timeout_ms = rng.choice([5000, 8000, 10000])
    decoy_after_min = decoy_after_min if decoy_after_min is not None else rng.uniform(6.0, 20.0)
    decoy_before_min = decoy_before_min if decoy_before_min is not None else rng.uniform(25.0, 90.0)
    first = start - timedelta(hours=before_h)
    last = end + timedelta(minutes=after_min)
    seconds = (last - first).total_seconds()
    n = int(seconds * rps)
    times = sorted(first + timedelta(seconds=rng.uniform(0, seconds)) for _ in range(n))
    share = 0.18
    weights = [share] + [o[2] for o in OTHERS]
    access, app = [], []
    provider_lines = slow_lines = failed = 0
    for i, t in enumerate(times):
        pick = rng.choices(range(len(weights)), weights=weights)[0]
        ip = f"10.{rng.randint(0, 3)}.{rng.randint(0, 250)}.{rng.randint(1, 250)}"
        status = 200
        if pick == 0:
            m, p = method, path
            slow = start <= t < end
            provider = (slow_ms if slow else base_ms * 0.7) * math.exp(rng.gauss(0, 0.25 if slow else 0.35))
            ms = provider + base_ms * 0.3 * math.exp(rng.gauss(0, 0.3))
            order = rng.randint(10000, 99999)
            if slow and provider >= timeout_ms:
                status, ms = 504, timeout_ms + rng.uniform(5, 40)
            if slow and provider > 1000:
                provider_lines += 1
                slow_lines += 1
                app.append(_provider_line(t + timedelta(milliseconds=ms), style, level, host, service, provider,
                                          timeout_ms, order, status == 504, rng))
            else:
                paid = {"ts": _iso(t + timedelta(milliseconds=ms)), "level": "info", "service": service,
                        "message": f"order {order} paid in {provider:.0f} ms", "order_id": order}
                if style == "field":  # structured logging names the upstream on every call's line
                    paid["upstream"] = host
                app.append(paid)
        else:
            m, p, _, med = OTHERS[pick - 1]
            p = p.replace("{id}", str(rng.randint(1, 4000)))
            ms = med * math.exp(rng.gauss(0, 0.4))
            if rng.random() < 0.003:
                status = rng.choice([500, 502])
        if status >= 500:
            failed += 1
        size = rng.randint(200, 9000)
        access.append(f'{ip} - - [{_clf(t)}] "{m} {p} HTTP/1.1" {status} {size} "-" "Mozilla/5.0 (X11; Linux x86_64)" '
                      f"{ms / 1000:.3f}")
        if rng.random() < 0.004:  # background noise the app logs all the time
            app.append({"ts": _iso(t), "level": "warning", "service": service,
                        "message": rng.choice(["cache refresh took 812 ms for products:list",
                                               "slow query 640 ms: SELECT * FROM products ORDER BY name",
                                               "retrying email send to smtp relay (attempt 2)"])})
    # an old, rare provider hiccup in the baseline: not new, not the incident
    for k in range(2):
        t = first + timedelta(minutes=20 + 50 * k)
        app.append(_provider_line(t, style, level, host, service, timeout_ms + 5, timeout_ms, rng.randint(10000, 99999), True, rng))
    app.sort(key=lambda r: r["ts"])
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    access_log, app_log = logs / "access.log", logs / "app.json.log"
    access_log.write_text("\n".join(access) + "\n", encoding="utf-8")
    app_log.write_text("\n".join(json.dumps(r) for r in app) + "\n", encoding="utf-8")
    repo = root / "repo"
    shas = _history(repo, rng, start, path, host, decoy_after_min, decoy_before_min)
    return Written(root, access_log, app_log, repo, start, end, service, host, method, path, base_ms, slow_ms,
                   decoy_after=shas["after"], decoy_before=shas["before"],
                   facts={"style": style, "level": level, "provider_lines": provider_lines, "failed": failed,
                          "requests": len(access), "timeout_ms": timeout_ms, "decoy_after_min": decoy_after_min,
                          "decoy_before_min": decoy_before_min})


def _provider_line(t: datetime, style: str, level: str, host: str, service: str, took: float, timeout_ms: int,
                   order: int, timed_out: bool, rng: random.Random) -> dict[str, Any]:
    call = f"https://{host}/v1/charges"
    what = (f"timed out after {timeout_ms} ms" if timed_out else f"took {took:.0f} ms (slow)")
    record: dict[str, Any] = {"ts": _iso(t), "level": level if timed_out or level != "error" else "warning",
                              "service": service, "order_id": order}
    if style == "url":
        record["message"] = f"payment call POST {call} {what}"
    elif style == "field":
        record["message"] = f"payment provider request {what}"
        record["upstream"] = host
    else:
        record["message"] = f"upstream {host}:443 {what} while charging order {order}"
    return record


def _git(repo: Path, *args: str, when: datetime | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.org", "GIT_COMMITTER_NAME": "dev",
           "GIT_COMMITTER_EMAIL": "dev@example.org", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def _commit(repo: Path, when: datetime, subject: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        f = repo / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text, encoding="utf-8")
        _git(repo, "add", name)
    _git(repo, "commit", "-q", "-m", subject, when=when)
    return _git(repo, "rev-parse", "HEAD")


def _history(repo: Path, rng: random.Random, start: datetime, path: str, host: str, after_min: float,
             before_min: float) -> dict[str, str]:
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", "main")
    area = path.strip("/").split("/")[-1]
    _commit(repo, start - timedelta(days=12), "initial import", {"README.md": "shop\n", f"shop/{area}.py": "def handle(): ...\n"})
    _commit(repo, start - timedelta(days=4, hours=3), f"payments: log the latency of calls to {host}",
            {"shop/payments/client.py": f"HOST = '{host}'\nTIMEOUT_S = 10\n"})
    _commit(repo, start - timedelta(days=1, hours=5), "search: paginate the product listing",
            {"shop/search.py": "PAGE = 50\n"})
    before = _commit(repo, start - timedelta(minutes=before_min), "docs: update the on-call contacts",
                     {"docs/oncall.md": "ask #shop-oncall\n"})
    after = _commit(repo, start + timedelta(minutes=after_min), f"deploy: {area} shows the delivery estimate (release v2.{rng.randint(3, 9)}.0)",
                    {f"shop/{area}.py": "def handle():\n    return estimate()\n", f"templates/{area}.html": "<p>estimate</p>\n"})
    return {"before": before, "after": after}


__all__ = ["Written", "provider_slowdown"]
