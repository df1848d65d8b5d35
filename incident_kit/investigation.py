"""The recorder a scenario notebook keeps: sources collected, findings, severity, timeline.

Every change is written at once, redacted, to ``<output_dir>/summary.partial.json``, so what was found
before a failing cell survives into the run's summary.json. Without ``output_dir`` (an
interactive session) nothing is written.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from . import frames
from .errors import ConfigError, IncidentKitError, SourceOffline, SourceSaturated
from .redact_io import session_redactor
from .report import tables
from .timeutil import iso, now, offset, parse_time, window

PARTIAL_NAME = "summary.partial.json"
#: How close to now the investigation's end must be for live-only sources to be read
#: (``live_within=`` or the environment variable ``INCIDENT_KIT_LIVE_WITHIN`` override it).
LIVE_WITHIN = "15min"
#: Source modules whose functions read the present state (probes, sessions, locks, Redis, host).
_LIVE_MODULES = frozenset({"probes", "host", "redis", "postgres", "mysql", "sqlite"})
#: Functions of those modules that read history instead (a log, or Prometheus at a given time).
_NOT_LIVE = frozenset({"oom_kills", "node", "blocking_chains", "snapshot_rates"})


def live_only(fn: Callable[..., Any]) -> bool:
    """Return whether source ``fn`` reads state that exists only now (probes, database sessions and
    locks, Redis INFO, host stats); a function's ``live_state`` attribute, when set, decides."""
    flag = getattr(fn, "live_state", None)
    if flag is not None:
        return bool(flag)
    module = (getattr(fn, "__module__", "") or "").rsplit(".", 1)[-1]
    return module in _LIVE_MODULES and getattr(fn, "__name__", "") not in _NOT_LIVE


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, pd.Timestamp):
        return iso(value)
    if value is pd.NaT or value is pd.NA:
        return None
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [_jsonable(r) for r in value.to_dict("records")]
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return str(value)


def _display_markdown(text: str) -> None:
    try:
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - outside IPython
        print(text)
        return
    display(Markdown(text))


def _unconfigured(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict) and len(value) == 0)


