"""Error signatures: one message template per log line.

Mining is vectorised so that a million lines take seconds: exact duplicates are collapsed
(pyarrow ``dictionary_encode``); messages that differ only in their digits share a "digit
skeleton" and are masked once; masking splits messages into tokens and masks each distinct token
once with RE2 regular expressions (pyarrow: UUIDs, e-mails, URL paths, IPs, file paths, hex,
durations, sizes, numbers; whole-token ids and numbers in one pass); runs of the same wildcard
token become one; only the distinct *masked* messages, usually a few hundred, are clustered by
Drain (``drain3``, one configuration for every log), which turns the tokens that still vary into
``<*>``. Grouping accuracy on the ten visible Loghub samples with this one configuration: mean 0.96,
none below 0.88 (tests/test_analysis_signatures.py prints them).
"""

from __future__ import annotations

import re
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..errors import ConfigError

WILDCARD = "<*>"

_ID_PART = r"[^\s,;:()\[\]{}\"'=<>*|]*"

#: (RE2 pattern, replacement) applied in order to every distinct message.
MASKS: tuple[tuple[str, str], ...] = (
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", WILDCARD),
    (r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", WILDCARD),
    (r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s]+)/[^\s\"'<>]*", r"\1/" + WILDCARD),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", WILDCARD),
    # host:port ("www.google.com:443"): wholly variable, so Drain's tree does not branch on every host
    (r"\b[A-Za-z][\w-]*(?:\.[\w-]+)+:\d{1,5}\b", WILDCARD),
    (r"\b[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}\b", WILDCARD),
    (r"(^|[\s=:(\[\"',])(?:/[^\s/\"'),\]]+)+/?", r"\1" + WILDCARD),
    (r"\b0[xX][0-9a-fA-F]+\b", WILDCARD),
    # what is left of a token with two digits or more is an id (bglio46, core.2275, KB3121255~31bf...,
    # J05): the separators around it stay; one digit (SOCKS5, ssh2, IPv6) is a word's own
    (_ID_PART + r"\d" + _ID_PART + r"\d" + _ID_PART, WILDCARD),
    (r"\b\d+(?:\.\d+)?(?:ms|us|µs|ns|s|m|h|d)\b", WILDCARD),
    (r"\b\d+(?:\.\d+)?\s?(?:sec|secs|seconds|mins|minutes|hours|milliseconds|[kKMGT]i?B|bytes)\b", WILDCARD),
    (r"(^|[^A-Za-z0-9.<*])-?\d+(?:[.,:]\d+)*", r"\1" + WILDCARD),
    (r"\b[0-9a-fA-F]{8,}\b", WILDCARD),
)

#: A whole token that is an id or a number: digits first ("42", "3.5", "10.0.0.1:80", UUIDs
#: starting with a digit) or 8+ hex digits.
WHOLE_TOKEN_ID = r"^(?:[-+]?[0-9](?:[0-9a-fA-F.:_-]*[0-9a-fA-F])?|[0-9a-fA-F]{8,})$"

# Applied in Python to the (few) distinct masked messages: glued leftovers such as "<*>f3a9".
_GLUED = re.compile(r"<\*>[A-Za-z0-9]+|[A-Za-z]*<\*>(?:<\*>)+|<\*>(?:[,;:.~_/-]+<\*>)+")
_SPACES = re.compile(r"\s+")
# A run of the same wildcard token ("blk_<*> blk_<*> blk_<*>") is one variable-length list.
_REPEATS = re.compile(r"(?<!\S)(\S*<\*>\S*)(?:\s+\1)+(?!\S)")

#: Drain settings used for every data set. With ids masked first, what still varies is mostly words, and
#: a word that differs is usually another event ("Starting"/"Ending"): messages merge only when at least
#: 70% of their tokens agree (grouping accuracy on the ten visible Loghub sets: mean 0.96, each >= 0.88).
DRAIN_DEPTH = 4
DRAIN_SIM_TH = 0.7


def _as_arrow(messages: Any) -> Any:
    """Return the messages as a pyarrow large_string array without nulls (None -> "")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(messages, str):
        raise ConfigError("signatures: expected a sequence of messages, got a single string")
    if isinstance(messages, pd.Series):
        if isinstance(messages.dtype, pd.StringDtype) and messages.dtype.storage == "pyarrow":
            array = pa.array(messages.array)
        else:
            array = pa.array(messages.astype("string").array)
    elif isinstance(messages, pa.Array | pa.ChunkedArray):
        array = messages
    elif isinstance(messages, Iterable):
        array = pa.array([None if m is None else str(m) for m in messages], type=pa.large_string())
    else:
        raise ConfigError(f"signatures: expected a sequence of messages, got {type(messages).__name__}")
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    return pc.fill_null(array, "") if array.null_count else array


def _encode(array: Any) -> tuple[np.ndarray, Any]:
    """Return (codes as numpy, distinct values as a pyarrow array) of a string array."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(array)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary


