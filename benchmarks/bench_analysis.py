"""Benchmark the analysis on 1,000,000 log rows: "what is different" and signature mining.

Figures: ``diff_1m_rows_s`` (seconds for analysis.diff of the failing requests in the incident
window against the baseline, across every column, messages compared by signature),
``signatures_lines_per_s`` (analysis.signatures on the 1M messages) and, for reference,
``signatures_unique_lines_per_s`` (the same with a hex request id in every line, so that no line
repeats) and, for reference, ``drain3_lines_per_s`` (drain3's TemplateMiner alone on a
100,000-line sample of the same messages) and the ratio ``signatures_vs_drain3``.
Incident window: ``window_10k_points_ms`` (best of 5 wall times of analysis.window on a 7-day,
1-minute series with a daily cycle: 10,080 points), ``nab_window_f1`` and ``nab_best_published_f1``
(../shared/tools/nab_window.py on the NAB files in ../shared/data/nab, window()'s defaults against
the best published detector in the same run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
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


def window_figures() -> list[str]:
    """Return the incident window's figure lines: speed on 10k points and F1 on NAB."""
    rng = np.random.default_rng(3)
    n = 7 * 1440
    index = pd.date_range("2026-03-01", periods=n, freq="1min", tz="UTC")
    values = 100 + 30 * np.sin(2 * np.pi * np.arange(n) / 1440) + rng.normal(0, 3, n)
    values[n - 600:n - 570] += 25
    series = pd.Series(values, index=index, name="requests")
    wall, cpu, w = best_of(5, lambda: A.window(series))
    print(f"window on {n:,} points: {wall * 1000:.0f} ms ({cpu * 1000:.0f} ms CPU); {w.reason}")
    lines = [f"window_10k_points_ms: {wall * 1000:.0f}"]
    root = Path(__file__).resolve().parents[1]
    tool, nab = root.parent / "shared" / "tools" / "nab_window.py", root.parent / "shared" / "data" / "nab"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "nab.json"
        run = subprocess.run([sys.executable, str(tool), "--nab", str(nab), "--cache", tmp, "--json", str(out)],
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(root)})
        print(run.stdout)
        if run.returncode:
            raise SystemExit(f"nab_window.py failed: {run.stderr.strip()[-500:]}")
        figures = json.loads(out.read_text())
    kit, best = figures["results"]["window()"], figures["results"][figures["best_published"]]
    lines += [f"nab_window_f1: {kit['f1']:.3f}", f"nab_best_published_f1: {best['f1']:.3f}",
              f"nab_window_median_start_error_min: {kit['median_start_error_min']}"]
    return lines


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

    window_lines = window_figures()
    print("--- figures ---")
    for line in window_lines:
        print(line)
    print(f"diff_1m_rows_s: {diff_s:.2f}")
    print(f"signatures_lines_per_s: {len(templates) / sig_s:.0f}")
    print(f"signatures_unique_lines_per_s: {len(uniq_templates) / uniq_s:.0f}")
    print(f"drain3_lines_per_s: {len(sample) / drain_s:.0f}")
    print(f"signatures_vs_drain3: {(len(templates) / sig_s) / (len(sample) / drain_s):.2f}x")


if __name__ == "__main__":
    main()
