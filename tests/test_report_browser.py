"""The demo's report opened in a real headless Chromium: renders, every section, no code, figures load,
tables for people (no index, no long numbers, no True/False, no +00:00, a sparkline per top error),
hypotheses linked to their evidence; and its report.md parsed by markdown-it-py (GFM tables) into the
same sections, images resolving, no secret and no raw HTML.

Screenshots at 1280 and 390 px are kept under $INCIDENT_KIT_SCREENSHOTS (default: the test's tmp dir).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser import REPORT_SECTIONS, check_report, chromium
from markdown_it import MarkdownIt

from incident_kit.runner import run

pytestmark = [pytest.mark.slow, pytest.mark.browser]

#: What a reader sees in the report's tables and text (code, pre and drafts excluded).
READ_TABLES = """() => {
  const outside = n => !n.parentElement.closest('code, pre, script, style, title');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const text = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) if (outside(n)) text.push(n.textContent);
  const tables = [...document.querySelectorAll('table')].map(t => ({
    headers: [...t.querySelectorAll('thead th')].map(th => th.textContent.trim()),
    classes: t.className,
    rows: [...t.querySelectorAll('tbody tr')].map(tr => [...tr.children].map(td => ({
      text: td.textContent.trim(), cls: td.className, title: td.getAttribute('title'),
      code: !!td.querySelector('code'),
      sparks: [...td.querySelectorAll('img.ik-spark')].map(i => i.complete && i.naturalWidth > 0)}))),
    text: t.innerText,
  }));
  const ids = new Set([...document.querySelectorAll('[id]')].map(e => e.id));
  const hypotheses = [...document.querySelectorAll('#hypotheses li')].map(li =>
    [...li.querySelectorAll('a[href^="#"]')].map(a => ids.has(a.getAttribute('href').slice(1))));
  return {text: text.join(' '), tables, hypotheses};
}"""
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])")


def significant(token: str) -> int:
    """Significant digits of a decimal number as written (``0.877106`` -> 6, ``36.4`` -> 3)."""
    return len(token.replace(",", "").replace(".", "").lstrip("0"))


def too_precise(text: str, *, numeric_cell: bool = False) -> list[str]:
    """Numbers a person should not have to read: decimals of more than 4 significant digits, and in
    numeric cells any number but a comma-grouped whole number of more than 4 digits."""
    bad = []
    for tok in NUMBER.findall(text):
        if "." in tok and significant(tok) > 4:
            bad.append(tok)
        elif numeric_cell and "." not in tok and "," not in tok and significant(tok) > 4:
            bad.append(tok)
    return bad


@pytest.fixture(scope="module")
def demo_report(demo_env, tmp_path_factory):
    return run("high_error_rate", dict(demo_env.parameters), out_dir=tmp_path_factory.mktemp("reports"))


def test_report_renders_with_every_section_no_code_and_figures(demo_report):
    with chromium() as browser:
        desktop = check_report(browser, demo_report.report)
        phone = check_report(browser, demo_report.report, width=390)
        index = check_report(browser, demo_report.dir.parent / "index.html")
    for section in REPORT_SECTIONS:
        assert section in desktop["sections"], section
    assert "Communication drafts" in desktop["sections"]
    assert desktop["images"] >= 2 and desktop["broken_images"] == 0
    assert desktop["code_cells"] == 0 and not desktop["code_text"] and desktop["scripts"] == 0
    assert desktop["requests"] == [] and desktop["console_errors"] == []
    assert phone["overflow_px"] == 0, "the report scrolls sideways on a phone"
    assert index["requests"] == []


def test_tables_read_as_written_for_people(demo_report, tmp_path):
    shots = Path(os.environ.get("INCIDENT_KIT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        for width in (1280, 390):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(demo_report.report.resolve().as_uri())
            page.wait_for_load_state("load")
            page.screenshot(path=str(shots / f"report-{width}.png"), full_page=True)
            seen = page.evaluate(READ_TABLES)
            page.close()
            assert (shots / f"report-{width}.png").stat().st_size > 50_000
    summary = demo_report.summary
    text = seen["text"]
    for ref in {str(e.get("ref") or "")[:10] for e in summary["hypotheses"]} - {""}:
        text = text.replace(ref, "")  # commit ids are names, not quantities
    assert too_precise(text) == [], "numbers with more than 4 significant digits"
    tables = seen["tables"]
    assert len(tables) >= 6
    for t in tables:
        assert "dataframe" not in t["classes"]
        assert t["headers"] and t["headers"][0] != "", f"an index column: {t['headers']}"
        first = [r[0]["text"] for r in t["rows"] if r]
        assert len(first) < 2 or first != [str(i) for i in range(len(first))], f"an index column: {t['headers']}"
        assert "+00:00" not in t["text"]
        for row in t["rows"]:
            for cell in row:
                assert cell["text"] not in ("True", "False", "NaN", "NaT", "None")
                if "num" in cell["cls"].split():
                    assert too_precise(cell["text"], numeric_cell=True) == [], cell
                if cell["text"].endswith("…") and not cell["code"]:
                    assert cell["title"] and len(cell["title"]) > len(cell["text"]) - 1
    top = next(t for t in tables if t["headers"][:1] == ["error signature"])
    assert "over time" in top["headers"] and "first seen" in top["headers"]
    assert 1 <= len(top["rows"]) <= 5
    for row in top["rows"]:
        assert [s for c in row for s in c["sparks"]] == [True], "one loaded sparkline per top error"
        assert re.fullmatch(r"\d\d:\d\d:\d\d UTC( \(.+ (after|before|at) the deploy\)|.*)", row[-2]["text"])
    different = next(t for t in tables if t["headers"][:1] == ["what is different"])
    assert "share of failing requests" in different["headers"]
    assert any(r[0]["text"] == "version = v1.8.0" for r in different["rows"])
    assert all(any(c["sparks"] for c in r) for r in different["rows"])
    assert seen["hypotheses"] and all(links and all(links) for links in seen["hypotheses"][:3])
    summary_html = demo_report.report.read_text()
    section = summary_html[summary_html.index('id="summary-section"'):summary_html.index('id="impact"')]
    assert section.count(f"Severity {summary['severity']}") == 1, "the summary says the severity once"


def test_report_md_renders_into_the_same_sections(demo_report, demo_env):
    md_path = demo_report.dir / "report.md"
    text = md_path.read_text()
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(text)
    assert not [t for t in tokens if t.type == "html_block"]
    inline = [c for t in tokens if t.type == "inline" for c in (t.children or [])]
    assert not [c for c in inline if c.type == "html_inline"], "raw HTML in report.md"
    h2 = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
    assert h2 == [*REPORT_SECTIONS[:-1], "Communication drafts", REPORT_SECTIONS[-1]]
    assert tokens[0].tag == "h1" and tokens[1].content.startswith("Post-Mortem: ")
    assert sum(t.type == "table_open" for t in tokens) >= 6
    images = [c.attrGet("src") for c in inline if c.type == "image"]
    assert len(images) >= 2
    for src in images:
        assert not urlsplit(src).scheme and not src.startswith("/")
        assert (md_path.parent / src).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "`" in text and "▁" in text, "sparklines as block characters"
    secret = Path(demo_env.parameters["database_url"].removeprefix("file:")).read_text().strip()
    password = urlsplit(secret).password
    assert password and password not in text and secret not in text
    for section in ("Date:", "Duration:", "Severity:", "Status:"):
        assert f"**{section}**" in text


def test_report_prints_to_pdf(demo_report, tmp_path):
    with chromium() as browser:
        page = browser.new_page()
        page.goto(demo_report.report.resolve().as_uri())
        pdf = page.pdf(path=str(tmp_path / "report.pdf"), format="A4")
        page.close()
    assert pdf[:4] == b"%PDF" and len(pdf) > 20_000
