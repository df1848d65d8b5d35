"""The redaction pass: every kind of credential, in every encoding a report uses, and nothing else."""

from __future__ import annotations

import base64
import html
import json
import time
from pathlib import Path

import nbformat
import pytest

from incident_kit.errors import ConfigError
from incident_kit.redact import (
    FIELD_LABEL,
    Redactor,
    load_config,
    redact_file,
    redact_notebook,
    redact_obj,
    redact_text,
    redactor,
    secret_values,
)
from incident_kit.redact_rules import BUILTIN_RULES, secret_name

from secret_corpus import corpus

SECRETS = corpus(seed=20261122)

ORDINARY = [
    '2026-11-22T14:03:07.123Z ERROR shop-api GET /api/orders/1234 502 1203.4ms client=10.0.3.7 '
    'trace=4bf92f3577b34da6a3ce929d0e0e4736 msg="upstream connect error or disconnect/reset before headers"',
    '10.0.0.5 - - [22/Nov/2026:14:03:07 +0000] "POST /checkout HTTP/1.1" 500 532 "-" "Mozilla/5.0 (X11; Linux x86_64)"',
    "commit 1f0e3dad99908345f7439f8ffabdffc4a1b2c3d4 Author: Jane <jane@example.com> Date: Sun Nov 22 13:58:00 2026 +0000",
    "request_id=550e8400-e29b-41d4-a716-446655440000 span=00f067aa0ba902b7 sha256=e3b0c44298fc1c149afbfc8996fb92427ae41e4649b934ca495991b7852b855",
    "deploy v2.14.3 (sha 9fceb02) to prod-eu-1 at 2026-11-22 13:58:01+00:00 by ci",
    "FATAL:  password authentication failed for user \"shop\"",
    "FATAL:  remaining connection slots are reserved for non-replication superuser connections",
    "SELECT o.id, o.total FROM orders o WHERE o.created_at > now() - interval '1 hour' AND o.status = 'failed'",
    "token_count=12 max_tokens=4096 tokens_used=381 password_file=/run/secrets/db secret_name=db-creds",
    "database_url: env:DATABASE_URL   db_password: env:DB_PASSWORD   api_token: file:/run/secrets/api",
    "postgresql://shop@db.internal:5432/shop?sslmode=require and postgresql://shop:***@db.internal/shop",
    "https://example.com:8443/path?page=2&sort=desc#frag http://localhost:8787/alerts/generic",
    "PWD=/home/oncall OLDPWD=/tmp SHELL=/bin/bash LANG=C.UTF-8",
    "Basic authentication failed; the bearer of this message means no harm. Authorization: denied",
    'password = os.environ["DB_PASSWORD"]   token = get_token()   secret = None   api_key=""',
    "cache key=user:42:cart hit; monkey=banana; key-value store ok; keyspace_hits=1234",
    "Nov 22 14:03:07 web-1 kernel: [12345.678901] Out of memory: Killed process 4321 (gunicorn) total-vm:2048000kB",
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating",
    "AKIA is a prefix; sk_live_ alone is a prefix; ghp_ too; eyJ alone is not a token; xoxb- is incomplete",
    "p95 latency 1830ms > 800ms threshold; error_rate=0.231; pool 100/100 in use; 2026-11-22T14:00:00Z..14:30:00Z",
    "curl -H 'Authorization: Bearer $TOKEN' -H \"Authorization: Bearer [TOKEN]\" postgresql://user:pass@host:5432/db",
    "def connect(url: str, token: str | None = None, password: str = '', secret: Any = None) -> None:",
    "        self.token_secret = token_secret; add(v, named_secret=named_secret); secrets = env.workdir / 'x'",
    "- Credentials: if the provider rotated them, see the vault. Send `Authorization: Bearer $WEBHOOK_TOKEN`, or",
]


@pytest.mark.parametrize("secret", SECRETS, ids=[s.kind for s in SECRETS])
def test_every_kind_is_redacted_in_every_encoding(secret) -> None:
    forms = {
        "raw": secret.line,
        "html": html.escape(secret.line),
        "json": json.dumps(secret.line),
        "html(json)": html.escape(json.dumps(secret.line)),
        "repr": repr(secret.line),
    }
    for name, form in forms.items():
        out, n = redact_text(form)
        assert secret.value not in out, f"{secret.kind} leaked in {name} form: {out}"
        assert n >= 1 and "[REDACTED:" in out


def test_corpus_has_at_least_thirty_kinds() -> None:
    assert len({s.kind for s in SECRETS}) >= 30
    assert len({r.kind for r in BUILTIN_RULES}) >= 30


