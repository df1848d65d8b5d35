"""Remote ends named by log lines: which upstream, provider or service the warnings and errors talk about.

:func:`named` reads the hosts, ``host:port`` pairs and well-known service words out of text;
:func:`mentions` counts, per remote end, the warning and error lines that name it (in the message
or in a field such as ``upstream`` or ``provider``) inside an incident window and in the baseline
before it; :func:`hypotheses` turns the ones that are new with the incident into ranked causes.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..redact_io import clip
from ..timeutil import iso
from .context import Incident
from .rates import error_mask

Hypothesis = dict[str, Any]

#: Public suffixes a dotted name must end with to count as a host (file names like ``checkout.py`` must not).
_SUFFIXES = ("com|net|org|io|dev|cloud|co|app|ai|biz|info|tech|internal|local|svc|"
             "example|test|invalid|cluster\\.local|amazonaws\\.com|googleapis\\.com|azure\\.com|"
             "de|uk|fr|nl|eu|us|ca|au|jp|ch|se|no|fi|dk|es|it|pl|at|be|ie|nz|br|in|sg|hk|me|tv|cc|xyz")
HOST = re.compile(r"\b(?:upstream|https?|grpc|wss?|tcp|redis|rediss|postgres(?:ql)?|mysql|amqps?|mongodb|nats|kafka)://([^/\s:\"'<>@]+)|"
                  r"\b((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:" + _SUFFIXES + r"))\b", re.I)
ENDPOINT = re.compile(r"(?<![\w.:/-])((?:\d{1,3}(?:\.\d{1,3}){3}|localhost|[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+):\d{2,5})\b", re.I)
LOOPBACK = re.compile(r"^(?:127\.|localhost|\[?::1)")
SERVICE = re.compile(r"\b(redis|postgres(?:ql)?|mysql|mariadb|kafka|rabbitmq|amqp|memcached|elasticsearch|opensearch|"
                     r"mongo(?:db)?|smtp|ldap|zookeeper|consul|vault|clickhouse|cassandra|nats|s3)\b", re.I)
FAILURE_WORDS = re.compile(r"timed? ?out|timeout|refused|unreachable|unavailable|reset by peer|no route|"
                           r"name resolution|ssl|tls|certificate|\b5\d\d\b|bad gateway|too slow|\bslow\b", re.I)
#: Extra log fields that name the remote end of a call (JSON logs: ``{"upstream": "api.x.com"}``).
FIELDS = re.compile(r"^(?:upstream\w*|provider\w*|dependency\w*|peer\w*|remote_(?:host|addr|service)|target(?:_host|_url)?|"
                    r"url|\w+_url|\w+_host|destination\w*|dest_\w+|vendor|gateway)$", re.I)
WARN_LEVELS = ("warn", "warning")
MENTION_COLUMNS = ["upstream", "label", "now", "before", "share", "share_before", "rate_per_min", "rate_before_per_min",
                   "first_seen", "failure", "example"]


def named(text: str) -> dict[str, str]:
    """Return the remote ends ``text`` names: key -> label.

    The key is a well-known service word when one is named with an address or a failure (redis,
    postgres, kafka, ...), else the host of a URL, a dotted host name, or a ``host:port`` /
    ``ip:port`` (loopback addresses keep their port)."""
    ends = [(m.group(1) or m.group(2) or "").lower() for m in HOST.finditer(text)]
    ends += [m.group(1).lower() for m in ENDPOINT.finditer(text)]
    ends = [e for e in dict.fromkeys(ends) if e]
    services = list(dict.fromkeys(w.lower() for w in SERVICE.findall(text)))
    found: dict[str, str] = {}
    if services and (ends or FAILURE_WORDS.search(text)):
        for word in services:
            found[word] = f"{word} at {ends[0]}" if ends else word
        return found
    for end in ends:
        host = end.split(":")[0] if not end.replace(".", "").replace(":", "").isdigit() else end
        found.setdefault(host, end if host != end and not LOOPBACK.match(end) else host)
    return found


def counts(messages: pd.Series) -> dict[str, tuple[int, str, str]]:
    """Return what the messages name as a remote end: key -> (messages naming it, example, label)."""
    out: dict[str, tuple[int, str, str]] = {}
    for msg, n in messages.value_counts().items():
        text = str(msg)
        for key, label in named(text).items():
            c, ex, lb = out.get(key, (0, text, label))
            out[key] = (c + int(n), ex, lb)
    return out


def noteworthy(logs: pd.DataFrame) -> np.ndarray:
    """Return a boolean array: the rows that are errors (by status or level) or warnings."""
    rows = np.array(error_mask(logs), dtype=bool)
    if "level" in logs.columns:
        level = logs["level"].astype("string").str.lower().str.strip()
        rows = rows | np.array(level.isin(WARN_LEVELS).fillna(False), dtype=bool)
    return rows


def texts(logs: pd.DataFrame) -> pd.Series:
    """Return each row's message followed by the values of its fields that name a remote end."""
    text = logs["message"].astype("string").fillna("") if "message" in logs.columns else pd.Series("", index=logs.index, dtype="string")
    for col in logs.columns:
        if isinstance(col, str) and FIELDS.match(col) and col not in ("path", "message"):
            values = logs[col].astype("string").fillna("")
            text = text + " " + values.where(values == "", "upstream://" + values.str.replace(r"^\w+://", "", regex=True))
    return text.str.strip()


