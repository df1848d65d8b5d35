"""Answers about the incident itself: window, impact, errors, changes, severity, cause, headline."""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from .answer import Answer, _ago, _hm, _listing, _ms, clean


def window(incident: Any, metric: str = "error rate") -> Answer:
    """Answer "since when?" from an IncidentWindow."""
    if not getattr(incident, "found", False):
        reason = getattr(incident, "reason", "") or "the series stayed within its baseline"
        return Answer(f"No incident in the {metric}: {reason}.", score=0.0)
    base, peak = incident.baseline, incident.peak_value
    pct = metric == "error rate" or metric.startswith("share")
    fmt = (lambda v: f"{v:.1%}") if pct else (lambda v: f"{v:.3g}")
    until = f"until {_hm(incident.end)}" if incident.end is not None else "and it is still going on"
    return Answer(
        f"The {metric} left its baseline at {_hm(incident.start)} ({_ago(incident.start)}), {until}.",
        f"Baseline {fmt(base or 0)}, peak {fmt(peak or 0)} at {_hm(incident.peak)} (confidence {incident.confidence:.0%}).",
        score=float(incident.confidence or 0),
    )

def impact(values: Mapping[str, Any]) -> Answer:
    """Answer "how many failed?" from an impact dict."""
    total, failed = values.get("requests_total") or 0, values.get("requests_failed") or 0
    rate = values.get("error_rate")
    users = values.get("users_affected")
    who = f", affecting {users} users" if users else ""
    if not total:
        return Answer("No requests were seen in the window.")
    return Answer(f"{failed:,} of {total:,} requests failed ({(rate or 0):.1%}){who}.", score=float(rate or 0))

def difference(different: pd.DataFrame | None) -> Answer:
    """Answer "what do the failing requests have in common?" from ``analysis.diff``."""
    if different is None or not len(different):
        return Answer("Nothing stands out: the failing requests look like normal traffic.")
    first = different.iloc[0]
    text = first.get("text") or (f"{first['column']}={first['value']}: {first['incident_share']:.0%} of failing "
                                 f"requests, {first['baseline_share']:.0%} before")
    return Answer(clean(text, 300), score=float(first.get("delta") or 0))

def top_error(top: pd.DataFrame) -> Answer:
    """Answer "which error?" from ``analysis.top_errors``."""
    if top is None or not len(top):
        return Answer("No error messages in the window.")
    first = top.iloc[0]
    share = first.get("share")
    new = " It is new: it did not occur before the incident." if bool(first.get("new_in_window", False)) else ""
    return Answer(
        f"The top error is “{clean(first['signature'])}”",
        f"({int(first['count']):,} times{f', {share:.0%} of errors' if share is not None and not pd.isna(share) else ''}).{new}",
        evidence=str(first.get("example") or first["signature"]),
        score=float(share) if share is not None and not pd.isna(share) else None,
    )

def deploy(events: pd.DataFrame, incident: Any) -> Answer:
    """Answer "which deploy?": the last change before the incident started."""
    start = getattr(incident, "start", None)
    if events is None or not len(events):
        return Answer("No deploys or changes were found.")
    # The window starts at a bucket boundary: a change within its first minutes may still be the
    # trigger (the ranking in analysis.causes allows the same 2 minutes).
    before = events[events["ts"] <= start + pd.Timedelta(minutes=2)] if start is not None else events
    if not len(before):
        return Answer("No deploy or change came before the incident.")
    last = before.sort_values("ts").iloc[-1]
    gap = (pd.Timestamp(start) - pd.Timestamp(last["ts"])).total_seconds() / 60 if start is not None else None
    when = (f"at {_hm(last['ts'])}" if gap is None else
            "as the errors started" if gap < 1 else f"{gap:.0f} min before the errors started")
    ref = str(last.get("ref") or "")[:10]
    return Answer(f"The last change before the incident is “{clean(last['text'])}” ({clean(ref)}), {when}.",
                  evidence=ref, score=None)

def severity(level: Any) -> Answer:
    """Answer "how bad?" from an analysis Severity."""
    lvl, reason = getattr(level, "level", None), getattr(level, "reason", "")
    return Answer(f"Severity {lvl or 'not rated'}.", clean(reason, 400) if reason else "")