def _mask_tokens(vocabulary: Any) -> Any:
    """Mask distinct tokens: whole ids and numbers at once, the others through :data:`MASKS`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    whole = pc.match_substring_regex(vocabulary, WHOLE_TOKEN_ID)
    rest_mask = pc.invert(whole)
    rest = pc.filter(vocabulary, rest_mask)
    for pattern, replacement in MASKS:
        rest = pc.replace_substring_regex(rest, pattern=pattern, replacement=replacement)
    base = pc.if_else(whole, pa.scalar(WILDCARD, type=vocabulary.type), vocabulary)
    return pc.replace_with_mask(base, rest_mask, rest.cast(vocabulary.type))


def _mask_array(array: Any) -> Any:
    """Mask a pyarrow string array token by token (each distinct token once); tokens joined by one space."""
    import pyarrow as pa
    import pyarrow.compute as pc

    tokens = pc.utf8_split_whitespace(array)
    codes, vocabulary = _encode(pc.list_flatten(tokens))
    masked = _mask_tokens(vocabulary).take(pa.array(codes))
    rebuilt = type(tokens).from_arrays(tokens.offsets, masked)
    return pc.binary_join(rebuilt, pa.scalar(" ", type=masked.type))


def mask(messages: Any) -> pd.Series:
    """Return the messages with variable parts (ids, numbers, IPs, paths, ...) replaced by ``<*>``.

    Messages are split on whitespace and every distinct token is masked once (vectorised RE2,
    pyarrow), then joined again with single spaces. Raises ConfigError for a single string.
    """
    array = _as_arrow(messages)
    if not len(array):
        return pd.Series([], dtype="string")
    return pd.Series(_mask_array(array).to_pylist(), dtype="string")


def _digit_skeleton(array: Any) -> Any:
    """Return the messages with every digit replaced by 0 (vectorised, pyarrow)."""
    import pyarrow.compute as pc

    for digit in "123456789":
        array = pc.replace_substring(array, pattern=digit, replacement="0")
    return array


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
    messages get the template "". Raises ConfigError for a single string or an unknown method.
    """
    import pyarrow as pa

    if method not in ("drain", "mask"):
        raise ConfigError(f"signatures: method {method!r}; expected 'drain' or 'mask'")
    array = _as_arrow(messages)
    if not len(array):
        return np.zeros(0, dtype=np.int64), []
    raw_codes, raw_uniques = _encode(array)
    raw_uniques = _redacted(raw_uniques)
    # Masking ignores which digit is where, so messages that differ only in their digits
    # ("order 48213" / "order 51977") share one mask: mask one message per digit skeleton.
    # When a sample shows that skeletons barely repeat (ids made of letters and digits), skip it.
    sample = raw_uniques.slice(0, 5000)
    if len(_encode(_digit_skeleton(sample))[1]) <= 0.5 * len(sample):
        skeleton_codes, _ = _encode(_digit_skeleton(raw_uniques))
        _, first = np.unique(skeleton_codes, return_index=True)
        m_codes, m_uniques = _encode(_mask_array(raw_uniques.take(pa.array(first))))
        m_codes = m_codes[skeleton_codes]
    else:
        m_codes, m_uniques = _encode(_mask_array(raw_uniques))
    cleaned = [_REPEATS.sub(r"\1", _SPACES.sub(" ", _GLUED.sub(WILDCARD, m)).strip()) for m in m_uniques.to_pylist()]
    if method == "drain":
        distinct = sorted(set(c for c in cleaned if c))  # Drain is online: one order, whatever the rows' order
        mined = dict(zip(distinct, _drain(distinct)))
        finals = [mined.get(c, "") for c in cleaned]
    else:
        finals = cleaned
    t_codes, t_uniques = pd.factorize(pd.Series(finals, dtype="object"), use_na_sentinel=False)
    codes = t_codes[m_codes][raw_codes]
    return codes.astype(np.int64), [str(t) for t in t_uniques]


def _redacted(uniques: Any) -> Any:
    """Return the distinct messages redacted, before masking: a template keeps no secret whose
    context (the ``token=`` before it) masking would otherwise have turned into ``<*>``."""
    import pyarrow as pa

    from ..redact_io import session_redactor

    values = uniques.to_pylist()
    texts = ["" if v is None else str(v) for v in values]
    sep = "\n\x1e\n"
    redactor = session_redactor()
    joined, changed = redactor.text(sep.join(texts))
    if not changed:
        return uniques
    parts = joined.split(sep)
    if len(parts) != len(texts):  # a span crossed a separator: one message at a time
        parts = [redactor.text(t)[0] for t in texts]
    return pa.array([None if v is None else t for v, t in zip(values, parts)], type=uniques.type)


def signatures(messages: Any, *, method: str = "drain") -> list[str]:
    """Return one template per message, in order, with variable parts as ``<*>``.

    ``messages``: any sequence of strings (None counts as ""). Raises ConfigError for a
    single string or an unknown method.
    """
    codes, templates = mine(messages, method=method)
    table = np.asarray(templates, dtype=object)
    return table[codes].tolist() if len(codes) else []


def messages_of(logs: pd.DataFrame) -> pd.Series:
    """Return the message column, describing HTTP rows that carry no message by method, path, status."""
    msg = logs["message"].astype("string") if "message" in logs.columns else pd.Series(pd.NA, index=logs.index, dtype="string")
    missing = msg.isna() | (msg == "")
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




__all__ = ["MASKS", "WILDCARD", "WHOLE_TOKEN_ID", "mask", "messages_of", "mine", "signatures"]
