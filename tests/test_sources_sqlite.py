"""SQLite source on a real database file made here; it is opened read-only and never changed."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

import incident_kit as ik
from incident_kit import frames
from incident_kit.errors import MutationRefused, SourceError


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, state TEXT)")
        c.execute("CREATE INDEX jobs_state ON jobs(state)")
        c.executemany("INSERT INTO jobs(state) VALUES (?)", [("queued",)] * 250 + [("failed",)] * 7)
        c.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    return path


def test_stats_and_tables(db: Path) -> None:
    st = ik.sqlite.stats(db)
    assert frames.check(st, "metrics") == []
    values = dict(zip(st.metric, st.value))
    assert values["sqlite_file_bytes"] == db.stat().st_size
    assert values["sqlite_page_count"] * values["sqlite_page_size"] == db.stat().st_size
    assert values["sqlite_tables"] == 2
    tabs = ik.sqlite.tables(f"sqlite:///{db}")
    got = dict(zip(tabs.name, tabs["rows"]))
    assert got == {"jobs": 257, "users": 0}
    assert tabs[tabs.name == "jobs"].indexes.iloc[0] == 1


def test_queries_are_read_only_and_the_file_is_unchanged(db: Path) -> None:
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    url = f"sqlite:///{db}"
    assert ik.db.query(url, "SELECT state, count(*) AS n FROM jobs GROUP BY state ORDER BY n").n.tolist() == [7, 250]
    for sql in ["DELETE FROM jobs", "PRAGMA journal_mode = WAL", "CREATE TABLE x (a)", "VACUUM"]:
        with pytest.raises(MutationRefused):
            ik.db.query(url, sql)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_missing_file_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(SourceError, match="no such database file"):
        ik.sqlite.stats(missing)
    with pytest.raises(SourceError, match="sqlite"):
        ik.db.query(f"sqlite:///{missing}", "SELECT 1")
    assert not missing.exists()
