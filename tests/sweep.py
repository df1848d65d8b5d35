"""The sweep's machinery: scenario notebooks run on many incidents in a few long-lived kernels.

A papermill run starts a kernel (~2-3 s on a busy machine) and renders a report; the sweep runs
hundreds of notebook x incident pairs, so each worker thread keeps one real Jupyter kernel
(IPC sockets in a private directory, as the runner's) and executes notebook after notebook in it
with nbclient: the notebook's own cells, its parameters injected by papermill's
``parameterize_notebook`` exactly as a run would, after a cell that clears the namespace. What a
run found is read from the ``summary.partial.json`` its Investigation writes; the status follows
the runner's rule (a cell error is ``failed``, a failed source ``degraded``).

:func:`ended_copy` makes the "ended" variant of an incident's files (normal traffic from before
it appended after the data, so the incident recovers inside the data); :func:`table` prints the
scenario x incident matrix.
"""

from __future__ import annotations

import json
import queue
import re
import tempfile
import threading
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
        """Execute ``notebook`` with ``parameters`` in a free kernel; return its summary (status, severity, ...)."""
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError
        from papermill.parameterize import parameterize_notebook

        out_dir.mkdir(parents=True, exist_ok=True)
        nb = nbformat.read(str(NOTEBOOKS / f"{notebook}.ipynb"), as_version=4)
        nb.metadata["papermill"] = {}
        for cell in nb.cells:
            cell.metadata.setdefault("tags", [])
        nb = parameterize_notebook(nb, {**parameters, "output_dir": str(out_dir)})
        nb.cells.insert(0, nbformat.v4.new_code_cell(RESET))
        km = self._free.get()
        error = None
        try:
            client = NotebookClient(nb, km=km, timeout=timeout, allow_errors=False, kernel_name="python3")
            client.execute()
            if timings is not None:
                timings.extend(_cell_seconds(nb))
        except (CellExecutionError, CellTimeoutError) as exc:
            error = " ".join(str(exc).split())[-400:]
        finally:
            if not km.is_alive():
                km.start_kernel(cwd=str(ROOT))
            self._free.put(km)
        return summarize(out_dir, error)

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


def summarize(out_dir: Path, error: str | None) -> dict[str, Any]:
    """Return what the run recorded, with the runner's status rule."""
    path = out_dir / PARTIAL
    partial = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    sources = partial.get("sources") or []
    degraded = [f"{s.get('name')}: {s.get('error')}" for s in sources if s.get("status") == "failed"]
    status = "failed" if error else ("degraded" if degraded else "ok")
    return {**partial, "status": status, "error": error, "degraded_reasons": degraded}


def run_all(pairs: Iterable[tuple[str, str, dict[str, Any]]], out: Path, workers: int = 2) -> dict[tuple[str, str], dict[str, Any]]:
    """Run every ``(notebook, incident, parameters)``; returns (notebook, incident) -> summary."""
    pairs = list(pairs)
    kernels = Kernels(workers)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {(nb, inc): pool.submit(kernels.run, nb, params, out / inc / nb) for nb, inc, params in pairs}
            return {key: fut.result() for key, fut in futures.items()}
    finally:
        kernels.close()


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


__all__ = ["Kernels", "ended_copy", "first_sentence_only", "run_all", "summarize", "table"]
