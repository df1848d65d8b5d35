"""The demo incident, end to end through the analysis: real log files, a real git repository and
deploy events written by the demo's history generator, read by the real sources."""

from __future__ import annotations

import pandas as pd
import pytest

import incident_kit as ik
from incident_kit.demo import history, shop


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo-history")
    story = history.write_history(workdir)
    logs = ik.logs.read([str(workdir / "logs" / "access.log")])
    deploys = ik.frames.concat([ik.deploys.git(workdir / "repo", start="-2d"), ik.deploys.events(workdir / "deploys.jsonl")],
                               "events")
    return story, logs, deploys


def test_demo_answers(demo):
    story, logs, deploys = demo
    rates = ik.analysis.rates(logs)
    incident = ik.analysis.window(rates)
    deploy_at, errors_from = pd.Timestamp(story.deploy_at), pd.Timestamp(story.errors_from)
    # since when: minutes after the deploy, within a bucket of the first failure
    assert incident.found and incident.ongoing
    assert deploy_at < incident.start <= errors_from + pd.Timedelta(minutes=1)
    # which error: the injected message's template, new in the window
    top = ik.analysis.top_errors(logs, incident.start, incident.end)
    expected = ik.analysis.signatures([shop.FAULT_MESSAGE.format(order=48213)])[0]
    assert top.iloc[0]["signature"] == expected and bool(top.iloc[0]["new_in_window"])
    # what caused it: the deploy commit, with the harmless commits far below
    ranked = ik.analysis.hypotheses(window=incident, events=deploys, logs=logs)
    assert ranked.iloc[0]["ref"] == story.bad_commit and ranked.iloc[0]["score"] > 0.8
    others = ranked[ranked["kind"].isin(["deploy", "commit"]) & (ranked["ref"] != story.bad_commit)]
    assert len(others) == 2 and (others["score"] < 0.3).all()
    # how bad: P1, >= 10% and < 50% of requests fail
    impact = ik.analysis.impact(logs, incident.start, incident.end)
    assert 0.10 <= impact["error_rate"] < 0.5 and impact["users_affected"] > 0
    assert ik.analysis.severity(error_rate=impact["error_rate"]).level == "P1"
    # what is different: the failing requests are POST /api/checkout on the new version
    different = ik.analysis.diff(logs, incident)
    top_values = {(r.column, r.value) for r in different.head(6).itertuples()}
    assert ("path", "/api/checkout") in top_values and ("version", shop.BAD_VERSION) in top_values
    # the timeline: deploy, incident start, first error in order
    timeline = ik.analysis.timeline(deploys, logs, window=incident)
    kinds = timeline["kind"].tolist()
    assert kinds.index("deploy") < kinds.index("incident_start") <= kinds.index("first_error")
