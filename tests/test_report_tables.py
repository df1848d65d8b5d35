"""The presentation layer without a browser: values for people, the IPython formatters a notebook gets,
report.md from a notebook with hostile log text (escaped, no raw HTML), and a team's template."""

from __future__ import annotations

import nbformat
import pandas as pd
import pytest
from markdown_it import MarkdownIt

from incident_kit.errors import ConfigError
from incident_kit.narrate import Answer
from incident_kit.report import present, tables
from incident_kit.report.markdown import write_markdown

HOSTILE = "<img src=x onerror=alert(1)> checkout failed | <script>alert(2)</script> **bold** [link](http://evil)"


def _frame() -> pd.DataFrame:
    t0 = pd.Timestamp("2026-12-02T17:41:09.267Z")
    return pd.DataFrame({
        "signature": [HOSTILE, "client closed request after <*> ms " * 6],
        "count": [12345, 7], "share": [0.877106, 0.000231], "first_seen": [t0, t0 + pd.Timedelta(minutes=3)],
        "new_in_window": [True, False], "latency_ms": [36.388896, 71234.5], "pid": [123456, 7],
    })


def test_values_for_people():
    ref = present.Reference(pd.Timestamp("2026-12-02T17:38:00Z"), "the deploy")
    assert present.value("share", 0.877106) == "87.7%" and present.value("error_rate", 1.0) == "100%"
    assert present.value("latency_ms", 36.388896) == "36 ms" and present.value("latency_ms", 71234.5) == "1.2 min"
    assert present.value("duration_s", 16.928512) == "17 s" and present.value("count", 12345) == "12,345"
    assert present.value("new_in_window", True) == "yes" and present.value("ok", False) == "no"
    assert present.when(pd.Timestamp("2026-12-02T17:41:09.267Z"), ref) == "17:41:09 UTC (3 min after the deploy)"
    assert present.value("score", 0.92211) == "0.92" and present.value("x", 3.14159265) == "3.142"
    assert present.cut("one two three four five six", 14) == "one two three…"
    assert present.label("incident_share", selection="failing") == "share of failing requests"


def test_html_table_has_no_index_and_escapes_everything():
    out = tables.html(_frame(), ref=None)
    assert "<script" not in out and "<img src=x" not in out and "&lt;script&gt;" in out
    assert ">0<" not in out and "True" not in out and "+00:00" not in out and "0.877106" not in out
    assert "<th>error signature</th>" in out and "<th>share of errors</th>" in out
    assert 'title="client closed request' in out  # the cut text keeps its full text in a title
    assert "<code>123456</code>" in out and ">12,345<" in out


def test_what_is_different_names_the_field_and_draws_sparklines():
    frame = pd.DataFrame({"value": ["v1.8.0", "POST"], "incident_share": [1.0, 0.98], "baseline_share": [0.0, 0.25]})
    frame.attrs.update({"row_field": {0: "version", 1: "method"}, "selection": "failing", "row_series": {
        "start": "2026-12-02T17:00:00+00:00", "step_s": 60.0, "window_start": "2026-12-02T17:30:00+00:00",
        "counts": {0: [0] * 30 + [9] * 30, 1: [1] * 60}}})
    out = tables.html(frame.head(2))
    assert "version = v1.8.0" in out and "method = POST" in out
    assert out.count('class="ik-spark"') == 2 and "data:image/svg+xml;base64," in out
    md = tables.markdown(frame)
    assert "| version = v1.8.0 | `▁" in md


def test_the_kernel_shows_frames_through_the_layer():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert tables.install()
        data, _ = shell.display_formatter.format(_frame())
        assert data["text/html"].startswith('<table class="ik-table">')
        assert data[tables.TABLE_MIME]["headers"][0] == "error signature"
        assert "text/markdown" not in data  # escaped text would hide secrets from the runner's redaction
        series, _ = shell.display_formatter.format(_frame()["count"])
        assert series["text/html"].startswith('<table class="ik-table">') and ">12,345<" in series["text/html"]
    finally:
        InteractiveShell.clear_instance()


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("top")
    cell.outputs = [
        nbformat.v4.new_output("display_data", {"text/markdown": Answer(HOSTILE).markdown(), "text/plain": "x"}),
        # Markdown a producer did not escape: raw HTML still never gets through.
        nbformat.v4.new_output("display_data", {"text/markdown": "<b>raw</b> \\<script>alert(4)</script>", "text/plain": "x"}),
        nbformat.v4.new_output("execute_result", {tables.TABLE_MIME: tables.to_json(_frame()),
                                                  "text/html": tables.html(_frame()), "text/plain": "x"}),
        nbformat.v4.new_output("stream", name="stdout", text="```\n</pre><script>alert(3)</script>\n"),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("## Which error?"), cell]
    return nb


