"""The host: CPU, memory, disk, top processes, largest directories, OOM kills; or the same from node_exporter.

Local numbers come from psutil (``pip install 'incident-kit[host]'``); :func:`node` asks a
Prometheus that scrapes a node_exporter, for a host that is not this one. Nothing is changed.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from .._optional import require
from ..errors import ConfigError, SourceError
from ..frames import concat, conform
from ..timeutil import now, parse_time, window
from ._base import human_bytes, source


def _metrics(rows: list[dict[str, Any]], src: str) -> pd.DataFrame:
    return conform(pd.DataFrame(rows), "metrics", source=src, sort=False)


@source("host", "metrics")
def stats(*, interval_s: float = 0.5) -> pd.DataFrame:
    """Return CPU, load, memory, swap and uptime of this host as a metrics frame (label ``host``).

    Metrics: ``cpu_percent`` (over ``interval_s``), ``cpu_count``, ``load1``/``load5``/``load15``,
    ``memory_total_bytes``, ``memory_available_bytes``, ``memory_used_percent``,
    ``swap_used_percent``, ``processes``, ``uptime_s``.
    """
    psutil = require("psutil", "host")
    host = socket.gethostname()
    cpu = psutil.cpu_percent(interval=interval_s)
    ts = now()
    mem, swap = psutil.virtual_memory(), psutil.swap_memory()
    load = os.getloadavg()
    values = {"cpu_percent": cpu, "cpu_count": psutil.cpu_count(), "load1": load[0], "load5": load[1],
              "load15": load[2], "memory_total_bytes": mem.total, "memory_available_bytes": mem.available,
              "memory_used_percent": mem.percent, "swap_used_percent": swap.percent,
              "processes": len(psutil.pids()), "uptime_s": time.time() - psutil.boot_time()}
    return _metrics([{"ts": ts, "metric": k, "value": float(v), "host": host} for k, v in values.items()], "host")


@source("host", "metrics", target_arg="path")
def disk(path: str | Path | Iterable[str | Path] | None = "/") -> pd.DataFrame:
    """Return space and inodes of the filesystem(s) holding ``path`` (a path, a list, or None for
    every mounted filesystem) as a metrics frame with labels ``path`` and ``mountpoint``.

    Metrics: ``disk_total_bytes``, ``disk_used_bytes``, ``disk_free_bytes``, ``disk_used_percent``,
    ``inodes_used_percent``. Raises :class:`SourceError` for a path that does not exist.
    """
    psutil = require("psutil", "host")
    if path is None:
        paths = [p.mountpoint for p in psutil.disk_partitions(all=False)]
    else:
        paths = [path] if isinstance(path, (str, Path)) else list(path)
    rows: list[dict[str, Any]] = []
    ts = now()
    for p in paths:
        p = Path(p).expanduser()
        if not p.exists():
            raise SourceError("host", p, "no such file or directory")
        usage = psutil.disk_usage(str(p))
        st = os.statvfs(p)
        mount = _mountpoint(p)
        inodes = (1 - st.f_ffree / st.f_files) * 100 if st.f_files else float("nan")
        for metric, value in (("disk_total_bytes", usage.total), ("disk_used_bytes", usage.used),
                              ("disk_free_bytes", usage.free), ("disk_used_percent", usage.percent),
                              ("inodes_used_percent", inodes)):
            rows.append({"ts": ts, "metric": metric, "value": float(value), "path": str(p), "mountpoint": mount})
    return _metrics(rows, "host")


def _allocated(st: os.stat_result) -> int:
    """Return the bytes a file occupies on disk, as ``du`` counts them (its size where blocks are unknown)."""
    return getattr(st, "st_blocks", 0) * 512 or st.st_size


def _directory_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except OSError:
                continue
            total += _allocated(st)
    return total


@source("host", "metrics", target_arg=0)
def quota_use(paths: Any, quota_bytes: float) -> pd.DataFrame:
    """Return the use of directories that have a size quota (not a filesystem of their own) as host
    metrics: ``disk_used_bytes``, ``disk_total_bytes``, ``disk_used_percent`` with ``path`` and
    ``mountpoint`` ``quota:<path>``."""
    rows = []
    for p in [paths] if isinstance(paths, (str, Path)) else list(paths):
        used = _directory_bytes(Path(p))
        for metric, value in (("disk_total_bytes", quota_bytes), ("disk_used_bytes", used),
                              ("disk_used_percent", 100.0 * used / quota_bytes if quota_bytes else float("nan"))):
            rows.append({"ts": now(), "metric": metric, "value": float(value), "path": str(p), "mountpoint": f"quota:{p}"})
    return _metrics(rows, "host:quota")


quota_use.live_state = True  # type: ignore[attr-defined]


def _mountpoint(p: Path) -> str:
    p = p.resolve()
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return str(p)


@source("host", "table")
def processes(n: int = 20, sort: str = "cpu", *, interval_s: float = 0.5) -> pd.DataFrame:
    """Return the top ``n`` processes by ``sort`` (cpu|memory) with pid, name, user, cpu_percent
    (over ``interval_s``), rss_bytes, memory_percent, status, started (UTC) and cmdline.
    """
    psutil = require("psutil", "host")
    if sort not in ("cpu", "memory"):
        raise ConfigError(f"host.processes: sort={sort!r}; expected 'cpu' or 'memory'")
    procs = list(psutil.process_iter(["pid", "name", "username", "status", "create_time", "cmdline"]))
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(max(0.0, interval_s))
    rows = []
    for p in procs:
        try:
            mem = p.memory_info()
            rows.append({"pid": p.pid, "name": p.info["name"], "user": p.info["username"],
                         "cpu_percent": p.cpu_percent(None), "rss_bytes": mem.rss,
                         "memory_percent": p.memory_percent(), "status": p.info["status"],
                         "started": pd.Timestamp(p.info["create_time"], unit="s", tz="UTC"),
                         "cmdline": " ".join(p.info["cmdline"] or [])})
        except psutil.Error:  # gone or not ours to read
            continue
    frame = pd.DataFrame(rows)
    if len(frame):
        frame = frame.sort_values("cpu_percent" if sort == "cpu" else "rss_bytes", ascending=False).head(int(n))
    frame = frame.reset_index(drop=True)
    frame.attrs.update({"source": "host", "truncated": len(rows) > int(n), "rejected": 0})
    return frame


@source("host", "table", target_arg="path")
def largest_dirs(path: str | Path, n: int = 20, *, depth: int = 1, timeout_s: float = 20.0) -> pd.DataFrame:
    """Return the ``n`` largest directories ``depth`` levels under ``path`` (``du``-like, one filesystem,
    symlinks not followed): ``path``, ``bytes`` (allocated, like ``du``), ``files``, ``size``.
    Stops after ``timeout_s`` with ``attrs['truncated']`` True (sizes then are lower bounds).
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise SourceError("host", root, "not a directory")
    device = root.stat().st_dev
    deadline = time.monotonic() + timeout_s
    totals: dict[str, list[int]] = {}
    truncated = False
    keep_parts = len(root.parts) + int(depth)
    stack = [root]
    while stack:
        if time.monotonic() > deadline:
            truncated = True
            break
        current = stack.pop()
        # a file counts in its directory, cut to ``depth`` levels under root
        key = str(Path(*current.parts[:keep_parts]))
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if entry.is_dir(follow_symlinks=False):
                if st.st_dev == device:
                    stack.append(Path(entry.path))
                continue
            t = totals.setdefault(key, [0, 0])
            t[0] += _allocated(st)
            t[1] += 1
    frame = pd.DataFrame([{"path": k, "bytes": v[0], "files": v[1]} for k, v in totals.items()],
                         columns=["path", "bytes", "files"])
    frame = frame.sort_values("bytes", ascending=False, kind="stable").head(int(n)).reset_index(drop=True)
    frame["size"] = [human_bytes(b) for b in frame["bytes"]]
    frame.attrs.update({"source": f"host:{root}", "truncated": truncated, "rejected": 0})
    return frame


