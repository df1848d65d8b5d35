"""The keyword prefilter of the redaction pass: which rules to run on which lines.

Every built-in rule names literals of which each of its matches holds one (``Rule.keywords``,
case-insensitive, and ``Rule.case_keywords``, as written). One Aho-Corasick pass (``ahocorasick_rs``,
a DFA over the lower-cased UTF-8 bytes) finds all of them at once; a rule then runs only
on the lines where one of its keywords occurs, so 200 rules cost about as much as two scans on text
that holds no credential. Rules without keywords run on the whole text.
"""

from __future__ import annotations

from itertools import chain
from typing import Sequence

import ahocorasick_rs
import numpy as np

from .redact_base import Rule

Region = tuple[int, int]

#: Ranges of one rule closer than this (bytes) are searched as one: a search call costs more
#: than scanning a few kilobytes for a literal.
JOIN_GAP = 4096

#: Bytes lower-cased and searched at a time: small enough to reuse memory, large enough that the
#: calls cost nothing.
CHUNK = 1 << 22

#: Up to this many keyword hits are sorted out in plain Python (numpy's fixed costs dominate).
FEW = 64


def _automaton(words: Sequence[str]) -> ahocorasick_rs.BytesAhoCorasick | None:
    if not words:
        return None
    return ahocorasick_rs.BytesAhoCorasick(
        [w.encode("utf-8") for w in words],
        matchkind=ahocorasick_rs.MatchKind.Standard,
        implementation=ahocorasick_rs.Implementation.DFA,
    )