def test_context_is_kept_only_the_secret_goes() -> None:
    out, n = redact_text("connecting to postgresql://shop_app:Pg-s3cretXy@db.internal:5432/shop failed")
    assert out == "connecting to postgresql://shop_app:[REDACTED:url_password]@db.internal:5432/shop failed" and n == 1
    out, _ = redact_text('{"client_id": "web", "client_secret": "abcDEF123456"}')
    assert out == '{"client_id": "web", "client_secret": "[REDACTED:secret_assignment]"}'
    out, _ = redact_text("host=db user=shop password=hunter2hunter2 dbname=shop")
    assert out == "host=db user=shop password=[REDACTED:secret_assignment] dbname=shop"


@pytest.mark.parametrize("line", ORDINARY)
def test_no_false_positives_on_ordinary_lines(line: str) -> None:
    assert redact_text(line) == (line, 0)


def test_no_false_positives_on_real_logs_and_runbooks(shared_dir: Path) -> None:
    files = [p for p in shared_dir.rglob("*") if p.is_file() and p.suffix in (".log", ".csv", ".md", ".json")]
    assert len(files) >= 5
    for p in files:
        text = p.read_text(encoding="utf-8", errors="replace")
        assert Redactor().spans(text) == [], p


def test_redaction_is_idempotent() -> None:
    text = "\n".join(s.line for s in SECRETS)
    once, n = redact_text(text)
    assert n >= len(SECRETS)
    assert redact_text(once) == (once, 0)


def test_exact_values_in_every_form() -> None:
    value = 'p@ss w0rd&<x>"y'
    r = Redactor(values=[value, "short"])
    from urllib.parse import quote

    for form in (value, quote(value, safe=""), html.escape(value), json.dumps(value)[1:-1]):
        out, n = r.text(f"prefix {form} suffix")
        assert out == "prefix [REDACTED:secret] suffix" and n == 1, form
    assert r.text("short stays: too short to match safely") == ("short stays: too short to match safely", 0)


def test_secret_values_resolve_references_env_and_url_passwords(tmp_path: Path) -> None:
    secret_file = tmp_path / "api"
    secret_file.write_text("file-secret-123456\n")
    env = {"DATABASE_URL": "postgresql://shop:UrlPass-98765@db/shop", "SHOP_API_TOKEN": "tok-abcdef-123456",
           "HOME": "/root", "PGPASSWORD": "pgpass-24680", "PWD": "/work/main", "OLDPWD": "/tmp/somewhere",
           "GOOGLE_APPLICATION_CREDENTIALS": str(secret_file)}
    params = {"database_url": "env:DATABASE_URL", "api_token": "file:" + str(secret_file),
              "missing": "env:NOT_SET_ANYWHERE", "service": "shop-api", "webhook_secret": "plainsecret-777"}
    values = secret_values(params, env)
    assert {"UrlPass-98765", "file-secret-123456", "tok-abcdef-123456", "pgpass-24680", "plainsecret-777"} <= set(values)
    assert "shop-api" not in values and "/root" not in values and "/work/main" not in values
    assert "/tmp/somewhere" not in values and str(secret_file) not in values
    r = redactor(parameters=params, environ=env)
    out, _ = r.text("error at postgresql://shop:UrlPass-98765@db/shop with file-secret-123456")
    assert "UrlPass-98765" not in out and "file-secret-123456" not in out


def test_redact_obj_replaces_secret_named_fields_and_keeps_references() -> None:
    data = {"alert": {"labels": {"password": "hunter2hunter2", "db_password": "env:DB_PASSWORD", "service": "shop"},
                      "annotations": ["see Bearer abcdef1234567890", 3, None, True]},
            "sources": [{"name": "postgres", "error": "postgresql://u:pw-123456@db refused"}],
            "token_count": 5, "api_key": 123456789}
    out, n = redact_obj(data)
    assert out["alert"]["labels"] == {"password": FIELD_LABEL, "db_password": "env:DB_PASSWORD", "service": "shop"}
    assert "abcdef1234567890" not in json.dumps(out) and "pw-123456" not in json.dumps(out)
    assert out["token_count"] == 5 and out["api_key"] == FIELD_LABEL
    assert n == 4 and data["alert"]["labels"]["password"] == "hunter2hunter2"  # input untouched


def _png_with(text: bytes) -> str:
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + text + b"\x00" * 10).decode()


