"""import-runbook: real and awkward runbooks become valid, thin notebooks; nothing that changes a
system is ever in a code cell; placeholders become parameters; bad files give one-line errors."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest

from incident_kit import sqlguard
from incident_kit.cli import main
from incident_kit.errors import ConfigError
from incident_kit.importer import import_runbook, summary_text
from incident_kit.importer.reading import decode_runbook

DATA = Path(__file__).parent / "data" / "runbooks"
AWKWARD = DATA / "awkward.md"

#: Every function a generated code cell may call through inv.collect.
READ_ONLY_CALLS = {
    "ik.db.query", "ik.probes.http", "ik.probes.tcp", "ik.probes.dns", "ik.probes.tls", "ik.redis.info",
    "ik.redis.queues", "ik.logs.read", "ik.prometheus.query", "ik.prometheus.query_range", "ik.host.stats", "ik.host.disk", "ik.host.processes", "ik.deploys.git",
}
#: Words that must never appear in the executable part of a code cell.
MUTATING_WORDS = re.compile(
    r"(?i)\b(pg_terminate_backend|pg_cancel_backend|revert|push|pkill|kill|rollback|restart|scale|"
    r"flushall|flushdb|delete|update|insert|drop|truncate|vacuum|rm|export|deploy|set\s+\w+=)\b"
)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def assert_code_cells_read_only(nb: dict) -> int:
    """Walk every code cell; fail on anything but reads through known ik sources. Returns the calls seen.

    Each call must be ``inv.collect(label, <read-only ik source>, ...)``; SQL must pass sqlguard;
    no other argument and no code outside string literals and comments may hold a mutating word.
    """
    calls = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _dotted(node.func)
            if name != "inv.collect":
                assert name in ("ik.Investigation", "len", "hit", "inv.headline", "inv.say") or name.endswith((".str.contains", ".astype", ".tail", ".head", ".between", ".fillna")), (
                    f"unexpected call {name} in:\n{source}")
                continue
            fn = _dotted(node.args[1])
            assert fn in READ_ONLY_CALLS, f"unexpected source {fn} in:\n{source}"
            calls += 1
            values = [n.value for a in node.args[2:] for n in ast.walk(a)
                      if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            if fn == "ik.db.query":
                binds = [k.arg for k in node.keywords if k.arg]
                assert sqlguard.is_read_only(values[0], "postgres", binds), source
                values = values[1:]
            assert not any(MUTATING_WORDS.search(v) for v in values), source
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
        bare = re.sub(r'"""[\s\S]*?"""|([\'"]).*?(?<!\\)\1', "", code)  # without string literals
        assert not MUTATING_WORDS.search(bare), f"mutating word in code:\n{source}"
    return calls


def _read(path: Path) -> dict:
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    return json.loads(path.read_text(encoding="utf-8"))


def _markdown(nb: dict) -> str:
    return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def _code(nb: dict) -> str:
    return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


@pytest.fixture(scope="module")
def shared_runbooks(shared_dir: Path) -> list[Path]:
    found = sorted((shared_dir / "runbooks").glob("*.md"))
    assert len(found) >= 2
    return found


def test_shared_runbooks_become_valid_read_only_notebooks(shared_runbooks: list[Path], tmp_path: Path) -> None:
    for runbook in shared_runbooks:
        out = tmp_path / f"{runbook.stem}.ipynb"
        result = import_runbook(runbook, out)
        nb = _read(out)
        tally = result.total()
        assert tally.commands > 40 and sum(tally.calls.values()) >= 10 and sum(tally.manual.values()) >= 5
        assert assert_code_cells_read_only(nb) == sum(tally.calls.values()) - _merged_calls(nb)
        params = nb["cells"][1]
        assert params["metadata"]["tags"] == ["parameters"] and params["cell_type"] == "code"
        assert "import incident_kit as ik" in "".join(nb["cells"][2]["source"])
        assert all(c.get("outputs") == [] for c in nb["cells"] if c["cell_type"] == "code")
        text = runbook.read_text(encoding="utf-8")
        markdown = _markdown(nb)
        for heading in re.findall(r"^#{2,4} .+$", text, flags=re.M):
            assert heading in markdown, heading  # every heading is kept as written
        assert "pg_terminate_backend" in markdown and "pg_terminate_backend" not in _code(nb)


def _merged_calls(nb: dict) -> int:
    """Return how many commands were folded into another call (several queue keys in one call)."""
    return sum(len(re.findall(r"^# \$ ", "".join(c["source"]), flags=re.M)) - 1
               for c in nb["cells"] if c["cell_type"] == "code" and "ik.redis.queues" in "".join(c["source"]))


def test_runbook_001_calls_parameters_and_manual_actions(shared_runbooks: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "r001.ipynb"
    result = import_runbook(shared_runbooks[0], out)
    nb = _read(out)
    code, markdown = _code(nb), _markdown(nb)
    params = "".join(nb["cells"][1]["source"])
    assert "database_url = 'env:DATABASE_URL'" in params and "redis_url = 'env:REDIS_URL'" in params
    assert "user_id = ''" in params and "your_org = ''" in params and "app_url = 'http://localhost:3001'" in params
    assert "s3_secret_access_key = 'env:S3_SECRET_ACCESS_KEY'" in params
    assert "ik.probes.http, [app_url + '/api/health']" in code
    assert "inv.say(f'- https://sentry.io/organizations/{your_org}/issues/')" in code  # a placeholder in a link
    assert "# $ curl http://localhost:3001/api/health" in code  # the original is kept in a comment
    assert "customer" not in code and ":user_id" in code and "user_id=user_id" in code
    assert "ik.redis.queues, redis_url, ['bull:video-transcoding:waiting', 'bull:video-transcoding:active'," in code
    assert "ik.deploys.git, git_repo, start, end" in code and "ik.host.disk, '/'" in code
    assert ".str.contains('5xx|ERROR', case=True" in code and ".str.contains('error', case=False" in code
    assert ("logs_1 = logs_1[(hit('level') | hit('status') | hit('path') | hit('message') | "
            "logs_1['status'].between(500, 599).fillna(False))]") in code  # grep "5xx\|ERROR"
    for manual in ("git revert [commit-hash]", 'pkill -f "videoProcessingWorker"', "bun run workers",
                   'DATABASE_URL="postgresql://...?connection_limit=100&pool_timeout=20"'):
        cell = next(c for c in nb["cells"] if manual in "".join(c["source"]))
        assert cell["cell_type"] == "markdown" and "Manual action" in "".join(cell["source"])
    assert "echo $S3_SECRET_ACCESS_KEY" in markdown and "echo" not in code
    assert "1. [High Error Rate Alert](#High-Error-Rate-Alert)" in markdown  # the contents links work in Jupyter
    assert result.total().inline_calls == 1  # `redis-cli -u $REDIS_URL ping` in a list item


def test_runbook_003_vendor_cli_and_repaired_text(shared_runbooks: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "r003.ipynb"
    result = import_runbook(shared_runbooks[1], out)
    nb = _read(out)
    markdown = _markdown(nb)
    assert result.runbook.repaired_lines == 5 and "🚨 INCIDENT DETECTED 🚨" in markdown and "ðŸ" not in markdown
    assert any("railway CLI" in reason for reason in result.total().text)
    assert "railway" not in _code(nb)
    for manual in ("railway rollback --service", "git push origin main", "railway variables set NEXTAUTH_SECRET"):
        cells = [c for c in nb["cells"] if manual in "".join(c["source"])]
        assert cells and all(c["cell_type"] == "markdown" and "Manual action" in "".join(c["source"]) for c in cells)
    assert "| Role | Contact | Escalation |" in markdown and "- [ ] Update status page (resolved)" in markdown
    assert "ainative_studio_url = 'https://www.ainative.studio'" in "".join(nb["cells"][1]["source"])


def test_awkward_runbook(tmp_path: Path) -> None:
    out = tmp_path / "awkward.ipynb"
    result = import_runbook(AWKWARD, out)
    nb = _read(out)
    code, markdown = _code(nb), _markdown(nb)
    assert_code_cells_read_only(nb)
    tally = result.total()
    assert sum(tally.manual.values()) >= 25 and tally.inline_calls == 4
    assert set(tally.other_blocks) == {"json", "typescript", "yaml", "untagged"}
    # every command of the Mitigate block is a manual action, none is code
    mitigate = AWKWARD.read_text(encoding="utf-8").split("### Mitigate")[1].split("### Reference")[0]
    for line in re.findall(r"^(?!#|-- )(\S.+)$", mitigate, flags=re.M):
        if line.startswith("```") or line in ("SQL",):
            continue
        assert line not in code, line
        assert line in markdown, line
    for expected in ("ik.probes.dns, [checkout_example_host]",
                     "ik.prometheus.query, prometheus_url, 'sum(rate(http_requests_total{status=~\"5..\"}[5m]))'", "ik.probes.tcp, [f'{db_internal_host}:5432']",
                     "ik.probes.tls, [f'{checkout_example_host}:443']", "ik.redis.info, redis_url, 'memory')",
                     "[f'{app_url}/api/orders/{order_id}']", "customer_id=customer_id, min_order_id=min_order_id",
                     "ik.host.processes", "ik.host.stats", "ik.host.disk, '/var'", "ik.db.query, database_url, 'SELECT now()'",
                     "logs_1 = logs_1.tail(20)", "~processes_1['cmdline']", "ik.host.processes, n=10_000)"):
        assert expected in code, expected
    params = "".join(nb["cells"][1]["source"])
    assert "checkout_token = 'env:CHECKOUT_TOKEN'" in params and "app_id = ''" in params and "your_org = ''" in params
    assert "logs = ['/var/log/checkout/app.log', 'logs/checkout.log']" in params
    assert "prometheus_url = 'http://localhost:9090'" in params
    assert "Bearer" not in code.replace("# ", "").split("probe_5 =")[1].split("\n")[0]  # headers are not sent
    for kept in ("| Health | `curl -sf http://localhost:8080/healthz` | `200` |", "- [x] Open the [incident doc]",
                 '```json\n{"alert": "checkout_errors"', "```typescript\n// src/checkout/retry.ts",
                 "<https://wiki.example.com/escalation>", "🚨 (garbled on purpose) and 🔥 Hot path", "café team"):
        assert kept in markdown, kept
    assert "FOR UPDATE" in markdown and "FOR UPDATE" not in code
    rota = [c for c in nb["cells"] if "[rota][rota]" in "".join(c["source"])]  # a reference link, far from its definition
    assert rota and '[rota]: https://wiki.example.com/rota "On-call rota"' in "".join(rota[0]["source"])


def test_badly_encoded_bytes_are_replaced_and_counted(tmp_path: Path) -> None:
    raw = AWKWARD.read_bytes().replace("cafÃ©".encode(), b"caf\xe9") + b"\nTrailing \xff\xfe junk `df -h`\n"
    src = tmp_path / "latin1.md"
    src.write_bytes(raw)
    result = import_runbook(src, tmp_path / "latin1.ipynb")
    assert result.runbook.replaced_bytes == 3
    assert "3 undecodable bytes replaced" in summary_text(result)
    assert "caf\ufffd team" in _markdown(_read(tmp_path / "latin1.ipynb"))


def test_decode_handles_bom_and_crlf(tmp_path: Path) -> None:
    text = decode_runbook(b"\xef\xbb\xbf# T\r\n\r\n```bash\r\ndf -h\r\n```\r\n", tmp_path / "x.md").text
    assert text.startswith("# T\n") and "\r" not in text
    (tmp_path / "crlf.md").write_bytes(b"# T\r\n\r\n```bash\r\ndf -h\r\n```\r\n")
    result = import_runbook(tmp_path / "crlf.md", tmp_path / "crlf.ipynb")
    assert result.total().calls["ik.host.disk"] == 1


def test_scenario_per_section(shared_runbooks: list[Path], tmp_path: Path) -> None:
    result = import_runbook(shared_runbooks[0], tmp_path / "rb.ipynb", scenario_per_section=True)
    names = [nb.path.name for nb in result.notebooks]
    assert "rb_high_error_rate_alert.ipynb" in names and "rb_queue_processing_delays.ipynb" in names
    assert "Table of Contents" in result.skipped_sections and "Escalation" in result.skipped_sections
    for nb in result.notebooks:
        data = _read(nb.path)
        assert "".join(data["cells"][0]["source"]).startswith(f"# {nb.title}")
        assert f"ik.Investigation('{nb.path.stem}'" in _code(data)
        assert_code_cells_read_only(data)
    assert sum(n.tally.commands for n in result.notebooks) == import_runbook(shared_runbooks[0], tmp_path / "all.ipynb").total().commands
    result = import_runbook(shared_runbooks[1], tmp_path / "ai.ipynb", scenario_per_section=True)
    titles = [nb.title for nb in result.notebooks]
    assert "Scenario 4: Database Connection Pool Exhausted" in titles  # a group section is cut at its H3s
    assert "Common Incident Scenarios" not in titles


def test_import_is_deterministic(tmp_path: Path) -> None:
    import_runbook(AWKWARD, tmp_path / "a.ipynb")
    first = (tmp_path / "a.ipynb").read_bytes()
    import_runbook(AWKWARD, tmp_path / "a.ipynb")
    assert (tmp_path / "a.ipynb").read_bytes() == first  # re-importing gives a clean git diff


def test_cli_prints_summary_and_writes_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "My Runbook.md").write_bytes(AWKWARD.read_bytes())
    assert main(["import-runbook", "My Runbook.md"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "notebooks" / "my_runbook.ipynb").is_file()
    assert re.search(r"\d+ commands: \d+ became calls, \d+ manual actions, \d+ left as text", out)
    assert "manual actions (shown, never run):" in out and "left as text, why:" in out and "garbled" in out


@pytest.mark.parametrize("setup, expected", [
    (lambda p: None, "not found"),
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00"), "binary"),
])
def test_unreadable_runbooks_are_one_line_errors(tmp_path: Path, setup, expected: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rb.md"
    setup(path)
    with pytest.raises(ConfigError) as err:
        import_runbook(path, tmp_path / "x.ipynb")
    assert expected in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)
    assert main(["import-runbook", str(path), "-o", str(tmp_path / "x.ipynb")]) == 1
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and expected in stderr


def test_bad_output_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"expected a path ending in \.ipynb"):
        import_runbook(AWKWARD, tmp_path / "out.txt")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="cannot write it"):
        import_runbook(AWKWARD, tmp_path / "file" / "nb.ipynb")


def test_the_code_cell_check_catches_mutations() -> None:
    def notebook(source: str) -> dict:
        return {"cells": [{"cell_type": "code", "source": source}]}

    assert assert_code_cells_read_only(notebook("q = inv.collect('x', ik.db.query, database_url, 'SELECT 1')\nq")) == 1
    for bad in ("q = inv.collect('x', ik.db.query, database_url, 'DELETE FROM t')",
                "q = inv.collect('x', ik.db.query, database_url, 'SELECT pg_terminate_backend(1)')",
                "import subprocess\nsubprocess.run(['git', 'revert', 'HEAD'])",
                "q = inv.collect('x', ik.probes.http, ['http://h/admin/restart'])",
                "q = inv.collect('x', some_function, 1)",
                "os.system('pkill worker')"):
        with pytest.raises(AssertionError):
            assert_code_cells_read_only(notebook(bad))


def test_sections_under_top_level_headings(tmp_path: Path) -> None:
    src = tmp_path / "flat.md"
    src.write_text("# Disk full\n\n```bash\ndf -h\n```\n\n# Database down\n\n```bash\npsql $DATABASE_URL -c 'SELECT 1'\n```\n"
                   "\n# Contacts\n\nCall Bob.\n", encoding="utf-8")
    result = import_runbook(src, tmp_path / "nb" / "flat.ipynb", scenario_per_section=True)
    assert [nb.path.name for nb in result.notebooks] == ["flat_disk_full.ipynb", "flat_database_down.ipynb"]
    assert result.skipped_sections == ["Contacts"]


def test_runbook_without_commands_or_headings(tmp_path: Path) -> None:
    src = tmp_path / "prose.md"
    src.write_text("Just call the on-call engineer: `+1 555 0100`.\n", encoding="utf-8")
    result = import_runbook(src, tmp_path / "prose.ipynb")
    nb = _read(tmp_path / "prose.ipynb")
    assert result.total().commands == 0 and "".join(nb["cells"][0]["source"]).startswith("# prose")
    assert "Just call the on-call engineer" in _markdown(nb)
    with pytest.raises(ConfigError, match="no section has commands"):
        import_runbook(src, tmp_path / "prose.ipynb", scenario_per_section=True)


def test_credentials_in_a_runbook_are_not_copied(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "leaky.md"
    src.write_text("# Leaky\n\nDB is postgresql://app:s3cr3tpw@db.internal:5432/prod\n\n```bash\n"
                   "psql postgresql://app:s3cr3tpw@db.internal:5432/prod -c \"SELECT 1\"\n"
                   "curl -H \"Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0\" https://api.example.com/health\n"
                   "railway variables set NEXTAUTH_SECRET=\"k9J2mQ8xL1pZ7vB3nR5t\"\n"
                   "redis-cli -h cache -a hunter2pass LLEN jobs\nmysql -uroot -pMyS3cret -e \"SELECT 1\"\n```\n",
                   encoding="utf-8")
    assert main(["import-runbook", str(src), "-o", str(tmp_path / "leaky.ipynb")]) == 0
    written = (tmp_path / "leaky.ipynb").read_text(encoding="utf-8")
    for secret in ("s3cr3tpw", "9f8e7d6c5b4a39281706f5e4d3c2b1a0", "k9J2mQ8xL1pZ7vB3nR5t", "hunter2pass", "MyS3cret"):
        assert secret not in written
    assert "ik.db.query, database_url, 'SELECT 1'" in written  # the connection string is not a parameter value
    assert "redacted in the notebook: 4" in capsys.readouterr().out


def test_front_matter_transcripts_and_odd_fences(tmp_path: Path) -> None:
    src = tmp_path / "odd.md"
    src.write_text(
        "---\ntitle: Front matter runbook\nowner: sre\n---\n\n<details><summary>Click</summary>\n\n```bash\ndf -h\n```\n\n"
        "</details>\n\n~~~sh\nfree -m\n~~~\n\n````markdown\n```bash\nrm -rf /\n```\n````\n\n"
        "```bash title=\"check.sh\"\ncurl -fsS https://example.com/health || echo down\n```\n\n"
        "```console\n$ uptime\n 10:00:00 up 3 days\nuser@web1:~$ sudo systemctl restart nginx\n```\n\n"
        "Setext title\nwith two lines\n---\n\n```bash\nunterminated \"quote\n", encoding="utf-8")
    result = import_runbook(src, tmp_path / "odd.ipynb")
    nb = _read(tmp_path / "odd.ipynb")
    code, markdown = _code(nb), _markdown(nb)
    assert_code_cells_read_only(nb)
    assert "".join(nb["cells"][0]["source"]).startswith("# Front matter runbook\n") and "owner: sre" not in markdown
    assert result.total().calls == {"ik.host.disk": 1, "ik.host.stats": 2, "ik.probes.http": 1}
    assert " 10:00:00 up 3 days" in markdown and "10:00:00" not in code  # transcript output is not a command
    assert "sudo systemctl restart nginx" in markdown and "Manual action" in markdown
    assert "rm -rf /" in markdown and "rm -rf" not in code  # a fence shown inside a markdown fence is text
    assert "could not be parsed" in " ".join(result.total().text)


def test_links_with_placeholders_become_one_markdown_list(tmp_path: Path) -> None:
    src = tmp_path / "links.md"
    src.write_text("```bash\n# see https://a.example/[org]/x and https://b.example/<app-id>/y\n```\n", encoding="utf-8")
    import_runbook(src, tmp_path / "links.ipynb")
    cell = next(c for c in _read(tmp_path / "links.ipynb")["cells"] if "inv.say" in "".join(c["source"]))
    said: list[str] = []
    exec("".join(cell["source"]), {"inv": type("Inv", (), {"say": lambda self, t: said.append(t)})(),
                                   "org": "acme", "app_id": "42"})
    assert said == ["- https://a.example/acme/x\n- https://b.example/42/y"]
