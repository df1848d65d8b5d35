"""The demo's report opened in a real headless Chromium: renders, every section, no code, figures load."""

from __future__ import annotations

import pytest

from browser import REPORT_SECTIONS, check_report, chromium
from incident_kit.runner import run

pytestmark = [pytest.mark.slow, pytest.mark.browser]


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


def test_report_prints_to_pdf(demo_report, tmp_path):
    with chromium() as browser:
        page = browser.new_page()
        page.goto(demo_report.report.resolve().as_uri())
        pdf = page.pdf(path=str(tmp_path / "report.pdf"), format="A4")
        page.close()
    assert pdf[:4] == b"%PDF" and len(pdf) > 20_000