def test_redact_notebook_all_places_but_images() -> None:
    s = {x.kind: x for x in SECRETS}
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"parameters": {"database_url": "env:DATABASE_URL", "slack_token": s["slack_bot_token"].value}}
    code = nbformat.v4.new_code_cell(f'stripe = "{s["stripe_secret_key"].value}"\nprint(stripe)')
    png = "AKIAIOSFODNN7EXAMPLE" + _png_with(b"AKIAIOSFODNN7EXAMPLE")
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=[s["github_token"].line + "\n", "second line\n"]),
        nbformat.v4.new_output("execute_result", data={"text/plain": s["jwt"].line, "text/html": f"<td>{html.escape(s['url_password'].line)}</td>"}, execution_count=1),
        nbformat.v4.new_output("display_data", data={"image/png": png, "text/markdown": s["env_db_password"].line,
                                                     "application/json": {"headers": {"Authorization": "Bearer " + s["authorization_bearer"].value}}}),
        nbformat.v4.new_output("error", ename="OperationalError", evalue=s["libpq_password"].line,
                               traceback=["\x1b[0;31mOperationalError\x1b[0m: x",
                                          f"\x1b[38;5;241mpassword\x1b[39m\x1b[38;5;241m=\x1b[39m\x1b[38;5;124m{s['aws_secret_access_key'].value}\x1b[39m"]),
    ]
    code.metadata["tags"] = ["evidence", s["google_api_key"].value]
    md = nbformat.v4.new_markdown_cell("Notes: " + s["openssh_private_key"].line)
    nb.cells = [code, md]
    _, n = redact_notebook(nb)
    text = json.dumps(nb)
    for kind in ("slack_bot_token", "stripe_secret_key", "github_token", "jwt", "url_password", "env_db_password",
                 "authorization_bearer", "libpq_password", "aws_secret_access_key", "google_api_key", "openssh_private_key"):
        assert s[kind].value not in text, kind
    assert n >= 11
    assert code.outputs[2]["data"]["image/png"] == png  # images are never touched
    assert nb.metadata["papermill"]["parameters"]["database_url"] == "env:DATABASE_URL"
    assert code.outputs[3]["traceback"][0] == "\x1b[0;31mOperationalError\x1b[0m: x"  # clean lines keep colours
    nbformat.validate(nb)


def test_redact_file_kinds_keep_bytes_and_images(tmp_path: Path) -> None:
    s = {x.kind: x for x in SECRETS}
    img = "data:image/png;base64," + _png_with(b"ghp_" + b"a" * 36)
    page = tmp_path / "report.html"
    raw = (f'<p>{html.escape(s["stripe_secret_key"].line)}</p><img src="{img}">\n<pre>bad bytes: ').encode() + b"\xff\xfe\x00" + b"</pre>"
    page.write_bytes(raw)
    assert redact_file(page) == 1
    out = page.read_bytes()
    assert s["stripe_secret_key"].value.encode() not in out and img.encode() in out and b"\xff\xfe\x00" in out

    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"headline": s["twilio_api_key"].line, "alert": {"labels": {"token": "abcdef-123456"}}}))
    assert redact_file(summary) == 2
    loaded = json.loads(summary.read_text())
    assert s["twilio_api_key"].value not in json.dumps(loaded) and loaded["alert"]["labels"]["token"] == FIELD_LABEL

    nb_path = tmp_path / "notebook.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(s["npm_token"].line)])
    nbformat.write(nb, str(nb_path))
    assert redact_file(nb_path) == 1
    assert s["npm_token"].value not in nb_path.read_text() and nbformat.read(str(nb_path), as_version=4)

    clean = tmp_path / "clean.html"
    clean.write_bytes(b"<p>nothing here</p>")
    before = clean.stat().st_mtime_ns
    assert redact_file(clean) == 0 and clean.stat().st_mtime_ns == before

    broken = tmp_path / "broken.json"
    broken.write_text('{"truncated": "' + s["sendgrid_key"].value)
    assert redact_file(broken) == 1 and s["sendgrid_key"].value not in broken.read_text()


def test_config_rules_disable_and_env(tmp_path: Path) -> None:
    cfg = tmp_path / "redaction.yaml"
    cfg.write_text(
        "rules:\n"
        "  - kind: ticket_token\n    pattern: 'TKT-[0-9a-f]{16}'\n"
        "  - kind: internal_pin\n    pattern: '(?i)pin code (?P<secret>\\d{6})'\n    replacement: '######'\n"
        "disable: [mailgun_key]\n"
        "env: [VENDOR_BLOB]\n"
    )
    r = redactor(config=cfg, environ={"VENDOR_BLOB": "vendor-blob-value-1"})
    out, n = r.text("TKT-0123456789abcdef PIN code 123456 key-0123456789abcdef0123456789abcdef vendor-blob-value-1")
    assert out == "[REDACTED:ticket_token] PIN code ###### key-0123456789abcdef0123456789abcdef [REDACTED:secret]"
    assert n == 3

    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - kind: broken\n    pattern: '(unclosed'\n")
    with pytest.raises(ConfigError, match="broken"):
        load_config(bad)
    bad.write_text("- just a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)


def test_shipped_redaction_yaml_loads() -> None:
    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "parameters" / "redaction.yaml")
    assert "INCIDENT_KIT_WEBHOOK_TOKEN" in cfg.env


