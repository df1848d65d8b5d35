"""Answers in words: one sentence per question, generated from analysis results.

Answers hold plain text (what summary.json records). Text that comes from the data (log
messages, paths, commit subjects) is cleaned with :func:`clean`; :meth:`Answer.markdown`
escapes the whole answer, so data shows literally and can never become markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd


@dataclass
class Answer:
    """A sentence that answers a notebook's question, with what supports it."""

    title: str
    detail: str = ""
    evidence: str = ""
    score: float | None = None

    def markdown(self) -> str:
        """Return the answer as inert Markdown: the title in bold, then the detail."""
        detail = f" {escape(self.detail, 2000)}" if self.detail else ""
        return f"**{escape(self.title, 2000)}**{detail}"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~&])")


def clean(text: Any, limit: int = 160) -> str:
    """Return data ``text`` on one line: control characters removed, cut to ``limit`` characters."""
    s = "".join(ch if ch.isprintable() else " " for ch in str(text))
    s = " ".join(s.split())
    return s[: limit - 1] + "…" if len(s) > limit else s


def escape(text: Any, limit: int = 160) -> str:
    """Return ``text`` cleaned and with Markdown/HTML special characters escaped (shown literally)."""
    return _MD_SPECIAL.sub(r"\\\1", clean(text, limit))


def _hm(ts: Any) -> str:
    return pd.Timestamp(ts).strftime("%H:%M UTC") if ts is not None and not pd.isna(ts) else "unknown"


def _ago(ts: Any, now: Any = None) -> str:
    if ts is None or pd.isna(ts):
        return ""
    delta = pd.Timestamp(now or pd.Timestamp.now(tz="UTC")) - pd.Timestamp(ts)
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago"


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


def idle_in_transaction_trend(trend: pd.DataFrame) -> pd.DataFrame:
    """Return connections per state (columns) per snapshot time (rows) from ``postgres.connection_trend``."""
    if trend is None or not len(trend) or "state" not in trend:
        return pd.DataFrame()
    rows = trend[trend["metric"] == "connections"]
    return rows.pivot_table(index="ts", columns="state", values="value", aggfunc="sum").fillna(0)


def connections(trend: pd.DataFrame) -> Answer:
    """Answer "what does the database say?" from ``postgres.connections`` or ``connection_trend``."""
    by_state = idle_in_transaction_trend(trend)
    if not len(by_state):
        return Answer("The database's connections could not be read.")
    idle_cols = [c for c in by_state.columns if str(c).startswith("idle in transaction")]
    idle = by_state[idle_cols].sum(axis=1) if idle_cols else pd.Series(0, index=by_state.index)
    total = int(by_state.iloc[-1].sum())
    maximum = trend.attrs.get("max_connections")
    use = f" of {int(maximum)} allowed ({total / maximum:.0%})" if maximum else ""
    first, last = int(idle.iloc[0]), int(idle.iloc[-1])
    rising = f", rising from {first} to {last} in {(by_state.index[-1] - by_state.index[0]).total_seconds():.0f} s" \
        if len(idle) > 1 and last > first else ""
    detail = ("Sessions idle in transaction hold their locks and connections: an application opened "
              "transactions and is neither committing nor rolling back.") if last else ""
    return Answer(f"{total} connections are open{use}; {last} are idle in transaction{rising}.", detail,
                  score=min(1.0, last / 10))


def severity(level: Any) -> Answer:
    """Answer "how bad?" from an analysis Severity."""
    lvl, reason = getattr(level, "level", None), getattr(level, "reason", "")
    return Answer(f"Severity {lvl or 'not rated'}.", clean(reason, 400) if reason else "")


def hypothesis(ranked: pd.DataFrame) -> Answer:
    """Answer "why?" with the best-ranked hypothesis."""
    if ranked is None or not len(ranked):
        return Answer("No cause could be ranked from the evidence.")
    top = ranked.iloc[0]
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
    cause = f", most likely {str(ranked.iloc[0]['cause'])[:120]}" if ranked is not None and len(ranked) else ""
    return f"{where}{err}{since}{cause}"


