"""Answers about the host, Redis and queues: resources, processes, OOM kills, backlog, workers."""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from .answer import Answer, _bytes, _hm, _listing, _ms, clean


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


__all__ = ["resources", "largest", "processes", "oom", "redis", "redis_activity", "queues", "oldest_jobs", "stuck", "refused", "late_jobs", "workers"]
