"""Deploys from a real git repository made here, deploy-event files and config changes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import incident_kit as ik
from incident_kit import frames


def _git(repo: Path, *args: str, when: str | None = None) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Ana Ops", "GIT_AUTHOR_EMAIL": "ana@example.com",
           "GIT_COMMITTER_NAME": "Ana Ops", "GIT_COMMITTER_EMAIL": "ana@example.com"}
    if when:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("app")
    _git(repo, "init", "-q", "-b", "main")
    history = [
        ("2026-01-31T13:00:00Z", "app.py", "Add order export"),
        ("2026-01-31T13:40:00Z", "config/pool.yaml", "Lower pool size to 5"),
        ("2026-01-31T14:00:00Z", "app.py", "Deploy v2.3.1 to production"),
        ("2026-01-31T15:30:00Z", "README.md", "Docs"),
    ]
    for when, path, subject in history:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(subject)
        _git(repo, "add", path)
        _git(repo, "commit", "-q", "-m", subject, when=when)
    _git(repo, "tag", "v2.3.0", "HEAD~2")
    return repo


def test_git_log_over_the_window(repo: Path) -> None:
    ev = ik.deploys.git(repo, start="2026-01-31T13:30:00Z", end="2026-01-31T15:00:00Z")
    assert frames.check(ev, "events") == []
    assert list(ev.text) == ["Lower pool size to 5", "Deploy v2.3.1 to production"]
    assert list(ev.kind) == ["deploy", "deploy"]  # a tag; a deploy subject
    assert ev.tags.iloc[0] == ["v2.3.0"] and ev.files.iloc[0] == ["config/pool.yaml"]
    assert ev.author.iloc[1] == "Ana Ops <ana@example.com>"
    assert len(ev.ref.iloc[0]) == 40
    assert ev.ts.iloc[1] == pd.Timestamp("2026-01-31T14:00:00Z")
    everything = ik.deploys.git(repo)
    assert list(everything.kind) == ["commit", "deploy", "deploy", "commit"]


def test_git_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ik.SourceError, match="not a git repository"):
        ik.deploys.git(tmp_path)
    with pytest.raises(ik.SourceError, match="no such directory"):
        ik.deploys.git(tmp_path / "missing")


def test_events_file_keeps_count_of_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "deploys.jsonl"
    lines = [
        {"timestamp": "2026-01-31T14:00:00Z", "service": "api", "version": "2.3.1", "message": "deploy api 2.3.1"},
        {"ts": "2026-01-31T14:20:00+01:00", "kind": "rollback", "text": "roll back api", "ref": "2.3.0"},
        {"text": "no time here"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    ev = ik.deploys.events(path)
    assert frames.check(ev, "events") == []
    assert list(ev.kind) == ["rollback", "deploy"]  # sorted by time: 13:20Z, then 14:00Z
    assert ev.ts.iloc[0] == pd.Timestamp("2026-01-31T13:20:00Z")
    assert ev[ev.kind == "deploy"].service.iloc[0] == "api" and ev[ev.kind == "deploy"].ref.iloc[0] == "2.3.1"
    assert ev.attrs["rejected"] == 2
    assert [r["record"] for r in ev.attrs["rejected_records"]] == [3, 4]
    only = ik.deploys.events(path, start="2026-01-31T13:50:00Z")
    assert list(only.kind) == ["deploy"]
    with pytest.raises(ik.SourceError, match="events .*missing.jsonl"):
        ik.deploys.events(tmp_path / "missing.jsonl")


def test_config_changes_as_events() -> None:
    ev = ik.deploys.changes([{"ts": "2026-01-31T13:40:00Z", "text": "pool_size 20 -> 5", "ref": "PR-812"},
                             {"text": "undated"}], origin="pgbouncer.ini")
    assert list(ev.kind) == ["config"] and ev.source.iloc[0] == "pgbouncer.ini" and ev.attrs["rejected"] == 1
