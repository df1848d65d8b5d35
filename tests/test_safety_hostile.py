"""Hostile input stays inert: script tags, event handlers, javascript: links, CSS/SVG tricks, ../
paths, NUL and control bytes, a 1 MB line and invalid UTF-8 go through logs, alert labels and
database query texts of a real scenario run; the report is opened in real headless Chromium,
which must run no script and request nothing (proved by the browser and a loopback server that
counts every request), also with the Content-Security-Policy removed (escaping alone holds)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from incident_kit.errors import IncidentKitError
from incident_kit.runner import run

from browser import chromium
from hostile_corpus import payloads
from safety_world import World

pytestmark = [pytest.mark.slow, pytest.mark.browser]

_DOM_AUDIT = """() => {
  const all = [...document.querySelectorAll('*')];
  const handlers = [];
  for (const el of all) for (const a of el.attributes) if (/^on/i.test(a.name)) handlers.push(el.tagName + ' ' + a.name);
  const urlAttrs = [];
  for (const el of all) for (const a of el.attributes)
    if (['href', 'src', 'srcset', 'data', 'action', 'poster', 'formaction', 'xlink:href'].includes(a.name.toLowerCase())
        && !/^(#|data:)/i.test(a.value.trim())) urlAttrs.push(el.tagName + ' ' + a.name + '=' + a.value.slice(0, 80));
  return {
    pwned: window.__pwned || 0,
    scripts: document.querySelectorAll('script').length,
    handlers,
    urlAttrs,
    active: [...document.querySelectorAll('iframe,object,embed,base,form,video,audio,input,link,meta[http-equiv=refresh i],svg use')]
              .map(e => e.outerHTML.slice(0, 80)),
    text: document.body.innerText,
  };
}"""


@pytest.fixture(scope="module")
def hostile(pg_cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    world = World(pg_cluster, root / "world", "hostile")
    cb = world.http.base
    ps = payloads(cb)
    world.write_logs(ps + ["A" * (1024 * 1024) + f"<script>{ps[0]}</script>"])
    now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    with open(world.logs, "ab") as f:  # invalid UTF-8 and raw garbage, as real logs have
        f.write(b'{"timestamp": "' + now.encode() + b'", "level": "error", "service": "shop-api", "status": 500, '
                b'"message": "bad bytes \xff\xfe\xc3\x28 <script>window.__pwned=1</script>"}\n')
        f.write(b"\xff\xfe\x00\x01 not json at all <img src=x onerror=alert(1)>\n")
    world.write_changes([p.replace("\x00", "") for p in ps[:12]] + ["release 2.0"])
    alert = world.alert(labels={f"h{i}": p for i, p in enumerate(ps)} | {"severity": ps[3], "team": "../../etc/passwd"},
                        annotations={"summary": ps[0], "description": "\n".join(ps), "runbook_url": f"javascript:{ps[0]}"})
    groups = [p.replace("\x00", "") for p in ps[12:]]  # the first 12 go through commits and deploys
    for g in groups:
        world.long_statement(g)
    world.lock_chain(ps[3], ps[10])
    world.wait_visible(count=len(groups) + 2, min_age_s=1.5)
    out = root / "reports"
    try:
        result = run("db_slow_queries_and_locks", {
            "logs": [str(world.logs)], "database_url": world.database_url, "git_repo": str(world.git_repo),
            "deploy_events": str(world.deploy_events), "long_query_s": 1, "long_transaction_s": 1,
        }, alert=alert, out_dir=out, timeout=240)
        before_browser = list(world.http.requests)
        seen = _open_in_chromium(result.report, out / "index.html", cb)
        seen["callbacks"] = list(world.http.requests)
        seen["callbacks_before_browser"] = before_browser
    finally:
        world.close()
    return result, seen, ps


def _audit(browser: Any, path: Path, cb: str) -> dict[str, Any]:
    page = browser.new_page()
    requests: list[str] = []
    dialogs: list[str] = []
    me = path.resolve().as_uri()
    page.on("request", lambda r: requests.append(r.url) if r.url != me and not r.url.startswith("data:") else None)
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(me)
    page.wait_for_load_state("load")
    page.wait_for_timeout(1500)  # timers, autofocus, lazy loads
    for _ in range(8):
        page.keyboard.press("Tab")
    page.mouse.move(10, 10)
    page.mouse.move(600, 400)
    page.wait_for_timeout(300)
    seen = page.evaluate(_DOM_AUDIT)
    seen["requests"] = requests
    seen["dialogs"] = dialogs
    seen["url_after"] = page.url
    page.close()
    return seen


def _open_in_chromium(report: Path, index: Path, cb: str) -> dict[str, Any]:
    html = report.read_text(encoding="utf-8")
    stripped = report.with_name("report-without-csp.html")
    without = re.sub(r"<meta[^>]*Content-Security-Policy[^>]*>", "", html, flags=re.I)
    assert without != html and "content-security-policy" not in without.lower()
    stripped.write_text(without, encoding="utf-8")
    with chromium() as browser:
        return {"report": _audit(browser, report, cb), "no_csp": _audit(browser, stripped, cb),
                "index": _audit(browser, index, cb)}


@pytest.mark.parametrize("view", ["report", "no_csp", "index"])
def test_no_script_runs_and_nothing_is_requested(hostile, view: str) -> None:
    result, seen, _ = hostile
    s = seen[view]
    assert s["pwned"] == 0
    assert s["dialogs"] == []
    assert s["requests"] == [], s["requests"]
    assert s["scripts"] == 0
    assert s["handlers"] == [], s["handlers"][:5]
    assert s["active"] == [], s["active"][:5]
    assert not [u for u in s["urlAttrs"] if "javascript:" in u.lower() or "127.0.0.1" in u], s["urlAttrs"][:5]
    assert s["url_after"].startswith("file://")


def test_the_loopback_server_saw_no_callback(hostile) -> None:
    result, seen, _ = hostile
    assert seen["callbacks"] == seen["callbacks_before_browser"]  # the browser never called back
    assert not [r for r in seen["callbacks"] if "pwn" in r or r.split()[1].lstrip("/").split(".")[0] in
                ("script", "img", "iframe", "object", "embed", "form", "meta-refresh", "import", "style-bg")]


def test_hostile_text_is_shown_as_text(hostile) -> None:
    result, seen, ps = hostile
    text = seen["report"]["text"]
    shown = [p for p in ps[:26] if re.sub(r"\s+", " ", p)[:20] in re.sub(r"\s+", " ", text)]
    assert len(shown) >= 16, f"only {len(shown)} hostile payloads reached the report: the test would prove little"
    assert "onerror=" in text or "<script>" in text


def test_run_completes_with_the_right_status(hostile) -> None:
    result, _, _ = hostile
    assert result.status in ("ok", "degraded"), result.summary.get("error")
    summary = json.loads((result.dir / "summary.json").read_text())
    assert summary["alert"]["labels"]["team"] == "../../etc/passwd"  # kept as data
    assert sorted(p.name for p in result.dir.iterdir() if p.name != "figures") == [
        "notebook.ipynb", "report-without-csp.html", "report.html", "report.md", "summary.json"]


def test_report_md_keeps_hostile_text_inert(hostile) -> None:
    """report.md (rendered by markdown-it-py, raw HTML allowed as GitHub would) holds no tag, no link
    and no image that came from the data: the hostile text shows as text."""
    from markdown_it import MarkdownIt

    result, _, _ = hostile
    text = (result.dir / "report.md").read_text()
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(text)
    inline = [c for t in tokens if t.type == "inline" for c in (t.children or [])]
    assert not [t.content[:80] for t in tokens if t.type == "html_block"]
    assert not [c.content[:80] for c in inline if c.type == "html_inline"]
    assert all(c.attrGet("href").startswith("#") for c in inline if c.type == "link_open")
    assert all(not re.match(r"[a-z]+:", c.attrGet("src")) for c in inline if c.type == "image")
    assert "&lt;script&gt;" in text or "&lt;img" in text, "the hostile text should be shown, escaped"


def test_path_traversal_in_names_is_refused(tmp_path: Path) -> None:
    """Names that come from outside (alert labels, run ids, scenario names in run ids) never make a path."""
    from incident_kit import alerts
    from incident_kit.runner import RUN_ID, new_run_id

    for bad in ("../../etc/passwd", "/etc/passwd", "triage/../../x", "triage\x00", "..", "tri age", "<script>"):
        payload = {"status": "firing", "labels": {"alertname": "X", "scenario": bad}, "annotations": {},
                   "startsAt": "2026-11-22T10:00:00Z"}
        alert = alerts.parse(payload)[0]
        with pytest.raises(IncidentKitError):
            alerts.scenario_for(alert)
        with pytest.raises(IncidentKitError):
            run("triage", {}, alert=payload, out_dir=tmp_path)
    for bad in ("../../escape", "20261122T100000Z-../../x-abcdef", "20261122T100000Z-triage-abcdef/../../x"):
        with pytest.raises(IncidentKitError):
            run("triage", {}, out_dir=tmp_path, run_id=bad)
    assert list(tmp_path.iterdir()) == []
    rid = new_run_id("../../we<ird>\x00name/..")
    assert RUN_ID.match(rid) and "/" not in rid and ".." not in rid and "\x00" not in rid