__all__ = ["Answer", "clean", "escape", "idle_in_transaction_trend", "window", "impact", "difference", "top_error", "deploy", "connections", "severity", "hypothesis", "headline"]


# -- scenario answers (one per question of the scenario notebooks) ---------------------------------
def _ms(value: Any) -> str:
    return "unknown" if value is None or pd.isna(value) else (f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms")


def _listing(items: list[str], limit: int = 3) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    shown = items[:limit]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(shown[:-1]) + (f", {shown[-1]}" if more else f" and {shown[-1]}") + more


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


def database_health(ping: pd.DataFrame, trend: pd.DataFrame | None = None) -> Answer:
    """Answer "is the database healthy?" from ``postgres.ping`` (and connections)."""
    if ping is None or not len(ping):
        reason = getattr(ping, "attrs", {}).get("error") if ping is not None else None
        return Answer("The database does not answer" + (f": {clean(reason, 200)}." if reason else "."), score=1.0)
    conn = connections(trend) if trend is not None and len(trend) else None
    tail = f" {conn.title}" if conn else ""
    return Answer(f"The database answers in {_ms(ping['latency_ms'].iloc[0])}.{tail}", conn.detail if conn else "",
                  score=conn.score if conn else 0.0)


def pool(trend: pd.DataFrame) -> Answer:
    """Answer "how full is the connection pool?" from ``postgres.connections``/``connection_trend``."""
    if trend is None or not len(trend):
        return Answer("The database's connections could not be read.")
    by_state = idle_in_transaction_trend(trend)
    total = int(by_state.iloc[-1].sum()) if len(by_state) else 0
    maximum, use = trend.attrs.get("max_connections"), trend.attrs.get("use_ratio")
    if not maximum:
        return connections(trend)
    states = by_state.iloc[-1].sort_values(ascending=False) if len(by_state) else pd.Series(dtype=float)
    mix = _listing([f"{int(v)} {k}" for k, v in states.items() if v > 0])
    level = "exhausted" if (use or 0) >= 0.95 else "near its limit" if (use or 0) >= 0.8 else "not the problem"
    return Answer(f"{total} of {int(maximum)} connections are in use ({(use or total / maximum):.0%}): the pool is {level}.",
                  f"By state: {mix}." if mix else "", score=float(use or 0))


def by_application(activity: pd.DataFrame) -> Answer:
    """Answer "who holds the connections?" from a db activity frame."""
    if activity is None or not len(activity):
        return Answer("No sessions could be read.")
    app = activity["application_name"].astype("string").fillna("").replace("", "(no name)")
    who = (app + " / " + activity["state"].astype("string").fillna("?")).value_counts()
    top, n = who.index[0], int(who.iloc[0])
    return Answer(f"{n} of {len(activity)} sessions are {clean(top)}.", score=n / len(activity))


def locks(chains: pd.DataFrame) -> Answer:
    """Answer "who blocks whom?" from ``postgres.locks`` (blocking chains, roots first)."""
    if chains is None or not len(chains):
        return Answer("No session waits on a lock.", score=0.0)
    waiting = chains[chains["blocked_by"].map(lambda b: isinstance(b, list | tuple) and len(b) > 0 or hasattr(b, "__len__") and not isinstance(b, str) and len(b) > 0)]
    roots = chains[~chains.index.isin(waiting.index)]
    if not len(roots):
        return Answer(f"{len(waiting)} sessions wait on locks held by each other.", score=0.5)
    root = roots.iloc[0]
    age = f" for {root['duration_s']:.0f} s" if pd.notna(root.get("duration_s")) else ""
    return Answer(f"{len(waiting)} sessions wait on a lock held by pid {int(root['pid'])} ({clean(root.get('application_name') or '?', 40)}, "
                  f"{clean(root.get('state') or '?', 30)}{age}).", f"Its last statement: {clean(root.get('query') or '', 200)}",
                  score=min(1.0, 0.3 + 0.1 * len(waiting)))


def slow_queries(top: pd.DataFrame) -> Answer:
    """Answer "which statements are slow?" from ``postgres.top_queries(by="mean")``."""
    if top is None or not len(top):
        return Answer("pg_stat_statements shows no statements.")
    first = top.iloc[0]
    mean = first.get("mean_ms", first.get("mean_exec_time"))
    calls = first.get("calls")
    return Answer(f"The slowest statement averages {_ms(mean)} over {int(calls):,} calls.",
                  clean(first.get("query", ""), 240), score=None)


def long_running(frame: pd.DataFrame, what: str = "statements") -> Answer:
    """Answer "what has been running for long?" from ``postgres.long_queries``/``long_transactions``."""
    if frame is None or not len(frame):
        return Answer(f"No long-running {what}.", score=0.0)
    first = frame.iloc[0]
    age = first.get("xact_age_s", first.get("duration_s"))
    return Answer(f"{len(frame)} long-running {what}; the oldest (pid {int(first['pid'])}, {clean(first.get('state') or '?', 30)}) "
                  f"for {age:.0f} s.", clean(first.get("query") or "", 240), score=min(1.0, len(frame) / 5))


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
    return Answer(f"{top['share']:.0%} of the errors name {clean(top['provider'], 80)} ({top['share_before']:.0%} before).",
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


def resources(table: pd.DataFrame, threshold: float = 90.0) -> Answer:
    """Answer "is a resource exhausted?" from ``analysis.evidence.resource_use``."""
    if table is None or not len(table):
        return Answer("No host reading was available.")
    top = table.iloc[0]
    full = table[table["used_percent"] > threshold]
    if len(full):
        return Answer(f"{clean(top['resource'], 80)} is at {top['used_percent']:.0f}%"
                      + (f"; {len(full) - 1} more over {threshold:.0f}%." if len(full) > 1 else f", over {threshold:.0f}%."),
                      clean(top.get("detail") or "", 160), score=float(top["used_percent"]) / 100)
    return Answer(f"No resource is over {threshold:.0f}%; the fullest is {clean(top['resource'], 80)} at {top['used_percent']:.0f}%.",
                  score=float(top["used_percent"]) / 100)


def _bytes(n: Any) -> str:
    if n is None or pd.isna(n):
        return "unknown size"
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def largest(dirs: pd.DataFrame) -> Answer:
    """Answer "what fills the disk?" from ``host.largest_dirs``."""
    if dirs is None or not len(dirs):
        return Answer("The largest directories could not be read.")
    top = dirs.sort_values("bytes", ascending=False).iloc[0]
    total = dirs["bytes"].sum()
    share = f", {top['bytes'] / total:.0%} of what was counted" if total else ""
    partial = " (sizes are lower bounds: the count was cut short)" if dirs.attrs.get("truncated") else ""
    return Answer(f"The largest directory is {clean(top['path'], 120)}: {_bytes(top['bytes'])} in {int(top.get('files') or 0):,} files{share}.{partial}",
                  score=None)


def processes(by_cpu: pd.DataFrame, by_memory: pd.DataFrame) -> Answer:
    """Answer "which processes use the CPU and memory?" from ``host.processes`` (by cpu, by memory)."""
    parts = []
    if by_cpu is not None and len(by_cpu):
        c = by_cpu.iloc[0]
        parts.append(f"the busiest process is {clean(c['name'], 40)} (pid {int(c['pid'])}, {c['cpu_percent']:.0f}% CPU)")
    if by_memory is not None and len(by_memory):
        m = by_memory.iloc[0]
        parts.append(f"the largest is {clean(m['name'], 40)} (pid {int(m['pid'])}, {_bytes(m['rss_bytes'])} resident)")
    if not parts:
        return Answer("The processes could not be read.")
    text = "; ".join(parts)
    return Answer(text[0].upper() + text[1:] + ".")


def oom(kills: pd.DataFrame) -> Answer:
    """Answer "did the OOM killer strike?" from ``host.oom_kills``."""
    if kills is None or not len(kills):
        return Answer("The kernel log shows no OOM kill.", score=0.0)
    names = kills["process"].astype("string").value_counts() if "process" in kills.columns else pd.Series(dtype=int)
    who = _listing([f"{clean(k, 40)} ({int(v)}x)" for k, v in names.items()])
    return Answer(f"The OOM killer killed {len(kills)} processes: {who}; the last at {_hm(kills['ts'].max())}.", score=1.0)


def redis(probes_frame: pd.DataFrame, info: pd.DataFrame | None = None) -> Answer:
    """Answer "is Redis up?" from a Redis probe (and ``redis.info``)."""
    if probes_frame is None or not len(probes_frame):
        return Answer("Redis was not probed (no redis_url).")
    latest = probes_frame.sort_values("ts").groupby("target").tail(1)
    bad = latest[~latest["ok"].astype(bool)]
    if len(bad):
        r = bad.iloc[0]
        return Answer(f"Redis at {clean(r['target'], 80)} does not answer: {clean(r['error'], 200)}.", score=1.0)
    extra = ""
    if info is not None and len(info):
        v = info.set_index("metric")["value"]
        v = v[~v.index.duplicated()]
        used, top, clients_n = v.get("redis_used_memory"), v.get("redis_maxmemory"), v.get("redis_connected_clients")
        if used is not None:
            extra = f" It uses {used / 2**20:.1f} MiB" + (f" of {top / 2**20:.0f} MiB" if top else "") + (
                f", {int(clients_n)} clients connected." if clients_n is not None else ".")
    return Answer(f"Redis answers in {_ms(latest['latency_ms'].iloc[0])}.{extra}", score=0.0)


def redis_activity(slowlog: pd.DataFrame, clients: pd.DataFrame) -> Answer:
    """Answer "which commands are slow, who is connected?" from ``redis.slowlog`` and ``redis.clients``."""
    if (slowlog is None or not len(slowlog)) and (clients is None or not len(clients)):
        return Answer("Redis commands and clients could not be read.")
    parts = []
    if clients is not None and len(clients):
        names = clients["name"].astype("string").fillna("").replace("", "(no name)") if "name" in clients.columns else None
        top = f", most of them {clean(names.value_counts().index[0], 40)}" if names is not None and len(names) else ""
        parts.append(f"{len(clients)} clients are connected{top}")
    if slowlog is not None and len(slowlog):
        worst = slowlog.sort_values("duration_ms", ascending=False).iloc[0]
        parts.append(f"the slowest recent command took {_ms(worst['duration_ms'])}: {clean(worst['text'], 80)}")
    else:
        parts.append("the slow log is empty")
    text = "; ".join(parts)
    return Answer(text[0].upper() + text[1:] + ".")


def queues(trend: pd.DataFrame) -> Answer:
    """Answer "how deep are the queues?" from ``analysis.evidence.queue_trend``."""
    if trend is None or not len(trend):
        return Answer("No queue could be read.")
    top = trend.iloc[0]
    growth = top["growth_per_min"]
    moving = f", growing by {growth:,.0f} a minute" if growth > 0 else (f", shrinking by {-growth:,.0f} a minute" if growth < 0 else ", not moving")
    return Answer(f"{clean(top['key'], 80)} holds {int(top['depth']):,} jobs{moving}.", score=None)


def oldest_jobs(table: pd.DataFrame, backlog_since: Any = None) -> Answer:
    """Answer "how long has the oldest job waited?" from ``redis.oldest``; when the jobs carry no
    time, from ``backlog_since`` (when the backlog started growing: in a FIFO queue the oldest
    waiting job has waited about that long)."""
    if table is None or not len(table) or table["age_s"].isna().all():
        if backlog_since is not None and not pd.isna(backlog_since):
            minutes = (pd.Timestamp.now(tz="UTC") - pd.Timestamp(backlog_since)).total_seconds() / 60
            return Answer(f"The jobs carry no time, but the backlog started growing at {_hm(backlog_since)}: the oldest "
                          f"waiting job has waited about {minutes:.0f} min.", score=min(1.0, minutes / 60))
        return Answer("The age of the oldest job could not be read.")
    top = table.sort_values("age_s", ascending=False).iloc[0]
    minutes = top["age_s"] / 60
    return Answer(f"The oldest job in {clean(top['key'], 80)} has waited {minutes:.0f} min (since {_hm(top['oldest_ts'])}).",
                  score=min(1.0, minutes / 60))


def stuck(found: Mapping[str, Any]) -> Answer:
    """Answer "which jobs are stuck or failed?" from ``analysis.evidence.stuck_jobs``."""
    n, failed = found.get("stuck") or 0, found.get("failed") or 0
    where = f" in {_listing([clean(k, 60) for k in found.get('stuck_keys') or []])}" if n else ""
    return Answer(f"{n:,} active jobs look stuck{where} (older than {found.get('stuck_after_s', 0):.0f} s); {failed:,} jobs failed.",
                  score=1.0 if n else 0.0)


def refused(values: Mapping[str, Any], found: Mapping[str, Any]) -> Answer:
    """Answer "who is affected?" for auth failures: refused requests and users, beside the 5xx impact."""
    total = values.get("requests_total") or 0
    denied, users = found.get("denied") or 0, found.get("users_denied")
    if not total:
        return Answer("No requests were seen in the window.")
    who = f", {users:,} distinct users" if users else ""
    failed = values.get("requests_failed") or 0
    return Answer(f"{denied:,} of {total:,} requests were refused with 401/403 ({denied / total:.1%}){who}; "
                  f"{failed:,} failed with a server error.", score=denied / total)


def late_jobs(values: Mapping[str, Any]) -> Answer:
    """Answer "how many jobs are late?" from the queue impact (jobs_waiting, jobs_stuck, jobs_failed, backlog_since)."""
    waiting, stuck_n, failed = values.get("jobs_waiting"), values.get("jobs_stuck") or 0, values.get("jobs_failed") or 0
    if waiting is None and not stuck_n and not failed:
        return Answer("The queues could not be read: the number of late jobs is unknown.")
    since = f" since {_hm(values['backlog_since'])}" if values.get("backlog_since") is not None else ""
    return Answer(f"{int(waiting or 0):,} jobs wait{since}, {stuck_n:,} are stuck in processing and {failed:,} failed.",
                  score=None)


def workers(frame: pd.DataFrame, pattern: str = "") -> Answer:
    """Answer "are the workers alive?" from a table of worker processes or heartbeats (``alive`` column)."""
    if frame is None or not len(frame):
        return Answer(f"No worker process{f' matching {pattern!r}' if pattern else ''} is running.", score=1.0)
    if "alive" in frame.columns:
        dead = frame[~frame["alive"].astype(bool)]
        if len(dead):
            return Answer(f"{len(dead)} of {len(frame)} workers look dead.", score=len(dead) / len(frame))
    return Answer(f"{len(frame)} worker processes are running.", score=0.0)


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


def scenario_headline(scenario: str, service: str, ranked: pd.DataFrame, severity_level: Any = None, what: str = "") -> str:
    """Return a one-sentence headline for any scenario: what was seen and the most likely cause."""
    where = f"{service}: " if service else ""
    lvl = getattr(severity_level, "level", severity_level)
    cause = f"most likely {clean(ranked.iloc[0]['cause'], 140)}" if ranked is not None and len(ranked) else "no cause ranked"
    seen = f"{clean(what, 160).rstrip('.')}; " if what else ""
    sev = f" ({lvl})" if lvl else ""
    return f"{where}{scenario.replace('_', ' ')}{sev}: {seen}{cause}"


__all__ += ["probes", "latency", "slow_endpoints", "database_health", "pool", "by_application", "locks", "slow_queries",
            "long_running", "layers", "providers", "auth", "largest", "processes", "config", "build", "new_errors", "resources", "oom", "redis",
            "queues", "oldest_jobs", "late_jobs", "redis_activity", "refused", "stuck", "workers", "next_scenario", "runs", "people", "scenario_headline"]
