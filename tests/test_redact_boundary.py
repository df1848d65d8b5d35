"""The write boundary: redact first, then cut; partial files of a run killed mid-way; webhook
messages and log lines."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import nbformat
import pytest

from incident_kit.investigation import PARTIAL_NAME, Investigation
from incident_kit.narrate.answer import clean
from incident_kit.redact import Redactor
from incident_kit.redact_io import RedactingFilter, clip, redact_run, redacting_path, release_path
from incident_kit.server.notify import message

from gitleaks_oracle import seeds_from_env
from secret_corpus import corpus

SECRETS = {s.kind: s for s in corpus(seeds_from_env((20,))[0])}  # fixed; INCIDENT_KIT_GITLEAKS_SEEDS overrides


@pytest.mark.parametrize("kind", ["github_token", "aws_access_key_id", "stripe_secret_key", "slack_bot_token", "jwt"])
def test_a_cut_never_leaves_a_piece_of_a_secret(kind: str) -> None:
    s = SECRETS[kind]
    line = f"ERROR upstream rejected the call: {s.value} (attempt 2/3)"
    start = line.index(s.value)
    for limit in range(start + 4, len(line) + 2):
        for cut in (clip(line, limit), clean(line, limit)):
            assert len(cut) <= limit
            assert s.value[:8] not in cut, (limit, cut)


def test_partial_summary_of_a_killed_run_is_redacted(tmp_path: Path) -> None:
    inv = Investigation("triage", output_dir=tmp_path, start="-1h", end="now")
    inv.finding("error", "Top error", "", f"connect failed: {SECRETS['url_password'].line}", 0.9)
    raw = (tmp_path / PARTIAL_NAME).read_text()
    assert SECRETS["url_password"].value not in raw and "[REDACTED:" in raw


def test_papermill_saves_the_notebook_redacted(tmp_path: Path) -> None:
    from papermill.iorw import papermill_io

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=SECRETS["github_token"].line)]
    nb.cells.append(cell)
    dest = tmp_path / "notebook.ipynb"
    path = redacting_path(dest, Redactor(values=["Zq-local-value-42"]))
    try:
        papermill_io.write(nbformat.writes(nb) + "Zq-local-value-42", path)  # not JSON: redacted as text
        assert "Zq-local-value-42" not in dest.read_text()
        papermill_io.write(nbformat.writes(nb), path)
    finally:
        release_path(dest)
    text = dest.read_text()
    assert SECRETS["github_token"].value not in text and "[REDACTED:github_token]" in text


def test_redact_run_reads_the_runs_own_parameters(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("IK_BOUNDARY_SECRET", "plain-looking-value-8841")
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"parameters": {"vendor": "env:IK_BOUNDARY_SECRET"}}
    nbformat.write(nb, str(tmp_path / "notebook.ipynb"))
    (tmp_path / "report.html").write_text("<p>vendor answered for plain-looking-value-8841</p>")
    assert redact_run(tmp_path) == 1
    assert "plain-looking-value-8841" not in (tmp_path / "report.html").read_text()


def test_webhook_messages_and_log_lines_are_redacted(caplog) -> None:
    s = SECRETS["slack_bot_token"]
    body = message({"run_id": "r", "scenario": "triage", "state": "failed", "headline": s.line}, None)
    assert s.value not in json.dumps(body)
    log = logging.getLogger("incident_kit.test_boundary")
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    log.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="incident_kit.test_boundary"):
            caplog.handler.addFilter(RedactingFilter())
            log.info("run failed: %s", s.line)
    finally:
        log.removeHandler(handler)
    assert s.value not in caplog.text and "[REDACTED:slack_token]" in caplog.text
