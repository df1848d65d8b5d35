"""Run a scenario: resolve parameters, execute the notebook with papermill, write the report.

Every run leaves ``<out_dir>/<run_id>/notebook.ipynb``, ``summary.json``, ``report.html`` and
``report.md`` (``formats``) and refreshes ``<out_dir>/index.html``, also when a cell fails
(status "failed", with the reason). :func:`write_reports` renders and redacts the reports; the
server's resolution re-render calls it too, so both renders keep the same content and redaction.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

import nbformat

from . import __version__, catalog, offline, redact, redact_io
from .errors import ConfigError, ParameterError, RunError
from .investigation import PARTIAL_NAME
from .params import SHARED_PARAMETERS, merge
from .report import export_html, write_index, write_markdown
from .report.drafts import drafts

FORMATS = ("html", "md", "both")

RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[A-Za-z0-9_-]{1,64}-[0-9a-f]{6}$")


@dataclass
class RunResult:
    """What a run produced: its id, status ("ok"|"degraded"|"failed"), directory and summary."""

    run_id: str
    scenario: str
    status: str
    dir: Path
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def report(self) -> Path:
        """The HTML report, or report.md when only Markdown was written."""
        html = self.dir / "report.html"
        return html if html.exists() or not (self.dir / "report.md").exists() else self.dir / "report.md"


def new_run_id(scenario: str, now: datetime | None = None) -> str:
    """Return ``<UTC yyyymmddTHHMMSSZ>-<scenario>-<6 hex>`` (scenario reduced to safe characters)."""
    now = now or datetime.now(timezone.utc)
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(scenario).stem)[:64] or "scenario"
    return f"{now:%Y%m%dT%H%M%SZ}-{safe}-{secrets.token_hex(3)}"


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def resolve_parameters(
    declared: Iterable[str],
    parameters: Mapping[str, Any] | None = None,
    *,
    parameter_files: Iterable[str | Path] = (),
    cli_pairs: Iterable[tuple[str, str]] = (),
    alert_parameters: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Return (parameters to inject, notes). Order, later wins: alert, files, ``parameters``, ``-p``.

    Names in files that the scenario does not declare are dropped with a note (files are often
    shared between scenarios); an undeclared name given explicitly raises ParameterError.
    """
    names = set(declared)
    notes: list[str] = []
    from_files = merge(parameter_files)
    out: dict[str, Any] = {k: v for k, v in (alert_parameters or {}).items() if k in names}
    for key, value in from_files.items():
        if key in names:
            out[key] = value
        elif key not in SHARED_PARAMETERS:
            notes.append(f"parameter {key!r} from a file is not used by this scenario")
    explicit = merge((), cli_pairs, base=parameters or {})
    unknown = sorted(k for k in explicit if k not in names)
    if unknown:
        raise ParameterError(f"unknown parameter {unknown[0]!r}; this scenario takes: {', '.join(sorted(names))}")
    out.update(explicit)
    return out, notes


def _alert_context(alert: Mapping[str, Any] | str | Path | None, declared: Iterable[str]) -> tuple[dict[str, Any] | None, dict[str, Any], str | None]:
    """Return (alert summary, parameters from the alert, scenario the alert asks for)."""
    if alert is None:
        return None, {}, None
    from . import alerts

    found = alerts.load_payload(alert) if isinstance(alert, str | Path) else alerts.parse(dict(alert))
    if not found:
        raise ConfigError("alert payload holds no alert")
    first = next((a for a in found if a.firing), found[0])
    return first.to_dict(), alerts.parameters_for(first, list(declared)), alerts.scenario_for(first)


