"""Deploys and changes as an events frame: ``git log`` of a repository, deploy-event files, config changes.

Events frame columns: ``ts``, ``kind`` (``deploy``, ``commit``, ``config``, ...), ``source``,
``text``, ``ref``; extra columns ``author``, ``files`` (list of paths), ``tags`` for git, and
every other field of an events-file record.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from ..errors import ConfigError, SourceError
from ..frames import conform
from ..timeutil import iso, parse_time, window
from ._base import source

_SEP = "\x1e"  # record separator between commits
_FIELD = "\x1f"
_DEPLOY_SUBJECT = re.compile(r"\b(deploy(ed|s)?|release[ds]?|rollback|roll back|revert)\b", re.I)
_TS_FIELDS = ("ts", "timestamp", "time", "@timestamp", "date", "deployed_at", "created_at", "started_at")
_TEXT_FIELDS = ("text", "message", "description", "summary", "title")
_REF_FIELDS = ("ref", "version", "sha", "commit", "revision", "id", "release")


def _git(repo: Path, *args: str, timeout_s: float) -> str:
    try:
        r = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError:
        raise SourceError("git", repo, "the git command is not installed") from None
    except subprocess.TimeoutExpired:
        raise SourceError("git", repo, f"git {args[0]} did not finish within {timeout_s:g}s") from None
    if r.returncode != 0:
        raise SourceError("git", repo, (r.stderr.strip().splitlines() or [f"git exited {r.returncode}"])[-1])
    return r.stdout


@source("git", "events")
def git(repo: str | Path, start: Any = None, end: Any = None, *, rev: str = "HEAD", limit: int = 5000,
        timeout_s: float = 30.0) -> pd.DataFrame:
    """Return the commits of ``rev`` in ``repo`` committed within ``[start, end]`` as an events frame.

    ``kind`` is ``deploy`` for a commit carrying a tag or whose subject says deploy, release,
    rollback or revert, else ``commit``; ``text`` is the subject, ``ref`` the full sha; ``ts``
    the committer date. Extra columns: ``author``, ``files``, ``tags``.
    Raises :class:`SourceError` when ``repo`` is not a git repository.
    """
    path = Path(repo).expanduser().resolve()
    if not path.exists():
        raise SourceError("git", path, "no such directory")
    s, e = window(start, end)
    args = ["log", rev, f"--max-count={int(limit) + 1}", "--name-only", "--no-renames",
            f"--format={_SEP}%H{_FIELD}%cI{_FIELD}%an <%ae>{_FIELD}%D{_FIELD}%s"]
    if s is not None:
        args.append(f"--since={iso(s)}")
    if e is not None:
        args.append(f"--until={iso(e)}")
    out = _git(path, *args, timeout_s=timeout_s)
    rows = []
    for block in out.split(_SEP)[1:]:
        head, _, files = block.partition("\n")
        sha, committed, author, decorations, subject = (head.split(_FIELD) + [""] * 5)[:5]
        tags = [d.strip()[5:] for d in decorations.split(",") if d.strip().startswith("tag: ")]
        deploy = bool(tags) or bool(_DEPLOY_SUBJECT.search(subject))
        rows.append({"ts": committed, "kind": "deploy" if deploy else "commit", "source": f"git:{path.name}",
                     "text": subject, "ref": sha, "author": author,
                     "files": [f for f in files.splitlines() if f.strip()], "tags": tags})
    truncated = len(rows) > int(limit)
    frame = pd.DataFrame(rows[: int(limit)], columns=["ts", "kind", "source", "text", "ref", "author", "files", "tags"])
    return conform(frame, "events", source=f"git:{path}", truncated=truncated)


def _pick(record: Mapping[str, Any], names: Iterable[str]) -> tuple[str | None, Any]:
    for n in names:
        if n in record and record[n] not in (None, ""):
            return n, record[n]
    return None, None


def _records_to_events(records: list[tuple[int, Any]], origin: str, default_kind: str, start: Any,
                       end: Any) -> pd.DataFrame:
    s, e = window(start, end)
    rows, rejected = [], []
    for where, rec in records:
        if not isinstance(rec, Mapping):
            rejected.append({"record": where, "reason": f"not an object: {str(rec)[:80]}"})
            continue
        ts_field, ts_value = _pick(rec, _TS_FIELDS)
        try:
            ts = parse_time(ts_value, field=f"{origin} record {where} {ts_field or 'ts'}")
        except ConfigError as exc:
            rejected.append({"record": where, "reason": str(exc)})
            continue
        if ts is None:
            rejected.append({"record": where, "reason": f"no time field (expected one of {', '.join(_TS_FIELDS)})"})
            continue
        if (s is not None and ts < s) or (e is not None and ts > e):
            continue
        text_field, text = _pick(rec, _TEXT_FIELDS)
        ref_field, ref = _pick(rec, _REF_FIELDS)
        used = {ts_field, text_field, ref_field, "kind", "source"}
        rows.append({"ts": ts, "kind": str(rec.get("kind") or rec.get("type") or default_kind),
                     "source": str(rec.get("source") or origin), "text": "" if text is None else str(text),
                     "ref": None if ref is None else str(ref),
                     **{k: v for k, v in rec.items() if k not in used and k != "type"}})
    frame = conform(pd.DataFrame(rows), "events", source=origin, rejected=len(rejected))
    frame.attrs["rejected_records"] = rejected
    return frame


@source("events", "events", target_arg=0)
def events(path: str | Path, start: Any = None, end: Any = None, *, kind: str = "deploy") -> pd.DataFrame:
    """Return the events of a JSON-lines file (or a JSON array) within ``[start, end]``.

    Each record needs a time (``ts``, ``timestamp``, ``time``, ``@timestamp``, ``date``,
    ``deployed_at``, ...); ``text`` comes from ``text``/``message``/``description``/``summary``,
    ``ref`` from ``ref``/``version``/``sha``/``commit``, ``kind`` from ``kind``/``type`` (default
    ``kind``). Other fields become columns. Records that cannot be read are counted in
    ``attrs['rejected']`` and listed in ``attrs['rejected_records']`` (line and reason).
    Raises :class:`SourceError` when the file cannot be read.
    """
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError("events", p, exc.strerror or str(exc)) from None
    records: list[tuple[int, Any]] = []
    if text.lstrip().startswith("["):
        try:
            records = [(i + 1, r) for i, r in enumerate(json.loads(text))]
        except json.JSONDecodeError as exc:
            raise SourceError("events", p, f"not valid JSON at line {exc.lineno}: {exc.msg}") from None
    else:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                records.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                records.append((n, f"line {n} is not JSON ({exc.msg})"))
    frame = _records_to_events(records, f"events:{p.name}", kind, start, end)
    frame.attrs["source"] = f"events:{p}"
    return frame


@source("changes", "events", target_arg="origin")
def changes(records: Iterable[Mapping[str, Any]] | pd.DataFrame, *, origin: str = "config", kind: str = "config",
            start: Any = None, end: Any = None) -> pd.DataFrame:
    """Return config changes (or any change records given in a notebook) as an events frame.

    ``records`` is a list of mappings (or a DataFrame) with the same fields as :func:`events`
    accepts, e.g. ``{"ts": "2026-01-31T14:02Z", "text": "pool_size 20 -> 5", "ref": "PR-812"}``.
    ``kind`` defaults to ``config``; unreadable records are counted in ``attrs['rejected']``.
    """
    items = records.to_dict("records") if isinstance(records, pd.DataFrame) else list(records or [])
    return _records_to_events([(i + 1, r) for i, r in enumerate(items)], origin, kind, start, end)


__all__ = ["git", "events", "changes"]
