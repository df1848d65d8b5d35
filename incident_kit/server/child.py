"""One run (or one resolution) in its own process: ``python -m incident_kit.server.child``.

The supervisor (:mod:`incident_kit.server.executor`) writes a JSON spec on stdin and reads one
JSON result from stdout; everything else the run prints goes to stderr (the run's log file).
Running each investigation in its own process group lets the supervisor enforce the run
timeout by killing the group (papermill's kernel included) and keeps the server responsive.

The run function is ``incident_kit.runner:run`` unless the spec names another
``module:function`` with the same signature (tests inject a fast one for storms).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

DEFAULT_RUN_FUNC = "incident_kit.runner:run"


def load_func(spec: str) -> Callable[..., Any]:
    """Return the callable named ``module:function``; raises RunError when it cannot be imported."""
    from ..errors import RunError

    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        raise RunError(f"run function {spec!r} cannot be loaded: {exc}") from None


def parameters_for_run(scenario: str, alert: dict[str, Any] | None, route: dict[str, Any]) -> dict[str, Any]:
    """Return the explicit parameters of a run: the route's fixed ones, then those the alert sets.

    With no route parameters and no route files this is empty: the runner takes the alert's
    parameters itself (``alert=``). With route files, the alert's parameters are passed
    explicitly so that they win over the files (the alert's window over a file's ``start``).
    Raises ConfigError for an unknown scenario.
    """
    fixed = route.get("parameters") or {}
    if not fixed and not route.get("parameter_files"):
        return {}
    from ..alerts import Alert, parameters_for
    from ..catalog import parameters

    names = {name: info.get("default") for name, info in parameters(scenario).items()}
    out = {k: v for k, v in fixed.items() if k in names}
    if alert:
        fields = {k: alert.get(k) for k in ("status", "labels", "annotations", "starts_at", "ends_at",
                                               "fingerprint", "group_key", "source")}
        out.update(parameters_for(Alert(**fields), names))
    return out


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    func = load_func(spec.get("run_func") or DEFAULT_RUN_FUNC)
    alert = spec.get("alert")
    route = spec.get("route") or {}
    parameters = parameters_for_run(spec["scenario"], alert, route)
    extra = {"parameter_files": route["parameter_files"]} if route.get("parameter_files") else {}
    result = func(spec["scenario"], parameters, alert=alert, out_dir=spec["out_dir"], run_id=spec["run_id"],
                  timeout=spec.get("cell_timeout"), **extra)
    summary = getattr(result, "summary", None) or {}
    return {"status": str(getattr(result, "status", "failed")), "dir": str(getattr(result, "dir", "")),
            "headline": summary.get("headline"), "severity": summary.get("severity"),
            "error": summary.get("error")}


def _resolve(spec: dict[str, Any]) -> dict[str, Any]:
    from .resolution import apply

    rendered = apply(Path(spec["dir"]), spec["resolved_at"])
    return {"status": "ok", "rendered": rendered}


def one_line(exc: BaseException) -> str:
    """Return an exception as one line (type name only when it has no message)."""
    text = " ".join(str(exc).split())
    return text if text else type(exc).__name__


def die_with_parent(parent_pid: int | None) -> None:
    """Ask Linux to SIGKILL this process when its parent (the supervisor) dies; exit if it already has."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):  # not Linux: runs may outlive a killed server
        return
    if parent_pid and os.getppid() != parent_pid:
        os._exit(1)


def main() -> int:
    """Read the spec on stdin, do the work, write the result on stdout; returns the exit code."""
    spec = json.load(sys.stdin)
    die_with_parent(spec.get("parent_pid"))
    try:
        if os.nice(0) < 10:  # the executor starts runs under `nice` already; elsewhere, lower it here
            os.nice(10 - os.nice(0))  # investigations yield the CPU to the webhook server
    except OSError:
        pass
    result_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the run prints goes to the log, not into the result
    sys.stdout = sys.stderr
    try:
        result = _resolve(spec) if spec.get("mode") == "resolve" else _run(spec)
        code = 0
    except BaseException as exc:  # noqa: BLE001 - reported as one line to the supervisor
        print(f"incident-kit: {type(exc).__name__}: {one_line(exc)}", file=sys.stderr)
        result, code = {"status": "failed", "error": one_line(exc)}, 0
    result_out.write(json.dumps(result, default=str))
    result_out.flush()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