def _kernel_manager_class(socket_dir: str) -> type:
    """Return a kernel manager that talks to the kernel over IPC sockets in ``socket_dir``, not TCP.

    A private directory per run matters: the default ("kernel-ipc-N" in the working directory)
    lets concurrent runs pick the same sockets and talk to each other's kernels.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum, default

    class IPCKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        @default("ip")
        def _private_ipc_path(self) -> str:
            return str(Path(socket_dir) / "kernel")

    return IPCKernelManager


def _execute(path: Path, dest: Path, params: dict[str, Any], timeout: float | None, progress: bool,
             scrub: redact.Redactor) -> str | None:
    """Execute with papermill; returns None on success or the one-line reason of the failure.

    Every save of ``dest`` (also papermill's autosaves of a long cell) is written redacted, and the
    kernel learns the run's ``env:``/``file:`` references (never their values) so that what it
    writes itself (``summary.partial.json``) and every title it cuts are redacted the same way.
    """
    import tempfile

    import papermill
    from papermill.exceptions import PapermillExecutionError

    previous = os.environ.get(redact_io.REFS_ENV)
    os.environ[redact_io.REFS_ENV] = json.dumps(redact_io.references(params))
    try:
        with tempfile.TemporaryDirectory(prefix="ik-kernel-") as socket_dir:
            papermill.execute_notebook(
                str(path), redact_io.redacting_path(dest, scrub), parameters=params, progress_bar=progress,
                log_output=False, execution_timeout=timeout, cwd=str(Path.cwd()), request_save_on_cell_execute=False,
                kernel_manager_class=_kernel_manager_class(socket_dir),
            )
    except PapermillExecutionError as exc:
        return f"cell {exc.exec_count or exc.cell_index}: {exc.ename}: {redact_io.clip(' '.join(str(exc.evalue).split()), 500, redactor=scrub)}"
    except Exception as exc:  # noqa: BLE001 - a dead or hung kernel still yields a report
        text = redact_io.clip(" ".join(str(exc).split()), 500, redactor=scrub) or type(exc).__name__
        return f"{type(exc).__name__}: {text}"
    finally:
        redact_io.release_path(dest)
        if previous is None:
            os.environ.pop(redact_io.REFS_ENV, None)
        else:
            os.environ[redact_io.REFS_ENV] = previous
    return None


def _summary(run_id: str, scenario: str, run_dir: Path, error: str | None, alert: dict[str, Any] | None,
             started_at: str) -> dict[str, Any]:
    partial_path = run_dir / PARTIAL_NAME
    try:
        partial = json.loads(partial_path.read_text(encoding="utf-8")) if partial_path.exists() else {}
    except (OSError, ValueError):
        partial = {}
    sources = partial.get("sources", [])
    degraded = [f"{s.get('name')}: {s.get('error')}" for s in sources if s.get("status") == "failed"]
    status = "failed" if error else ("degraded" if degraded else "ok")
    summary: dict[str, Any] = {
        "run_id": run_id, "scenario": scenario, "status": status,
        "window": partial.get("window") or {"start": None, "end": None},
        "severity": partial.get("severity"), "severity_reason": partial.get("severity_reason"),
        "headline": partial.get("headline") or f"{scenario}: investigation {'failed' if error else 'found no headline'}",
        "impact": partial.get("impact") or {}, "findings": partial.get("findings") or [],
        "hypotheses": partial.get("hypotheses") or [], "timeline": partial.get("timeline") or [],
        "sources": sources, "alert": alert, "started_at": started_at, "finished_at": _utc_now(),
        "incident_kit_version": __version__,
    }
    if error:
        summary["error"] = error
    if degraded:
        summary["degraded_reasons"] = degraded
    if partial.get("notes"):
        summary["notes"] = partial["notes"]
    partial_path.unlink(missing_ok=True)
    return summary


def run(
    scenario: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    parameter_files: Iterable[str | Path] = (),
    cli_pairs: Iterable[tuple[str, str]] = (),
    alert: Mapping[str, Any] | str | Path | None = None,
    out_dir: str | Path = "reports",
    run_id: str | None = None,
    timeout: float | None = None,
    progress: bool = False,
    formats: str = "both",
) -> RunResult:
    """Execute scenario ``scenario`` and write its report; returns the RunResult.

    ``formats``: "html", "md" or "both" (report.html, report.md). Raises ConfigError/ParameterError
    (bad scenario, file, parameter or format) before anything runs;
    once execution starts, failures are reported in the result (status "failed"), not raised.
    """
    if formats not in FORMATS:
        raise ConfigError(f"format {formats!r} is not one of: {', '.join(FORMATS)}")
    path = catalog.find(scenario)
    name = path.stem
    import papermill

    declared = list(papermill.inspect_notebook(str(path)))
    alert_summary, alert_params, _ = _alert_context(alert, declared)
    params, notes = resolve_parameters(declared, parameters, parameter_files=parameter_files,
                                       cli_pairs=cli_pairs, alert_parameters=alert_params)
    # Secrets are resolved here only to know what to remove from the outputs; never written.
    scrub = redactor_for(params)
    run_id = run_id or new_run_id(name)
    if not RUN_ID.match(run_id):
        raise RunError(f"run id {run_id!r} is not of the form <yyyymmddTHHMMSSZ>-<scenario>-<6 hex>")
    out = Path(out_dir).resolve()
    run_dir = out / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    if "output_dir" in declared:
        params["output_dir"] = str(run_dir)
    started_at = _utc_now()
    nb_path = run_dir / "notebook.ipynb"
    error = _execute(path, nb_path, params, timeout, progress, scrub)
    summary = _summary(run_id, name, run_dir, error, alert_summary, started_at)
    if notes:
        summary.setdefault("notes", []).extend(notes)
    nb = _read_or_stub(nb_path, error)
    nb.metadata["incident_kit"] = {"run_id": run_id, "status": summary["status"]}
    nb, _ = scrub.notebook(nb)
    summary, _ = scrub.obj(summary)
    nbformat.write(nb, str(nb_path))
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    write_reports(run_dir, nb, summary, params, formats=formats, scrub=scrub)
    redact_io.redact_run(run_dir, scrub, skip=("notebook.ipynb", "summary.json", "report.html", "report.md"))
    write_index(out, scrub)
    return RunResult(run_id, name, summary["status"], run_dir, summary)


def redactor_for(params: Mapping[str, Any]) -> redact.Redactor:
    """Return the redactor of a run with parameters ``params`` (references unresolved): built-in rules,
    ``parameters/redaction.yaml`` and the values the run's ``env:``/``file:`` references resolve to."""
    return redact.redactor(parameters=params)


def write_reports(run_dir: Path, nb: nbformat.NotebookNode, summary: dict[str, Any], params: Mapping[str, Any],
                  *, formats: str = "both", scrub: redact.Redactor | None = None) -> list[Path]:
    """Write report.html and/or report.md (``formats``) of a run from its redacted notebook and summary,
    with the communication drafts, and redact what was written; returns the paths written.

    A team template (parameters/postmortem_template.md) that cannot be rendered is replaced by the
    default layout, with a note in summary.json naming the template and the reason.
    Raises OSError when a report cannot be written.
    """
    scrub = scrub or redactor_for(params)
    texts = drafts(summary, params.get("service") or _declared(nb, "service"))
    written: list[Path] = []
    if formats in ("html", "both"):
        written.append(export_html(nb, summary, run_dir / "report.html", drafts=texts))
    if formats in ("md", "both"):
        try:
            written.append(write_markdown(nb, summary, run_dir / "report.md", drafts=texts, redactor=scrub))
        except ConfigError as exc:
            from .report.markdown import DEFAULT_TEMPLATE

            summary.setdefault("notes", []).append(f"report.md: the team template was not used: {exc}")
            (run_dir / "summary.json").write_text(json.dumps(scrub.obj(summary)[0], indent=2), encoding="utf-8")
            written.append(write_markdown(nb, summary, run_dir / "report.md", drafts=texts, template=DEFAULT_TEMPLATE,
                                          redactor=scrub))
        figures = run_dir / "figures"
        if figures.is_dir():
            scrub.directory(figures)
    for path in written:
        scrub.file(path)
    return written


def _declared(nb: nbformat.NotebookNode, name: str) -> Any:
    """Return the literal value the notebook's parameter cells give ``name`` (injected over defaults), or None."""
    import ast

    value = None
    for cell in nb.cells:
        if cell.cell_type != "code" or not {"parameters", "injected-parameters"} & set(cell.metadata.get("tags", [])):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return value


def _read_or_stub(nb_path: Path, error: str | None) -> nbformat.NotebookNode:
    """Return the executed notebook, or a one-cell stand-in when the kernel left none."""
    if nb_path.exists():
        try:
            return nbformat.read(str(nb_path), as_version=4)
        except (OSError, ValueError, nbformat.ValidationError):
            pass
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(f"The notebook could not be executed: {error or 'unknown error'}"))
    return nb


def cli_run(args: argparse.Namespace) -> int:
    """``incident-kit run``: print the report path; exit 0 (ok/degraded) or 1 (failed)."""
    started = time.monotonic()
    if getattr(args, "offline", False):  # the kernel inherits the environment, so it is offline too
        os.environ[offline.ENV] = "1"
        offline.install()
    result = run(
        args.scenario, parameter_files=args.parameters_file, cli_pairs=[tuple(p) for p in args.parameter],
        alert=args.alert, out_dir=args.out, timeout=args.timeout, progress=not args.quiet,
        formats=getattr(args, "format", "both"),
    )
    s = result.summary
    line = f"{result.status}: {s.get('severity') or '-'} {s.get('headline')} ({time.monotonic() - started:.1f}s)"
    print(line, file=sys.stderr)
    if result.status == "failed":
        print(f"incident-kit: error: run failed: {s.get('error')}", file=sys.stderr)
    print(result.report)
    return 1 if result.status == "failed" else 0
