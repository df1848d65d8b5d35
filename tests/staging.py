"""The staged incidents of tests/test_scenarios.py, staged in worker processes while other tests run.

Each incident is staged once, in one of a few worker processes (:func:`stage_and_run`): its
notebooks run through the real runner (papermill, reports), then its cold and historical runs and
the sweep's runs of its files in the worker's long-lived kernel (tests/sweep.py); a further task
sweeps the incidents that are only files (:func:`sweep_files`). :class:`Staging` starts all of it
at once; conftest's ``staging`` fixture does so at the start of a session that selected a test
needing it, so the incidents are staged while the other modules run, and
``test_scenarios.staged_runs`` collects the results.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import sweep

#: How far into the past the historical runs move a staged incident.
SHIFT = timedelta(weeks=5, hours=3)


def stage_and_run(scenario: str, notebooks: list[str], out_dir: str, sweep_dir: str | None) -> dict[str, Any]:
    """Stage ``scenario``'s incident, run ``notebooks`` on it with the real runner (postmortem last, on
    the others' runs), then the staged scenario as a user would, in this worker's kernel
    (tests/sweep.py): "cold" (only the parameters its user knows, on the live incident) and
    "historical" (the same files moved weeks into the past, explicit start/end, after every live
    service has stopped); with ``sweep_dir``, the sweep's runs of the incident's files too."""
    from incident_kit.demo.environment import DemoEnvironment
    from incident_kit.demo.shift import shift_copy, shift_parameters
    from incident_kit.demo.stages import cold_parameters
    from incident_kit.runner import run
    from incident_kit.timeutil import iso, now

    kernel = sweep.worker_kernels()  # started now, so it is ready by the time the incident is
    out = Path(out_dir)
    env = DemoEnvironment(scenario=scenario, warmup_s=3.0).start()
    try:
        story = env.story
        results: dict[str, Any] = {"story": {"kind": story.expected_cause_kind, "text": list(story.expected_cause_text),
                                             "facts": {k: v for k, v in story.facts.items() if isinstance(v, str | int | float)}},
                                   "dropped": {}, "runs": {}}
        done: list[str] = []
        for name in notebooks:
            declared = set(sweep.declared(name))
            params = {k: v for k, v in env.parameters.items() if k in declared}
            results["dropped"][name] = sorted(k for k in env.parameters if k not in declared)
            if name == "postmortem":
                params.update(runs=list(done), reports_dir=out_dir, root_cause="the v1.8.0 checkout change",
                              resolution="rolled back to v1.7.3", action_items=["dana: test checkout without coupon (2026-12-01)"])
            result = run(name, params, out_dir=out_dir)
            done.append(str(result.dir))
            results["runs"][name] = {"dir": str(result.dir), "summary": result.summary}
        cold = cold_parameters(env)
        results["cold_parameters"] = sorted(cold)
        results["cold"] = kernel.run(scenario, cold, out / f"cold-{scenario}")
        past = out / f"past-{scenario}"
        start, end = story.now - timedelta(hours=2) - SHIFT, now() - SHIFT
        paths = shift_copy(env.workdir, past, -SHIFT)
    finally:
        env.stop()
    historical = {**shift_parameters(cold, paths), "start": iso(start), "end": iso(end)}
    results["historical"] = kernel.run(scenario, historical, out / f"historical-{scenario}")
    results["historical_parameters"] = historical  # test_every_scenario_on_every_incident (tests/sweep.py) runs every scenario on these files
    results["times"] = {"errors_from": iso(story.errors_from - SHIFT), "deploy_at": iso(story.deploy_at - SHIFT)}
    if sweep_dir:
        try:
            results["sweep"] = _sweep(kernel, sweep.stage_datasets(scenario, notebooks, results, Path(sweep_dir)), Path(sweep_dir))
        except Exception as exc:  # noqa: BLE001 - fails the sweep's test only
            results["sweep_error"] = f"{scenario} was not swept: {type(exc).__name__}: {exc}"
    return results


def _sweep(kernel: sweep.Kernels, datasets: dict[str, Any], root: Path) -> dict[str, Any]:
    """Run the sweep's ``datasets`` in ``kernel``; returns datasets, results and the seconds it took."""
    started = time.monotonic()
    results = sweep.run_pairs(kernel, sweep.pairs_of(datasets), root / "runs")
    return {"datasets": datasets, "results": results, "seconds": time.monotonic() - started}


def sweep_files(sweep_dir: str) -> dict[str, Any]:
    """The sweep's incidents that are files only (a provider slowdown, a quiet baseline), in this worker's kernel."""
    return _sweep(sweep.worker_kernels(), sweep.provider_datasets(Path(sweep_dir)), Path(sweep_dir))


