"""Benchmark the analysis on 1,000,000 log rows: "what is different" and signature mining.

Figures: ``diff_1m_rows_s`` (seconds for analysis.diff of the failing requests in the incident
window against the baseline, across every column, messages compared by signature),
``signatures_lines_per_s`` (analysis.signatures on the 1M messages) and, for reference,
``signatures_unique_lines_per_s`` (the same with a hex request id in every line, so that no line
repeats) and, for reference, ``drain3_lines_per_s`` (drain3's TemplateMiner alone on a
100,000-line sample of the same messages) and the ratio ``signatures_vs_drain3``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import incident_kit.analysis as A  # noqa: E402
from incident_kit.analysis import synthetic  # noqa: E402

ROWS = 1_000_000


def best_of(n: int, fn):
    """Return (best wall seconds, CPU seconds of that run, result) of ``n`` runs."""
    runs, result = [], None
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        runs.append((time.perf_counter() - t, time.process_time() - c))
    wall, cpu = min(runs)
    return wall, cpu, result


def main() -> None:
    t = time.perf_counter()
    inc = synthetic.incident(seed=1, hours=24, rows=ROWS, deploy_before_end_min=120, errors_after_deploy_min=4)
    logs = inc.logs
    print(f"built {len(logs):,} log rows in {time.perf_counter() - t:.1f} s "
          f"({logs['message'].nunique():,} distinct messages, {len(logs.columns)} columns)")

    t = time.perf_counter()
    window = A.window(A.rates(logs))
    print(f"rates + window: {time.perf_counter() - t:.2f} s; window {window.start} .. {window.end}")

    diff_s, diff_cpu, d = best_of(2, lambda: A.diff(logs, window))
    print(f"diff: {diff_s:.2f} s ({diff_cpu:.2f} s CPU); top: " + "; ".join(d.head(4)["text"]))

    messages = logs["message"]
    sig_s, sig_cpu, templates = best_of(2, lambda: A.signatures(messages))
    print(f"signatures: {sig_s:.2f} s ({sig_cpu:.2f} s CPU) for {len(templates):,} lines, {len(set(templates))} templates")

    # Worst case: every line carries a request id of hex letters and digits, so none repeats.
    rng = np.random.default_rng(2)
    ids = pd.Series(rng.integers(0, 2**63, ROWS)).map("{:016x}".format).astype("string")
    unique = ("request " + ids + " " + messages).astype("string")
    uniq_s, uniq_cpu, uniq_templates = best_of(1, lambda: A.signatures(unique))
    print(f"signatures, every line unique: {uniq_s:.2f} s ({uniq_cpu:.2f} s CPU), {len(set(uniq_templates))} templates")

    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    sample = messages.iloc[:100_000].tolist()
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    t = time.perf_counter()
    for m in sample:
        miner.add_log_message(m)
    drain_s = time.perf_counter() - t
    print(f"drain3 TemplateMiner alone: {drain_s:.2f} s for {len(sample):,} lines")
    print(f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    print("--- figures ---")
    print(f"diff_1m_rows_s: {diff_s:.2f}")
    print(f"signatures_lines_per_s: {len(templates) / sig_s:.0f}")
    print(f"signatures_unique_lines_per_s: {len(uniq_templates) / uniq_s:.0f}")
    print(f"drain3_lines_per_s: {len(sample) / drain_s:.0f}")
    print(f"signatures_vs_drain3: {(len(templates) / sig_s) / (len(sample) / drain_s):.2f}x")


if __name__ == "__main__":
    main()
