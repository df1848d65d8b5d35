"""SQLite, read only: file size and page statistics, tables with their row counts and sizes.

``db`` is a file path or a ``sqlite:///path`` URL. The file is opened with ``mode=ro`` and
``PRAGMA query_only`` (see :class:`incident_kit.sources.db.ReadOnlySession`); a missing file is
an error, never created.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import SourceError
from ..frames import conform
from ..timeutil import now
from ._base import source
from .db import DEFAULT_TIMEOUT_S, ReadOnlySession


def _url_and_path(db: str | Path) -> tuple[str, Path]:
    text = str(db)
    if text.startswith("sqlite"):
        path = Path(text.split(":///", 1)[-1].split("?", 1)[0])
        return text, path
    return f"sqlite:///{Path(text).expanduser()}", Path(text).expanduser()


def _open(db: str | Path, timeout_s: float) -> tuple[ReadOnlySession, Path]:
    url, path = _url_and_path(db)
    if not path.is_file():
        raise SourceError("sqlite", path, "no such database file")
    return ReadOnlySession(url, source="sqlite", timeout_s=timeout_s), path


@source("sqlite", "metrics")
def stats(db: str | Path, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Return a metrics frame: ``sqlite_file_bytes``, ``sqlite_wal_bytes``, ``sqlite_page_size``,
    ``sqlite_page_count``, ``sqlite_freelist_count``, ``sqlite_tables``; ``attrs['journal_mode']``.
    """
    session, path = _open(db, timeout_s)
    with session as s:
        values = {name: s.scalar(f"PRAGMA {name}") for name in ("page_size", "page_count", "freelist_count")}
        journal = s.scalar("PRAGMA journal_mode")
        tables = s.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
    wal = path.with_name(path.name + "-wal")
    ts = now()
    rows = [{"ts": ts, "metric": "sqlite_file_bytes", "value": path.stat().st_size},
            {"ts": ts, "metric": "sqlite_wal_bytes", "value": wal.stat().st_size if wal.exists() else 0},
            *({"ts": ts, "metric": f"sqlite_{k}", "value": v} for k, v in values.items()),
            {"ts": ts, "metric": "sqlite_tables", "value": tables}]
    frame = conform(pd.DataFrame(rows), "metrics", source=f"sqlite:{path}")
    frame.attrs["journal_mode"] = journal
    return frame


@source("sqlite", "table")
def tables(db: str | Path, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Return one row per table: ``name``, ``rows`` (exact count), ``bytes`` (from ``dbstat`` when
    SQLite has it, else empty), ``indexes``. Largest first.
    """
    session, path = _open(db, timeout_s)
    with session as s:
        names = s.frame("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                        "ORDER BY name")
        rows = []
        for name in names.get("name", []):
            quoted = '"' + str(name).replace('"', '""') + '"'
            count = s.scalar(f"SELECT count(*) FROM {quoted}")
            indexes = s.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = :t", {"t": name})
            rows.append({"name": name, "rows": count, "indexes": indexes})
        try:
            sizes = s.frame("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name")
            by_name = dict(zip(sizes["name"], sizes["bytes"]))
        except SourceError:  # SQLite built without SQLITE_ENABLE_DBSTAT_VTAB
            by_name = {}
    frame = pd.DataFrame(rows, columns=["name", "rows", "indexes"])
    frame["bytes"] = [by_name.get(n) for n in frame["name"]]
    frame = frame.sort_values(["bytes", "rows"], ascending=False, na_position="last", kind="stable")
    frame = frame.reset_index(drop=True)
    frame.attrs.update({"source": f"sqlite:{path}", "truncated": False, "rejected": 0})
    return frame


__all__ = ["stats", "tables"]
