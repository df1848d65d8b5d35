"""Host source on this machine: numbers checked against what the test made or the OS reports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import incident_kit as ik
from incident_kit import frames

KERN_LOG = """\
Jan 31 14:01:58 web-1 kernel: [86012.123456] postgres invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0
Jan 31 14:01:58 web-1 kernel: [86012.123901] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/app.service,task=gunicorn,pid=4242,uid=1000
Jan 31 14:01:58 web-1 kernel: [86012.123950] Out of memory: Killed process 4242 (gunicorn) total-vm:2621440kB, anon-rss:1887436kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:4096kB oom_score_adj:0
Jan 31 14:05:00 web-1 kernel: [86194.000001] eth0: link up
2026-01-31T15:10:03.512345+00:00 web-1 kernel: Memory cgroup out of memory: Killed process 777 (celery) total-vm:900000kB, anon-rss:512000kB, file-rss:0kB, shmem-rss:0kB
[86999.1] Out of memory: Killed process 999 (no-time) total-vm:1kB, anon-rss:1kB
"""


def test_oom_kills_from_a_kernel_log_file(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(KERN_LOG)
    ev = ik.host.oom_kills(log, year=2026)
    assert frames.check(ev, "events") == []
    assert list(ev.process) == ["gunicorn", "celery"] and list(ev.ref) == ["4242", "777"]
    assert ev.ts.iloc[0] == pd.Timestamp("2026-01-31T14:01:58Z")
    assert ev.anon_rss_bytes.iloc[0] == 1887436 * 1024 and (ev.kind == "oom_kill").all()
    assert ev.attrs["rejected"] == 1  # the line without a time is counted, not silently lost
    assert list(ik.host.oom_kills(log, start="2026-01-31T15:00:00Z", year=2026).process) == ["celery"]
    with pytest.raises(ik.SourceError, match="host .*missing.log"):
        ik.host.oom_kills(tmp_path / "missing.log")


def test_oom_kills_from_dmesg_or_a_one_line_reason() -> None:
    try:
        ev = ik.host.oom_kills()
    except ik.SourceError as exc:  # containers often may not read the kernel ring buffer
        assert str(exc).startswith("host dmesg:") and "kernel log file" in str(exc)
    else:
        assert frames.check(ev, "events") == []


def test_stats_disk_processes() -> None:
    st = ik.host.stats(interval_s=0.1)
    assert frames.check(st, "metrics") == []
    got = dict(zip(st.metric, st.value))
    assert got["cpu_count"] == os.cpu_count() and 0 <= got["memory_used_percent"] <= 100
    assert got["load1"] == pytest.approx(os.getloadavg()[0], abs=2)

    d = ik.host.disk("/tmp")
    usage = shutil.disk_usage("/tmp")
    values = dict(zip(d.metric, d.value))
    assert values["disk_total_bytes"] == usage.total
    assert abs(values["disk_free_bytes"] - usage.free) < 512 * 1024 * 1024
    with pytest.raises(ik.SourceError, match="no such file"):
        ik.host.disk("/no/such/path")

    hog = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<20: pass"])
    try:
        time.sleep(0.3)
        top = ik.host.processes(n=200, interval_s=0.5)
        row = top[top.pid == hog.pid]
        assert len(row) == 1 and row.cpu_percent.iloc[0] > 0  # a busy loop, however loaded the machine
        assert {"name", "user", "rss_bytes", "cmdline"} <= set(top.columns)
    finally:
        hog.kill()
        hog.wait()


def test_largest_dirs(tmp_path: Path) -> None:
    (tmp_path / "logs" / "old").mkdir(parents=True)
    (tmp_path / "cache").mkdir()
    (tmp_path / "logs" / "old" / "a.log").write_bytes(b"x" * 3_000_000)
    (tmp_path / "logs" / "b.log").write_bytes(b"x" * 1_000_000)
    (tmp_path / "cache" / "c.bin").write_bytes(b"x" * 200_000)
    (tmp_path / "top.txt").write_bytes(b"x" * 10)
    found = ik.host.largest_dirs(tmp_path)
    assert list(found.path[:2]) == [str(tmp_path / "logs"), str(tmp_path / "cache")]
    assert found.bytes.iloc[0] >= 4_000_000 and found.files.iloc[0] == 2
    deeper = ik.host.largest_dirs(tmp_path, depth=2)
    assert deeper.path.iloc[0] == str(tmp_path / "logs" / "old")
