"""What the hypotheses share about an incident: its window, its failing rows and its key words."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .rates import error_mask, request_rows
from .signatures import messages_of, mine

#: Words too common in error messages and paths to tie a change to an incident.
STOPWORDS = frozenset(
    """a an the and or of to in on for at by with from into onto is are was were be been being not no
    this that these those it its as if then than when while after before since until via per
    error errors failed failure fail fails failing could cannot unable exception warning warn info debug
    request requests response http https get post put patch delete head options api v1 v2 v3 true false
    null none nonetype object attribute type value have has had did does do status code internal server
    timeout timed out after service services call calling called ms sec seconds""".split()
)
#: What is new in the incident is compared with the baseline up to this long before its start.
NEW_MARGIN = pd.Timedelta(minutes=2)
_WORD = re.compile(r"[a-z][a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def words(text: Any) -> set[str]:
    """Return the lower-case words of ``text`` (camelCase, snake_case, paths and dots split), minus stopwords."""
    if text is None or (not isinstance(text, str | list | tuple | set | np.ndarray) and pd.isna(text)):
        return set()
    if isinstance(text, list | tuple | set | np.ndarray):
        out: set[str] = set()
        for t in text:
            out |= words(t)
        return out
    spaced = _CAMEL.sub(" ", str(text)).lower()
    return {w for w in _WORD.findall(spaced.replace("_", " ")) if len(w) >= 3 and w not in STOPWORDS}


def text_of(value: Any, default: str = "") -> str:
    """Return ``value`` as text; None, NaN, pandas NA and "" give ``default``."""
    if value is None or (not isinstance(value, str | list | tuple | np.ndarray) and pd.isna(value)):
        return default
    return str(value) if str(value) != "" else default


def related(a: set[str], b: set[str]) -> set[str]:
    """Return the words of ``a`` that match a word of ``b`` exactly or by a common stem of 5+ letters."""
    out = a & b
    stems = {w[:5] for w in b if len(w) >= 5}
    out |= {w for w in a if len(w) >= 5 and w[:5] in stems}
    return out


@dataclass
class Incident:
    """The incident as the hypotheses see it."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    logs: pd.DataFrame | None = None
    inside: np.ndarray | None = None          # rows of logs within the window
    before: np.ndarray | None = None          # rows of logs in the baseline before it
    errors: np.ndarray | None = None          # error rows (whole frame)
    requests: np.ndarray | None = None        # request rows (with a status when some have one)
    error_messages: pd.Series | None = None   # messages of the error rows inside the window
    baseline_error_messages: pd.Series | None = None
    top_signatures: list[tuple[str, float]] = field(default_factory=list)  # (template, share of errors)
    path_words: set[str] = field(default_factory=set)
    message_words: set[str] = field(default_factory=set)
    services: set[str] = field(default_factory=set)
    errors_elevated: bool = False              # more failing requests than in the baseline

    @property
    def has_logs(self) -> bool:
        return self.logs is not None and self.inside is not None and bool(self.inside.any())

    def minutes(self, rows: np.ndarray) -> float:
        """Length in minutes covered by the selected rows' time span (at least one minute)."""
        ts = pd.to_datetime(self.logs.loc[rows, "ts"], utc=True)  # type: ignore[union-attr]
        if not len(ts):
            return 1.0
        return max(1.0, (ts.max() - ts.min()) / pd.Timedelta(minutes=1))


def build(logs: pd.DataFrame | None, start: pd.Timestamp | None, end: pd.Timestamp | None,
          baseline: str = "2h") -> Incident:
    """Return an :class:`Incident` for ``logs`` between ``start`` and ``end`` (baseline: ``baseline`` before)."""
    inc = Incident(start, end)
    if logs is None or not len(logs) or "ts" not in logs.columns:
        return inc
    ts = pd.to_datetime(logs["ts"], utc=True)
    inc.logs = logs
    lo = start if start is not None else ts.min()
    inc.inside = np.array(ts >= lo, dtype=bool)
    if end is not None:
        inc.inside &= (ts < end).to_numpy(dtype=bool)
    inc.before = ((ts < lo) & (ts >= lo - pd.Timedelta(baseline))).to_numpy(dtype=bool)
    inc.errors = error_mask(logs).to_numpy(dtype=bool)
    failing = inc.inside & inc.errors
    inc.error_messages = messages_of(logs[failing]).reset_index(drop=True)
    # The leading edge of an incident often falls in the bucket before its start: what is "new"
    # is judged against the baseline up to NEW_MARGIN before the start.
    settled = inc.before & np.array(ts < lo - NEW_MARGIN, dtype=bool)
    inc.baseline_error_messages = messages_of(logs[settled & inc.errors]).reset_index(drop=True)
    requests = inc.requests = request_rows(logs)
    rate_in = (failing & requests).sum() / max(1, (inc.inside & requests).sum())
    rate_before = (inc.before & inc.errors & requests).sum() / max(1, (inc.before & requests).sum())
    inc.errors_elevated = bool(failing.any()) and (not inc.before.any() or rate_in >= 2 * rate_before + 0.005)
    if len(inc.error_messages):
        codes, templates = mine(inc.error_messages)
        counts = np.bincount(codes, minlength=len(templates))
        order = np.argsort(-counts)
        inc.top_signatures = [(templates[i], counts[i] / len(codes)) for i in order[:5] if counts[i]]
        for template, share in inc.top_signatures:
            if share >= 0.1 and inc.errors_elevated:
                inc.message_words |= words(template.replace("<*>", " "))
    if "path" in logs.columns and failing.any() and inc.errors_elevated:
        paths = logs.loc[failing, "path"].astype("string").dropna()
        if len(paths):
            shares = paths.value_counts(normalize=True)
            for path, share in shares.items():
                if share >= 0.2:
                    inc.path_words |= words(path)
    if not inc.errors_elevated and "path" in logs.columns and "latency_ms" in logs.columns and inc.inside.any():
        # A latency incident has no more failing rows than usual: take the paths of the requests
        # slower than the baseline's 99th percentile instead.
        latency = pd.to_numeric(logs["latency_ms"], errors="coerce")
        usual = latency[inc.before].quantile(0.99) if inc.before.any() else float("nan")
        if pd.notna(usual):
            slow = inc.inside & np.array((latency > usual).fillna(False), dtype=bool)
            if slow.sum() >= 10:
                routes = logs.loc[slow, "path"].astype("string").str.replace(r"/\d+", "/{id}", regex=True)
                for path, share in routes.value_counts(normalize=True).items():
                    if share >= 0.2:
                        inc.path_words |= words(path)
    affected = failing if inc.errors_elevated else inc.inside
    if "service" in logs.columns and affected.any():
        inc.services = {str(s).lower() for s in logs.loc[affected, "service"].dropna().unique()[:20]}
    return inc


__all__ = ["NEW_MARGIN", "STOPWORDS", "Incident", "build", "related", "text_of", "words"]
