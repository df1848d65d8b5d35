"""Recall sweep: gitleaks samples for many seeds, in every context, through the redaction pass.

Not a test and not a timing: a tool to find *classes* of leaks before acceptance does. For each
seed it draws one sample of every gitleaks rule in each context of ``tests/gitleaks_oracle.CONTEXTS``
(the generator the tests use) and checks the raw line and its HTML- and JSON-escaped forms. Prints
``seeds= samples= leak_forms= leaked_samples=`` and every leak grouped by rule, with contexts,
forms and a few examples (seed, secret, line)::

    python benchmarks/sweep_gitleaks.py 0 300        # seeds 0..299, 2 worker processes
    python benchmarks/sweep_gitleaks.py 0 300 --jobs 1
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from collections import Counter, defaultdict
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from gitleaks_oracle import CONTEXTS, samples  # noqa: E402

SHARED = ROOT.parent / "shared"


def one(seed: int) -> tuple[int, list[tuple[str, str, str, int, str, str]]]:
    """Return ``(samples checked, leaks)`` for ``seed``; a leak is (rule, context, form, seed, secret, line)."""
    from incident_kit.redact import redact_text

    total, leaks = 0, []
    for i, (ctx, template) in enumerate(CONTEXTS.items()):
        made, _ = samples(SHARED, seed=seed * 100 + i, per_rule=1, contexts={ctx: template})
        for s in made:
            total += 1
            forms = [("raw", str), ("html", html.escape)]
            if not any(c in s.line for c in "\t\n"):
                forms.append(("json", json.dumps))
            for form, escape in forms:
                out, _ = redact_text(escape(s.line))
                if escape(s.secret).strip('"') in out:
                    leaks.append((s.rule, s.context, form, seed, s.secret, s.line))
    return total, leaks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("first", type=int)
    ap.add_argument("stop", type=int)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    t0 = time.time()
    with Pool(args.jobs) as pool:
        results = pool.map(one, range(args.first, args.stop), chunksize=1)
    total = sum(r[0] for r in results)
    leaks = [leak for r in results for leak in r[1]]
    samples_leaked = len({(x[0], x[3], x[5]) for x in leaks})
    print(f"seeds={args.stop - args.first} samples={total} leak_forms={len(leaks)} "
          f"leaked_samples={samples_leaked} ({time.time() - t0:.0f}s)")
    by_rule: dict[str, list] = defaultdict(list)
    for x in leaks:
        by_rule[x[0]].append(x)
    for rule, xs in sorted(by_rule.items(), key=lambda kv: -len(kv[1])):
        print(f"{rule}: {len(xs)}  contexts={dict(Counter(x[1] for x in xs))} forms={dict(Counter(x[2] for x in xs))}")
        for x in list({x[4]: x for x in xs}.values())[:4]:
            print(f"    seed={x[3]} {x[1]}/{x[2]} secret={x[4]!r}\n        line={x[5][:220]!r}")


if __name__ == "__main__":
    main()