class KeywordIndex:
    """The keywords of ``rules`` compiled into one automaton over the lower-cased text; exact
    (case-sensitive) keywords are checked against the original bytes where they were found.
    ``marks`` are more literals (lower case) whose presence :meth:`scan` reports, in the same pass."""

    def __init__(self, rules: Sequence[Rule], marks: Sequence[str] = ()) -> None:
        self.always = [i for i, r in enumerate(rules) if not r.keywords and not r.case_keywords]
        self._reach_bytes = [4 * r.reach for r in rules]  # UTF-8: at most 4 bytes a character
        self._near = [r.near for r in rules]
        self._anchored = [r.anchored for r in rules]
        tables: dict[str, np.ndarray] = {}
        self._before = [_table(r.before, tables) for r in rules]
        self._after = [_table(r.after, tables) for r in rules]
        self._before_len = [r.before_len for r in rules]
        words: dict[str, int] = {}  # every keyword lower-cased: one automaton over the lower-cased text
        icase: list[list[int]] = []
        exact: list[dict[bytes, list[int]]] = []  # per word, its exact spellings and their rules
        def slot(word: str) -> int:
            if word not in words:
                words[word] = len(words)
                icase.append([])
                exact.append({})
            return words[word]
        for i, rule in enumerate(rules):
            for word in rule.keywords:
                icase[slot(word.lower())].append(i)
            for word in rule.case_keywords:
                exact[slot(word.lower())].setdefault(word.encode("utf-8"), []).append(i)
        self._marks = {slot(m): m for m in marks}
        self._icase_rules = [tuple(r) for r in icase]
        self._exact_rules = [{w: tuple(r) for w, r in e.items()} for e in exact]
        self._automaton = _automaton(list(words))
        self._line_start = [(k, w.encode("utf-8")) for w, k in words.items() if w.startswith("\n")]
        self._longest = max((len(w.encode("utf-8")) for w in words), default=1)

    def scan(self, text: str) -> tuple[dict[int, list[Region]], dict[int, list[int]], set[str]]:
        """Return ``(regions, starts, marks)`` for the rules whose keywords occur in ``text``.

        ``regions``: per rule, the ``(start, end)`` character ranges to search: the lines holding
        one of its keywords (plus its ``reach``), ranges closer than :data:`JOIN_GAP` joined (one
        search instead of many; ``near`` rules: only adjacent lines). ``starts``: per ``anchored``
        rule (every match starts with a keyword), the character offsets where its keywords start:
        the rule is tried there only, one match call each. ``marks``: those found (ignoring case).
        """
        raw = text.encode("utf-8", "surrogatepass")
        if self._automaton is None:
            return {}, {}, set()
        head = raw[:self._longest].lower()
        # a keyword like "\ns." (a token at a line start) also stands at the very start: there it
        # is reported as starting at -1 (the line break before the text)
        at_start = [(k, -1, len(w) - 1) for k, w in self._line_start if head.startswith(w[1:])]
        if len(raw) <= CHUNK:
            found = at_start + self._chunk(raw, 0, len(raw))
            if len(found) <= FEW or not found:
                return self._few(text, raw, found)
            hits = np.fromiter(chain.from_iterable(found), dtype=np.int64, count=3 * len(found)).reshape(-1, 3)
        else:
            hits = self._hits(raw, at_start)
            if not len(hits):
                return {}, {}, set()
        order = np.argsort(hits[:, 0].astype(np.uint16 if len(self._icase_rules) < 65536 else np.int64), kind="stable")
        kws, first, end = hits[order, 0], hits[order, 1], hits[order, 2]
        cut = np.flatnonzero(np.diff(kws)) + 1
        groups = zip(kws[np.r_[0, cut]].tolist(), np.split(first, cut), np.split(end, cut))
        raw_arr = np.frombuffer(raw, dtype=np.uint8)
        parts = []
        marks: set[str] = set()
        for k, k_first, k_end in groups:
            if k in self._marks:
                marks.add(self._marks[k])
            if self._icase_rules[k]:
                parts.append((k_first, k_end, self._icase_rules[k]))
            for spelling, rules in self._exact_rules[k].items():
                same = (_bytes_at(raw_arr, k_first[:, None] + np.arange(len(spelling)))
                        == np.frombuffer(spelling, dtype=np.uint8)).all(axis=1)
                if same.any():
                    parts.append((k_first[same], k_end[same], rules))
        per_rule: dict[int, list[np.ndarray]] = {}  # per rule, the byte offsets of its hits' last bytes
        per_anchor: dict[int, list[np.ndarray]] = {}
        for k_first, k_end, rules in parts:
            kept: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}
            for r in rules:
                sig = (id(self._before[r]), self._before_len[r], id(self._after[r]))
                if sig not in kept:
                    ok = None
                    if self._before[r] is not None:
                        ok = self._before[r][_bytes_at(raw_arr, k_first - 1)]
                        for j in range(2, self._before_len[r] + 1):
                            ok &= self._before[r][_bytes_at(raw_arr, k_first - j)]
                    if self._after[r] is not None:
                        after_ok = self._after[r][_bytes_at(raw_arr, k_end)]
                        ok = after_ok if ok is None else ok & after_ok
                    kept[sig] = (k_first, k_end) if ok is None else (k_first[ok], k_end[ok])
                r_first, r_end = kept[sig]
                if len(r_first):
                    if self._anchored[r]:
                        per_anchor.setdefault(r, []).append(np.maximum(r_first, 0))
                    else:
                        per_rule.setdefault(r, []).append(np.maximum(r_end - 1, 0))
        out = self._regions(raw, raw_arr, per_rule)
        anchors = {r: _sorted_set(arrays).tolist() for r, arrays in per_anchor.items()}
        return (*_to_chars(text, raw, out, anchors), marks)

    def _few(self, text: str, raw: bytes, found: list[tuple[int, int, int]]
             ) -> tuple[dict[int, list[Region]], dict[int, list[int]], set[str]]:
        """:meth:`scan` for a few hits (short texts), without numpy's fixed costs; the same result."""
        n = len(raw)

        def byte(i: int) -> int:
            return raw[i] if 0 <= i < n else (10 if i < 0 else 0)

        marks: set[str] = set()
        starts: dict[int, set[int]] = {}
        offsets: dict[int, set[int]] = {}
        for k, first, end in found:
            if k in self._marks:
                marks.add(self._marks[k])
            rules = list(self._icase_rules[k])
            for spelling, exact in self._exact_rules[k].items():
                if all(byte(first + j) == c for j, c in enumerate(spelling)):
                    rules += exact
            for r in rules:
                before, after = self._before[r], self._after[r]
                if before is not None and not all(before[byte(first - j)] for j in range(1, self._before_len[r] + 1)):
                    continue
                if after is not None and not after[byte(end)]:
                    continue
                if self._anchored[r]:
                    starts.setdefault(r, set()).add(max(first, 0))
                else:
                    offsets.setdefault(r, set()).add(max(end - 1, 0))
        out: dict[int, list[Region]] = {}
        for r, pos in offsets.items():
            gap = 1 if self._near[r] else JOIN_GAP
            spans: list[list[int]] = []
            for p in sorted(pos):
                a, b = raw.rfind(b"\n", 0, p) + 1, raw.find(b"\n", p)
                b = min((n if b < 0 else b) + self._reach_bytes[r], n)
                if spans and a <= spans[-1][1] + gap:
                    spans[-1][1] = max(spans[-1][1], b)
                else:
                    spans.append([a, b])
            out[r] = [(a, b) for a, b in spans]
        anchors = {r: sorted(pos) for r, pos in starts.items()}
        return (*_to_chars(text, raw, out, anchors), marks)

    def _chunk(self, raw: bytes, a: int, size: int) -> list[tuple[int, int, int]]:
        """Return the ``(keyword, start, end)`` hits starting in ``raw[a:a + size]`` (ignoring
        case), offsets from ``a``, a keyword's hits in text order."""
        found = self._automaton.find_matches_as_indexes(raw[a:a + size + self._longest - 1].lower(), overlapping=True)
        cut = len(found)
        while cut and found[cut - 1][2] > size:  # the next chunk reports hits starting past this one
            cut -= 1
        found[cut:] = [h for h in found[cut:] if h[1] < size]
        return found

    def _hits(self, raw: bytes, at_start: list[tuple[int, int, int]]) -> np.ndarray:
        """Return the ``(keyword, start, end)`` rows of every keyword occurrence in ``raw`` (after
        ``at_start``), a keyword's rows in text order. The text is lower-cased and searched
        :data:`CHUNK` bytes at a time (no lower-cased copy of a whole 100 MB text)."""
        arrays = [np.array(at_start, dtype=np.int64).reshape(-1, 3)]
        for a in range(0, len(raw), CHUNK):
            found = self._chunk(raw, a, min(CHUNK, len(raw) - a))
            if found:
                rows = np.fromiter(chain.from_iterable(found), dtype=np.int64, count=3 * len(found)).reshape(-1, 3)
                rows[:, 1:] += a
                arrays.append(rows)
        return np.concatenate(arrays)

    def _regions(self, raw: bytes, raw_arr: np.ndarray, per_rule: dict[int, list[np.ndarray]]) -> dict[int, list[Region]]:
        """Return per rule the byte ranges to search: the lines holding its hits (``per_rule``:
        byte offsets), plus its reach, ranges closer than :data:`JOIN_GAP` (``near``: 1) joined."""
        if not per_rule:
            return {}
        offsets = {r: _sorted_set(arrays) for r, arrays in per_rule.items()}
        distinct = _sorted_set(list(offsets.values()))
        if len(distinct) * 64 < len(raw):  # few hits: find their lines, not every line break of the text
            starts_of = np.array([raw.rfind(b"\n", 0, p) + 1 for p in distinct.tolist()], dtype=np.int64)
            stops_of = np.array([raw.find(b"\n", p) for p in distinct.tolist()], dtype=np.int64)
            stops_of[stops_of < 0] = len(raw)
        else:
            newlines = np.flatnonzero(raw_arr == 10)
            line = np.searchsorted(newlines, distinct)
            ends_all = np.r_[newlines, len(raw)]
            starts_of = np.where(line > 0, ends_all[line - 1] + 1, 0)
            stops_of = ends_all[line]
        out: dict[int, list[Region]] = {}
        for r, pos in offsets.items():
            at = np.searchsorted(distinct, pos)
            starts, stops = starts_of[at], stops_of[at] + self._reach_bytes[r]
            stops = np.minimum(np.maximum.accumulate(stops), len(raw))
            gap = 1 if self._near[r] else JOIN_GAP
            new = np.r_[True, starts[1:] > stops[:-1] + gap]
            first = np.flatnonzero(new)
            last = np.r_[first[1:] - 1, len(starts) - 1]
            out[r] = list(zip(starts[first].tolist(), stops[last].tolist()))
        return out


