"""Imported runbooks execute top to bottom under papermill against the live demo environment,
sources that are not configured say so, and each run exports its report."""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from incident_kit.importer import import_runbook
from incident_kit.offline import ENV as OFFLINE_ENV, host_of, is_loopback

AWKWARD = Path(__file__).parent / "data" / "runbooks" / "awkward.md"
CLOSED_URL = "http://127.0.0.1:9"  # the discard port on loopback: nothing listens, nothing leaves
NETWORK_NAME = re.compile(r"_(url|urls|host|hostname|endpoint|server|address|targets)$")


def _network_overrides(notebook: Path, demo_origin: str) -> dict[str, Any]:
    """Return loopback values for every URL, host and DNS parameter the imported notebook declares.

    ``app_url`` (the runbooks' localhost health checks) goes to the demo service; every other URL to a
    closed loopback port, every host to 127.0.0.1; an ``env:`` reference stays only while its variable
    is unset (then nothing is contacted).
    """
    import papermill

    overrides: dict[str, Any] = {}
    for name, spec in papermill.inspect_notebook(str(notebook)).items():
        try:
            default = ast.literal_eval(spec["default"])
        except (ValueError, SyntaxError):
            default = spec["default"]
        values = default if isinstance(default, list) else [default]
        texts = [v for v in values if isinstance(v, str) and v]
        if name in ("database_url", "logs", "git_repo", "deploy_events"):
            continue  # files and the demo's database: set from the demo's own parameters
        if texts and all(t.startswith("env:") and t[4:] not in os.environ for t in texts):
            continue
        if name == "app_url":
            overrides[name] = demo_origin
        elif name.endswith("_host") or name.endswith("_hostname"):
            overrides[name] = "127.0.0.1"
        elif any("://" in t for t in texts) or (NETWORK_NAME.search(name) and texts):
            overrides[name] = [CLOSED_URL] * len(texts) if isinstance(default, list) else CLOSED_URL
    return overrides


def _named_targets(name: str) -> list[str]:
    """Return the hosts a source's name mentions (URLs and host:port after the kind)."""
    hosts = [urlsplit(u).hostname or "" for u in re.findall(r"[a-z][a-z0-9+.-]*://[^\s)]+", name)]
    kind, _, rest = name.partition(": ")
    if kind in ("dns", "tcp", "tls") and rest:
        hosts.append(host_of(rest.split(" (")[0]))
    return hosts


def _declared(notebook: Path) -> set[str]:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    return {line.split(" = ")[0] for line in "".join(cell["source"]).splitlines() if " = " in line}


@pytest.mark.slow
def test_imported_runbooks_run_against_the_demo(demo_env, shared_dir: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from incident_kit.runner import run

    # Belt and braces beside the loopback-only namespace: a target the overrides missed shows up
    # as an "offline:" source below instead of being tried.
    monkeypatch.setenv(OFFLINE_ENV, "1")
    target = urlsplit(demo_env.parameters["probe_targets"][0])
    runbooks = [*sorted((shared_dir / "runbooks").glob("*.md")), AWKWARD]
    for runbook in runbooks:
        notebook = tmp_path / f"imported_{runbook.stem}.ipynb"
        import_runbook(runbook, notebook)
        declared = _declared(notebook)
        params = {k: v for k, v in demo_env.parameters.items() if k in declared}
        params.update(_network_overrides(notebook, f"{target.scheme}://{target.netloc}"))
        result = run(str(notebook), params, out_dir=tmp_path / "reports", timeout=120)
        assert result.status in ("ok", "degraded"), (runbook.name, result.summary.get("error"), result.dir)
        assert (result.dir / "report.html").is_file() and (result.dir / "notebook.ipynb").is_file()
        sources = {s["name"]: s for s in result.summary["sources"]}
        assert sources, runbook.name
        outside = {name: hosts for name in sources if (hosts := [h for h in _named_targets(name) if not is_loopback(h)])}
        assert not outside, (runbook.name, outside)
        refused = [s for s in sources.values() if str(s.get("error") or "").startswith("offline:")]
        assert not refused, (runbook.name, refused)
        if runbook.name.startswith("001"):
            ok = {name for name, s in sources.items() if s["status"] in ("ok", "empty")}
            assert "query: Check active connections" in ok  # the demo's PostgreSQL, read-only
            assert f"probe: {target.scheme}://{target.netloc}/api/health" in sources  # probed at the demo's URL
            assert any(name.startswith("logs:") for name in ok)  # the demo's access log, grep-filtered
            redis = sources["redis: PING"]  # no Redis in the demo: says so, goes on
            assert redis["status"] in ("failed", "skipped") and "REDIS_URL" in (redis["error"] or ""), redis
        executed = json.loads((result.dir / "notebook.ipynb").read_text(encoding="utf-8"))
        errors = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, (runbook.name, errors[:1])