_OOM = re.compile(r"(?:Out of memory|Memory cgroup out of memory): Kill(?:ed)? process (?P<pid>\d+) \((?P<name>[^)]*)\)"
                  r"(?:.*?anon-rss:(?P<rss>\d+)kB)?")
_OOM_TASK = re.compile(r"oom-kill:.*?task=(?P<name>[^,]+),pid=(?P<pid>\d+)")
_ISO_PREFIX = re.compile(r"^(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\s")
_SYSLOG_PREFIX = re.compile(r"^(?P<ts>[A-Z][a-z]{2}\s+\d{1,2} \d{2}:\d{2}:\d{2})\s")


def _line_time(line: str, year: int) -> pd.Timestamp | None:
    m = _ISO_PREFIX.match(line)
    if m:
        return parse_time(m["ts"].replace(",", "."))
    m = _SYSLOG_PREFIX.match(line)
    if m:
        return parse_time(pd.Timestamp(f"{year} {m['ts']}"))
    return None


@source("host", "events", target_arg="log")
def oom_kills(log: str | Path | None = None, start: Any = None, end: Any = None, *,
              year: int | None = None) -> pd.DataFrame:
    """Return the OOM kills of the kernel log as an events frame (``kind`` oom_kill, ``ref`` the pid).

    ``log`` is a kernel log file (``/var/log/kern.log``, ``/var/log/messages``, a saved
    ``dmesg --time-format=iso``); ``None`` reads ``dmesg --time-format=iso``. Syslog lines
    without a year take ``year`` (default: this year). Extra columns: ``process``, ``pid``,
    ``anon_rss_bytes``, ``line``. Lines of an OOM kill without a readable time are counted in
    ``attrs['rejected']``. Raises :class:`SourceError` when the log cannot be read.
    """
    if log is None:
        try:
            r = subprocess.run(["dmesg", "--time-format=iso"], capture_output=True, text=True, timeout=10)
        except FileNotFoundError:
            raise SourceError("host", "dmesg", "dmesg is not installed; pass a kernel log file") from None
        if r.returncode != 0:
            raise SourceError("host", "dmesg", (r.stderr.strip().splitlines() or ["failed"])[-1]
                              + "; pass a kernel log file such as /var/log/kern.log")
        text, origin = r.stdout, "dmesg"
    else:
        try:
            text, origin = Path(log).read_text(encoding="utf-8", errors="replace"), str(log)
        except OSError as exc:
            raise SourceError("host", log, exc.strerror or str(exc)) from None
    s, e = window(start, end)
    yr = year or now().year
    rows, rejected = [], 0
    for line in text.splitlines():
        m = _OOM.search(line) or _OOM_TASK.search(line)
        if not m:
            continue
        ts = _line_time(line, yr)
        if ts is None:
            rejected += 1
            continue
        if (s is not None and ts < s) or (e is not None and ts > e):
            continue
        rss = m.groupdict().get("rss")
        rows.append({"ts": ts, "kind": "oom_kill", "source": f"kernel:{origin}",
                     "text": f"OOM killer killed {m['name']} (pid {m['pid']})", "ref": m["pid"],
                     "process": m["name"], "pid": int(m["pid"]),
                     "anon_rss_bytes": int(rss) * 1024 if rss else None, "line": line.strip()})
    frame = pd.DataFrame(rows)
    if len(frame):  # one kill may be logged twice (oom-kill: summary and "Killed process")
        frame = frame.sort_values("anon_rss_bytes", na_position="last").drop_duplicates(["pid", "process"])
    return conform(frame, "events", source=f"kernel:{origin}", rejected=rejected)


