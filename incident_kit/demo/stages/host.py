"""The resource_pressure stage: a filesystem that is really full, CPU and memory hogs, OOM kills.

The full disk is a 16 MB tmpfs mounted inside the demo's work directory when this process may
mount (root with CAP_SYS_ADMIN); otherwise it is simulated: a plain directory whose size limit
the service enforces (``--receipts-quota``) and that the stage passes as ``disk_quota_bytes``
(``ik.host.disk`` then shows the host's filesystem, not the quota). ``story.facts["disk_mode"]``
says which. The OOM kills are lines of a kernel log file written for the story (``kernel_log``);
no process is really killed by the kernel on a shared host.
"""

from __future__ import annotations

import errno
import os
import random
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import RunError
from ..faults import Fault, on_paths, quiet
from ..procs import start_module
from .base import Stage

if TYPE_CHECKING:
    from .context import StageContext
    from ..history import Story

DISK_BYTES = 16 * 1024 * 1024
MEMORY_HOG_MB = 256
OOM_VICTIM = "video-worker"


def _mount_tmpfs(path: Path, size: int) -> bool:
    """Mount a tmpfs of ``size`` bytes on ``path``; returns False when mounting is not allowed here."""
    if os.geteuid() != 0:
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "incident-kit-demo", str(path)],
                       capture_output=True, text=True)
    return r.returncode == 0


def unmount_under(path: Path) -> None:
    """Unmount (lazily) the demo tmpfs mounts left under ``path`` by a demo that was killed."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return
    for line in mounts:
        fields = line.split()
        if len(fields) > 1 and fields[0] == "incident-kit-demo" and fields[1].startswith(f"{path}/"):
            subprocess.run(["umount", "-l", fields[1]], capture_output=True)


def _fill(path: Path, quota: int | None) -> int:
    """Fill the filesystem of ``path`` (or ``quota`` bytes) with cache segments; returns bytes written."""
    cache = path / "transcode-cache"
    cache.mkdir(exist_ok=True)
    chunk = b"\0" * (1024 * 1024)
    written, i = 0, 0
    while quota is None or written + len(chunk) <= quota:
        target = cache / f"segment-{i:04d}.part"
        try:
            with open(target, "wb") as f:
                f.write(chunk)
            written += len(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            # keep what fit of the last segment: the filesystem is now full to the byte
            written += target.stat().st_size if target.exists() else 0
            break
        i += 1
    if quota is not None and written < quota:  # the simulated quota: up to the last byte
        with open(cache / f"segment-{i:04d}.part", "wb") as f:
            f.write(b"\0" * (quota - written - 1024))
        written = quota - 1024
    return written


def _kernel_log(logdir: Path, story: "Story", rng: random.Random) -> None:
    """Write ``kern.log``: ordinary kernel lines and three OOM kills of ``OOM_VICTIM`` in the incident."""
    from ..history import iso_ms

    lines = []
    t = story.now - timedelta(hours=2)
    uptime = 86400.0
    while t < story.now:
        t += timedelta(seconds=rng.uniform(200, 600))
        uptime += rng.uniform(200, 600)
        lines.append((t, f"{iso_ms(t)} demo-host kernel: [{uptime:.6f}] TCP: request_sock_TCP: Possible SYN flooding "
                         "on port 443. Sending cookies." if rng.random() < 0.1 else
                      f"{iso_ms(t)} demo-host kernel: [{uptime:.6f}] EXT4-fs (vda): resizing filesystem skipped"))
    for k in range(3):
        t = story.errors_from + timedelta(minutes=1 + 3 * k, seconds=rng.randint(0, 50))
        pid = 31000 + 137 * k
        rss = 1_800_000 + rng.randint(0, 200_000)
        up = 90000.0 + 180 * k
        lines.append((t, f"{iso_ms(t)} demo-host kernel: [{up:.6f}] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),"
                         f"cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/{OOM_VICTIM}.service,"
                         f"task={OOM_VICTIM},pid={pid},uid=1000"))
        lines.append((t, f"{iso_ms(t)} demo-host kernel: [{up:.6f}] Out of memory: Killed process {pid} ({OOM_VICTIM}) "
                         f"total-vm:{rss + 600_000}kB, anon-rss:{rss}kB, file-rss:0kB, shmem-rss:0kB, UID:1000 "
                         "pgtables:3900kB oom_score_adj:0"))
    lines.sort(key=lambda pair: pair[0])
    (logdir / "kern.log").write_text("".join(text + "\n" for _, text in lines), encoding="utf-8")


class ResourcePressure(Stage):
    """The receipts filesystem is full (checkouts fail with ENOSPC), hogs eat CPU and memory,
    and the kernel log has OOM kills of the video worker."""

    name = "resource_pressure"
    title = "a full 16 MB receipts filesystem (ENOSPC on checkout), CPU and memory hogs, OOM kills"

    def prepare(self, env: "StageContext") -> None:
        self.data = env.workdir / "data"
        self.data.mkdir(exist_ok=True)
        self.mounted = _mount_tmpfs(self.data, DISK_BYTES)
        if self.mounted:
            env.on_stop(lambda: subprocess.run(["umount", "-l", str(self.data)], capture_output=True))
        self.quota = None if self.mounted else DISK_BYTES
        self.receipts = self.data / "receipts"
        self.receipts.mkdir(exist_ok=True)
        self.filled = _fill(self.data, self.quota)

    def fault(self, env: "StageContext") -> Fault:
        receipts = self.receipts
        return quiet("disk_full", on_paths(("/api/checkout",), 0.97, 500,
                                           lambda rng: f"checkout failed: [Errno 28] No space left on device: "
                                                       f"'{receipts}/receipt-{rng.randint(40000, 99999)}.json'"),
                     errors_ago_min=10.0, extra=_kernel_log)

    def service_args(self, env: "StageContext") -> list[str]:
        args = ["--receipts-dir", str(self.receipts)]
        return args + (["--receipts-quota", str(self.quota)] if self.quota is not None else [])

    def parameters(self, env: "StageContext") -> dict[str, Any]:
        params: dict[str, Any] = {"disk_paths": [str(self.data)], "kernel_log": str(env.workdir / "logs" / "kern.log"),
                                  "disk_threshold_percent": 90}
        if self.quota is not None:
            params["disk_quota_bytes"] = self.quota
        return params

    def inject(self, env: "StageContext") -> None:
        ready = env.workdir / "memory-hog.ready"
        memory = start_module(env, "hogs", "memory", str(MEMORY_HOG_MB), str(ready), what="memory hog")
        deadline = time.monotonic() + 15
        while not ready.exists() and memory.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if not ready.exists():
            raise RunError(f"demo: the memory hog did not hold {MEMORY_HOG_MB} MB within 15 s")
        cpu = start_module(env, "hogs", "cpu", what="cpu hog", nice=19)
        env.story.facts.update(disk_mode="tmpfs" if self.mounted else "simulated quota", disk_path=str(self.data),
                               disk_bytes=DISK_BYTES, filled_bytes=self.filled, memory_hog_pid=memory.pid,
                               memory_hog_mb=MEMORY_HOG_MB, cpu_hog_pid=cpu.pid, oom_victim=OOM_VICTIM, oom_kills=3)

    def expected(self, env: "StageContext") -> tuple[str, list[str]]:
        return "saturation", ["disk"]


__all__ = ["ResourcePressure", "unmount_under"]