def test_secret_names() -> None:
    for name in ("password", "DB_PASSWORD", "api_key", "X-Api-Key", "client_secret", "PRIVATE_KEY", "credentials",
                 "aws_secret_access_key", "sessionid", "GITHUB_TOKEN", "passwd", "MYSQL_PWD"):
        assert secret_name(name), name
    for name in ("token_count", "password_file", "secret_name", "service", "max_connections", "key", "monkey",
                 "token_type", "password_changed_at"):
        assert not secret_name(name), name


def test_fast_on_multi_megabyte_text_and_hostile_lines() -> None:
    line = ('2026-11-22T14:03:07Z ERROR shop-api GET /api/orders/1234 502 1203.4ms client=10.0.3.7 key=orders:1 '
            'trace=4bf92f3577b34da6a3ce929d0e0e4736 msg="upstream connect error" user_id=42\n')
    text = line * (4_000_000 // len(line)) + SECRETS[0].line
    t0 = time.perf_counter()
    out, n = redact_text(text)
    elapsed = time.perf_counter() - t0
    assert n == 1 and SECRETS[0].value not in out
    assert elapsed < 20, f"4 MB took {elapsed:.1f}s"  # ~1 s on an idle core; generous for a loaded CI box
    for hostile in ("A" * 1_000_000, "password" * 125_000, "key=" * 250_000, "=a" * 500_000, "-" * 1_000_000,
                    "a:" * 500_000, "eyJ" * 330_000, "://" * 330_000, "0123456789abcdef" * 62_500):
        t0 = time.perf_counter()
        redact_text(hostile)
        assert time.perf_counter() - t0 < 10, hostile[:20]


def test_keyword_scan_gives_one_answer_by_every_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A text is scanned in plain Python (few keyword hits) or in numpy (many), in 4 MB chunks: the
    rules run on the same places either way, also at chunk edges, line starts and after non-ASCII."""
    import incident_kit.redact_scan as scan

    red = Redactor()
    lines = [x.line for x in SECRETS] + ORDINARY + [
        "s.Ab9dEfGhIjKl3nOpQrStUvWx at the very start", "fb 123456789012345|abcdefghijabcdefghij0123456789 ok",
        'GET /api/products?page=3 {"key":"user:9:cart"} api_key=Zx81kQ0pLm27vBn4Yt6R', "é ü 日本 token=Ab9dEfGhIjKl3nOpQrStUvWx"]
    texts = lines + ["\n".join(lines), "\n".join(reversed(lines)), html.escape("\n".join(lines))]
    expected = [red._index.scan(t) for t in texts]  # noqa: SLF001 - the paths are private; their agreement is the point
    for few, chunk in ((-1, scan.CHUNK), (10**9, scan.CHUNK), (-1, 7), (-1, 97)):
        monkeypatch.setattr(scan, "FEW", few)
        monkeypatch.setattr(scan, "CHUNK", chunk)
        assert [red._index.scan(t) for t in texts] == expected, (few, chunk)  # noqa: SLF001
    assert red.text("\n".join(lines))[0] == redact_text("\n".join(lines))[0]


def test_server_ledger_stores_alerts_redacted(tmp_path: Path) -> None:
    """The webhook server's ledger (under reports/.incident-kit/) never holds an alert's secrets."""
    from incident_kit import alerts
    from incident_kit.server.ledger import Ledger

    s = {x.kind: x for x in SECRETS}
    payload = {"status": "firing", "labels": {"alertname": "Leaky", "service": "shop-api", "api_token": "tok-abcdef-123456"},
               "annotations": {"description": s["github_token"].line, "runbook": "env:RUNBOOK"},
               "startsAt": "2026-11-22T10:00:00Z"}
    alert = alerts.parse(payload)[0]
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    try:
        with ledger.write_transaction() as conn:
            ledger.insert_run(conn, "20261122T100000Z-triage-abcdef", "triage", alert.group_key, alert.to_dict(), {})
            ledger.insert_alert(conn, alert, "20261122T100000Z-triage-abcdef", "started")
        stored = ledger.alerts_of("20261122T100000Z-triage-abcdef")[0]
        assert stored["labels"]["service"] == "shop-api" and stored["labels"]["api_token"] == FIELD_LABEL
        assert stored["annotations"]["runbook"] == "env:RUNBOOK"
    finally:
        ledger.dispose()
    raw = (tmp_path / "ledger.sqlite").read_bytes()
    assert b"tok-abcdef-123456" not in raw and s["github_token"].value.encode() not in raw
