"""Answers about the database: connections, pool use, locks, slow and long-running statements."""

from __future__ import annotations

import pandas as pd

from .answer import Answer, _listing, _ms, clean


def idle_in_transaction_trend(trend: pd.DataFrame) -> pd.DataFrame:
    """Return connections per state (columns) per snapshot time (rows) from ``postgres.connection_trend``."""
    if trend is None or not len(trend) or "state" not in trend:
        return pd.DataFrame()
    rows = trend[trend["metric"] == "connections"]
    return rows.pivot_table(index="ts", columns="state", values="value", aggfunc="sum").fillna(0)


def _refused(frame: pd.DataFrame | None) -> Answer | None:
    """Return the answer for a read the database refused for lack of connections, else None."""
    if frame is None or not frame.attrs.get("saturated"):
        return None
    return Answer("The database refused this read for lack of connections: it is up, and its connections "
                  "are exhausted.", clean(frame.attrs.get("error", ""), 300), score=1.0)


def connections(trend: pd.DataFrame) -> Answer:
    """Answer "what does the database say?" from ``postgres.connections`` or ``connection_trend``."""
    by_state = idle_in_transaction_trend(trend)
    if not len(by_state):
        return _refused(trend) or Answer("The database's connections could not be read.")
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

def database_health(ping: pd.DataFrame, trend: pd.DataFrame | None = None) -> Answer:
    """Answer "is the database healthy?" from ``postgres.ping`` (and connections)."""
    if ping is None or not len(ping):
        if (refused := _refused(ping)) is not None:
            return refused
        reason = getattr(ping, "attrs", {}).get("error") if ping is not None else None
        return Answer("The database does not answer" + (f": {clean(reason, 200)}." if reason else "."), score=1.0)
    conn = connections(trend) if trend is not None and len(trend) else None
    tail = f" {conn.title}" if conn else ""
    return Answer(f"The database answers in {_ms(ping['latency_ms'].iloc[0])}.{tail}", conn.detail if conn else "",
                  score=conn.score if conn else 0.0)

def pool(trend: pd.DataFrame) -> Answer:
    """Answer "how full is the connection pool?" from ``postgres.connections``/``connection_trend``."""
    if trend is None or not len(trend):
        return _refused(trend) or Answer("The database's connections could not be read.")
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


__all__ = ["idle_in_transaction_trend", "connections", "database_health", "pool", "by_application", "locks", "slow_queries", "long_running"]