def hypothesis(ranked: pd.DataFrame) -> Answer:
    """Answer "why?" with the best-ranked hypothesis."""
    if ranked is None or not len(ranked):
        return Answer("No cause could be ranked from the evidence.")
    top = ranked.iloc[0]
    if float(top["score"]) < STANDS_OUT:
        return Answer(f"No cause stands out: the best candidate, {clean(top['cause'], 200)}, scores {float(top['score']):.2f}.",
                      evidence=str(top.get("evidence", "")), score=float(top["score"]))
    return Answer(f"Most likely cause: {clean(top['cause'], 240)}", f"(score {float(top['score']):.2f}).",
                  evidence=str(top.get("evidence", "")), score=float(top["score"]))

def headline(service: str, incident: Any, values: Mapping[str, Any], top: pd.DataFrame, ranked: pd.DataFrame) -> str:
    """Return the one-sentence headline of the run (plain text)."""
    rate = values.get("error_rate")
    where = f"{service}: " if service else ""
    if not getattr(incident, "found", False):
        return f"{where}no incident found in the error rate"
    err = f"{rate:.0%} of requests failing" if rate is not None else "requests failing"
    since = f" since {_hm(incident.start)}"
    strong = ranked is not None and len(ranked) and float(ranked.iloc[0]["score"]) >= STANDS_OUT
    cause = f", most likely {clean(ranked.iloc[0]['cause'], 120)}" if strong else ""
    return f"{where}{err}{since}{cause}"

def probes(frame: pd.DataFrame) -> Answer:
    """Answer "is it answering?" from a probes frame (any kinds): which targets fail and why."""
    if frame is None or not len(frame):
        return Answer("Nothing was probed (no endpoint configured).")
    latest = frame.sort_values("ts", kind="stable").groupby("target").tail(1)
    bad = latest[~latest["ok"].astype(bool)]
    if not len(bad):
        p95 = pd.to_numeric(latest["latency_ms"], errors="coerce").quantile(0.95)
        return Answer(f"All {len(latest)} probed endpoints answer (slowest {_ms(p95)}).", score=0.0)
    why = [f"{clean(r['target'], 80)} ({clean(r['error'] or r.get('status') or 'failed', 100)})" for _, r in bad.iterrows()]
    return Answer(f"{len(bad)} of {len(latest)} probed endpoints fail: {_listing(why)}.", score=len(bad) / len(latest))

def latency(incident: Any, rates: pd.DataFrame, threshold_ms: float | None = None) -> Answer:
    """Answer "since when is it slow?" from a window found on ``p95_ms``."""
    if not getattr(incident, "found", False):
        p95 = pd.to_numeric(rates["p95_ms"], errors="coerce").dropna() if rates is not None and len(rates) else pd.Series([], dtype=float)
        last = f" (p95 now {_ms(p95.iloc[-1])})" if len(p95) else ""
        return Answer(f"Latency stayed within its baseline{last}.", score=0.0)
    until = f"until {_hm(incident.end)}" if incident.end is not None else "and it is still slow"
    over = f"; the threshold is {_ms(threshold_ms)}" if threshold_ms else ""
    return Answer(f"p95 latency left its baseline of {_ms(incident.baseline)} at {_hm(incident.start)} ({_ago(incident.start)}), {until}.",
                  f"Peak {_ms(incident.peak_value)} at {_hm(incident.peak)}{over}.", score=float(incident.confidence or 0))

def slow_endpoints(table: pd.DataFrame) -> Answer:
    """Answer "which endpoints are slow?" from ``analysis.evidence.slow_endpoints``."""
    if table is None or not len(table):
        return Answer("No endpoint is slower than before.")
    top = table.iloc[0]
    ratio = f", {top['slower']:.0f}x slower than before" if pd.notna(top["slower"]) and top["slower"] >= 1.5 else ""
    return Answer(f"{clean(top['endpoint'])} is the slowest: p95 {_ms(top['p95_ms'])} (before {_ms(top['p95_before_ms'])}){ratio}.",
                  f"It holds {top['share_of_slow']:.0%} of the slow requests.", score=float(top["share_of_slow"]))

