"""Error signatures: one message template per log line, and the top error templates of a window.

Mining is done in three passes so that a million lines take seconds: exact duplicates are
collapsed (``pandas.factorize``); the distinct messages are masked with vectorised RE2 regular
expressions (pyarrow: UUIDs, e-mails, URL paths, IPs, file paths, hex, durations, sizes,
numbers); only the distinct *masked* messages, usually a few hundred, are clustered by Drain
(``drain3``), which turns the tokens that still vary into ``<*>``.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..timeutil import parse_time
from .rates import error_mask, require_columns

WILDCARD = "<*>"

#: (RE2 pattern, replacement) applied in order to every distinct message.
MASKS: tuple[tuple[str, str], ...] = (
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", WILDCARD),
    (r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", WILDCARD),
    (r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s]+)/[^\s\"'<>]*", r"\1/" + WILDCARD),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", WILDCARD),
    (r"\b[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}\b", WILDCARD),
    (r"(^|[\s=:(\[\"',])(?:/[^\s/\"'),\]]+)+/?", r"\1" + WILDCARD),
    (r"\b0[xX][0-9a-fA-F]+\b", WILDCARD),
    (r"\b\d+(?:\.\d+)?(?:ms|us|µs|ns|s|m|h|d)\b", WILDCARD),
    (r"\b\d+(?:\.\d+)?\s?(?:sec|secs|seconds|mins|minutes|hours|milliseconds|[kKMGT]i?B|bytes)\b", WILDCARD),
    (r"(^|[^A-Za-z0-9.<*])-?\d+(?:[.,:]\d+)*", r"\1" + WILDCARD),
    (r"\b[0-9a-fA-F]{8,}\b", WILDCARD),
)

# Applied in Python to the (few) distinct masked messages: glued leftovers such as "<*>f3a9".
_GLUED = re.compile(r"<\*>[A-Za-z0-9]+|[A-Za-z]*<\*>(?:<\*>)+")
_SPACES = re.compile(r"\s+")
# A run of the same wildcard token ("blk_<*> blk_<*> blk_<*>") is one variable-length list.
_REPEATS = re.compile(r"(?<!\S)(\S*<\*>\S*)(?:\s+\1)+(?!\S)")

#: Drain settings used for every data set (the Loghub benchmark's usual depth and threshold).
DRAIN_DEPTH = 4
DRAIN_SIM_TH = 0.5


def _as_strings(messages: Any) -> pd.Series:
    if isinstance(messages, pd.Series):
        s = messages
    elif isinstance(messages, str):
        raise ConfigError("signatures: expected a sequence of messages, got a single string")
    elif isinstance(messages, Iterable):
        s = pd.Series(list(messages), dtype="object")
    else:
        raise ConfigError(f"signatures: expected a sequence of messages, got {type(messages).__name__}")
    return s.astype("string").fillna("").reset_index(drop=True)


def mask(messages: Any) -> pd.Series:
    """Return the messages with variable parts (ids, numbers, IPs, paths, ...) replaced by ``<*>``."""
    s = _as_strings(messages)
    if s.dtype.storage != "pyarrow":  # type: ignore[union-attr]
        s = s.astype("string[pyarrow]")
    for pattern, replacement in MASKS:
        s = s.str.replace(pattern, replacement, regex=True)
    return s


def _drain(distinct: list[str]) -> list[str]:
    """Cluster distinct masked messages with Drain; return each one's final template."""
    from drain3.drain import Drain

    miner = Drain(depth=DRAIN_DEPTH, sim_th=DRAIN_SIM_TH, max_children=100, param_str=WILDCARD)
    cluster_ids = [miner.add_log_message(m)[0].cluster_id for m in distinct]
    templates = {c.cluster_id: " ".join(c.log_template_tokens) for c in miner.clusters}
    return [templates[c] for c in cluster_ids]


def mine(messages: Any, *, method: str = "drain") -> tuple[np.ndarray, list[str]]:
    """Return (codes, templates): ``templates[codes[i]]`` is the template of message ``i``.

    ``method`` "drain" (masking then Drain clustering) or "mask" (masking only). Empty
    messages get the template "". Raises ConfigError for an unknown method.
    """
    if method not in ("drain", "mask"):
        raise ConfigError(f"signatures: method {method!r}; expected 'drain' or 'mask'")
    s = _as_strings(messages)
    if not len(s):
        return np.zeros(0, dtype=np.int64), []
    raw_codes, raw_uniques = pd.factorize(s, use_na_sentinel=False)
    masked = mask(pd.Series(raw_uniques, dtype="string"))
    m_codes, m_uniques = pd.factorize(masked, use_na_sentinel=False)
    cleaned = [_REPEATS.sub(r"\1", _SPACES.sub(" ", _GLUED.sub(WILDCARD, str(m))).strip()) for m in m_uniques]
    if method == "drain":
        distinct = list(dict.fromkeys(c for c in cleaned if c))
        mined = dict(zip(distinct, _drain(distinct)))
        finals = [mined.get(c, "") for c in cleaned]
    else:
        finals = cleaned
    t_codes, t_uniques = pd.factorize(pd.Series(finals, dtype="object"), use_na_sentinel=False)
    codes = t_codes[m_codes][raw_codes]
    return codes.astype(np.int64), [str(t) for t in t_uniques]


