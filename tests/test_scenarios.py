"""Every scenario notebook, executed by the real runner against its staged demo incident.

Each staged incident (``DemoEnvironment(scenario=NAME)``) knows its answer: the kind and the words
of the hypothesis that must rank first. Scenarios sharing an incident run on one environment
(triage and the postmortem composing its run; high_error_rate runs on the same incident in
test_demo_run). Each incident is staged once, in one of a few worker processes started with the
session (tests/staging.py, conftest's ``staging``), while the other modules run: its notebooks run
through the real runner (papermill, reports), then its cold and historical runs and the sweep's
runs of its files in the worker's long-lived kernel (tests/sweep.py).
Plus a static check of every committed notebook and example parameter file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

#: scenario -> the notebooks run on its staged incident (the first is the staged scenario).
GROUPS: dict[str, list[str]] = {
    "triage": ["triage", "postmortem"],
    "high_latency": ["high_latency"],
    "db_connection_exhaustion": ["db_connection_exhaustion"],
    "db_slow_queries_and_locks": ["db_slow_queries_and_locks"],
    "site_outage": ["site_outage"],
    "bad_deploy": ["bad_deploy"],
    "auth_failures": ["auth_failures"],
    "resource_pressure": ["resource_pressure"],
    "redis_failure": ["redis_failure"],
    "queue_backlog": ["queue_backlog"],
    "dependency_failure": ["dependency_failure"],
}
SCENARIOS = [name for names in GROUPS.values() for name in names]
#: Staging and running every incident takes minutes on a shared machine: one budget for the module.
pytestmark = pytest.mark.timeout(1200)

#: Code that changes a system: never in a scenario notebook (suggested actions are Markdown only).
MUTATING = re.compile(
    r"pg_terminate_backend|pg_cancel_backend|\b(?:DROP|TRUNCATE|ALTER|GRANT|REVOKE)\s+\w|\bDELETE\s+FROM\b|"
    r"\bUPDATE\s+\w+\s+SET\b|\bINSERT\s+INTO\b|\bCREATE\s+(?:INDEX|TABLE|ROLE|DATABASE)\b|"
    r"os\.system|subprocess|os\.kill|\.send_signal|\bkill\s+-|\bpkill\b|\bsystemctl\b|\brailway\b|"
    r"git\s+(?:revert|push|reset|commit)|FLUSHALL|FLUSHDB|\bshutil\.rmtree|\.unlink\(|os\.remove|"
    r"^\s*!|%%(?:bash|sh|script)", re.I | re.M)


@pytest.fixture(scope="module")
def staged_runs(staging) -> dict[str, Any]:
    """Every group whose incident can be staged, staged by conftest's ``staging`` (tests/staging.py)
    since the session started; returns scenario -> (story, run), the groups skipped and the sweep."""
    return staging.results()


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_names_its_staged_cause(name, staged_runs):
    assert name in staged_runs, f"no staged incident for {name} (missing stages: {', '.join(staged_runs['missing'])})"
    ran = staged_runs[name]
    assert "error" not in ran, ran.get("error")
    s = ran["summary"]
    assert s["status"] == "ok", (s.get("error"), s.get("degraded_reasons"))
    assert s["scenario"] == name
    assert s["severity"] in ("P0", "P1", "P2", "P3"), s["severity_reason"]
    assert s["severity_reason"]
    assert s["headline"] and "investigation" not in s["headline"]
    assert s["hypotheses"], "no hypothesis ranked"
    top = s["hypotheses"][0]
    story = ran["story"]
    assert top["kind"] == story["kind"], (top, story)
    for word in story["text"]:
        assert word.lower() in top["cause"].lower(), (word, top["cause"])
    stamps = [t["ts"] for t in s["timeline"]]
    assert stamps and stamps == sorted(stamps)
    assert s["findings"] and all(f["title"] for f in s["findings"])
    assert s["window"]["start"] is not None
    for src in s["sources"]:
        assert src["status"] in ("ok", "empty", "skipped"), src
    # The report was written, without code.
    html = (Path(ran["dir"]) / "report.html").read_text(encoding="utf-8")
    assert "import incident_kit" not in html and "inv.collect" not in html


STAGED = list(GROUPS)


def _same_cause_and_severity(s: dict[str, Any], live: dict[str, Any], story: dict[str, Any], how: str) -> None:
    assert s["status"] in ("ok", "degraded"), (how, s.get("error"))
    assert s["hypotheses"], f"{how}: no hypothesis ranked"
    top = s["hypotheses"][0]
    assert top["kind"] == story["kind"], (how, top, story)
    for word in story["text"]:
        assert word.lower() in top["cause"].lower(), (how, word, top["cause"])
    assert s["severity"] == live["severity"], (how, s["severity_reason"], live["severity_reason"])
    assert all(story["facts"].get("in_findings", "") in json.dumps(x["findings"]) for x in (s, live)), (how, story["facts"])
    assert "leftover" not in json.dumps(s), f"{how}: the leftover demo's files were read"


@pytest.mark.slow
@pytest.mark.parametrize("name", STAGED)
def test_cold_run_names_the_staged_cause(name, staged_runs):
    """Only what a user of the incident knows, on a machine where an earlier demo left files."""
    ran = staged_runs[name]
    assert "error" not in ran, ran.get("error")
    assert "service" not in ran["cold_parameters"] or name == "queue_backlog", ran["cold_parameters"]
    _same_cause_and_severity(ran["cold"], ran["summary"], ran["story"], "cold")
    for src in ran["cold"]["sources"]:
        # A cold run reads while the staged incident is live: a leak that fills the role's connections can
        # refuse the kit's own read too, which the report records as a refusal for lack of connections.
        assert src["status"] in ("ok", "empty", "skipped") or src.get("saturated"), src


@pytest.mark.slow
@pytest.mark.parametrize("name", STAGED)
def test_historical_run_names_the_staged_cause(name, staged_runs):
    """The same incident weeks in the past, explicit start/end: live-only sources are skipped, not read."""
    ran = staged_runs[name]
    assert "error" not in ran, ran.get("error")
    s = ran["historical"]
    _same_cause_and_severity(s, ran["summary"], ran["story"], "historical")
    assert s["window"]["start"] < ran["summary"]["window"]["start"]
    live_state = [src for src in s["sources"] if (src["error"] or "").startswith("live state, incident ended at")]
    assert all(src["status"] == "skipped" for src in live_state)
    assert not [src for src in s["sources"] if src["status"] == "failed"], s["sources"]


@pytest.mark.slow
def test_postmortem_composes_the_earlier_runs(staged_runs):
    assert "postmortem" in staged_runs and "triage" in staged_runs
    assert "error" not in staged_runs["triage"], staged_runs["triage"]["error"]
    s = staged_runs["postmortem"]["summary"]
    composed = {staged_runs["triage"]["summary"]["run_id"]}
    runs_finding = next(f for f in s["findings"] if f["kind"] == "runs")
    assert all(run_id in runs_finding["title"] for run_id in composed), runs_finding
    people = {f["kind"]: f["title"] for f in s["findings"]}
    assert "v1.8.0 checkout change" in people["root_cause"]
    assert "rolled back" in people["resolution"]
    assert s["severity"] == staged_runs["triage"]["summary"]["severity"]
    # What people wrote fills the report's sections instead of the placeholders.
    html = (Path(staged_runs["postmortem"]["dir"]) / "report.html").read_text(encoding="utf-8")
    resolution = html.split('<section id="resolution">', 1)[1].split("</section>", 1)[0]
    assert "<li>rolled back to v1.7.3</li>" in resolution
    actions = html.split('<section id="action-items">', 1)[1].split("</section>", 1)[0]
    assert "dana: test checkout without coupon" in actions


@pytest.mark.slow
def test_triage_says_which_scenario_to_open_next(staged_runs):
    assert "triage" in staged_runs and "error" not in staged_runs["triage"], staged_runs.get("triage")
    s = staged_runs["triage"]["summary"]
    nxt = next(f for f in s["findings"] if f["kind"] == "next")
    assert nxt["title"].startswith("Open ") and any(n in nxt["title"] for n in SCENARIOS), nxt
    kinds = {src["name"] for src in s["sources"]}
    assert {"HTTP probes", "access logs", "git history", "database ping"} <= kinds


# -- static: what is committed ----------------------------------------------------------------------
def _notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_every_scenario_has_a_notebook_and_an_example_parameter_file():
    import papermill

    for name in SCENARIOS:
        nb = NOTEBOOKS / f"{name}.ipynb"
        assert nb.is_file(), name
        example = ROOT / "parameters" / f"{name}.yaml"
        assert example.is_file(), example
        values = yaml.safe_load(example.read_text(encoding="utf-8"))
        declared = set(papermill.inspect_notebook(str(nb)))
        assert set(values) <= declared, set(values) - declared
        text = example.read_text(encoding="utf-8")
        assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", text), "a password in an example parameter file"


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_committed_notebook_is_clean(path):
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{len(tagged)} parameters cells"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "report-hide" in first.metadata.get("tags", [])
    assert "Parameters that matter" in first.source or "parameters" in first.source.lower()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert cell.get("outputs") == [], "outputs committed"
        assert cell.get("execution_count") is None, "execution count committed"
        assert not MUTATING.search(cell.source), MUTATING.search(cell.source).group(0)
    text = json.dumps([c.source for c in nb.cells])
    assert "inv.headline(" in text and "inv.hypotheses(" in text and "inv.severity(" in text and "inv.timeline(" in text
    if path.stem != "postmortem":
        assert "Suggested actions (not executed)" in text


def test_mutation_pattern_catches_what_it_must():
    for bad in ("SELECT pg_terminate_backend(123)", "!kill -9 42", "subprocess.run(['systemctl', 'restart', 'x'])",
                "ik.db.query(url, 'DELETE FROM orders')", "os.system('git revert abc')"):
        assert MUTATING.search(bad), bad
    for good in ("ik.postgres.locks(database_url)", "inv.conclude('cause', ik.narrate.hypothesis(h))"):
        assert not MUTATING.search(good), good


@pytest.mark.slow
def test_every_scenario_on_every_incident(staged_runs):
    """The sweep of issue 20: every scenario notebook on every staged incident's files (as staged and
    ended), a provider slowdown nine days old and a quiet baseline; its table is printed. The runs
    are made by the workers of ``staged_runs``, each on the incidents it staged (tests/sweep.py)."""
    import sweep

    swept = staged_runs["sweep"]
    results = swept["results"]
    print(f"\nsweep: {len(results)} runs, {swept['seconds']:.0f} s of worker time")
    print("\n" + sweep.table(results, sweep.notebooks(), list(swept["datasets"])))
    problems, notes = sweep.judge(staged_runs, swept["datasets"], results)
    if notes:
        print("\n".join(notes))
    unswept = [f"{group}: no sweep of its incident's files" for group in GROUPS
               if group not in swept["datasets"] or f"{group}:ended" not in swept["datasets"]]
    problems = unswept + swept["errors"] + problems
    assert results and not problems, f"{len(problems)} of {len(results)} runs are wrong:\n" + "\n".join(problems)
