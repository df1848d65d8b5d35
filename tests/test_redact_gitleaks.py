"""Recall and precision of the redaction pass, measured against gitleaks' default rule set.

Recall: a fresh sample of every gitleaks rule (generated from the rule's own regex, kept only when
RE2 finds it in its context line and no allowlist excuses it; see ``gitleaks_oracle``) must be gone
after redaction, in the raw line and in its JSON- and HTML-escaped forms.
Precision: on real text no one here wrote (the ten loghub sets, the runbooks, the alert payloads)
and on the project's docs, fewer than 0.1% of the lines may lose anything.

The samples are deterministic: for each seed of ``SEEDS`` the oracle draws two samples of every
rule in random contexts (the draw that once found leaks for these seeds) plus one sample of every
rule in *each* context, so every rule is checked several times in every context. For a deeper
check set ``INCIDENT_KIT_GITLEAKS_SEEDS`` to a comma-separated list of seeds, or to ``random``
for one fresh seed (printed in every failure message), e.g.::

    INCIDENT_KIT_GITLEAKS_SEEDS=random python -m pytest tests/test_redact_gitleaks.py
    INCIDENT_KIT_GITLEAKS_SEEDS=7,8,9 python -m pytest tests/test_redact_gitleaks.py

``benchmarks/sweep_gitleaks.py`` plants one sample of every rule in each context (its own draw per
seed, not this test's) over hundreds of seeds and lists every leak.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from incident_kit.redact import Redactor, redact_text

from gitleaks_oracle import CONTEXTS, load_rules, seeds_from_env, study

#: Fixed seeds (1, 20 and 3334454750 once let a linkedin client id, a curl key header and a
#: Sumo Logic access id through); ``INCIDENT_KIT_GITLEAKS_SEEDS`` overrides them (module doc).
SEEDS = seeds_from_env((1, 20, 3334454750))
SEED = ",".join(map(str, SEEDS))  # in every failure message
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def oracle(shared_dir: Path):
    made, failed = study(shared_dir, SEEDS)
    return made, failed, load_rules(shared_dir)


def test_samples_of_at_least_90_percent_of_the_rules_were_shown_in_context(oracle) -> None:
    made, failed, rules = oracle
    for ctx in CONTEXTS:  # log lines, stack traces, commits, alerts, SQL, probes...
        shown = {s.rule for s in made if s.context == ctx}
        assert len(shown) >= 0.9 * len(rules), f"seeds {SEED}: in {ctx}, no sample for {failed[ctx]}"


def test_every_gitleaks_rule_is_redacted_in_context(oracle) -> None:
    made, _, _ = oracle
    leaks = []
    for s in made:
        out, n = redact_text(s.line)
        if s.secret in out:
            leaks.append(f"{s.rule} [{s.context}]: {out[:240]!r}")
    recall = 1 - len(leaks) / len(made)
    print(f"\ngitleaks recall (seeds {SEED}): {recall:.2%} of {len(made)} samples, "
          f"{len({s.rule for s in made})} rules")
    assert not leaks, f"seeds {SEED}:\n" + "\n".join(leaks)


def test_escaped_forms_are_redacted_too(oracle) -> None:
    made, _, _ = oracle
    leaks = []
    for s in made:
        # JSON turns tabs and newlines into \t and \n; the outputs are redacted before they are
        # serialised, so the JSON form is checked where no whitespace changes.
        forms = [("html", html.escape)] + ([("json", json.dumps)] if not any(c in s.line for c in "\t\n") else [])
        for form, escape in forms:
            out, _ = redact_text(escape(s.line))
            if escape(s.secret).strip('"') in out:
                leaks.append(f"{s.rule} ({form}): {out[:200]!r}")
    assert not leaks, f"seeds {SEED}:\n" + "\n".join(leaks)


def _corpus_lines(shared_dir: Path) -> dict[str, list[str]]:
    sets = {
        "loghub": [p for p in (shared_dir / "data" / "loghub").rglob("*") if p.suffix in (".log", ".csv")],
        "runbooks": sorted((shared_dir / "runbooks").glob("*.md")),
        "alertmanager": sorted((shared_dir / "data" / "alertmanager").glob("*.json")),
        "docs": sorted(ROOT.glob("*.md")) + sorted((ROOT / "docs").rglob("*.md")),
    }
    return {name: [ln for p in files for ln in p.read_text(encoding="utf-8", errors="replace").splitlines()]
            for name, files in sets.items()}


def test_false_positive_rate_is_under_a_tenth_of_a_percent(shared_dir: Path) -> None:
    corpora = _corpus_lines(shared_dir)
    assert len({p.parent for p in (shared_dir / "data" / "loghub").rglob("*.log")}) == 10
    r = Redactor()
    total = hit = 0
    shown = []
    for name, lines in corpora.items():
        assert lines, name
        for line in lines:
            total += 1
            if r.spans(line):
                hit += 1
                shown.append(f"{name}: {redact_text(line)[0][:200]}")
    rate = hit / total
    print(f"\nredaction false-positive rate: {hit}/{total} lines = {rate:.4%}")
    assert rate < 0.001, "\n".join(shown[:20])


@pytest.mark.parametrize("line", [
    "2015-07-29 19:04:12,394 - INFO  [ProcessThread(sid:3 cport:-1)::PrepRequestProcessor@476] - Processed "
    "session termination for sessionid: 0x14ed93111f20005",
    "12-17 19:31:36.263  1795  1825 I WindowManager: printFreezingDisplayLogsopening app wtoken = "
    "AppWindowToken{9f4ef63 token=Token{a64f992 ActivityRecord{de9231d u0 com.tencent.qt.qtl/.activity.info.NewsDetailXmlActivity t761}}}",
    "12-17 19:33:45.466  1702 17632 W ActivityManager: Bad activity token: android.os.BinderProxy@2bd79ce",
    "nova.osapi_compute.wsgi.server,req-38101a0b-2096-447d-96ea-a692162415ae 113d3a99c3d84e0a9b4c8a0f2c6e1b2d",
    "deploy 4bf92f3577b34da6a3ce929d0e0e4736a1b2c3d4 done; api_version=2 access_id=AKIDX auth_method=oidc",
    "key: /var/lib/app/cache/objects/5f/3a9c1e.bin  token_endpoint: https://id.example.com/oauth/token",
    "datadog_site = datadoghq.eu   sentry_dsn_env: SENTRY_DSN   jira_url: https://acme.atlassian.net/browse/OPS-1",
])
def test_ids_paths_and_names_are_not_secrets(line: str) -> None:
    assert redact_text(line) == (line, 0)
