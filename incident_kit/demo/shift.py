"""A staged incident moved into the past: the same files, every time shifted, for "historical" runs.

:func:`shift_copy` copies a demo work directory's evidence (logs, deploy events, config, the git
repository) into another directory with every ISO 8601 timestamp moved by ``by`` and the git
history rebuilt with shifted commit dates (so commit hashes change, and the deploy events'
``ref`` follow them). Nothing live is copied: a historical run reads files only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

# ISO 8601 with ``T``, and the space-separated stamps of logback and Python logging (``,`` milliseconds)
_ISO = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?")
#: What a historical copy takes from a work directory (everything else is live state or secrets).
COPIED = ("logs", "deploys.jsonl", "config", "repo")


def _shift_stamp(match: re.Match[str], by: timedelta) -> str:
    text = match.group(0)
    comma = "," in text
    ts = datetime.fromisoformat(text.replace("Z", "+00:00").replace(",", "."))
    moved = (ts + by).isoformat(sep=text[10], timespec="milliseconds" if comma or "." in text else "seconds")
    if comma:
        moved = moved.replace(".", ",", 1)
    return moved.replace("+00:00", "Z") if text.endswith("Z") else moved


def shift_text(text: str, by: timedelta) -> str:
    """Return ``text`` with every ISO 8601 timestamp in it moved by ``by``."""
    return _ISO.sub(lambda m: _shift_stamp(m, by), text)


def _git(repo: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    full = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent), **(env or {})}
    r = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=full, check=True, input=stdin)
    return r.stdout.strip()


def rebuild_repo(source: Path, dest: Path, by: timedelta) -> dict[str, str]:
    """Copy git repository ``source`` to ``dest`` with each commit's dates moved by ``by`` (first
    parents of HEAD, oldest first; tags follow); returns old sha -> new sha."""
    shutil.copytree(source, dest, symlinks=True)
    log = _git(dest, "log", "--first-parent", "--reverse", "--format=%H%x1f%T%x1f%aI%x1f%cI%x1f%an%x1f%ae%x1f%cn%x1f%ce", "HEAD")
    mapping: dict[str, str] = {}
    parent: str | None = None
    for line in log.splitlines():
        sha, tree, adate, cdate, an, ae, cn, ce = line.split("\x1f")
        message = _git(dest, "log", "-1", "--format=%B", sha)
        env = {"GIT_AUTHOR_DATE": shift_text(adate, by), "GIT_COMMITTER_DATE": shift_text(cdate, by),
               "GIT_AUTHOR_NAME": an, "GIT_AUTHOR_EMAIL": ae, "GIT_COMMITTER_NAME": cn, "GIT_COMMITTER_EMAIL": ce}
        args = ["commit-tree", tree, *(["-p", parent] if parent else [])]
        parent = _git(dest, *args, env=env, stdin=message + "\n")
        mapping[sha] = parent
    if parent is not None:
        branch = _git(dest, "symbolic-ref", "-q", "--short", "HEAD")
        _git(dest, "update-ref", f"refs/heads/{branch}", parent)
        _git(dest, "reset", "-q", "--hard", parent)
        for tag in _git(dest, "tag", "--list").splitlines():
            old = _git(dest, "rev-list", "-n", "1", tag)
            if old in mapping:
                _git(dest, "tag", "-f", tag, mapping[old])
    return mapping


def shift_copy(workdir: Path, dest: Path, by: timedelta) -> dict[str, str]:
    """Copy ``workdir``'s evidence (:data:`COPIED`) to ``dest`` moved in time by ``by``; returns the
    path mapping (old prefix -> new prefix) to rewrite parameters with :func:`shift_parameters`."""
    dest.mkdir(parents=True, exist_ok=True)
    mapping: dict[str, str] = {}
    if (workdir / "repo" / ".git").exists():
        mapping = rebuild_repo(workdir / "repo", dest / "repo", by)
    for name in COPIED:
        src = workdir / name
        if name == "repo" or not src.exists():
            continue
        files = [src] if src.is_file() else [p for p in src.rglob("*") if p.is_file()]
        for f in files:
            target = dest / f.relative_to(workdir)
            target.parent.mkdir(parents=True, exist_ok=True)
            text = shift_text(f.read_text(encoding="utf-8", errors="replace"), by)
            for old, new in mapping.items():
                text = text.replace(old, new)
            target.write_text(text, encoding="utf-8")
    return {str(workdir): str(dest)}


def shift_parameters(parameters: dict[str, Any], paths: dict[str, str]) -> dict[str, Any]:
    """Return ``parameters`` with every path under an old prefix of ``paths`` moved to its new one."""
    def move(value: Any) -> Any:
        if isinstance(value, str):
            for old, new in paths.items():
                if value.startswith(old):
                    return new + value[len(old):]
            return value
        if isinstance(value, list):
            return [move(v) for v in value]
        return value

    return {k: move(v) for k, v in parameters.items()}


__all__ = ["COPIED", "rebuild_repo", "shift_copy", "shift_parameters", "shift_text"]