@source("host", "metrics")
def node(prometheus_url: str, instance: str | None = None, *, at: Any = None, timeout_s: float = 10.0) -> pd.DataFrame:
    """Return the host numbers of a remote machine from node_exporter through Prometheus, as they
    were at ``at`` (default: now; a past incident passes its end, so history is read, not today).

    Metrics ``cpu_busy_percent``, ``load1``, ``memory_used_percent``, ``disk_used_percent`` (per
    ``mountpoint``), with the ``instance`` label (filtered to ``instance`` when given).
    """
    from . import prometheus

    def sel(*matchers: str) -> str:
        found = [*matchers, f'instance="{instance}"'] if instance else list(matchers)
        return "{" + ",".join(found) + "}" if found else ""

    fs, idle = 'fstype!~"tmpfs|overlay|squashfs|ramfs"', 'mode="idle"'
    queries = {
        "cpu_busy_percent": f"100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{sel(idle)}[1m])))",
        "load1": f"node_load1{sel()}",
        "memory_used_percent": f"100 * (1 - node_memory_MemAvailable_bytes{sel()} / node_memory_MemTotal_bytes{sel()})",
        "disk_used_percent": f"100 * (1 - node_filesystem_avail_bytes{sel(fs)} / node_filesystem_size_bytes{sel(fs)})",
    }
    frames = []
    for name, promql in queries.items():
        f = prometheus.query(prometheus_url, promql, at=at, timeout_s=timeout_s)
        f["metric"] = name
        frames.append(f)
    return concat(frames, "metrics", source=f"node_exporter via {frames[0].attrs.get('source', '')}")


__all__ = ["stats", "disk", "quota_use", "processes", "largest_dirs", "oom_kills", "node"]
