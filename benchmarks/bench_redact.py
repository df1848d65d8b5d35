"""Redaction speed: the run's redaction pass over a 100 MB mixed log.

The corpus (generated once under .bench/) cycles through the ten loghub sets in ../shared (read in
place), JSON application lines with ordinary key=value pairs, access-log lines, and about one line
in 200 holding a credential of some kind (tokens, passwords in URLs, Authorization headers, keys
named after services, private keys). Figures:
  - ``redact_mb_per_s``: MB of text per second through ``Redactor().text`` (median of the runs;
    target >= 50 MB/s with 200+ rules);
  - ``redact_cpu_mb_per_s``: the same per second of CPU time (wall time on a shared, loaded
    machine says more about the other processes; the load average is printed beside them);
  - ``redact_vs_no_prefilter``: how much faster than the same rules each run over the whole text
    (no keyword prefilter; rules that need a keyword on their line then fire everywhere), measured
    on a 10 MB slice;
  - ``redact_lines_changed_pct``: share of lines changed (the planted ones, nothing else).
"""

from __future__ import annotations

import dataclasses
import os
import random
import statistics
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from incident_kit.redact import Redactor  # noqa: E402
from incident_kit.redact_rules import BUILTIN_RULES  # noqa: E402

CACHE = ROOT / ".bench"
SIZE = int(os.environ.get("BENCH_REDACT_MB", "100")) * 1_000_000
RUNS = int(os.environ.get("BENCH_REDACT_RUNS", "3"))
LOGHUB = ROOT.parent / "shared" / "data" / "loghub"


def _secret_line(rng: random.Random) -> str:
    alnum = string.ascii_letters + string.digits

    def r(n: int, alphabet: str = alnum) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    return rng.choice([
        f"2026-11-22T14:03:07Z ERROR payments stripe call failed key=sk_live_{r(24)}",
        f"connecting to postgresql://shop:{r(16)}@db.internal:5432/shop failed",
        f"upstream headers: Authorization: Bearer {r(40)}",
        f'{{"level":"warn","msg":"config","DATADOG_API_KEY":"{r(32, "0123456789abcdef")}"}}',
        f"git clone https://github.com/acme/shop.git with ghp_{r(36)}",
        f"aws: using key AKIA{r(16, string.ascii_uppercase + string.digits)} secret={r(40)}",
        f"-----BEGIN RSA PRIVATE KEY-----\\n{r(64)}\\n{r(64)}\\n-----END RSA PRIVATE KEY-----",
        f"slack notify via xoxb-{r(12, string.digits)}-{r(12, string.digits)}-{r(24)} ok=false",
    ])


def corpus() -> Path:
    """Write the mixed corpus if missing; return its path."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"redact_{SIZE // 1_000_000}mb.log"
    if path.exists() and path.stat().st_size >= SIZE:
        return path
    rng = random.Random(7)
    hub = [ln for p in sorted(LOGHUB.glob("*/*.log")) for ln in p.read_text(encoding="utf-8", errors="replace").splitlines()]
    services = ["shop-api", "checkout", "inventory", "auth", "search"]
    written = 0
    with open(path, "w", encoding="utf-8") as f:
        i = 0
        while written < SIZE:
            kind = i % 4
            if i % 200 == 199:
                line = _secret_line(rng)
            elif kind == 0 or kind == 1:
                line = hub[(i * 7919) % len(hub)]
            elif kind == 2:
                line = (f'{{"ts":"2026-11-22T14:{i % 60:02d}:07Z","level":"info","service":"{services[i % 5]}",'
                        f'"msg":"cache lookup","key":"user:{i % 977}:cart","request_id":"{rng.getrandbits(128):032x}",'
                        f'"duration_ms":{i % 300}.{i % 10}}}')
            else:
                line = (f'10.0.{i % 255}.{i % 7} - - [22/Nov/2026:14:03:07 +0000] "GET /api/products?page={i % 40}&sort=desc '
                        f'HTTP/1.1" {200 if i % 50 else 502} {i % 9000} "-" "Mozilla/5.0 (X11; Linux x86_64)"')
            f.write(line + "\n")
            written += len(line) + 1
            i += 1
    return path


def main() -> None:
    """Print the timings and the figures."""
    path = corpus()
    text = path.read_text(encoding="utf-8")
    mb = len(text.encode("utf-8")) / 1e6
    red = Redactor()
    red.text("warm up token=abc")
    times, cpu = [], []
    out = text
    for _ in range(RUNS):
        t0, c0 = time.perf_counter(), time.process_time()
        out, n = red.text(text)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    secs = statistics.median(times)
    changed = sum(1 for a, b in zip(text.splitlines(), out.splitlines()) if a != b)
    lines = text.count("\n")
    print(f"{len(BUILTIN_RULES)} rules, {mb:.0f} MB, {lines:,} lines: {secs:.2f}s per pass (runs {[round(t, 2) for t in times]}, "
          f"CPU {[round(c, 2) for c in cpu]}), {n:,} replacements; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    slice_ = text[:10_000_000]
    slice_ = slice_[: slice_.rfind("\n") + 1]
    flat = Redactor([dataclasses.replace(r, keywords=(), case_keywords=()) for r in BUILTIN_RULES])
    t0 = time.perf_counter()
    flat_out, _ = flat.text(slice_)
    flat_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast_out, _ = red.text(slice_)
    fast_s = time.perf_counter() - t0
    print(f"10 MB slice: {flat_s:.2f}s without the keyword prefilter, {fast_s:.2f}s with it")
    print("--- figures ---")
    print(f"redact_mb_per_s: {mb / secs:.1f}")
    print(f"redact_cpu_mb_per_s: {mb / statistics.median(cpu):.1f}")  # the same per CPU second: what a busy machine hides
    print(f"redact_vs_no_prefilter: {flat_s / fast_s:.1f}x")
    print(f"redact_lines_changed_pct: {100 * changed / lines:.2f}")


if __name__ == "__main__":
    main()
