"""Run every ``benchmarks/bench_*.py`` and end with one ``<name>: <value>`` line per figure.

Each benchmark script prints what it likes, and its figures as lines ``<name>: <value>``
(ratios as ``1.23x``) after a line ``--- figures ---``. This driver runs them one after the
other (they are timed, so never in parallel), shows their output, and repeats the figures last.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run the benchmarks; returns non-zero if any failed."""
    only = set(sys.argv[1:])
    figures: list[str] = []
    failed: list[str] = []
    for script in sorted(HERE.glob("bench_*.py")):
        if only and script.stem.removeprefix("bench_") not in only:
            continue
        print(f"== {script.name}", flush=True)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr[-4000:])
        if proc.returncode != 0:
            failed.append(script.name)
            continue
        lines = proc.stdout.splitlines()
        if "--- figures ---" in lines:
            figures += [ln for ln in lines[lines.index("--- figures ---") + 1 :] if ": " in ln]
    print()
    for line in figures:
        print(line)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
