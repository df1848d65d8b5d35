"""How long `incident-kit import-runbook` takes on the real runbooks of ../shared/runbooks.

Measured as a user sees it: a fresh ``python -m incident_kit import-runbook RUNBOOK -o OUT``
process, interpreter start and imports included, median of 3 runs per runbook. The figure
``import_runbook_s`` is the slowest runbook's median (the target is under 2 s). The in-process
time of :func:`incident_kit.importer.import_runbook` (modules already imported) is shown too.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNBOOKS = sorted((ROOT.parent / "shared" / "runbooks").glob("*.md")) + [ROOT / "tests/data/runbooks/awkward.md"]
ROUNDS = 3


def cold_cli_seconds(runbook: Path, out: Path) -> float:
    """Return the wall time of one fresh CLI process importing ``runbook``."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "incident_kit", "import-runbook", str(runbook), "-o", str(out)],
                   check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - started


def main() -> int:
    """Print per-runbook timings, then the figures; returns 0."""
    from incident_kit.importer import import_runbook

    slowest = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for runbook in RUNBOOKS:
            out = Path(tmp) / f"{runbook.stem}.ipynb"
            cold = statistics.median(cold_cli_seconds(runbook, out) for _ in range(ROUNDS))
            warm = min(import_runbook(runbook, out).seconds for _ in range(ROUNDS))
            lines = len(runbook.read_text(encoding="utf-8", errors="replace").splitlines())
            print(f"{runbook.name}: {lines} lines, CLI (cold process) {cold:.2f} s, in-process {warm:.3f} s")
            slowest = max(slowest, cold)
    print("--- figures ---")
    print(f"import_runbook_s: {slowest:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
