"""The sweep's machinery: scenario notebooks run on many incidents in a few long-lived kernels.

A papermill run starts a kernel (~2-3 s on a busy machine, then seconds of imports) and renders a
report; the sweep runs hundreds of notebook x incident pairs, so a worker keeps one real Jupyter
kernel (IPC sockets in a private directory, as the runner's) and executes notebook after notebook
in it with nbclient: the notebook's own cells, its parameters resolved by the runner's
``resolve_parameters`` and injected by papermill's ``parameterize_notebook`` exactly as a run
would, the runner's secret references in the kernel's environment, after a cell that clears the
namespace. What a run found is read from the ``summary.partial.json`` its Investigation writes;
the status follows the runner's rule (a cell error is ``failed``, a failed source ``degraded``).

test_scenarios stages each incident once, in a worker process with its own kernel
(:func:`worker_kernels`): the live runs go through the real runner, the cold and historical runs
and this sweep's runs of the incident's files (:func:`stage_datasets`) through that kernel, while
the other workers stage theirs; :func:`judge` then reads every result.
:func:`ended_copy` makes the "ended" variant of an incident's files (normal traffic from before
it appended after the data, so the incident recovers inside the data); :func:`table` prints the
scenario x incident matrix.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PARTIAL = "summary.partial.json"
#: Cleared before every notebook: what an earlier notebook left must not leak into the next.
RESET = ("_ip = get_ipython()\n"
         "for _k in [k for k in _ip.user_ns if not k.startswith('_') and k not in ('In', 'Out', 'get_ipython', 'exit', 'quit')]:\n"
         "    del _ip.user_ns[_k]\n"
         "_ip.displayhook.cache_size = 0\n"
         "Out.clear()\n"
         "import matplotlib\nmatplotlib.use('Agg')\n"
         "_ip.display_formatter.formatters['image/png'].enabled = False")


class Kernels:
    """``workers`` real kernels, each used by one thread at a time; stopped by :meth:`close`."""

    def __init__(self, workers: int) -> None:
        from jupyter_client.manager import KernelManager

        self._dirs = [tempfile.TemporaryDirectory(prefix="ik-sweep-kernel-") for _ in range(workers)]
        self._free: queue.Queue[Any] = queue.Queue()
        self._all = []
        for d in self._dirs:
            km = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(d.name) / "kernel"))
            km.start_kernel(cwd=str(ROOT))
            self._all.append(km)
            self._free.put(km)
        self.workers = workers

    def run(self, notebook: str, parameters: dict[str, Any], out_dir: Path, timeout: float = 240,
            timings: list[tuple[float, str]] | None = None) -> dict[str, Any]:
        """Execute ``notebook`` with ``parameters`` in a free kernel, as the runner would; return its
        summary (status, severity, ...). Raises ParameterError, as the runner does, for a parameter
        the notebook does not declare."""
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError
        from papermill.parameterize import parameterize_notebook

        from incident_kit import redact_io
        from incident_kit.runner import resolve_parameters

        out_dir.mkdir(parents=True, exist_ok=True)
        nb = nbformat.read(str(NOTEBOOKS / f"{notebook}.ipynb"), as_version=4)
        names = declared(notebook)
        params, _ = resolve_parameters(names, parameters)
        if "output_dir" in names:
            params["output_dir"] = str(out_dir)
        nb.metadata["papermill"] = {}
        for cell in nb.cells:
            cell.metadata.setdefault("tags", [])
        nb = parameterize_notebook(nb, params)
        refs = json.dumps(redact_io.references(params))
        nb.cells.insert(0, nbformat.v4.new_code_cell(RESET + f"\nimport os as _os\n_os.environ[{redact_io.REFS_ENV!r}] = {refs!r}"))
        km = self._free.get()
        error = None
        client = NotebookClient(nb, km=km, timeout=timeout, allow_errors=False, kernel_name="python3")
        try:
            client.execute()
            if timings is not None:
                timings.extend(_cell_seconds(nb))
        except (CellExecutionError, CellTimeoutError) as exc:
            error = " ".join(str(exc).split())[-400:]
        finally:
            if getattr(client, "kc", None) is not None:
                client.kc.stop_channels()
                client.kc.context.destroy(linger=0)
            if not km.is_alive():
                km.start_kernel(cwd=str(ROOT))
            self._free.put(km)
        return summarize(out_dir, error)

    def cpu_seconds(self) -> float:
        """Return the CPU time (user + system) the kernels have used so far."""
        import psutil

        total = 0.0
        for km in self._all:
            try:
                t = psutil.Process(km.provisioner.process.pid).cpu_times()  # type: ignore[union-attr]
                total += t.user + t.system
            except Exception:  # noqa: BLE001 - a kernel that died was restarted
                pass
        return total

    def close(self) -> None:
        for km in self._all:
            try:
                km.shutdown_kernel(now=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        for d in self._dirs:
            d.cleanup()


def _cell_seconds(nb: Any) -> list[tuple[float, str]]:
    out = []
    for cell in nb.cells:
        ex = cell.metadata.get("execution") or {}
        a, b = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
        if a and b:
            secs = (datetime.fromisoformat(b.replace("Z", "+00:00")) - datetime.fromisoformat(a.replace("Z", "+00:00"))).total_seconds()
            out.append((secs, cell.source.splitlines()[0][:70] if cell.source else ""))
    return out


@functools.lru_cache(maxsize=None)
def declared(notebook: str) -> tuple[str, ...]:
    """Return the parameters ``notebook`` declares (papermill's reading of its parameters cell)."""
    import papermill

    return tuple(papermill.inspect_notebook(str(NOTEBOOKS / f"{notebook}.ipynb")))


def summarize(out_dir: Path, error: str | None) -> dict[str, Any]:
    """Return what the run recorded, with the runner's status rule."""
    path = out_dir / PARTIAL
    partial = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    sources = partial.get("sources") or []
    degraded = [f"{s.get('name')}: {s.get('error')}" for s in sources if s.get("status") == "failed"]
    status = "failed" if error else ("degraded" if degraded else "ok")
    lists = {k: partial.get(k) or [] for k in ("findings", "hypotheses", "timeline", "sources")}
    return {**partial, **lists, "window": partial.get("window") or {"start": None, "end": None}, "status": status,
            "error": error, "degraded_reasons": degraded}


def run_pairs(kernels: Kernels, pairs: Iterable[tuple[str, str, dict[str, Any]]], out: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Run every ``(notebook, incident, parameters)`` in ``kernels`` (``out/<incident>/<notebook>``);
    returns (notebook, incident) -> summary."""
    with ThreadPoolExecutor(max_workers=kernels.workers) as pool:
        futures = {(nb, inc): pool.submit(kernels.run, nb, params, out / inc / nb) for nb, inc, params in pairs}
        return {key: fut.result() for key, fut in futures.items()}


_WORKER: tuple[int, Kernels] | None = None


def worker_kernels() -> Kernels:
    """Return this process's one kernel: started on the first call, stopped when the process exits
    (a multiprocessing pool's worker runs its finalizers on the way out; so does the main process)."""
    global _WORKER
    if _WORKER is None or _WORKER[0] != os.getpid():
        from multiprocessing import util

        kernels = Kernels(1)
        util.Finalize(None, kernels.close, exitpriority=10)
        _WORKER = (os.getpid(), kernels)
    return _WORKER[1]


_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)")


def _stamp(line: str) -> datetime | None:
    m = _STAMP.search(line)
    return datetime.fromisoformat(m.group(0).replace("Z", "+00:00")) if m else None


def ended_copy(files: Iterable[Path], dest: Path, quiet_from: datetime, quiet_to: datetime, after: timedelta = timedelta(minutes=1),
               ) -> dict[str, str]:
    """Copy JSON-lines log ``files`` to ``dest`` with their quiet stretch ``[quiet_from, quiet_to)``
    repeated after their last line (times moved): the incident ends before the data does.
    Returns old path -> new path."""
    from incident_kit.demo.shift import shift_text

    dest.mkdir(parents=True, exist_ok=True)
    lines_of = {f: Path(f).read_text(encoding="utf-8").splitlines() for f in files}
    last = max((s for lines in lines_of.values() for s in (_stamp(x) for x in lines[-50:]) if s), default=None)
    moved: dict[str, str] = {}
    if last is None:
        return moved
    by = (last + after) - quiet_from
    for f, lines in lines_of.items():
        quiet = [x for x in lines if (s := _stamp(x)) is not None and quiet_from <= s < quiet_to]
        target = dest / Path(f).name
        target.write_text("\n".join(lines + [shift_text(x, by) for x in quiet]) + "\n", encoding="utf-8")
        moved[str(f)] = str(target)
    return moved


def first_sentence_only(text: str) -> bool:
    """True when ``text`` is one sentence (no line break, at most one full stop before its end)."""
    body = text.strip().rstrip(".")
    return "\n" not in body and len(re.findall(r"[.!?]\s+[A-Z]", body)) == 0


def table(results: dict[tuple[str, str], dict[str, Any]], notebooks: list[str], incidents: list[str]) -> str:
    """Return the scenario x incident table: status, severity and top hypothesis of each run."""
    rows = ["scenario x incident -> status, severity, top hypothesis"]
    for inc in incidents:
        rows.append(f"== {inc}")
        for nb in notebooks:
            s = results.get((nb, inc))
            if s is None:
                continue
            top = (s.get("hypotheses") or [{}])[0]
            cause = f"{top.get('cause', '')[:70]} ({top.get('score')})" if top else "-"
            rows.append(f"  {nb:<26} {s['status']:<9} {str(s.get('severity')):<5} {cause}")
    return "\n".join(rows)


__all__ = ["Kernels", "declared", "ended_copy", "first_sentence_only", "judge", "pairs_of", "provider_datasets", "run_pairs",
           "stage_datasets", "summarize", "table", "worker_kernels"]


#: Scenarios that look at every incident their own way (their view is an answer, not a mismatch).
GENERAL = ("triage", "high_error_rate", "high_latency")
NOT_APPLYING = ("does not apply", "no incident found")


def _logs_dir(parameters: dict[str, Any]) -> Path | None:
    for value in parameters.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and "/logs/" in item:
                return Path(item.split("/logs/")[0]) / "logs"
    return None


def ended_variant(parameters: dict[str, Any], errors_from: datetime, dest: Path) -> dict[str, Any]:
    """Return ``parameters`` pointing at a copy of their logs where the incident ended: the 40
    minutes before ``errors_from`` repeated after the data, ``end`` moved past them."""
    from incident_kit.timeutil import iso, parse_time

    logs = _logs_dir(parameters)
    assert logs is not None and logs.is_dir(), parameters
    start = parse_time(parameters.get("start"))
    quiet_from = max(errors_from - timedelta(minutes=40), start.to_pydatetime() if start is not None else errors_from)
    quiet_to = errors_from - timedelta(minutes=3)
    files = [p for p in sorted(logs.rglob("*")) if p.is_file()]
    ended_copy(files, dest, quiet_from, quiet_to)
    moved = {k: ([v.replace(str(logs), str(dest)) if isinstance(v, str) else v for v in val] if isinstance(val, list)
                 else val.replace(str(logs), str(dest)) if isinstance(val, str) else val) for k, val in parameters.items()}
    end = parse_time(parameters.get("end"))
    if end is not None:
        moved["end"] = iso(end + (quiet_to - quiet_from) + timedelta(minutes=3))
    return moved


def _names(kind: str, words: list[str], summary: dict[str, Any]) -> bool:
    top = (summary.get("hypotheses") or [{}])[0]
    return top.get("kind") == kind and all(w.lower() in str(top.get("cause", "")).lower() for w in words)


def notebooks() -> list[str]:
    """Return the scenario notebooks the sweep runs (every registered one but the postmortem)."""
    from incident_kit import scenarios

    return [n for n in scenarios.names() if n != "postmortem"]


def stage_datasets(stage: str, names: list[str], ran: dict[str, Any], root: Path) -> dict[str, dict[str, Any]]:
    """Return the sweep's datasets of one staged incident (``ran``: its ``story``, ``times`` and
    ``historical_parameters``; ``names``: the notebooks of its group): its files as staged (still
    going on at the end of the data; there the staged scenario runs in
    test_historical_run_names_the_staged_cause, here triage, the notebook opened first) and ended
    (a copy under ``root``). Each dataset: parameters, own notebooks, story, notebooks to run."""
    own = {n for n in names if n != "postmortem"} | ({"high_error_rate"} if stage == "triage" else set())
    params = ran["historical_parameters"]
    errors_from = datetime.fromisoformat(ran["times"]["errors_from"].replace("Z", "+00:00"))
    ended = ended_variant(params, errors_from, root / "ended" / stage)
    return {stage: {"parameters": params, "own": own, "story": ran["story"], "notebooks": ["triage"]},
            f"{stage}:ended": {"parameters": ended, "own": own, "story": ran["story"], "notebooks": notebooks()}}


def provider_datasets(root: Path) -> dict[str, dict[str, Any]]:
    """Return the sweep's two incidents written as files under ``root``: issue 20's provider slowdown
    nine days old (~1% of checkouts time out; its story names the endpoint too) and a quiet baseline."""
    from incident_files import provider_slowdown

    slow = provider_slowdown(root / "provider", seed=2)
    quiet = provider_slowdown(root / "quiet", seed=5, duration_min=0)
    return {"provider:ended": {"parameters": slow.parameters(service=True), "own": {"high_latency", "dependency_failure"},
                               "story": {"kind": "dependency", "text": [slow.host], "endpoint": slow.endpoint},
                               "notebooks": notebooks()},
            "quiet": {"parameters": quiet.parameters(service=True), "own": set(), "story": {}, "notebooks": notebooks()}}


def pairs_of(datasets: dict[str, dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """Return ``(notebook, dataset, parameters it declares)`` of every run the ``datasets`` ask for."""
    return [(nb, ds, {k: v for k, v in d["parameters"].items() if k in declared(nb)})
            for ds, d in datasets.items() for nb in d["notebooks"]]


def judge(staged: dict[str, Any], datasets: dict[str, dict[str, Any]],
          results: dict[tuple[str, str], dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Return (problems, notes) of the sweep's ``results`` on ``datasets``: a failed run, a headline
    that is not one sentence, an own incident whose cause is missed, a foreign incident neither
    named nor declined, a cause ranked on the quiet baseline, the provider incident's severity and
    triage's pointers. ``staged`` holds the historical runs of test_scenarios."""
    problems: list[str] = []
    notes: list[str] = []
    for (nb, ds), s in results.items():
        own, story = datasets[ds]["own"], datasets[ds]["story"]
        head = str(s.get("headline") or "")
        if s["status"] == "failed":
            problems.append(f"{nb} on {ds}: failed: {s['error']}")
            continue
        if not head or not first_sentence_only(head):
            problems.append(f"{nb} on {ds}: headline is not one sentence: {head!r}")
        if nb in own:
            if ds.endswith(":ended") and ds != "provider:ended" and nb == ds.split(":")[0] \
                    and not _names(story["kind"], story["text"], staged[nb]["historical"]):
                notes.append(f"{nb} on {ds}: the historical run of the same files misses the staged cause too "
                             f"(test_historical_run_names_the_staged_cause reports it)")
            elif not _names(story["kind"], story["text"], s):
                problems.append(f"{nb} on {ds}: its own incident, top {(s.get('hypotheses') or [{}])[0].get('cause')!r}, "
                                f"expected {story['kind']} {story['text']}")
        elif not story:
            if any(float(h.get("score") or 0) >= 0.3 for h in (s.get("hypotheses") or [])[:1]):
                problems.append(f"{nb} on the quiet baseline ranks a cause: {s['hypotheses'][0]['cause']!r}")
        elif nb not in GENERAL and not _names(story["kind"], story["text"], s) and not any(w in head for w in NOT_APPLYING):
            problems.append(f"{nb} on {ds}: neither the staged cause nor 'does not apply': {head!r}")
        if ds == "provider:ended":
            if nb in own and s.get("severity") != "P2":
                problems.append(f"{nb} on {ds}: severity {s.get('severity')} ({s.get('severity_reason')}), expected P2")
            if nb == "triage":
                found = {f["kind"]: f["title"] for f in s.get("findings") or []}
                if story["endpoint"] not in found.get("signals", "") or "latency" not in found.get("signals", ""):
                    problems.append(f"triage on {ds} does not name the latency change: {found.get('signals')!r}")
                if not str(found.get("next", "")).startswith(("Open high_latency", "Open dependency_failure")):
                    problems.append(f"triage on {ds} points elsewhere: {found.get('next')!r}")
    return problems, notes