def _to_chars(text: str, raw: bytes, out: dict[int, list[Region]], anchors: dict[int, list[int]]
              ) -> tuple[dict[int, list[Region]], dict[int, list[int]]]:
    """Return ``out`` and ``anchors`` with byte offsets of ``raw`` turned into offsets of ``text``."""
    if text.isascii():
        return out, anchors
    chars = _char_offsets(raw, {b for spans in out.values() for span in spans for b in span}
                          | {b for pos in anchors.values() for b in pos})
    return ({r: [(chars[a], chars[b]) for a, b in spans] for r, spans in out.items()},
            {r: [chars[b] for b in pos] for r, pos in anchors.items()})


def _sorted_set(arrays: list[np.ndarray]) -> np.ndarray:
    """Return the distinct values of ``arrays`` in order (np.unique hashes: far slower here)."""
    a = np.sort(arrays[0] if len(arrays) == 1 else np.concatenate(arrays))
    return a[np.r_[True, a[1:] != a[:-1]]] if len(a) > 1 else a


def _bytes_at(raw_arr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Return the bytes of ``raw_arr`` at ``idx`` (ascending, row by row): a line break before the
    text (-1), a NUL past it."""
    out = raw_arr.take(idx, mode="clip")
    if idx.size and (idx.flat[0] < 0 or idx.flat[-1] >= len(raw_arr)):
        out = np.where(idx < 0, 10, np.where(idx >= len(raw_arr), 0, out)).astype(np.uint8)
    return out


def _table(chars: str, tables: dict[str, np.ndarray]) -> np.ndarray | None:
    """A byte lookup table: True for ``chars`` (ASCII letters in either case) and every non-ASCII
    byte; ``None`` (anything passes) for no ``chars``. Equal ``chars`` share one table."""
    if not chars:
        return None
    if chars not in tables:
        table = np.zeros(256, dtype=bool)
        table[128:] = True
        for c in chars:
            for v in {c.lower(), c.upper()}:
                if len(v) == 1 and ord(v) < 128:
                    table[ord(v)] = True
        tables[chars] = table
    return tables[chars]


def _char_offsets(raw: bytes, offsets: set[int]) -> dict[int, int]:
    """Map byte offsets of ``raw`` to str offsets (one inside a character maps to its start)."""
    def back(b: int) -> int:
        while 0 < b < len(raw) and (raw[b] & 0xC0) == 0x80:
            b -= 1
        return b

    out: dict[int, int] = {}
    last_b = last_c = 0
    for b in sorted(offsets):
        c = back(b)
        if c > last_b:
            last_c += len(raw[last_b:c].decode("utf-8", "surrogatepass"))
            last_b = c
        out[b] = last_c
    return out


__all__ = ["KeywordIndex", "Region"]
