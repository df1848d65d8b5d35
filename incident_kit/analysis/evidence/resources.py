"""Evidence about resources and queues: use per resource, queue depth trends and stuck jobs."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd


def _first(*values: Any, default: str = "unknown") -> str:
    """Return the first of ``values`` that is set (not None, NA or empty) as text."""
    for v in values:
        if v is not None and not (not isinstance(v, str) and pd.isna(v)) and str(v):
            return str(v)
    return default


def _readings(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """Return the rows of a metrics frame that hold a number (None without any)."""
    if frame is None or not len(frame) or not {"metric", "value", "ts"} <= set(frame.columns):
        return None
    values = pd.to_numeric(frame["value"], errors="coerce")
    keep = np.array(values.notna(), dtype=bool)
    if not keep.any():
        return None
    return frame[keep].assign(value=values[keep].astype("float64"))


def resource_use(*metric_frames: pd.DataFrame | None) -> pd.DataFrame:
    """Return the latest use (percent) of each disk, memory, swap and CPU reading in host metrics
    frames, fullest first. Columns: ``resource``, ``used_percent``, ``detail``."""
    cols = ["resource", "used_percent", "detail"]
    rows = []
    for frame in metric_frames:
        frame = _readings(frame)
        if frame is None:
            continue
        latest = frame.sort_values("ts", kind="stable").groupby(
            ["metric", *[c for c in ("path", "mountpoint") if c in frame.columns]], dropna=False).tail(1)
        for _, r in latest.iterrows():
            m = str(r["metric"])
            if m == "disk_used_percent":
                rows.append({"resource": f"disk {_first(r.get('mountpoint'), r.get('path'))}", "used_percent": float(r["value"]),
                             "detail": f"filesystem holding {_first(r.get('path'), r.get('mountpoint'))}"})
            elif m == "inodes_used_percent" and not pd.isna(r["value"]):
                rows.append({"resource": f"inodes {_first(r.get('mountpoint'), r.get('path'))}", "used_percent": float(r["value"]),
                             "detail": f"filesystem holding {_first(r.get('path'), r.get('mountpoint'))}"})
            elif m in ("memory_used_percent", "swap_used_percent", "cpu_percent", "cpu_busy_percent"):
                rows.append({"resource": m.replace("_used_percent", "").replace("_percent", "").replace("_busy", ""),
                             "used_percent": float(r["value"]), "detail": ""})
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(rows, columns=cols).drop_duplicates("resource", keep="last")
    return out.sort_values("used_percent", ascending=False).reset_index(drop=True)

def resource_metrics(*metric_frames: pd.DataFrame | None) -> dict[str, pd.Series]:
    """Return ``{name: series}`` of the resource readings as ratios named ``<resource>_used_ratio``
    (a form :func:`incident_kit.analysis.hypotheses` ``metrics=`` ranks as saturation)."""
    out: dict[str, pd.Series] = {}
    for frame in metric_frames:
        frame = _readings(frame)
        if frame is None:
            continue
        for _, r in frame.iterrows():
            m = str(r["metric"])
            if m not in ("disk_used_percent", "inodes_used_percent", "memory_used_percent", "swap_used_percent", "cpu_percent"):
                continue
            where = _first(r.get("mountpoint"), default="") if m.startswith(("disk", "inodes")) else None
            name = m.replace("_percent", "_ratio").replace("cpu_ratio", "cpu_used_ratio") + (f"{{mountpoint=\"{where}\"}}" if where else "")
            s = out.setdefault(name, pd.Series(dtype="float64"))
            out[name] = pd.concat([s, pd.Series([float(r["value"]) / 100.0], index=[pd.Timestamp(r["ts"])])])
    return {k: v.sort_index() for k, v in out.items()}

def queue_trend(depths: pd.DataFrame) -> pd.DataFrame:
    """Return one row per queue key from sampled ``redis.queues`` frames: ``key``, ``depth`` (last),
    ``first_depth``, ``growth_per_min`` and ``samples``; deepest first."""
    cols = ["key", "depth", "first_depth", "growth_per_min", "samples"]
    if depths is None or not len(depths) or "key" not in depths.columns:
        return pd.DataFrame(columns=cols)
    rows = []
    part = depths[depths["metric"] == "queue_depth"]
    for key, g in part.sort_values("ts").groupby("key", sort=True):
        ts = pd.to_datetime(g["ts"], utc=True)
        minutes = (ts.iloc[-1] - ts.iloc[0]) / pd.Timedelta(minutes=1)
        first, last = float(g["value"].iloc[0]), float(g["value"].iloc[-1])
        rows.append({"key": key, "depth": last, "first_depth": first,
                     "growth_per_min": round((last - first) / minutes, 1) if minutes > 0 else 0.0, "samples": len(g)})
    return pd.DataFrame(rows, columns=cols).sort_values("depth", ascending=False).reset_index(drop=True)

def _settings(values: Any) -> dict[str, Any]:
    """Return name -> value from a mapping or a ``config.read`` frame (its fingerprint stands for the value)."""
    if values is None:
        return {}
    if isinstance(values, pd.DataFrame):
        if not len(values) or "name" not in values.columns:
            return {}
        return dict(zip(values["name"].astype(str), values["fingerprint"].fillna("")))
    return dict(values)

def queue_history(logs: pd.DataFrame, queue: str | None = None,
                  states: Iterable[str] = ("waiting", "active", "failed", "delayed")) -> pd.DataFrame:
    """Return queue depths logged by workers (records with ``waiting``/``active``/... counts, e.g.
    ``{"queue": "video-processing", "waiting": 412, "active": 4}``) as a metrics frame:
    ``queue_depth`` with label ``key`` ``<queue>:<state>``. ``queue`` keeps one queue's records."""
    from ...frames import conform, empty

    states = [s for s in states if logs is not None and s in logs.columns]
    if logs is None or not len(logs) or not states:
        return empty("metrics")
    rows = logs
    if queue and "queue" in logs.columns:
        rows = logs[(logs["queue"].astype("string") == queue).fillna(False).to_numpy(dtype=bool)]
    parts = []
    for state in states:
        values = pd.to_numeric(rows[state], errors="coerce")
        keep = values.notna().to_numpy(dtype=bool)
        if not keep.any():
            continue
        names = rows["queue"].astype("string").fillna(queue or "queue") if "queue" in rows.columns else pd.Series(queue or "queue", index=rows.index)
        parts.append(pd.DataFrame({"ts": pd.to_datetime(rows["ts"], utc=True)[keep].to_numpy(), "metric": "queue_depth",
                                   "value": values[keep].astype(float).to_numpy(), "key": (names[keep] + f":{state}").to_numpy()}))
    if not parts:
        return empty("metrics")
    return conform(pd.concat(parts, ignore_index=True), "metrics", source=logs.attrs.get("source", "logs"))

