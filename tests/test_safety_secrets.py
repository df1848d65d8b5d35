"""Seeded secrets, end to end: >= 30 kinds planted in logs, alert payloads, database query texts,
commit messages, deploy events, the environment and parameters, plus a fresh sample of every
gitleaks rule (``gitleaks_oracle``) in log messages, commit subjects and bodies, alert labels and
annotations, SQL text and a probe's error body; real scenario runs (papermill, real PostgreSQL,
nbconvert); then every byte of every file under the reports directory is searched.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from pathlib import Path
from urllib.parse import quote

import pytest

from incident_kit.runner import run

from gitleaks_oracle import samples, seeds_from_env
from safety_world import Recorder, World, files_under
from secret_corpus import corpus

pytestmark = pytest.mark.slow

#: Fixed seeds: the same values every run; INCIDENT_KIT_GITLEAKS_SEEDS=random (or 1,2,3) draws
#: others for a deeper check (see tests/test_redact_gitleaks.py). Random values: a hit can only be a leak.
SEEDS = seeds_from_env((20,))
SECRETS = corpus(SEEDS[0])


def _needles(value: str) -> set[bytes]:
    """Return the byte strings whose presence would mean ``value`` leaked (every encoding we write)."""
    parts = [line for line in value.splitlines() if len(line) >= 8] or [value]
    out: set[bytes] = set()
    for p in parts:
        for form in (p, html.escape(p), json.dumps(p)[1:-1], quote(p, safe=""), quote(p)):
            out.add(form.encode("utf-8"))
    return out


def _chunks(lines: list[str], size: int) -> list[str]:
    """Join ``lines`` into newline-separated texts of at most ``size`` characters (an annotation's limit)."""
    out: list[str] = []
    for line in lines:
        if out and len(out[-1]) + 1 + len(line) <= size:
            out[-1] += "\n" + line
        else:
            out.append(line[:size])
    return out


@pytest.fixture(scope="module")
def gitleaks_samples(shared_dir):
    made = [s for seed in SEEDS for s in samples(shared_dir, seed=seed, per_rule=1)[0]]
    # a marker after each sample tells whether its context reached an output
    return [(s, f"{s.line} ref=glk{i:03d}q") for i, s in enumerate(made)]


@pytest.fixture(scope="module")
def seeded(pg_cluster, tmp_path_factory, monkeypatch_module, gitleaks_samples):
    root = tmp_path_factory.mktemp("seeded")
    gl = [line for _, line in gitleaks_samples]
    world = World(pg_cluster, root / "world", "seeded")
    # Environment: shapeless secrets (no rule can recognise them) that the app also wrote into its logs.
    env_secrets = {"SHOP_PARTNER_TOKEN": "Zq" + secrets.token_hex(10), "PAYMENTS_API_KEY": "pk" + secrets.token_hex(11),
                   "LEGACY_DB_PASSWORD": "Lg" + secrets.token_hex(9)}
    for k, v in env_secrets.items():
        monkeypatch_module.setenv(k, v)
    monkeypatch_module.setenv("IK_SAFETY_DATABASE_URL", world.database_url)
    lines = [s.line for s in SECRETS]
    bare = [f"partner call with {env_secrets['SHOP_PARTNER_TOKEN']} failed",
            f"charge rejected for {env_secrets['PAYMENTS_API_KEY']}",
            f"fallback dsn used {env_secrets['LEGACY_DB_PASSWORD']}",
            f"reader login as {world.role} with {world.password} refused"]
    base = lines + bare
    world.write_logs([f"{base[j % len(base)]} || {gl[(2 * j) % len(gl)]} || {gl[(2 * j + 1) % len(gl)]}"
                      for j in range(len(gl) // 2 + 1)])
    half = len(SECRETS) // 2
    world.write_changes([f"hotfix: {s.line}" for s in SECRETS[:half:3]] + [f"fix: {line}" for line in gl[::7]]
                        + ["release 1.9"])
    alert = world.alert(
        labels={**{f"leak_{i}": s.line[:200] for i, s in enumerate(SECRETS[::4])},
                **{f"gl_{i}": line for i, line in enumerate(gl[3::17]) if "\n" not in line}},
        annotations={"summary": SECRETS[1].line, "description": " | ".join(s.line for s in SECRETS[2::5]),
                     **{f"details_{i}": chunk for i, chunk in enumerate(_chunks(gl, 3800))},  # all reach summary.json
                     "password": "Ann-" + secrets.token_hex(8), "runbook_url": f"https://wiki/x?token={secrets.token_hex(12)}"},
    )
    world.long_statement(" ; ".join(gl[1:12]))
    failing_probe = Recorder(status=503, body="\n".join(gl[2::9]).encode())
    for i in range(0, len(SECRETS), 9):
        world.long_statement(" ; ".join(s.line for s in SECRETS[i:i + 9]) + f" {world.password} {env_secrets['SHOP_PARTNER_TOKEN']}")
    world.lock_chain(SECRETS[-1].line, SECRETS[-2].line + " " + env_secrets["PAYMENTS_API_KEY"])
    world.wait_visible(count=len(range(0, len(SECRETS), 9)) + 3, min_age_s=1.5)
    out = root / "reports"
    planted = [s.value for s in SECRETS] + list(env_secrets.values()) + [world.password]
    planted += [v for k, v in alert["alerts"][0]["annotations"].items() if k == "password"]
    planted.append(alert["alerts"][0]["annotations"]["runbook_url"].split("token=")[1])
    planted += [s.secret for s, _ in gitleaks_samples]
    results = []
    try:
        results.append(run("db_slow_queries_and_locks", {
            "logs": [str(world.logs)], "service": "", "database_url": "env:IK_SAFETY_DATABASE_URL",
            "git_repo": str(world.git_repo), "deploy_events": str(world.deploy_events),
            "long_query_s": 1, "long_transaction_s": 1,
        }, alert=alert, out_dir=out, timeout=240))
        probe_secret = "Pr-" + secrets.token_hex(8)
        planted.append(probe_secret)
        results.append(run("triage", {
            "logs": [str(world.logs)], "service": "", "database_url": "env:IK_SAFETY_DATABASE_URL",
            "git_repo": str(world.git_repo), "deploy_events": str(world.deploy_events),
            "probe_targets": [f"http://ops:{probe_secret}@127.0.0.1:{world.http.server_address[1]}/health",
                              f"{world.http.base}/api/products?access_token={SECRETS[0].value}",
                              f"{failing_probe.base}/partner/health"],
        }, out_dir=out, timeout=240))
    finally:
        failing_probe.close()
        world.close()
    return out, results, planted


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_at_least_thirty_kinds_were_planted() -> None:
    assert len({s.kind for s in SECRETS}) >= 30


def test_runs_completed_with_the_planted_data(seeded) -> None:
    out, results, _ = seeded
    for r in results:
        assert r.status in ("ok", "degraded"), r.summary.get("error")
        failed = [s for s in r.summary["sources"] if s["status"] == "failed"]
        assert not failed, failed
    locks = results[0].summary
    assert any("lock" in json.dumps(f).lower() for f in locks["findings"]), locks["findings"]


def test_no_planted_secret_in_any_file_byte_for_byte(seeded) -> None:
    out, results, planted = seeded
    files = files_under(out)
    assert {p.name for p in files} >= {"notebook.ipynb", "summary.json", "report.html", "index.html"}
    leaks = []
    for p in files:
        data = p.read_bytes()
        for value in planted:
            for needle in _needles(value):
                if needle in data:
                    i = data.index(needle)
                    leaks.append(f"{p.relative_to(out)}: {value[:24]}... near {data[max(0, i - 60):i + 20]!r}")
    assert not leaks, "\n".join(leaks[:20])


def test_the_secrets_were_there_to_be_removed(seeded) -> None:
    """The check above is only meaningful if the secrets reached the outputs: count the labels."""
    out, results, _ = seeded
    kinds: set[str] = set()
    for p in files_under(out):
        kinds |= set(re.findall(rb"\[REDACTED:([a-z_]+)\]", p.read_bytes()))
    assert len(kinds) >= 15, sorted(kinds)
    assert b"secret" in kinds  # exact values (env, parameters) were needed too
    summary = json.loads((results[0].dir / "summary.json").read_text())
    assert "[REDACTED:" in json.dumps(summary["alert"])  # the alert payload went through
    nb = (results[0].dir / "notebook.ipynb").read_text()
    assert "env:IK_SAFETY_DATABASE_URL" in nb  # references stay references


def test_secret_references_stay_references_in_the_report_parameters(seeded) -> None:
    out, results, _ = seeded
    nb = json.loads((results[1].dir / "notebook.ipynb").read_text())
    params = nb["metadata"]["papermill"]["parameters"]
    assert params["database_url"] == "env:IK_SAFETY_DATABASE_URL"
    assert re.search(r"ops:\[REDACTED:[a-z_]+\]@", json.dumps(params["probe_targets"]))


def test_gitleaks_samples_were_planted_and_shown(seeded, gitleaks_samples, shared_dir) -> None:
    """A sample of >= 90% of gitleaks' rules was planted (each matched by gitleaks' own regex in its
    context line), and their context reached the outputs: the test saw something to remove."""
    from gitleaks_oracle import load_rules

    out, _, _ = seeded
    rules = {s.rule for s, _ in gitleaks_samples}
    assert len(rules) >= 0.9 * len(load_rules(shared_dir))
    data = b"".join(p.read_bytes() for p in files_under(out))
    shown = [s.rule for i, (s, _) in enumerate(gitleaks_samples) if f"glk{i:03d}q".encode() in data]
    print(f"\ngitleaks samples shown in the outputs: {len(shown)}/{len(gitleaks_samples)}")
    assert len(shown) >= 0.9 * len(gitleaks_samples), len(shown)