def layers(table: pd.DataFrame) -> Answer:
    """Answer "where does a request stop?" from ``analysis.evidence.first_failing_layer``."""
    if table is None or not len(table):
        return Answer("Nothing was probed (no endpoint configured).")
    bad = table[table["first_failure"].notna()]
    if not len(bad):
        return Answer(f"Every layer (DNS, TCP, TLS, HTTP) passes for {_listing([clean(h, 60) for h in table['host']])}.", score=0.0)
    first = bad.iloc[0]
    return Answer(f"Requests to {clean(first['host'], 60)} stop at {str(first['first_failure']).upper()}: {clean(first['error'], 200)}.",
                  f"{len(bad)} of {len(table)} hosts fail a layer." if len(table) > 1 else "", score=1.0)

def providers(table: pd.DataFrame) -> Answer:
    """Answer "which provider do the errors name?" from ``analysis.evidence.providers``."""
    if table is None or not len(table):
        return Answer("No error message names a third-party host or provider.", score=0.0)
    top = table.iloc[0]
    return Answer(f"{top['share']:.0%} of the warning and error lines name {clean(top['provider'], 80)} ({top['share_before']:.0%} before).",
                  f"For example: {clean(top['example'], 200)}", score=float(top["share"]))

def auth(found: Mapping[str, Any]) -> Answer:
    """Answer "are logins failing?" from ``analysis.evidence.auth_failures``."""
    rate, before = found.get("login_failure_rate"), found.get("login_failure_rate_before")
    denied = found.get("denied") or 0
    if not rate and not denied:
        return Answer("Logins and authenticated requests succeed.", score=0.0)
    msgs = found.get("messages")
    top = f" The top message: “{clean(msgs['message'].iloc[0], 160)}”." if msgs is not None and len(msgs) else ""
    was = f", {before:.0%} before" if before is not None else ""
    return Answer(f"{(rate or 0):.0%} of login and auth requests fail now{was}; {denied:,} requests were refused with 401/403.",
                  top.strip(), score=float(rate or 0))

def config(changes: pd.DataFrame) -> Answer:
    """Answer "did the configuration change?" from ``analysis.evidence.config_changes``."""
    if changes is None or not len(changes):
        return Answer("No configuration was compared (none configured).")
    bad = changes[changes["status"].isin(["unset", "removed", "emptied"])]
    changed = changes[changes["status"] == "changed"]
    if len(bad):
        names = _listing([f"{r['name']} ({r['status']}{', required' if r['required'] else ''})" for _, r in bad.iterrows()])
        return Answer(f"Missing configuration: {names}.", f"{len(changed)} other settings changed." if len(changed) else "", score=1.0)
    if len(changed):
        return Answer(f"{len(changed)} settings changed: {_listing(list(changed['name']))}; none is missing.", score=0.5)
    return Answer("The configuration is unchanged and every required setting is set.", score=0.0)

def build(failures: pd.DataFrame) -> Answer:
    """Answer "did the build fail?" from ``analysis.evidence.build_failures``."""
    if failures is None or not len(failures):
        return Answer("The build log shows no error.", score=0.0)
    return Answer(f"The build failed: {clean(failures['line'].iloc[0], 200)}.",
                  f"{len(failures)} distinct error lines." if len(failures) > 1 else "", score=1.0)

def new_errors(top: pd.DataFrame) -> Answer:
    """Answer "which errors are new since the deploy?" from ``analysis.top_errors``."""
    if top is None or not len(top):
        return Answer("No errors in the window.")
    new = top[top["new_in_window"].astype(bool)]
    if not len(new):
        return Answer("No new error signature: every error in the window was seen before.", score=0.0)
    first = new.iloc[0]
    return Answer(f"{len(new)} error signatures are new; the most frequent is “{clean(first['signature'])}” ({int(first['count']):,} times).",
                  evidence=str(first.get("example") or ""), score=float(first["share"]))

def next_scenario(table: pd.DataFrame) -> Answer:
    """Answer "what to open next?" from ``analysis.evidence.next_scenarios``."""
    if table is None or not len(table):
        return Answer("Nothing points at a specific scenario: open high_error_rate for the general picture.")
    top = table.iloc[0]
    others = _listing(list(table["scenario"].iloc[1:]))
    return Answer(f"Open {top['scenario']} next: {clean(top['why'], 200)}.", f"Then: {others}." if others else "", score=float(top["score"]))

