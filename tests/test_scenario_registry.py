"""The scenario registry is the one place naming scenarios; defaults name nothing; time is the incident's.

Fast checks without services: the registry against the committed notebooks, parameter files,
routes and README; the notebooks' neutral defaults; and the Investigation's time anchoring and
live-state rule on real files (a log weeks old, a real git repository with dated commits).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

import incident_kit as ik
from incident_kit import scenarios
from incident_kit.alerts import default_routes, load_routes
from incident_kit.investigation import Investigation, live_only
from incident_kit.timeutil import iso, now

ROOT = Path(__file__).resolve().parents[1]
#: Parameters naming a source: unset by default in every notebook.
SOURCES = ("logs", "database_url", "probe_targets", "git_repo", "deploy_events", "redis_url", "app_logs",
           "prometheus_url", "auth_log", "worker_logs", "kernel_log", "config_file", "dependency_urls", "service")
DEMO = re.compile(r"incident-kit-demo|127\.0\.0\.1|localhost|shop-api|/tmp\b|:8790\b")


def _parameters_cell(name: str) -> dict[str, object]:
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    tree = ast.parse("".join(cell["source"]))
    return {t.targets[0].id: ast.literal_eval(t.value) for t in tree.body if isinstance(t, ast.Assign)}


def test_registry_matches_the_notebooks_parameter_files_and_demo_stages():
    from incident_kit.demo.stages import SCENARIOS as STAGED

    import papermill

    assert set(scenarios.names()) == {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    for s in scenarios.REGISTRY:
        assert (ROOT / s.notebook).is_file() and (ROOT / s.example).is_file(), s.name
        declared = set(papermill.inspect_notebook(str(ROOT / s.notebook)))
        example = yaml.safe_load((ROOT / s.example).read_text(encoding="utf-8"))
        assert set(example) <= declared, (s.name, set(example) - declared)
        assert s.stage in STAGED, s
    assert set(STAGED) == set(scenarios.names())
    with pytest.raises(ik.ConfigError, match="no shipped scenario 'nope'"):
        scenarios.get("nope")


def test_shipped_routes_readme_and_list_read_the_registry():
    shipped = load_routes(ROOT / "parameters" / "routes.yaml")
    assert [(r.scenario, {k: p.pattern for k, p in r.match_re.items()}) for r in shipped] == \
        [(r.scenario, {k: p.pattern for k, p in r.match_re.items()}) for r in default_routes()]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert scenarios.readme_table() in readme and scenarios.staged_table() in readme
    out = subprocess.run(["python", "-m", "incident_kit", "list"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    listed = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert listed[: len(scenarios.names())] == list(scenarios.names())


@pytest.mark.parametrize("name", scenarios.names())
def test_defaults_name_nothing(name):
    values = _parameters_cell(name)
    for key in SOURCES:
        if key in values:
            assert values[key] in (None, [], ""), (name, key, values[key])
    text = (ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8") + \
        (ROOT / "parameters" / f"{name}.yaml").read_text(encoding="utf-8")
    assert not DEMO.search(text), DEMO.search(text).group(0)


def _old_log(path: Path, end: pd.Timestamp, minutes: int = 120) -> None:
    lines = []
    for m in range(minutes, 0, -1):
        ts = end - pd.Timedelta(minutes=m)
        for i in range(10):
            failing = m < 20 and i < 4
            lines.append(json.dumps({"timestamp": iso(ts + pd.Timedelta(seconds=6 * i)), "status": 500 if failing else 200,
                                     "path": "/api/orders", "method": "POST", "duration_ms": 20.0,
                                     "message": "order failed: pool timeout" if failing else "ok"}))
    path.write_text("\n".join(lines) + "\n")


def test_relative_start_counts_back_from_the_end_of_old_data(tmp_path):
    end = now().floor("min") - pd.Timedelta(days=12)
    _old_log(tmp_path / "app.log", end)
    inv = Investigation("high_error_rate", start="-1h")
    t = ik.steps.traffic(inv, [str(tmp_path / "app.log")])
    assert len(t.requests) and t.requests["ts"].min() >= end - pd.Timedelta(minutes=61)
    assert inv.data_end is not None and abs(inv.data_end - end) < pd.Timedelta(minutes=2)
    assert abs(inv.since("-2d") - (inv.data_end - pd.Timedelta(days=2))) < pd.Timedelta(seconds=1)
    assert any("end of the data" in n for n in inv.data["notes"])
    assert t.incident.found and t.incident.start >= end - pd.Timedelta(minutes=25)
    assert not inv.live


def _repo(path: Path, commits: list[tuple[pd.Timestamp, str]]) -> None:
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    for i, (when, subject) in enumerate(commits):
        (path / "f.txt").write_text(str(i))
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
        env = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x",
               "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@x", "HOME": str(path), "PATH": "/usr/bin:/bin"}
        subprocess.run(["git", "-C", str(path), "add", "-A"], check=True, env=env)
        subprocess.run(["git", "-C", str(path), "commit", "-q", "-m", subject], check=True, env=env)


def test_git_history_and_deploys_follow_the_window_and_live_state_is_skipped(tmp_path):
    end = now().floor("min") - pd.Timedelta(days=35)
    _repo(tmp_path / "repo", [(end - pd.Timedelta(days=9), "old: unrelated"), (end - pd.Timedelta(hours=1), "pool: max 5"),
                              (end + pd.Timedelta(days=3), "later: after the incident")])
    (tmp_path / "deploys.jsonl").write_text(json.dumps({"ts": iso(end - pd.Timedelta(minutes=50)), "version": "v2"}) + "\n")
    inv = Investigation("triage", start=iso(end - pd.Timedelta(hours=2)), end=iso(end))
    events = ik.steps.changes(inv, str(tmp_path / "repo"), str(tmp_path / "deploys.jsonl"))
    texts = list(events["text"].astype(str))
    assert "pool: max 5" in texts and len(events) == 2, texts   # the commit and the deploy, nothing older or later
    probes = inv.collect("health probes", ik.probes.http, ["http://127.0.0.1:9/health"])
    activity = inv.collect("database activity", ik.postgres.activity, "postgresql://u@127.0.0.1:9/db")
    assert not len(probes) and not len(activity)
    skipped = {s["name"]: s for s in inv.sources if s["status"] == "skipped"}
    assert skipped["health probes"]["error"].startswith(f"live state, incident ended at {end:%H:%M}")
    assert inv.reachable("database activity") is None
    sev = ik.analysis.severity(probes=probes if len(probes) else None, db_reachable=inv.reachable("database activity"))
    assert sev.level != "P0", sev


def test_live_sources_are_read_while_the_incident_is_live(monkeypatch):
    assert live_only(ik.probes.http) and live_only(ik.postgres.locks) and live_only(ik.redis.info) and live_only(ik.host.stats)
    assert not live_only(ik.logs.read) and not live_only(ik.deploys.git) and not live_only(ik.host.oom_kills)
    assert not live_only(ik.host.node) and not live_only(ik.prometheus.query_range)
    assert Investigation("triage").live and Investigation("triage", end="-5m").live
    assert not Investigation("triage", end="-20m").live
    monkeypatch.setenv("INCIDENT_KIT_LIVE_WITHIN", "1h")
    assert Investigation("triage", end="-20m").live
    with pytest.raises(ik.ConfigError, match="live_within"):
        Investigation("triage", live_within="soon")
