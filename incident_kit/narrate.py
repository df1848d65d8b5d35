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
    pct = metric == "error rate"
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
    before = events[events["ts"] <= start] if start is not None else events
    if not len(before):
        return Answer("No deploy or change came before the incident.")
    last = before.sort_values("ts").iloc[-1]
    gap = (pd.Timestamp(start) - pd.Timestamp(last["ts"])).total_seconds() / 60 if start is not None else None
    when = f"{gap:.0f} min before the errors started" if gap is not None else f"at {_hm(last['ts'])}"
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