def mentions(logs: pd.DataFrame | None, inside: np.ndarray, before: np.ndarray, *, names: Iterable[str] = (),
             window_minutes: float = 1.0, baseline_minutes: float = 1.0) -> pd.DataFrame:
    """Return one row per remote end named by warning/error rows inside the window, most named first.

    ``inside``/``before``: boolean row masks of the window and its baseline; ``names`` adds words to
    look for (``stripe``, ``s3``). Columns: ``upstream`` (key), ``label``, ``now``/``before``
    (lines naming it), ``share``/``share_before`` (of the warning/error lines), ``rate_per_min``,
    ``rate_before_per_min``, ``first_seen`` (first line inside), ``failure`` (the lines say
    timeout/refused/5xx), ``example``.
    """
    if logs is None or not len(logs) or "ts" not in logs.columns:
        return pd.DataFrame(columns=MENTION_COLUMNS)
    loud = noteworthy(logs)
    now_rows, before_rows = loud & inside, loud & before
    if not now_rows.any():
        return pd.DataFrame(columns=MENTION_COLUMNS)
    text = texts(logs)
    extra = [str(n).lower() for n in names if n and str(n).strip()]

    def tally(rows: np.ndarray) -> dict[str, tuple[int, str, str]]:
        found = counts(text[rows])
        for word in extra:
            hits = text[rows].str.lower().str.contains(rf"\b{re.escape(word)}\b", regex=True).fillna(False)
            k = int(hits.sum())
            if k and not any(word in key for key in found):
                found[word] = (k, str(text[rows][np.array(hits, dtype=bool)].iloc[0]), word)
        return found

    now, prior = tally(now_rows), tally(before_rows)
    ts = pd.to_datetime(logs["ts"], utc=True)
    total, total_before = int(now_rows.sum()), max(1, int(before_rows.sum()))
    rows = []
    lowered = text.str.lower()
    for key, (n, example, label) in sorted(now.items(), key=lambda kv: -kv[1][0])[:10]:
        hit = now_rows & np.array(lowered.str.contains(key, regex=False).fillna(False), dtype=bool)
        first = ts[hit].min() if hit.any() else pd.NaT
        b = prior.get(key, (0, "", ""))[0]
        rows.append({"upstream": key, "label": label.replace("upstream://", ""), "now": n, "before": b,
                     "share": round(n / total, 3), "share_before": round(b / total_before, 3),
                     "rate_per_min": round(n / max(window_minutes, 1.0), 3),
                     "rate_before_per_min": round(b / max(baseline_minutes, 1.0), 3), "first_seen": first,
                     "failure": bool(FAILURE_WORDS.search(example)), "example": clip(example.replace("upstream://", ""), 200)})
    frame = pd.DataFrame(rows, columns=MENTION_COLUMNS)
    return frame.sort_values(["now", "upstream"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _minutes_of(inc: Incident, rows: np.ndarray) -> float:
    if inc.logs is None or not rows.any():
        return 1.0
    return inc.minutes(rows)


def hypotheses(inc: Incident, names: Iterable[str] = ()) -> list[Hypothesis]:
    """Upstreams named by warnings/errors that are new with the incident, as ``dependency`` hypotheses.

    New means named at least 3x as often per minute as in the baseline, by at least 5 lines and a
    tenth of the window's warnings/errors. The score grows with that share, with how close the
    first such line is to the start and with failure words (timeouts, refusals, 5xx).
    """
    if not inc.has_logs or inc.start is None:
        return []
    inside, before = inc.inside, inc.before if inc.before is not None else np.zeros(len(inc.logs), dtype=bool)  # type: ignore[arg-type]
    found = mentions(inc.logs, inside, before, names=names, window_minutes=_minutes_of(inc, inside),  # type: ignore[arg-type]
                     baseline_minutes=_minutes_of(inc, before))
    out = []
    for _, m in found.head(8).iterrows():
        if m["now"] < 5 or m["share"] < 0.1 or m["rate_per_min"] < 3 * m["rate_before_per_min"]:
            continue
        if LOOPBACK.match(str(m["upstream"])):
            continue
        gap = abs((m["first_seen"] - inc.start) / pd.Timedelta(minutes=1)) if pd.notna(m["first_seen"]) else 60.0
        aligned = max(0.0, 1.0 - max(0.0, gap - 3.0) / 20.0)
        newness = 1.0 - min(1.0, m["rate_before_per_min"] / max(m["rate_per_min"], 1e-9))
        score = 0.3 + 0.3 * min(1.0, float(m["share"])) * newness + 0.15 * aligned + (0.1 if m["failure"] else 0.0)
        before_text = (f"{m['rate_before_per_min']:.2g}/min before" if m["before"] else "never in the baseline")
        out.append({"cause": f"dependency {m['label']} failing", "kind": "dependency", "ref": str(m["upstream"]),
                    "score": round(min(score, 0.88), 3),
                    "evidence": f"{int(m['now'])} warning/error lines name {m['label']} in the window "
                                f"({m['share']:.0%} of them, {m['rate_per_min']:.2g}/min; {before_text}), the first at "
                                f"{iso(m['first_seen'])}, e.g. {clip(m['example'], 160)!r}"})
    return out


__all__ = ["FAILURE_WORDS", "FIELDS", "HOST", "MENTION_COLUMNS", "SERVICE", "counts", "hypotheses", "mentions", "named",
           "noteworthy", "texts"]
