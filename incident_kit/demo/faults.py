"""How each staged incident looks in the log history: one :class:`Fault` per kind of failure.

A fault says which change came before the incident (the commit deployed as ``version`` and, for
some, a config change), when the errors start, and what a request looks like once they have
(``fail``). The history writer (:mod:`.history`) keeps the shared shape (two hours of shop-api
traffic, a git repository, ``deploys.jsonl``); the stages (:mod:`.stages`) build the faults, with
the live ports and paths so that the past names the same things the present does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import shop

if TYPE_CHECKING:
    from .history import Story

#: ``fail(rng, method, path, latency_ms)`` -> ``(status, message, latency_ms)`` or None (served normally).
FailFn = Callable[[random.Random, str, str, float], "tuple[int, str, float] | None"]
#: ``extra(logdir, story, rng)`` writes the variant's own files (kernel log, auth log, worker log).
ExtraFn = Callable[[Path, "Story", random.Random], None]

#: Deployed long before the two hours of logs: "nothing changed near the incident".
LONG_AGO_MIN = 300.0
QUIET_COMMIT = ("admin: generate the sitemap nightly", {"shop/sitemap.py": "SCHEDULE = \"0 3 * * *\"\n"})


def _default_logger(path: str, message: str) -> str:
    return "checkout" if "checkout" in path else "http"


@dataclass
class Fault:
    """The past of one incident (see the module docstring); every field has the high_error_rate default."""

    name: str
    fail: FailFn
    version: str = shop.BAD_VERSION
    commit_subject: str = shop.FAULT_COMMIT_SUBJECT
    commit_files: dict[str, str] = field(default_factory=lambda: {
        "shop/checkout.py": "def apply_coupon(order, coupon):\n    return order.total * coupon.currency.rate\n"})
    deploy_ago_min: float = 20.0
    errors_after_min: float = 3.0
    errors_ago_min: float | None = None          # set: errors start this long before now, whatever the deploy
    version_from_errors: bool = False            # label requests with ``version`` only once they fail
    config_text: str = ""                        # a config change event shortly before the errors
    config_before_errors_min: float = 0.5
    config_source: str = "config-service"
    config_ref: str | None = None
    endpoints: list[tuple[str, str, float, float]] = field(default_factory=lambda: list(shop.ENDPOINTS))
    extra: ExtraFn | None = None
    logger: Callable[[str, str], str] = _default_logger


def quiet(name: str, fail: FailFn, errors_ago_min: float, **kw: Any) -> Fault:
    """Return a fault whose last deploy is hours old: the incident is not caused by a change."""
    subject, files = QUIET_COMMIT
    return Fault(name=name, fail=fail, version="v1.7.4", commit_subject=subject, commit_files=files,
                 deploy_ago_min=LONG_AGO_MIN, errors_ago_min=errors_ago_min, **kw)


# -- high_error_rate: the coupon bug of v1.8.0 -------------------------------------------------
def coupon_fail(rng: random.Random, method: str, path: str, latency: float) -> tuple[int, str, float] | None:
    """Checkouts without a coupon fail with ``shop.FAULT_MESSAGE`` (a few with lock timeouts)."""
    if path != "/api/checkout" or rng.random() >= 0.9:
        return None
    if rng.random() < 0.12:
        return (500, shop.LOCK_MESSAGE.format(order=rng.randint(40000, 99999), product=rng.randint(1, shop.PRODUCTS)),
                round(200 + rng.random() * 30, 2))
    return 500, shop.FAULT_MESSAGE.format(order=rng.randint(40000, 99999)), latency


COUPON = Fault(name="coupon", fail=coupon_fail, version_from_errors=True)


# -- building blocks for the other variants ------------------------------------------------------
def on_paths(paths: tuple[str, ...], share: float, status: int, message: str | Callable[[random.Random], str],
             latency: Callable[[random.Random, float], float] | None = None, prefix: bool = False) -> FailFn:
    """Return a fail function: a ``share`` of the requests to ``paths`` (prefixes if ``prefix``)
    answer ``status`` with ``message`` (a string or ``rng -> str``) and ``latency(rng, normal)``."""

    def fail(rng: random.Random, method: str, path: str, normal: float) -> tuple[int, str, float] | None:
        hit = any(path.startswith(p) for p in paths) if prefix else path in paths
        if not hit or rng.random() >= share:
            return None
        text = message(rng) if callable(message) else message
        return status, text, round(latency(rng, normal), 2) if latency else normal

    return fail


def slow(paths: tuple[str, ...], median_ms: float) -> FailFn:
    """Return a fail function under which ``paths`` answer 200 but take about ``median_ms``."""

    def fail(rng: random.Random, method: str, path: str, normal: float) -> tuple[int, str, float] | None:
        if path not in paths:
            return None
        return 200, f"{method} {path} 200", round(rng.lognormvariate(0, 0.35) * median_ms, 2)

    return fail


def any_of(*fns: FailFn) -> FailFn:
    """Return a fail function trying each of ``fns`` in turn (the first outcome wins)."""

    def fail(rng: random.Random, method: str, path: str, normal: float) -> tuple[int, str, float] | None:
        for fn in fns:
            out = fn(rng, method, path, normal)
            if out is not None:
                return out
        return None

    return fail


def with_endpoint(method: str, path: str, share: float, median_ms: float) -> list[tuple[str, str, float, float]]:
    """Return the shop's traffic mix with one more endpoint taking ``share`` (the others scaled down)."""
    scale = 1.0 - share
    return [(m, p, s * scale, med) for m, p, s, med in shop.ENDPOINTS] + [(method, path, share, median_ms)]


__all__ = ["COUPON", "Fault", "LONG_AGO_MIN", "any_of", "coupon_fail", "on_paths", "quiet", "slow", "with_endpoint"]