def signatures(messages: Any, *, method: str = "drain") -> list[str]:
    """Return one template per message, in order, with variable parts as ``<*>``.

    ``messages``: any sequence of strings (None counts as ""). Raises ConfigError for a
    single string or an unknown method.
    """
    codes, templates = mine(messages, method=method)
    table = np.asarray(templates, dtype=object)
    return table[codes].tolist() if len(codes) else []


TOP_ERROR_COLUMNS = ["signature", "count", "share", "first_seen", "last_seen", "new_in_window", "example"]


def _messages(logs: pd.DataFrame) -> pd.Series:
    """Return the message column, describing HTTP rows that carry no message by method, path, status."""
    msg = logs["message"].astype("string") if "message" in logs.columns else pd.Series(pd.NA, index=logs.index, dtype="string")
    missing = msg.isna() | (msg.str.strip() == "")
    if missing.any():
        parts = []
        for col in ("method", "path"):
            if col in logs.columns:
                parts.append(logs[col].astype("string").fillna(""))
        status = logs["status"].astype("string").fillna("") if "status" in logs.columns else None
        text = pd.Series("", index=logs.index, dtype="string")
        for p in parts:
            text = text + p + " "
        if status is not None:
            text = text + "-> HTTP " + status
        msg = msg.where(~missing.fillna(True), text.str.strip())
    return msg.fillna("")


def _between(ts: pd.Series, start: Any, end: Any) -> np.ndarray:
    keep = np.array(ts.notna(), dtype=bool)
    if start is not None:
        keep &= (ts >= start).to_numpy(dtype=bool)
    if end is not None:
        keep &= (ts < end).to_numpy(dtype=bool)
    return keep


def top_errors(
    logs: pd.DataFrame,
    start: Any = None,
    end: Any = None,
    baseline: Any = None,
    n: int = 10,
    *,
    method: str = "drain",
) -> pd.DataFrame:
    """Return the most frequent error signatures between ``start`` and ``end``.

    Columns: ``signature``, ``count``, ``share`` (of the errors in the window), ``first_seen``,
    ``last_seen``, ``new_in_window`` (the signature appears nowhere in the baseline), ``example``
    (one raw message). ``baseline`` is a ``(start, end)`` pair, a logs frame, or None for every
    row before ``start``. Rows are errors per :func:`rates.error_mask`. Raises ConfigError for a
    frame without ``ts``.
    """
    require_columns(logs, ("ts",), "logs")
    lo, hi = parse_time(start, field="start"), parse_time(end, field="end")
    ts = pd.to_datetime(logs["ts"], utc=True)
    in_window = _between(ts, lo, hi) & error_mask(logs).to_numpy(dtype=bool)
    if isinstance(baseline, pd.DataFrame):
        base_logs = baseline
    elif isinstance(baseline, tuple | list) and len(baseline) == 2:
        b0, b1 = parse_time(baseline[0], field="baseline start"), parse_time(baseline[1], field="baseline end")
        base_logs = logs[_between(ts, b0, b1)]
    elif baseline is None:
        base_logs = logs[_between(ts, None, lo)] if lo is not None else logs.iloc[0:0]
    else:
        raise ConfigError(f"top_errors: baseline must be a (start, end) pair or a logs frame, got {type(baseline).__name__}")
    window_logs = logs[in_window]
    if not len(window_logs):
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            TOP_ERROR_COLUMNS, ["object", "int64", "float64", "datetime64[ns, UTC]", "datetime64[ns, UTC]", "bool", "object"])})
    w_msgs = _messages(window_logs).reset_index(drop=True)
    b_msgs = _messages(base_logs).reset_index(drop=True) if "ts" in base_logs.columns else pd.Series([], dtype="string")
    codes, templates = mine(pd.concat([w_msgs, b_msgs], ignore_index=True), method=method)
    w_codes, b_codes = codes[: len(w_msgs)], codes[len(w_msgs):]
    work = pd.DataFrame({"code": w_codes, "ts": pd.to_datetime(window_logs["ts"], utc=True).to_numpy(), "msg": w_msgs.to_numpy()})
    grouped = work.groupby("code", sort=False)
    out = pd.DataFrame({
        "count": grouped.size(),
        "first_seen": grouped["ts"].min(),
        "last_seen": grouped["ts"].max(),
        "example": grouped["msg"].first(),
    })
    out["signature"] = [templates[c] for c in out.index]
    out["share"] = out["count"] / len(work)
    seen_before = set(np.unique(b_codes).tolist())
    out["new_in_window"] = [bool(len(b_msgs)) and c not in seen_before for c in out.index]
    out = out.sort_values(["count", "first_seen"], ascending=[False, True]).head(n)
    out = out[TOP_ERROR_COLUMNS].reset_index(drop=True)
    out["first_seen"] = pd.to_datetime(out["first_seen"], utc=True)
    out["last_seen"] = pd.to_datetime(out["last_seen"], utc=True)
    return out


__all__ = ["MASKS", "WILDCARD", "mask", "mine", "signatures", "top_errors"]