def depth_series(history: pd.DataFrame, state: str = "waiting") -> pd.Series:
    """Return the summed depth of the queues in ``state`` per time from :func:`queue_history`
    (a time-indexed Series for :func:`incident_kit.analysis.window`)."""
    if history is None or not len(history) or "key" not in history.columns:
        return pd.Series(dtype="float64")
    part = history[history["key"].astype(str).str.endswith(f":{state}")]
    return part.groupby(pd.to_datetime(part["ts"], utc=True))["value"].sum().sort_index().astype("float64")

def fullest_path(disks: pd.DataFrame) -> str | None:
    """Return the checked path whose filesystem is the fullest in a ``host.disk`` frame (None without one)."""
    if disks is None or not len(disks) or "metric" not in disks.columns:
        return None
    used = disks[disks["metric"] == "disk_used_percent"]
    return str(used.sort_values("value", ascending=False)["path"].iloc[0]) if len(used) else None

def stuck_jobs(ages: pd.DataFrame, trend: pd.DataFrame, stuck_after_s: float = 600) -> dict[str, Any]:
    """Return ``stuck`` (jobs in active lists whose oldest is older than ``stuck_after_s``), ``stuck_keys``
    and ``failed`` (jobs in failed lists) from ``redis.oldest`` and :func:`queue_trend`."""
    stuck, keys, failed = 0, [], 0
    if ages is not None and len(ages):
        old = ages[ages["key"].astype(str).str.contains("active", case=False) & (ages["age_s"] > stuck_after_s)]
        stuck, keys = int(old["depth"].sum()), old["key"].astype(str).tolist()
    if trend is not None and len(trend):
        failed = int(trend[trend["key"].astype(str).str.contains("fail", case=False)]["depth"].sum())
    return {"stuck": stuck, "stuck_keys": keys, "failed": failed, "stuck_after_s": stuck_after_s}

def waiting(frame: pd.DataFrame, column: str = "key") -> pd.DataFrame:
    """Return the rows of ``frame`` whose key names a waiting queue (not active, failed, completed or delayed)."""
    if frame is None or not len(frame):
        return frame
    keys = frame[column].astype(str)
    return frame[~keys.str.contains(r"active|fail|complete|delayed|stalled|paused", case=False, regex=True)]


__all__ = ["resource_use", "resource_metrics", "queue_trend", "queue_history", "depth_series", "fullest_path", "stuck_jobs", "waiting"]