def leave_a_demo_behind() -> Path:
    """Make this machine one where an earlier demo left its files: a demo-like work directory with a
    failing access log, a deploy of its own and a database reference, where demos put theirs."""
    from incident_kit.demo.environment import demo_home

    left = Path(tempfile.mkdtemp(prefix="ik-demo-leftover-", dir=demo_home()))
    (left / "logs").mkdir()
    (left / "logs" / "access.log").write_text("".join(
        json.dumps({"timestamp": f"2026-01-01T00:{m:02d}:00Z", "service": "shop-api", "status": 500, "path": "/api/checkout",
                    "message": "leftover demo failure"}) + "\n" for m in range(60)))
    (left / "deploys.jsonl").write_text(json.dumps({"ts": "2026-01-01T00:00:00Z", "text": "deploy shop-api v0.0.1-leftover"}) + "\n")
    (left / "parameters.yaml").write_text(f"logs: [{left / 'logs' / 'access.log'}]\ndeploy_events: {left / 'deploys.jsonl'}\n")
    return left


class Staging:
    """Every staged group of ``groups`` (scenario -> its notebooks; those without a stage are
    ``missing``) and, with ``sweep_dir``, the sweep, started at once in ``workers`` processes.
    :meth:`results` waits for them and stops the workers; :meth:`close` cancels what has not
    started and waits for what still runs (each worker stops the services it started). Either
    removes the leftover demo. Runs under ``out``."""

    def __init__(self, groups: dict[str, list[str]], out: Path, sweep_dir: Path | None, workers: int = 3) -> None:
        from incident_kit.demo.stages import SCENARIOS as STAGED

        self.ready = {s: names for s, names in groups.items() if s in STAGED}
        self.missing = sorted(set(groups) - set(self.ready))
        self.leftover: Path | None = leave_a_demo_behind()
        self._found: dict[str, Any] | None = None
        self._pool = ProcessPoolExecutor(max_workers=workers)
        self._files: Future[dict[str, Any]] | None = None
        if sweep_dir is not None:  # as long as a group's work: first
            self._files = self._pool.submit(sweep_files, str(sweep_dir))
        order = sorted(self.ready, key=lambda s: -len(self.ready[s]))  # the longest group first
        self._futures = {s: self._pool.submit(stage_and_run, s, self.ready[s], str(out), str(sweep_dir) if sweep_dir else None)
                         for s in order}

    def results(self) -> dict[str, Any]:
        """Wait for every group; return scenario -> (story, run), ``missing`` (groups without a stage)
        and ``sweep`` (datasets, results, errors of what could not be swept, worker seconds)."""
        if self._found is not None:
            return self._found
        found: dict[str, Any] = {"missing": self.missing,
                                 "sweep": {"datasets": {}, "results": {}, "errors": [], "seconds": 0.0}}
        for scenario, fut in self._futures.items():
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - one incident that cannot be staged fails its own tests only
                for name in self.ready[scenario]:
                    found[name] = {"error": f"{type(exc).__name__}: {exc}"}
                found["sweep"]["errors"].append(f"{scenario} was not swept: {type(exc).__name__}: {exc}")
                continue
            for name, ran in res["runs"].items():
                found[name] = {"story": res["story"], "dropped": res["dropped"][name], **ran}
            found[scenario].update(cold=res["cold"], historical=res["historical"], cold_parameters=res["cold_parameters"],
                                   historical_parameters=res["historical_parameters"], times=res["times"])
            _add_sweep(found["sweep"], res.get("sweep"))
            found["sweep"]["errors"] += [res["sweep_error"]] if "sweep_error" in res else []
        if self._files is not None:
            try:
                _add_sweep(found["sweep"], self._files.result())
            except Exception as exc:  # noqa: BLE001 - fails the sweep's test only
                found["sweep"]["errors"].append(f"the provider and quiet incidents were not swept: {type(exc).__name__}: {exc}")
        self._pool.shutdown(wait=True)  # every task is done: the workers exit, their kernels stop
        self._remove_leftover()
        self._found = found
        return found

    def close(self) -> None:
        """Cancel what has not started, wait for what runs, stop the workers (and their kernels)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._remove_leftover()

    def _remove_leftover(self) -> None:
        if self.leftover is not None:
            shutil.rmtree(self.leftover, ignore_errors=True)
            self.leftover = None


def _add_sweep(into: dict[str, Any], part: dict[str, Any] | None) -> None:
    if part:
        into["datasets"].update(part["datasets"])
        into["results"].update(part["results"])
        into["seconds"] += part["seconds"]
