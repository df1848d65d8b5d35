"""Real headless Chromium (Debian's) driven by Playwright, for tests that need a browser.

Never downloads a browser: ``executable_path`` is Debian's /usr/bin/chromium.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-gpu", "--no-first-run"]
REPORT_SECTIONS = ("Summary", "Impact", "Timeline", "Root-cause hypotheses", "Evidence", "Resolution",
                   "Action items", "Lessons learned", "Data completeness")


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Yield a Playwright Browser on Debian's chromium; closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def check_report(browser: Any, report: Path, *, width: int = 1100) -> dict[str, Any]:
    """Open ``report`` in ``browser`` and return what a reader would see.

    Keys: ``sections`` (h2 texts), ``images`` (count), ``broken_images`` (not loaded),
    ``code_cells`` (input areas present), ``requests`` (every URL the page asked for that is not
    the report itself or a data: URL), ``console_errors``, ``scripts`` (script elements),
    ``overflow_px`` (horizontal overflow of the page body at ``width``).
    """
    page = browser.new_page(viewport={"width": width, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    url = report.resolve().as_uri()
    page.on("request", lambda r: requests.append(r.url) if r.url != url and not r.url.startswith("data:") else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    page.wait_for_load_state("load")
    seen = page.evaluate("""() => ({
        sections: [...document.querySelectorAll('h2')].map(h => h.textContent.trim()),
        images: document.images.length,
        broken_images: [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length,
        code_cells: document.querySelectorAll('.jp-CodeCell .jp-InputArea, .jp-CodeMirrorEditor, .cm-editor, .input_area').length,
        code_text: document.body.innerText.includes('import incident_kit') || document.body.innerText.includes('inv.collect('),
        scripts: document.querySelectorAll('script').length,
        overflow_px: Math.max(0, document.documentElement.scrollWidth - window.innerWidth),
    })""")
    page.close()
    seen["requests"] = requests
    seen["console_errors"] = errors
    return seen
