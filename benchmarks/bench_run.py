"""`incident-kit run` of the demo scenario against the bare pair `papermill` + `jupyter nbconvert --no-input`.

Both execute the same notebook with the same parameters against the same live demo environment,
alternating, three times each; the figure is the ratio of the medians.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NOTEBOOK = ROOT / "notebooks" / "high_error_rate.ipynb"


def timed(cmd: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed: {proc.stderr[-1500:]}")
    return elapsed


def main() -> None:
    from incident_kit.demo.environment import DemoEnvironment

    with tempfile.TemporaryDirectory() as tmp, DemoEnvironment(warmup_s=3) as env:
        work = Path(tmp)
        params = work / "params.yaml"
        params.write_text(yaml.safe_dump(dict(env.parameters)))
        ours, bare = [], []
        for i in range(3):
            ours.append(timed([str(BIN / "incident-kit"), "run", str(NOTEBOOK), "-f", str(params), "--quiet",
                               "--out", str(work / "reports")], work))
            out_nb = work / f"bare-{i}.ipynb"
            bare.append(timed([str(BIN / "papermill"), "--no-progress-bar", str(NOTEBOOK), str(out_nb), "-f", str(params),
                               "-p", "output_dir", str(work / f"bare-out-{i}")], work)
                        + timed([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(out_nb)], work))
            print(f"round {i + 1}: incident-kit run {ours[-1]:.2f}s, papermill+nbconvert {bare[-1]:.2f}s", flush=True)
    ratio = statistics.median(ours) / statistics.median(bare)
    print(f"median: incident-kit run {statistics.median(ours):.2f}s, bare pair {statistics.median(bare):.2f}s")
    print("--- figures ---")
    print(f"run_vs_bare_cli: {ratio:.2f}x")


if __name__ == "__main__":
    main()