def _summary() -> dict:
    return {"run_id": "20261202T174109Z-triage-abc123", "scenario": "triage", "status": "ok", "severity": "P2",
            "severity_reason": "error rate 3%", "headline": HOSTILE, "window": {"start": "2026-12-02T17:41:00Z", "end": None},
            "impact": {"error_rate": 0.03}, "findings": [{"kind": "error", "title": HOSTILE, "detail": ""}],
            "hypotheses": [{"cause": HOSTILE, "evidence": HOSTILE, "score": 0.5, "kind": "new_error"}],
            "timeline": [{"ts": "2026-12-02T17:41:09Z", "source": "logs", "kind": "first_error", "text": HOSTILE}],
            "sources": [{"name": "logs", "status": "ok", "rows": 123456}], "finished_at": "2026-12-02T17:50:00Z"}


def test_report_md_escapes_log_text(tmp_path):
    dest = write_markdown(_notebook(), _summary(), tmp_path / "report.md", drafts={"Status page": HOSTILE + "\n```"})
    text = dest.read_text()
    assert "| error signature |" in text and "12,345" in text
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(text)
    inline = [c for t in tokens if t.type == "inline" for c in (t.children or [])]
    assert not [t for t in tokens if t.type == "html_block"] and not [c for c in inline if c.type == "html_inline"]
    assert [c.attrGet("href") for c in inline if c.type == "link_open"] == ["#which-error"], "log text became a link"
    assert not [c for c in inline if c.type == "image"]
    assert "[Which error?](#which-error)" in text  # the hypothesis links to its evidence
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    assert "<script>" not in html and "<img src=x" not in html and "<strong>bold</strong>" not in html


def test_markdown_output_hiding_a_secret_behind_escapes_is_redacted(tmp_path):
    from incident_kit.redact import redactor

    nb = _notebook()
    secret = "aws_secret_access_key = NIwWMeaY7MoOLW8LXGii3TzvQ8k2hJcPq0aZ1bX4"
    nb.cells[1].outputs = [nbformat.v4.new_output("display_data", {"text/markdown": Answer(secret).markdown()})]
    text = write_markdown(nb, _summary(), tmp_path / "report.md", redactor=redactor()).read_text()
    assert "NIwWMeaY7MoOLW8LXGii" not in text and "REDACTED" in text


def test_team_template_overrides_the_layout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "parameters").mkdir()
    (tmp_path / "parameters" / "postmortem_template.md").write_text(
        "# {{ v.title | md }}\nSeverity: {{ v.severity }}\n{% for s in evidence %}## {{ s.title }}\n{% endfor %}")
    text = write_markdown(_notebook(), _summary(), tmp_path / "report.md").read_text()
    assert text.startswith("# &lt;img src=x") and "Severity: P2" in text and "## Which error?" in text
    (tmp_path / "parameters" / "postmortem_template.md").write_text("# {{ v.title \n")
    with pytest.raises(ConfigError, match=r"postmortem_template.md: line \d+: "):
        write_markdown(_notebook(), _summary(), tmp_path / "report2.md")
    assert not (tmp_path / "report2.md").exists()


def test_a_kernel_run_writes_report_md_only_and_the_resolution_keeps_its_drafts(tmp_path, monkeypatch):
    """A real papermill run of a small notebook with ``--format md``: the Investigation installs the
    layer in the kernel, report.md carries the table from its plain cells; the resolution re-render
    keeps the drafts, adds the recovery and writes no HTML the run did not have."""
    import json

    from incident_kit.runner import run
    from incident_kit.server.resolution import apply

    monkeypatch.chdir(tmp_path)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('service = "shop-api"\noutput_dir = None')
    params.metadata["tags"] = ["parameters"]
    code = ("import incident_kit as ik, pandas as pd\n"
            "inv = ik.Investigation('tiny', output_dir=output_dir)\n"
            "inv.headline('shop-api: aws_secret_access_key = NIwWMeaY7MoOLW8LXGii3TzvQ8k2hJcPq0aZ1bX4')\n"
            "pd.DataFrame({'path': ['/api/checkout'], 'share': [0.877106], 'ok': [False],\n"
            "              'ts': [pd.Timestamp('2026-12-02T17:41:09.267Z')]})")
    nb.cells = [params, nbformat.v4.new_markdown_cell("## What fails?"), nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, str(tmp_path / "notebooks" / "tiny.ipynb"))
    with pytest.raises(ConfigError, match="format 'pdf'"):
        run("tiny", out_dir=tmp_path / "reports", formats="pdf")
    result = run("tiny", out_dir=tmp_path / "reports", formats="md")
    assert result.status == "ok", result.summary.get("error")
    assert result.report.name == "report.md" and not (result.dir / "report.html").exists()
    text = result.report.read_text()
    assert "| path | share of errors | healthy | time |" in text and "| /api/checkout | 87.7% | no | 17:41:09 UTC |" in text
    assert "NIwWMeaY7MoOLW8LXGii" not in text and "## Communication drafts" in text
    assert apply(result.dir, "2026-12-02T18:00:00Z")
    after = result.report.read_text()
    assert "## Communication drafts" in after and "resolved (recovery)" in after and "NIwWMeaY7MoOLW8LXGii" not in after
    assert not (result.dir / "report.html").exists()
    assert json.loads((result.dir / "summary.json").read_text())["alert"]["status"] == "resolved"