class Investigation:
    """Collects a scenario's evidence and conclusions; see the module docstring."""

    def __init__(self, scenario: str, *, output_dir: str | Path | None = None, start: Any = None,
                 end: Any = None, live_within: Any = None) -> None:
        self.scenario = scenario
        self.output_dir = Path(output_dir) if output_dir else None
        self.start, self.end = window(start, end)
        #: The end the user or the alert set; ``None``: ongoing, or to be found in the data.
        self.requested_end = self.end
        #: A relative start without an end ("-2h") moves to the end of the data when the data ended earlier.
        self.lookback = offset(start) if end is None else None
        #: The last timestamp of the incident's data read so far (see :meth:`observe`).
        self.data_end: pd.Timestamp | None = None
        within = live_within or os.environ.get("INCIDENT_KIT_LIVE_WITHIN") or LIVE_WITHIN
        try:
            self.live_within = pd.Timedelta(within)
        except ValueError:
            raise ConfigError(f"live_within: {within!r} is not a duration; expected e.g. 15min or 1h") from None
        self.sources: list[dict[str, Any]] = []
        tables.install(self)  # DataFrames shown as tables for people (report.tables)
        self.data: dict[str, Any] = {
            "headline": None, "severity": None, "severity_reason": None, "impact": {}, "findings": [],
            "hypotheses": [], "timeline": [], "notes": [],
        }
        self.save()

    # -- time --------------------------------------------------------------------------------
    @property
    def anchor(self) -> pd.Timestamp:
        """Return the time relative look-backs count from: the end set (by the user or the alert),
        else the end of the data read, else now."""
        for ts in (self.requested_end, self.data_end):
            if ts is not None:
                return ts
        return now()

    def since(self, when: Any) -> pd.Timestamp | None:
        """Return ``when`` as a UTC time; a relative one (``"-2d"``) counts back from :attr:`anchor`."""
        return parse_time(when, field="since", reference=self.anchor)

    @property
    def ended_at(self) -> pd.Timestamp | None:
        """Return when the incident's data ends: the end set, else the end of the data (None: unknown)."""
        return self.requested_end if self.requested_end is not None else self.data_end

    @property
    def live(self) -> bool:
        """Return whether the present state belongs to this incident: its end is unknown or within
        :attr:`live_within` of now."""
        ended = self.ended_at
        return ended is None or now() - ended <= self.live_within

    def observe(self, frame: pd.DataFrame | None) -> None:
        """Record where the incident's data ends (the latest ``ts`` of ``frame``)."""
        if frame is None or not len(frame) or "ts" not in frame.columns:
            return
        last = frame["ts"].max()
        if pd.notna(last) and (self.data_end is None or last > self.data_end):
            self.data_end = pd.Timestamp(last)

    def reanchor(self, data_end: pd.Timestamp) -> None:
        """Count a relative start from ``data_end`` (the data ended before now); keeps a note."""
        self.data_end = pd.Timestamp(data_end)
        if self.lookback is not None:
            self.start = self.data_end + self.lookback
            self.note(f"start counted back from the end of the data ({iso(self.data_end)}), not from now")
        self.save()

    def note(self, text: str) -> None:
        """Record a note about how the investigation read its data (shown under data completeness)."""
        if text not in self.data["notes"]:
            self.data["notes"].append(text)
            self.save()

    def reachable(self, name: str) -> bool | None:
        """Return whether source ``name`` answered (ok, empty, or refused for lack of connections: a
        server at its limit is up), False when it failed, None when it was skipped or not collected (so
        it weighs nothing)."""
        record = next((s for s in self.sources if s["name"] == name), None)
        if record is None or record["status"] == "skipped":
            return None
        return record["status"] != "failed" or bool(record.get("saturated"))

    # -- sources -------------------------------------------------------------------------------
    def collect(self, name: str, fn: Callable[..., pd.DataFrame], *args: Any, **kwargs: Any) -> pd.DataFrame:
        """Run source ``fn(*args, **kwargs)`` and record how it went; returns its frame.

        A first argument that is empty or None means "not configured": the source is recorded as
        skipped. A live-only source (:func:`live_only`) of an incident that ended more than
        :attr:`live_within` ago is skipped too ("live state, incident ended at HH:MM"), so today's
        state is never presented as the incident's. A source that raises is recorded as failed with its one-line reason, a "not
        available" note is shown, and an empty canonical frame is returned, so the notebook goes on.
        """
        kind = getattr(fn, "frame_kind", None)
        record: dict[str, Any] = {"name": name, "kind": getattr(fn, "source_name", kind or name), "status": "ok",
                                  "rows": 0, "truncated": False, "rejected": 0, "error": None, "seconds": None}
        started = time.perf_counter()
        if args and _unconfigured(args[0]):
            record.update(status="skipped", error="not configured")
            self._add_source(record)
            self.say(f"*{name}: not available (not configured).*")
            return frames.empty(kind, name) if kind in frames.SCHEMAS else pd.DataFrame()
        if live_only(fn) and not self.live:
            ended = self.ended_at
            assert ended is not None
            why = f"live state, incident ended at {ended:%H:%M} UTC on {ended:%Y-%m-%d}"
            record.update(status="skipped", error=why)
            self._add_source(record)
            self.say(f"*{name}: not read ({why}).*")
            return frames.empty(kind, name) if kind in frames.SCHEMAS else pd.DataFrame()
        try:
            frame = fn(*args, **kwargs)
        except SourceOffline as exc:  # --offline: not contacted, by choice; weighs nothing
            record.update(status="skipped", error=exc.reason, seconds=round(time.perf_counter() - started, 3))
            self._add_source(record)
            self.say(f"*{name}: not contacted ({exc.reason}).*")
            return frames.empty(kind, name) if kind in frames.SCHEMAS else pd.DataFrame()
        except SourceSaturated as exc:  # it answered: at its connection limit, itself a finding
            return self._failed(record, name, kind, str(exc), started, saturated=True)
        except IncidentKitError as exc:
            return self._failed(record, name, kind, str(exc), started)
        except Exception as exc:  # noqa: BLE001 - an undecorated helper must not stop the notebook
            return self._failed(record, name, kind, f"{type(exc).__name__}: {' '.join(str(exc).split())}", started)
        record.update(
            status="ok" if len(frame) else "empty", rows=int(len(frame)),
            truncated=bool(frame.attrs.get("truncated", False)), rejected=int(frame.attrs.get("rejected", 0) or 0),
            seconds=round(time.perf_counter() - started, 3),
        )
        self._add_source(record)
        self._keep_notes(name, frame.attrs.get("notes"))
        tables.observe(frame)
        return frame

    def _keep_notes(self, name: str, notes: Any, limit: int = 8) -> None:
        """Record what a source assumed or could not apply (a sniffed format, a year taken from the
        window, a filter no row carried) under data completeness; at most ``limit`` per source."""
        if not isinstance(notes, list | tuple) or not notes:
            return
        for text in notes[:limit]:
            self.note(f"{name}: {text}")
        if len(notes) > limit:
            self.note(f"{name}: {len(notes) - limit} more notes (see the notebook)")

    def _failed(self, record: dict[str, Any], name: str, kind: str | None, reason: str, started: float,
                saturated: bool = False) -> pd.DataFrame:
        record.update(status="failed", error=reason, seconds=round(time.perf_counter() - started, 3))
        if saturated:
            record["saturated"] = True
        self._add_source(record)
        self.say(f"**{name}: not available** ({reason})")
        empty = frames.empty(kind, name) if kind in frames.SCHEMAS else pd.DataFrame()
        empty.attrs["error"] = reason
        if saturated:
            empty.attrs["saturated"] = True
        return empty

    def _add_source(self, record: dict[str, Any]) -> None:
        self.sources = [s for s in self.sources if s["name"] != record["name"]] + [record]
        self.save()

    @property
    def degraded(self) -> list[str]:
        """Return the one-line reasons of the sources that failed."""
        return [f"{s['name']}: {s['error']}" for s in self.sources if s["status"] == "failed"]

    # -- conclusions ---------------------------------------------------------------------------
    def say(self, text: str) -> None:
        """Show ``text`` (Markdown) as the answer of the current cell."""
        _display_markdown(text)

    def conclude(self, kind: str, answer: Any) -> None:
        """Show ``answer`` (a :class:`incident_kit.narrate.Answer`) and record it as a finding of ``kind``."""
        self.say(answer.markdown())
        self.finding(kind, answer.title, answer.detail, answer.evidence, answer.score)

    def set_window(self, start: Any, end: Any = None) -> None:
        """Record the incident window (``end`` None while ongoing)."""
        self.start = pd.Timestamp(start) if start is not None else None
        self.end = pd.Timestamp(end) if end is not None else None
        self.save()

    def headline(self, text: str) -> None:
        """Record the one-sentence headline."""
        self.data["headline"] = " ".join(str(text).split())
        self.save()

    def severity(self, level: str | None, reason: str | None = None) -> None:
        """Record severity ``level`` ("P0".."P3") and its reason; accepts an object with .level/.reason."""
        if not isinstance(level, str | type(None)):
            level, reason = getattr(level, "level", None), getattr(level, "reason", reason)
        self.data["severity"], self.data["severity_reason"] = level, reason
        self.save()

    def impact(self, **values: Any) -> None:
        """Record impact figures (requests_total, requests_failed, error_rate, users_affected, ...)."""
        self.data["impact"].update(values)
        self.save()

    def finding(self, kind: str, title: str, detail: str = "", evidence: Any = "", score: float | None = None) -> None:
        """Record a finding; findings are kept ranked by score, best first."""
        self.data["findings"].append({"kind": kind, "title": title, "detail": detail, "evidence": evidence, "score": score})
        self.data["findings"].sort(key=lambda f: -(f["score"] if f["score"] is not None else -1))
        self.save()

    def hypotheses(self, ranked: pd.DataFrame | list[dict[str, Any]]) -> None:
        """Record ranked hypotheses (cause, evidence, score, ...), best first."""
        rows = ranked.to_dict("records") if isinstance(ranked, pd.DataFrame) else list(ranked)
        self.data["hypotheses"] = rows
        self.save()

    def timeline(self, events: pd.DataFrame | list[dict[str, Any]]) -> None:
        """Record the timeline (ts, source, kind, text), sorted by ts."""
        rows = events.to_dict("records") if isinstance(events, pd.DataFrame) else list(events)
        self.data["timeline"] = sorted(rows, key=lambda r: str(iso(r.get("ts")) or ""))
        self.save()

    # -- persistence ---------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Return what was recorded, JSON-ready (the runner adds run metadata and status)."""
        return _jsonable({
            "scenario": self.scenario,
            "window": {"start": iso(self.start), "end": iso(self.end)},
            **self.data,
            "sources": self.sources,
        })

    def save(self) -> None:
        """Write ``summary.partial.json`` into ``output_dir`` (no-op without one)."""
        if self.output_dir is None:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.output_dir / (PARTIAL_NAME + ".tmp")
        data, _ = session_redactor().obj(self.summary())  # a run killed now leaves no secret behind
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        tmp.replace(self.output_dir / PARTIAL_NAME)


__all__ = ["Investigation", "LIVE_WITHIN", "PARTIAL_NAME", "live_only"]