def runs(composed: Mapping[str, Any], missing: list[str] | None = None) -> Answer:
    """Answer "which runs does this postmortem cover?" from ``analysis.evidence.compose``."""
    table = composed.get("runs")
    if table is None or not len(table):
        return Answer("No earlier run was found to compose" + (f" ({clean('; '.join(missing), 200)})." if missing else "."))
    names = _listing([f"{r['scenario']} ({r['run_id']})" for _, r in table.iterrows()])
    gone = f" Not found: {clean('; '.join(missing), 200)}." if missing else ""
    return Answer(f"This postmortem composes {len(table)} run{'s' if len(table) != 1 else ''}: {names}.", gone.strip())

def people(kind: str, text: Any) -> Answer:
    """Answer a postmortem question from what people wrote (root cause, resolution, ...)."""
    items = [text] if isinstance(text, str) else list(text or [])
    items = [clean(i, 400) for i in items if str(i).strip()]
    if not items:
        return Answer(f"{kind}: to be written by the responders.")
    return Answer(f"{kind}: {items[0]}" if len(items) == 1 else f"{kind}: " + "; ".join(items),
                  evidence="\n".join(items), score=None)

def signals(table: pd.DataFrame) -> Answer:
    """Answer "what changed?" from ``analysis.evidence.signals``: the biggest change first."""
    if table is None or not len(table):
        return Answer("Nothing moved: error rate, latency, traffic, named dependencies and resources stayed within their "
                      "baselines.", score=0.0)
    top = table.iloc[0]
    first, _, rest = str(top["text"]).partition("; ")
    others = [f"{str(r['signal']).replace('_', ' ')} ({clean(r['subject'], 60)})" for _, r in table.iloc[1:4].iterrows()]
    detail = " ".join(x for x in (f"{clean(rest, 300)}." if rest else "", f"Also moved: {_listing(others)}." if others else "") if x)
    return Answer(f"The biggest change: {clean(first, 240)}.", detail, evidence=str(top["text"]), score=float(top["strength"]))

#: Below this score a hypothesis is listed, never called "most likely".
STANDS_OUT = 0.3
#: Scenarios that look at every incident their own way: they always apply.
GENERAL = frozenset({"triage", "high_error_rate", "high_latency", "postmortem"})
#: Hypothesis kinds a specific scenario also investigates beyond its own (auth breaks by config changes).
ALSO_HOME = {"auth_failures": frozenset({"bad_deploy"})}


def scenario_headline(scenario: str, service: str, ranked: pd.DataFrame, severity_level: Any = None, what: str = "") -> str:
    """Return a one-sentence headline for any scenario: what was seen and the most likely cause.

    A specific scenario (not triage, high_error_rate, high_latency) does not apply when no
    hypothesis scores :data:`STANDS_OUT` or more, or when the best one belongs to another
    scenario (``analysis.evidence.home_scenario``): the sentence says so and where it points."""
    from ..analysis.evidence import home_scenario

    where = f"{service}: " if service else ""
    lvl = getattr(severity_level, "level", severity_level)
    sev = f" ({lvl})" if lvl else ""
    seen = clean(what, 160).rstrip(".") if what else ""
    strong = ranked is not None and len(ranked) and float(ranked.iloc[0]["score"]) >= STANDS_OUT
    name = f"{where}{scenario.replace('_', ' ')}{sev}"
    because = f": {seen[:1].lower()}{seen[1:]}" if seen else ""
    if scenario not in GENERAL:
        if not strong:
            return f"{name}: does not apply here{because}; no cause stands out"
        top = ranked.iloc[0]
        home = home_scenario(top.get("kind"), top.get("ref"), top["cause"])
        if home != scenario and home not in ALSO_HOME.get(scenario, ()):
            return f"{name}: does not apply here{because}; the evidence points to {home}: {clean(top['cause'], 140)}"
    cause = f"most likely {clean(ranked.iloc[0]['cause'], 140)}" if strong else "no cause stands out"
    seen = f"{seen}; " if seen else ""
    return f"{name}: {seen}{cause}"


__all__ = ["window", "impact", "difference", "top_error", "deploy", "severity", "hypothesis", "headline", "probes", "latency", "slow_endpoints", "layers", "providers", "auth", "config", "build", "new_errors", "next_scenario", "runs", "people", "signals", "STANDS_OUT", "scenario_headline"]
